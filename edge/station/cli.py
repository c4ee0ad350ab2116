"""``auroral run``: the station daemon (flags override the TOML file; flags alone are enough)."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from auroral.edge.backends import BACKENDS
from auroral.edge.bundle import PRECISION_CHOICES
from auroral.edge.errors import UserError
from auroral.edge.extras import require


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run the station daemon: watch a folder, classify frames, publish over MQTT",
        description="Watch folder(s) for new all-sky frames, classify each once with a model bundle, and publish "
                    "labels, alerts, sky state and capture triggers over MQTT (contract in docs/MQTT.md). "
                    "Settings come from --config (TOML, see edge/station/station.example.toml); the flags below "
                    "override it, and --watch/--bundle/--broker/--station/--state-dir alone are enough to start.")
    parser.add_argument("--config", type=Path, help="station TOML file")
    parser.add_argument("--check-config", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--watch", type=Path, action="append", help="folder the camera writes to (repeatable)")
    parser.add_argument("--bundle", type=Path, help="model bundle directory")
    parser.add_argument("--broker", help="MQTT broker as HOST:PORT")
    parser.add_argument("--station", help="station id used in MQTT topics (auroral/<station>/...)")
    parser.add_argument("--state-dir", type=Path, help="journal and spool location (unset: $STATE_DIRECTORY)")
    parser.add_argument("--backend", choices=BACKENDS, help="inference backend (unset: the file's, else ort-cpu)")
    parser.add_argument("--precision", choices=PRECISION_CHOICES,
                        help="model variant (unset: the file's, else auto: int8 where the export measured "
                             "< 0.5 pp accuracy cost, else fp32)")
    parser.add_argument("--metrics-port", type=int, help="Prometheus /metrics and /healthz port (0: off)")
    parser.set_defaults(func=run)
    _register_homeassistant(subparsers)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The flags that were given, as a nested dict in the TOML layout."""
    from auroral.edge.station.config import parse_broker

    result: dict[str, Any] = {}
    if args.watch:
        result["watch"] = {"dirs": [str(p) for p in args.watch]}
    model = {k: v for k, v in (("bundle", args.bundle and str(args.bundle)), ("backend", args.backend),
                               ("precision", args.precision)) if v}
    if model:
        result["model"] = model
    if args.broker:
        result["mqtt"] = parse_broker(args.broker)
    if args.station:
        result["station"] = args.station
    if args.state_dir:
        result["state_dir"] = str(args.state_dir)
    if args.metrics_port is not None:
        result["metrics_port"] = args.metrics_port
    return result


def run(args: argparse.Namespace) -> int:
    from auroral.edge.station.config import load_config

    config = load_config(args.config, overrides(args))
    if args.check_config:
        if not config.model.bundle.is_dir():
            raise UserError(f"model.bundle: {config.model.bundle} is not a directory")
        from auroral.edge.bundle import load_bundle

        bundle = load_bundle(config.model.bundle)  # its hashes, and the class sets the config names
        config.with_classes(bundle.classes, bundle.auroral_classes, bundle.onset_classes)
        print(f"configuration OK: station {config.station}, watching {', '.join(map(str, config.watch.dirs))}, "
              f"broker {config.mqtt.host}:{config.mqtt.port}")
        return 0
    require("edge", "onnxruntime", "paho.mqtt", "watchdog", "prometheus_client", "sdnotify", "cv2")
    if args.log_level == "INFO":  # the global flag wins when given; otherwise the file's log_level
        logging.getLogger().setLevel(config.log_level)
    from auroral.edge.station.daemon import run_daemon

    return run_daemon(config)


def _register_homeassistant(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "homeassistant", help="manage the station's Home Assistant MQTT discovery",
        description="The station announces itself to Home Assistant with [homeassistant] enabled = true "
                    "(docs/STATION.md). 'remove' deletes what it announced.")
    commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    remove = commands.add_parser(
        "remove", help="delete the station's entities from Home Assistant",
        description="Publish an empty retained payload on each of the station's discovery config topics, so "
                    "Home Assistant removes its device and entities. Stop the daemon first, or set "
                    "[homeassistant] enabled = false: a running daemon announces them again on its next connect.")
    remove.add_argument("--config", type=Path, required=True, help="the station's TOML file")
    remove.add_argument("--broker", help="MQTT broker as HOST:PORT (default: the file's)")
    remove.set_defaults(func=run_remove)


def run_remove(args: argparse.Namespace) -> int:
    """``auroral homeassistant remove``: delete what the station announced to Home Assistant."""
    require("edge", "paho.mqtt")
    from auroral.edge.station.config import load_config, parse_broker
    from auroral.edge.station.homeassistant import remove_entities

    config = load_config(args.config, {"mqtt": parse_broker(args.broker)} if args.broker else None)
    print(remove_entities(config))
    return 0
