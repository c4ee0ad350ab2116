"""The ``auroral`` command: one entry point, one module per subcommand group.

Each module in :data:`COMMAND_MODULES` is light to import (no torch, no scikit-learn) and exposes
``register(subparsers)``, which adds its subcommands with ``set_defaults(func=...)``. The heavy work is
imported inside ``func``, after :func:`auroral.edge.extras.require` has checked the extra is installed.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from auroral.edge import __version__
from auroral.edge.errors import UserError
from auroral.edge.logs import setup_logging

COMMAND_MODULES = (
    "auroral.edge.tools.synth",        # synth
    "auroral.train.cli",         # train, evaluate
    "auroral.export.cli",        # export
    "auroral.edge.station.cli",      # run
    "auroral.edge.tools.replay",       # replay
    "auroral.edge.tools.listen",       # listen
    "auroral.export.bench.cli",  # bench
    "auroral.edge.archive.cli",  # archive, stats
    "auroral.export.demo",       # demo
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auroral",
        description="Classify auroral all-sky images: train, export, run the station daemon, re-label archives.",
    )
    parser.add_argument("--version", action="version", version=f"auroral {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging threshold (logs go to stderr, one line per event)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"auroral {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the user gave that is a file, missing, read-only, on a full disk...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"auroral {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        logging.getLogger("auroral").info("event=interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
