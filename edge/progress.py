"""Progress bars for long loops: on stderr, only when stderr is a terminal, and off with ``--no-progress``.

tqdm's ``disable=None`` hides a bar whose stream is not a terminal, so piped output, logs and tests
carry report tables and log lines only, never bar fragments. The bars sit deep in training, export and
archive code that takes no command-line arguments, so ``--no-progress`` is one process-wide switch: the
``auroral`` command sets it with :func:`configure` before it runs a subcommand. tqdm is imported when a
bar is made, since it comes with the train and archive extras, not with the station.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

_enabled = True


def add_option(parser: argparse.ArgumentParser) -> None:
    """The ``--no-progress`` flag, for every subcommand that shows a bar."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")


def configure(enabled: bool) -> None:
    global _enabled
    _enabled = enabled


def bar(iterable: Iterable[Any] | None = None, *, hide: bool = False, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, shown only where stderr is a terminal, bars are on and ``hide`` is false."""
    from tqdm import tqdm

    return tqdm(iterable, disable=True if hide or not _enabled else None, **kwargs)
