"""The auroral class taxonomy of Kvammen et al. (2020) and label normalisation."""
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

#: class order of the public follow-up data set (labels `..._class_<k>.png`, alphabetical)
ALPHABETICAL: tuple[str, ...] = tuple(sorted(CLASSES))


def canonical_label(name: str, classes: tuple[str, ...] = CLASSES) -> str:
    """Map a folder or label name to its canonical class name (case-insensitive, with aliases)."""
    key = name.strip().lower().replace("_", "-").replace(" ", "-")
    key = ALIASES.get(key, key)
    if key not in classes:
        raise UserError(f"unknown class {name!r}; expected one of {', '.join(classes)}")
    return key
