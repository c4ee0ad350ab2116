"""Labelled image sets: folder per class, a CSV/JSON label list, the TrainingImages/TestImages layout, or the
OATH layout (:mod:`auroral.train.oath`); the layout is recognised from the folder.

Loading validates everything cheap to check (unknown class, missing file, duplicate path or content,
class with too few images) and reports every offender in one :class:`UserError`; unreadable images are
found when they are decoded (:mod:`auroral.train.cache`).
"""
from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from auroral.edge.classes import ALPHABETICAL, CLASSES, canonical_label
from auroral.edge.errors import UserError
from auroral.edge.frames import is_frame
from auroral.train import oath

GIVEN_TRAIN, GIVEN_TEST = "TrainingImages", "TestImages"
_CLASS_IN_NAME = re.compile(r"_class_(\d+)\.[A-Za-z]+$")
_TIME_IN_NAME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})[T_-]?(\d{2})[:-]?(\d{2})[:-]?(\d{2})")
MAX_LISTED = 12


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str
    timestamp: datetime | None = None


@dataclass
class Dataset:
    """All samples; ``given_test`` is set when the data set brings its own test set (kept as is)."""

    samples: list[Sample]
    classes: tuple[str, ...]
    given_test: list[Sample] | None = None


class _Problems:
    """Collects offenders by kind so one message can list them all."""

    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {}

    def add(self, kind: str, what: str) -> None:
        self.items.setdefault(kind, []).append(what)

    def raise_if_any(self, source: Path) -> None:
        if not self.items:
            return
        parts = []
        for kind, offenders in self.items.items():
            shown = ", ".join(offenders[:MAX_LISTED]) + (f" (+{len(offenders) - MAX_LISTED} more)"
                                                          if len(offenders) > MAX_LISTED else "")
            parts.append(f"{kind} ({len(offenders)}): {shown}")
        raise UserError(f"invalid data set {source}: " + "; ".join(parts))


