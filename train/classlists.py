"""A new run's class list and its class sets, from the command line and the data set's layout.

The class list is the seven of Kvammen et al., an own ``--classes`` list, or the six or two classes an
OATH data set brings (``--oath-classes``). The class sets say which classes are auroral and which may start
a breakup onset; they are recorded in the run and copied into the bundle manifest for the station. Unset,
they are the defaults of a known class list (:func:`~auroral.edge.classes.default_class_sets`), else none.
"""
from __future__ import annotations

import argparse

from auroral.edge.classes import CLASSES
from auroral.edge.errors import UserError
from auroral.train import oath
from auroral.train.datasets import is_oath


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip().lower().replace("_", "-").replace(" ", "-") for n in text.split(",") if n.strip())


def run_classes(args: argparse.Namespace) -> tuple[str, ...]:
    """The class list of a new run, in index order."""
    if is_oath(args.data):
        if args.classes:
            raise UserError("--classes does not apply to an OATH data set: it brings its own classes "
                            "(--oath-classes 6 or 2)")
        return oath.classes_for(args.oath_classes or 6)
    if args.oath_classes or args.oath_rotated:
        raise UserError(f"--oath-classes and --oath-rotated apply to an OATH data set only; {args.data} is not one "
                        f"(no {oath.CSV_PATHS[0]} beside an images/ folder)")
    if not args.classes:
        return CLASSES
    names = _names(args.classes)
    if len(set(names)) != len(names) or len(names) < 2:
        raise UserError(f"--classes {args.classes!r}: need at least two distinct class names")
    return names


def class_set(option: str, text: str | None, classes: tuple[str, ...]) -> list[str] | None:
    """``--auroral-classes`` / ``--onset-classes``: a comma list of classes, or ``none``; unset gives None."""
    if text is None:
        return None
    names = () if text.strip().lower() == "none" else _names(text)
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise UserError(f"{option} {text!r}: {', '.join(unknown)} not among the classes ({', '.join(classes)}); "
                        "give a comma list of them, or none")
    return [c for c in classes if c in names]
