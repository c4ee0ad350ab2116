"""Reproducible train/validation/test splits: stratified, by night, or as given; saved as ``split.json``.

A night split keeps every frame of one night in a single part, so near-duplicate frames taken minutes
apart cannot leak from training into the test set.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from auroral.edge.errors import UserError
from auroral.train.datasets import Sample

log = logging.getLogger(__name__)
SplitKind = Literal["stratified", "night", "given"]
PARTS = ("train", "val", "test")


@dataclass
class Split:
    """Three lists of (path, label); ``kind`` says how they were drawn (reported in report.md)."""

    kind: SplitKind
    train: list[tuple[Path, str]] = field(default_factory=list)
    val: list[tuple[Path, str]] = field(default_factory=list)
    test: list[tuple[Path, str]] = field(default_factory=list)

    def part(self, name: str) -> list[tuple[Path, str]]:
        return getattr(self, name)

    def to_json(self) -> dict:
        return {"kind": self.kind, **{p: [[str(path), label] for path, label in self.part(p)] for p in PARTS}}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Split:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(kind=raw["kind"], **{p: [(Path(a), str(b)) for a, b in raw[p]] for p in PARTS})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"cannot read split file {path}: {exc}") from exc


def _count(n: int, fraction: float) -> int:
    """Images of one class for a part: at least one when the part is wanted at all."""
    return max(1, int(round(n * fraction))) if fraction > 0 else 0


def stratified(samples: list[Sample], val: float, test: float, seed: int, kind: SplitKind = "stratified") -> Split:
    """Per class: shuffle with ``seed``, then take test, val, and the rest as train."""
    rng = np.random.default_rng(seed)
    split = Split(kind)
    for label in sorted({s.label for s in samples}):
        members = sorted((s for s in samples if s.label == label), key=lambda s: str(s.path))
        order = rng.permutation(len(members))
        n_test, n_val = _count(len(members), test), _count(len(members), val)
        for rank, index in enumerate(order):
            part = split.test if rank < n_test else split.val if rank < n_test + n_val else split.train
            part.append((members[index].path, label))
    return split


def night_of(timestamp: datetime) -> str:
    """The observing night a frame belongs to: local noon to noon, named by the evening's date (UTC)."""
    return (timestamp - timedelta(hours=12)).date().isoformat()


def by_night(samples: list[Sample], val: float, test: float, seed: int) -> Split:
    """Shuffle whole nights with ``seed`` and fill test, then val, to their fractions of the frames."""
    missing = [str(s.path) for s in samples if s.timestamp is None]
    if missing:
        raise UserError(f"--split night needs a timestamp for every image; {len(missing)} have none: "
                        + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    nights: dict[str, list[Sample]] = {}
    for s in samples:
        nights.setdefault(night_of(s.timestamp), []).append(s)  # type: ignore[arg-type]
    if len(nights) < 3:
        raise UserError(f"--split night needs at least 3 nights, the data has {len(nights)}")
    names = sorted(nights)
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    split, total, filled = Split("night"), len(samples), {"test": 0, "val": 0}
    for i, name in enumerate(order):
        remaining_nights = len(order) - i
        if filled["test"] == 0 or (filled["test"] < test * total and remaining_nights > 2):
            target = "test"
        elif filled["val"] == 0 or (filled["val"] < val * total and remaining_nights > 1):
            target = "val"
        else:
            target = "train"
        if target != "train":
            filled[target] += len(nights[name])
        split.part(target).extend((s.path, s.label) for s in nights[name])
    log.info("event=night_split nights=%d train=%d val=%d test=%d", len(nights), len(split.train),
             len(split.val), len(split.test))
    return split


def given(train: list[Sample], test: list[Sample], val: float, seed: int) -> Split:
    """Keep a data set's own train/test split; validation is a stratified part of its training images."""
    split = stratified(train, val=val, test=0.0, seed=seed, kind="given")
    split.test = [(s.path, s.label) for s in test]
    return split
