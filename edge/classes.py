"""The auroral class taxonomy of Kvammen et al. (2020), the class sets the station acts on, and label normalisation.

A bundle's classes are whatever its model was trained on; the station needs to know which of them are
auroral (they count towards activity) and which may start a breakup onset. :func:`default_class_sets`
gives those two sets for the class lists this software knows: the seven of Kvammen et al. and the six
and two classes of the Oslo Auroral THEMIS (OATH) data set of Clausen & Nickisch (2018).
"""
from __future__ import annotations

from auroral.edge.errors import UserError

#: ids and names, in this order, everywhere (manifest, MQTT, metrics)
CLASSES: tuple[str, ...] = ("breakup", "colored", "arcs", "discrete", "patchy", "edge", "faint")

#: alternative spellings seen in published data sets and folder names
ALIASES: dict[str, str] = {
    "arcs-bands": "arcs",
    "arc": "arcs",
    "bands": "arcs",
    "clear-faint": "faint",
    "clear/faint": "faint",
    "diffuse": "faint",
    "coloured": "colored",
    "colour": "colored",
    "color": "colored",
    "auroral-breakup": "breakup",
    "discrete-irregular": "discrete",
    "patchy-aurora": "patchy",
}

#: OATH ``class6`` indices 0..5, in this order; indices 0-2 are aurora, 3-5 are not (Clausen & Nickisch 2018)
OATH6: tuple[str, ...] = ("arc", "diffuse", "discrete", "cloudy", "moon", "clear")
#: OATH ``class2`` indices 0..1, in this order
OATH2: tuple[str, ...] = ("aurora", "no-aurora")

#: class list -> (auroral classes, onset classes); OATH has no breakup class, so ``discrete`` (bright, sharp
#: forms) is the one OATH class that may start an onset
_CLASS_SETS: dict[tuple[str, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {
    CLASSES: (tuple(c for c in CLASSES if c != "faint"), ("breakup",)),
    OATH6: (("arc", "diffuse", "discrete"), ("discrete",)),
    OATH2: (("aurora",), ()),
}

#: class order of the public follow-up data set (labels `..._class_<k>.png`, alphabetical)
ALPHABETICAL: tuple[str, ...] = tuple(sorted(CLASSES))


def default_class_sets(classes: list[str] | tuple[str, ...]) -> tuple[list[str], list[str]] | None:
    """(auroral, onset) classes for a known class list (in any order), else None."""
    for known, (auroral, onset) in _CLASS_SETS.items():
        if sorted(known) == sorted(classes):
            return list(auroral), list(onset)
    return None


def canonical_label(name: str, classes: tuple[str, ...] = CLASSES) -> str:
    """Map a folder or label name to its canonical class name (case-insensitive; aliases for names not in
    ``classes``, so ``arc`` stays ``arc`` where it is a class of its own, as in OATH)."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    if key not in classes:
        key = ALIASES.get(key, key)
    if key not in classes:
        raise UserError(f"unknown class {name!r}; expected one of {', '.join(classes)}")
    return key
