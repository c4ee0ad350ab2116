"""Checks that a subcommand's optional dependencies are installed, naming the extra that brings them."""
from __future__ import annotations

import importlib.util

from auroral.edge.errors import MissingExtraError


def require(extra: str, *modules: str) -> None:
    """Raise a one-line :class:`MissingExtraError` if any of ``modules`` cannot be imported."""
    for module in modules:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(extra, module)
