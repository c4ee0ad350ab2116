"""``auroral listen``: follow a station's labels and alerts live, one readable line per message."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from auroral.edge.errors import UserError
from auroral.edge.extras import require


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "listen", help="print a station's live labels and alerts, one line per message",
        description="Subscribe to auroral/<station>/# and print each frame label, alert, sky state, capture trigger "
                    "and status change on one line (or the raw JSON with --json). Ctrl-C to stop.")
    parser.add_argument("--station", default="+", help="station id (+: every station)")
    parser.add_argument("--broker", default="localhost:1883", help="MQTT broker as HOST:PORT")
    parser.add_argument("--prefix", default="auroral", help="topic prefix")
    parser.add_argument("--json", action="store_true", help="print {topic, payload} JSON lines instead")
    parser.add_argument("--count", type=int, help="exit after this many messages")
    parser.set_defaults(func=run)


def describe(topic: str, payload: bytes | bytearray) -> str:
    """One human line for a contract message; unknown or malformed payloads are shown as such. Every string
    from the message (and the topic) is printed through :func:`shown`, so no sender can drive the terminal."""
    parts = topic.split("/")
    station, kind = (parts[1], "/".join(parts[2:])) if len(parts) >= 3 else ("?", topic)
    station, kind = shown(station), shown(kind)
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

    from auroral.edge.station.config import parse_broker

    broker = parse_broker(args.broker)
    pattern = f"{args.prefix}/{args.station}/#"
    received = 0

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        nonlocal received
        if args.json:
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

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    refused: list[str] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
                   properties: Properties | None) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
            client.disconnect()
        else:
            client.subscribe(pattern, qos=1)

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(broker["host"], broker.get("port", 1883))
    except OSError as exc:
        raise UserError(f"cannot reach the broker at {args.broker}: {exc.strerror or exc}") from exc
    print(f"listening on {pattern} at {args.broker}", file=sys.stderr, flush=True)
    client.loop_forever()
    if refused:
        raise UserError(f"the broker at {args.broker} refused the connection: {refused[0]}")
    return 0
