"""``auroral listen``: follow a station's labels and alerts live, one readable line per message."""
from __future__ import annotations

import argparse
import json
import ssl
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auroral.edge.errors import UserError
from auroral.edge.extras import require

if TYPE_CHECKING:
    from auroral.edge.station.config import MqttConfig


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "listen", help="print a station's live labels and alerts, one line per message",
        description="Subscribe to <prefix>/<station>/# and print each frame label, alert, sky state, capture trigger "
                    "and status change on one line (or the raw JSON with --json). Ctrl-C to stop. --config reads "
                    "the broker, prefix, TLS and login from a station's TOML ([mqtt]); the flags override it.")
    parser.add_argument("--station", default="+", help="station id (+: every station)")
    parser.add_argument("--config", type=Path, help="station TOML file whose [mqtt] section says how to connect")
    parser.add_argument("--broker", help="MQTT broker as HOST:PORT (default: the file's, else localhost:1883)")
    parser.add_argument("--prefix", help="topic prefix (default: the file's, else auroral)")
    parser.add_argument("--tls", action="store_true", default=None, help="connect with TLS")
    parser.add_argument("--ca-file", type=Path, help="CA certificate that signed the broker's (implies --tls)")
    parser.add_argument("--username", help="MQTT user name")
    parser.add_argument("--password-file", type=Path, help="file holding the password (never on the command line)")
    parser.add_argument("--json", action="store_true", help="print {topic, payload} JSON lines instead")
    parser.add_argument("--count", type=int, help="exit after this many messages")
    parser.set_defaults(func=run)


def connection(args: argparse.Namespace) -> MqttConfig:
    """The ``[mqtt]`` settings of ``--config`` (if given) with the flags over them, validated as the daemon's."""
    from pydantic import ValidationError

    from auroral.edge.station.config import MqttConfig, parse_broker, read_toml

    raw = read_toml(args.config).get("mqtt", {}) if args.config is not None else {}
    if not isinstance(raw, dict):
        raise UserError(f"{args.config}: mqtt: expected a [mqtt] table")
    flags = {"prefix": args.prefix, "username": args.username, "tls": True if args.tls or args.ca_file else None,
             "ca_file": args.ca_file and str(args.ca_file),
             "password_file": args.password_file and str(args.password_file)}
    merged = {**raw, **(parse_broker(args.broker) if args.broker else {}),
              **{key: value for key, value in flags.items() if value is not None}}
    try:
        return MqttConfig.model_validate(merged)
    except ValidationError as exc:
        where = str(args.config) if args.config is not None else "listen"
        problems = "; ".join(
            f"mqtt.{'.'.join(map(str, e['loc']))}: "
            + ("unknown key" if e["type"] == "extra_forbidden" else e["msg"].removeprefix("Value error, "))
            for e in exc.errors())
        raise UserError(f"{where}: {problems}") from exc


def password(config: MqttConfig) -> str | None:
    """The password from ``password_file`` (or the systemd credential ``mqtt-password``); unreadable is an error."""
    try:
        return config.read_password()
    except OSError as exc:
        raise UserError(f"cannot read the password file {config.resolved_password_file()}: "
                        f"{exc.strerror or exc}") from exc


