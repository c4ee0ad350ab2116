"""The ``auroral`` command: one entry point, one module per subcommand group.

Each module in :data:`COMMAND_MODULES` is light to import (no torch, no scikit-learn) and exposes
``register(subparsers)``, which adds its subcommands with ``set_defaults(func=...)``. The heavy work is
imported inside ``func``, after :func:`auroral.edge.extras.require` has checked the extra is installed.

Every subcommand follows the same conventions, set here so no module has to remember them: each
``--help`` shows the defaults (:class:`HelpFormatter`), and the global options (``--log-level``,
``--log-format``) are accepted before or after the subcommand (:class:`CommandParser`).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Any

from auroral.edge import __version__, progress
from auroral.edge.errors import UserError
from auroral.edge.logs import LOG_FORMATS, setup_logging

COMMAND_MODULES = (
    "auroral.edge.tools.synth",        # synth
    "auroral.train.cli",         # train, evaluate
    "auroral.export.cli",        # export
    "auroral.edge.station.cli",      # run
    "auroral.edge.tools.replay",       # replay
    "auroral.edge.tools.listen",       # listen
    "auroral.export.bench.cli",  # bench
    "auroral.edge.archive.cli",  # archive, stats
    "auroral.edge.archive.night.cli",  # night
    "auroral.export.demo",       # demo
    "auroral.edge.backends.cli",  # engine
    "auroral.edge.tools.camera_circle",  # circle
)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LOG_LEVEL = "INFO"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default after its help, except where there is none to show (unset, off, empty)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


class RawDescriptionHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """:class:`HelpFormatter` for a subcommand whose description is laid out by hand."""


def global_options(default: Any) -> argparse.ArgumentParser:
    """The options every subcommand accepts; after the subcommand (``default=SUPPRESS``) they win over before it."""
    options = argparse.ArgumentParser(add_help=False)
    shown = f" (default: {DEFAULT_LOG_LEVEL})" if default is argparse.SUPPRESS else ""
    options.add_argument("--log-level", default=default, choices=LOG_LEVELS,
                         help=f"logging threshold (logs go to stderr, one line per event){shown}")
    options.add_argument("--log-format", default=argparse.SUPPRESS if default is argparse.SUPPRESS else None,
                         choices=LOG_FORMATS,
                         help="logfmt (key=value) or json (one object per line) (default: logfmt, or the station "
                              "file's log_format)")
    return options


class CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: defaults in its help and the global options, whatever its module passes."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs["parents"] = [*kwargs.get("parents", ()), global_options(argparse.SUPPRESS)]
        super().__init__(**kwargs)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (workers, chunk sizes, batch sizes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auroral", formatter_class=HelpFormatter, parents=[global_options(DEFAULT_LOG_LEVEL)],
        description="Classify auroral all-sky images: train, export, run the station daemon, re-label archives.",
    )
    parser.add_argument("--version", action="version", version=f"auroral {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    progress.configure(enabled=not getattr(args, "no_progress", False))  # only commands with a bar have the flag
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
