"""The Oslo Auroral THEMIS (OATH) data set of Clausen & Nickisch (2018), read as it is published.

The archive unpacks to ``classifications/classifications.csv`` (``#`` comment lines, then the header
``class2,class6,picNum,picType,rotAng`` and one row per image) and ``images/cropped_scaled/NNNNN.png``;
its ``rotate.sh`` writes a copy of each image turned by its row's angle, ``NNNNN_<rotAng>.png``, into
``images/cropped_scaled_rotated/``. ``class6`` indexes :data:`~auroral.edge.classes.OATH6` (arc, diffuse,
discrete, cloudy, moon, clear), ``class2`` indexes :data:`~auroral.edge.classes.OATH2` (aurora, no aurora);
``picType`` is not used. The web page's listing names the file ``classification/classification.csv``:
both spellings are read.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from auroral.edge.classes import OATH2, OATH6

CSV_PATHS = (Path("classifications/classifications.csv"), Path("classification/classification.csv"))
IMAGES, ROTATED = Path("images/cropped_scaled"), Path("images/cropped_scaled_rotated")
COLUMNS = ("class2", "class6", "picNum", "picType", "rotAng")
#: --oath-classes value -> (CSV column, class names by index)
CLASS_SETS: dict[int, tuple[str, tuple[str, ...]]] = {6: ("class6", OATH6), 2: ("class2", OATH2)}
_ROTATED_NAME = re.compile(r"^(\d+)_(-?\d+(?:\.\d+)?)\.png$", re.IGNORECASE)


@dataclass
class OathRead:
    """What :func:`read_oath` found: (image, class) pairs and offenders as (kind, what) pairs."""

    entries: list[tuple[Path, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)


def labels_file(root: Path) -> Path | None:
    """The OATH label file under ``root``, or None when ``root`` is not the OATH layout."""
    return next((root / p for p in CSV_PATHS if (root / p).is_file() and (root / "images").is_dir()), None)


def classes_for(count: int) -> tuple[str, ...]:
    """The class list of ``--oath-classes 6|2``."""
    return CLASS_SETS[count][1]


def _rows(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) after the ``#`` lines; a file without a header row gets the published one."""
    lines = [(n, line) for n, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1)
             if line.strip() and not line.lstrip().startswith("#")]
    rows = [(n, [f.strip() for f in fields]) for (n, _), fields in zip(lines, csv.reader(t for _, t in lines),
                                                                         strict=True)]
    if rows and "class6" in rows[0][1]:
        return rows[0][1], rows[1:]
    return list(COLUMNS), rows


def _rotated_index(folder: Path) -> dict[tuple[int, float], Path]:
    """(picture number, angle) -> file, whatever the zero padding of either number in the names."""
    index = {}
    for path in folder.glob("*"):
        match = _ROTATED_NAME.match(path.name)
        if match and path.is_file():
            index[(int(match.group(1)), float(match.group(2)))] = path
    return index


def read_oath(root: Path, classes: tuple[str, ...], rotated: bool) -> OathRead:
    """Rows of the label file as (image, class) for the class list ``classes`` (OATH6 or OATH2)."""
    found = OathRead()
    column = next((col for col, names in CLASS_SETS.values() if names == tuple(classes)), None)
    if column is None:
        options = "; ".join(f"--oath-classes {k}: {', '.join(names)}" for k, (_, names) in CLASS_SETS.items())
        found.problems.append(("class list not an OATH one", f"{', '.join(classes)} (the layout gives {options})"))
        return found
    path = labels_file(root) or root / CSV_PATHS[0]
    header, rows = _rows(path)
    missing = [c for c in ("picNum", column) + (("rotAng",) if rotated else ()) if c not in header]
    if missing:
        found.problems.append(("missing column", f"{', '.join(missing)} in {path.name} (header: {','.join(header)})"))
        return found
    at = {name: header.index(name) for name in header}
    folder = root / (ROTATED if rotated else IMAGES)
    if not folder.is_dir():
        found.problems.append(("missing image folder", str(folder)))
        return found
    by_angle = _rotated_index(folder) if rotated else {}
    for line, fields in rows:
        where = f"{path.name}:{line}"
        try:
            number, index = int(fields[at["picNum"]]), int(fields[at[column]])
            angle = float(fields[at["rotAng"]]) if rotated else 0.0
        except (ValueError, IndexError):
            found.problems.append(("bad row", f"{','.join(fields)!r} ({where})"))
            continue
        if not 0 <= index < len(classes):
            found.problems.append((f"{column} outside 0..{len(classes) - 1}", f"{index} ({where})"))
            continue
        image = by_angle.get((number, angle)) if rotated else folder / f"{number:05d}.png"
        if image is None or not image.is_file():
            name = f"{number:05d}_{fields[at['rotAng']]}.png" if rotated else f"{number:05d}.png"
            found.problems.append(("missing image", f"{folder / name} ({where})"))
            continue
        found.entries.append((image.resolve(), classes[index]))
    return found