def parse_timestamp(text: str) -> datetime:
    """ISO-8601 (naive means UTC)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def timestamp_from_name(path: Path) -> datetime | None:
    """Capture time from names like ``KIR_20141210_223012.jpg`` or ``2014-12-10T22-30-12.png``."""
    match = _TIME_IN_NAME.search(path.stem)
    if not match:
        return None
    try:
        return datetime(*map(int, match.groups()), tzinfo=UTC)
    except ValueError:
        return None


def parse_class_order(text: str | None) -> tuple[str, ...]:
    """``alphabetical``, ``canonical`` or a comma list of class names (index k → name)."""
    if text is None:
        raise UserError(f"a {GIVEN_TRAIN}/{GIVEN_TEST} data set needs --class-order "
                        "(alphabetical, canonical or a comma-separated list of class names)")
    if text == "alphabetical":
        return ALPHABETICAL
    if text == "canonical":
        return CLASSES
    return tuple(canonical_label(name) for name in text.split(","))


def _label(name: str, classes: tuple[str, ...], where: str, problems: _Problems) -> str | None:
    try:
        return canonical_label(name, classes)
    except UserError:
        problems.add("unknown class", f"{name!r} ({where})")
        return None


def _from_folders(root: Path, classes: tuple[str, ...], problems: _Problems) -> list[Sample]:
    samples = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = _label(folder.name, classes, f"folder {folder.name}/", problems)
        if label is None:
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and is_frame(p)):
            samples.append(Sample(path.resolve(), label, timestamp_from_name(path)))
    return samples


def _rows(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        rows = json.loads(text)
        if isinstance(rows, dict):
            rows = rows.get("images", rows.get("samples"))
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise UserError(f"{path}: expected a JSON list of objects with 'path' and 'label'")
        return rows
    return list(csv.DictReader(text.splitlines()))


def _from_list(path: Path, classes: tuple[str, ...], problems: _Problems) -> list[Sample]:
    try:
        rows = _rows(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read label list {path}: {exc}") from exc
    if rows and not {"path", "label"} <= set(rows[0]):
        raise UserError(f"{path}: needs columns 'path' and 'label' (optional 'timestamp'), found {', '.join(rows[0])}")
    samples = []
    for line, row in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 1):
        where = f"{path.name}:{line}"
        label = _label(str(row.get("label") or ""), classes, where, problems)
        file = Path(str(row.get("path") or ""))
        file = (path.parent / file if not file.is_absolute() else file).resolve()
        timestamp = None
        if row.get("timestamp"):
            try:
                timestamp = parse_timestamp(str(row["timestamp"]))
            except ValueError:
                problems.add("bad timestamp", f"{row['timestamp']!r} ({where})")
        if label is not None:
            samples.append(Sample(file, label, timestamp or timestamp_from_name(file)))
    return samples


def _from_named(folder: Path, order: tuple[str, ...], problems: _Problems) -> list[Sample]:
    samples = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and is_frame(p)):
        match = _CLASS_IN_NAME.search(path.name)
        if not match or int(match.group(1)) >= len(order):
            problems.add("no valid _class_<k> in file name", path.name)
            continue
        samples.append(Sample(path.resolve(), order[int(match.group(1))], timestamp_from_name(path)))
    return samples


def _check(samples: list[Sample], classes: tuple[str, ...], min_per_class: int, problems: _Problems) -> None:
    seen_paths: dict[Path, str] = {}
    seen_content: dict[str, Path] = {}
    for s in samples:
        if s.path in seen_paths:
            problems.add("duplicate path", str(s.path))
            continue
        seen_paths[s.path] = s.label
        if not s.path.is_file():
            problems.add("missing file", str(s.path))
            continue
        digest = hashlib.sha1(s.path.read_bytes()).hexdigest()
        if digest in seen_content:
            problems.add("duplicate image", f"{s.path} = {seen_content[digest]}")
        else:
            seen_content[digest] = s.path
    for name in classes:
        count = sum(1 for s in samples if s.label == name)
        if count < min_per_class:
            problems.add(f"class with fewer than {min_per_class} images", f"{name} ({count})")


def _from_oath(root: Path, classes: tuple[str, ...], rotated: bool, problems: _Problems) -> list[Sample]:
    found = oath.read_oath(root, classes, rotated)
    for kind, what in found.problems:
        problems.add(kind, what)
    return [Sample(path, label) for path, label in found.entries]


def is_oath(source: Path) -> bool:
    """Whether ``source`` is a folder in the OATH layout."""
    return Path(source).is_dir() and oath.labels_file(Path(source)) is not None


def load_dataset(source: Path, classes: tuple[str, ...] = CLASSES, class_order: str | None = None,
                 min_per_class: int = 5, oath_rotated: bool = False) -> Dataset:
    """Read and validate a data set; ``source`` is a folder (per class, given or OATH layout) or a .csv/.json list.

    An OATH folder is read with the class list ``classes`` (OATH6 or OATH2 picks the column) from
    ``images/cropped_scaled_rotated`` when ``oath_rotated``, else ``images/cropped_scaled``.
    """
    source = Path(source)
    problems = _Problems()
    if source.is_file() and source.suffix.lower() in (".csv", ".json"):
        dataset = Dataset(_from_list(source, classes, problems), classes)
    elif is_oath(source):
        dataset = Dataset(_from_oath(source, classes, oath_rotated, problems), classes)
    elif (source / GIVEN_TRAIN).is_dir() and (source / GIVEN_TEST).is_dir():
        order = parse_class_order(class_order)
        dataset = Dataset(_from_named(source / GIVEN_TRAIN, order, problems), classes,
                          given_test=_from_named(source / GIVEN_TEST, order, problems))
    elif source.is_dir():
        dataset = Dataset(_from_folders(source, classes, problems), classes)
    else:
        raise UserError(f"data set {source} not found (expected a folder or a .csv/.json label list)")
    everything = dataset.samples + (dataset.given_test or [])
    if not everything and not problems.items:
        raise UserError(f"data set {source} contains no images")
    _check(everything, classes, min_per_class, problems)
    problems.raise_if_any(source)
    return dataset