def describe(topic: str, payload: bytes | bytearray) -> str:
    """One human line for a contract message; unknown or malformed payloads are shown as such. Every string
    from the message (and the topic) is printed through :func:`shown`, so no sender can drive the terminal."""
    parts = topic.split("/")
    station, kind = (parts[1], "/".join(parts[2:])) if len(parts) >= 3 else ("?", topic)
    station, kind = shown(station), shown(kind)
    from auroral.edge.contract import RAW

    if kind in RAW:  # a thumbnail: binary by contract
        return f"{station:<10} {kind:<8} ({RAW[kind]}, {len(payload)} bytes)"
    try:
        m = json.loads(payload)
    except ValueError:
        return f"{station:<10} {kind:<8} (not JSON, {len(payload)} bytes)"
    if not isinstance(m, dict):
        return f"{station:<10} {kind:<8} {shown(m)}"

    def field(name: str, default: str = "?") -> str:
        return shown(m.get(name, default))

    if kind == "frames":
        return (f"{station:<10} frame    {field('captured_at')}  {field('label'):<8} "
                f"{number(m.get('confidence'), '.2f')}  {field('frame')}  seq={field('seq')} "
                f"latency={number(m.get('latency_ms'), '.0f')}ms")
    if kind == "alerts":
        confidence = m.get("confidence")
        extra = f" {number(confidence, '.2f')}" if confidence is not None else ""
        return f"{station:<10} ALERT    {field('at')}  {field('type')}{extra}  {shown(m.get('frame') or '')}"
    if kind == "state":
        return f"{station:<10} state    {field('label')} since {field('since')}"
    if kind == "capture/trigger":
        return (f"{station:<10} TRIGGER  {field('mode')} for {field('duration_s')} s "
                f"({field('reason', '')})")
    if kind == "status":
        return f"{station:<10} status   {field('state')} since {field('since')} model={shown(m.get('model'))}"
    return f"{station:<10} {kind:<8} {json.dumps(m)}"


def shown(value: object) -> str:
    """``value`` as text fit for a terminal: every character that is not printable (escape sequences, control
    characters, line separators, bidirectional overrides) is written as its Python escape."""
    text = value if isinstance(value, str) else json.dumps(value)
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def number(value: object, spec: str) -> str:
    """A number formatted with ``spec``; anything else (a string, a boolean, missing) shown as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format(value, spec)
    return shown(value) if value is not None else "?"


def run(args: argparse.Namespace) -> int:
    require("edge", "paho.mqtt")
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode

    config = connection(args)
    address = f"{config.host}:{config.port}"
    pattern = f"{config.prefix}/{args.station}/#"
    received = 0

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        if args.json:
            from auroral.edge.contract import RAW

            kind = "/".join(message.topic.split("/")[2:])
            if kind in RAW:  # binary by contract: its size, not its bytes
                line = json.dumps({"topic": message.topic, "media_type": RAW[kind], "bytes": len(message.payload)})
            else:
                try:
                    body = json.loads(message.payload)
                except ValueError:
                    body = message.payload.decode("utf-8", "replace")
                line = json.dumps({"topic": message.topic, "payload": body})
        else:
            line = describe(message.topic, message.payload)
        print(line, flush=True)
        received += 1
        if args.count and received >= args.count:
            client.disconnect()

    # never the station's client_id: a second client with it would push the daemon off the broker
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect_timeout = config.connect_timeout_s
    if config.username:
        client.username_pw_set(config.username, password(config))
    if config.tls:
        client.tls_set(ca_certs=str(config.ca_file) if config.ca_file else None,
                       certfile=str(config.cert_file) if config.cert_file else None,
                       keyfile=str(config.key_file) if config.key_file else None)
    elif config.password_in_clear:
        print(f"warning: the login to {address} crosses the network unencrypted (use --tls)", file=sys.stderr)
    refused: list[str] = []
    connected = False

    def on_connect(client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
                   properties: Properties | None) -> None:
        nonlocal connected
        if reason_code.is_failure:
            refused.append(str(reason_code))
            client.disconnect()
        else:
            connected = True
            client.subscribe(pattern, qos=1)
            print(f"listening on {pattern} at {address}", file=sys.stderr, flush=True)

    def on_disconnect(client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags, reason_code: ReasonCode,
                      properties: Properties | None) -> None:
        if not connected and not refused:  # closed before any answer: e.g. plain MQTT to a TLS port
            # raised, not recorded: paho would reconnect forever, and it re-raises a callback's exception
            raise UserError(f"the broker at {address} closed the connection before answering "
                            "(a TLS port without --tls?)")

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    try:
        client.connect(config.host, config.port)
    except ssl.SSLError as exc:
        raise UserError(f"TLS with the broker at {address} failed: {exc.reason or exc} "
                        "(is --ca-file the CA that signed the broker's certificate?)") from exc
    except OSError as exc:
        raise UserError(f"cannot reach the broker at {address}: {exc.strerror or exc}") from exc
    client.loop_forever()
    if refused:
        raise UserError(f"the broker at {address} refused the connection: {refused[0]}")
    return 0
