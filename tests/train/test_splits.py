"""Splits are reproducible, stratified, saved and reusable; a night split never shares a night."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from auroral.edge.errors import UserError
from auroral.train.datasets import Sample
from auroral.train.splits import PARTS, Split, by_night, night_of, stratified


def _samples(per_class: int = 20, nights: int = 8) -> list[Sample]:
    start = datetime(2014, 12, 1, 18, tzinfo=UTC)
    out = []
    for c, label in enumerate(("arcs", "faint", "breakup")):
        for i in range(per_class):
            # frames spread over the evening and past midnight: 18:00 .. 05:xx belongs to one night
            when = start + timedelta(days=i % nights, hours=(i * 5 + c) % 11, minutes=i)
            out.append(Sample(Path(f"/data/{label}/{i}.png"), label, when))
    return out


def test_stratified_reproducible_and_complete():
    samples = _samples()
    a, b = stratified(samples, 0.2, 0.2, seed=3), stratified(samples, 0.2, 0.2, seed=3)
    assert a.to_json() == b.to_json()
    assert stratified(samples, 0.2, 0.2, seed=4).to_json() != a.to_json()
    assert sorted(p for part in PARTS for p, _ in a.part(part)) == sorted(s.path for s in samples)
    assert Counter(label for _, label in a.test) == {"arcs": 4, "faint": 4, "breakup": 4}
    assert Counter(label for _, label in a.val) == {"arcs": 4, "faint": 4, "breakup": 4}


def test_saved_and_loaded(tmp_path):
    split = stratified(_samples(), 0.2, 0.2, seed=0)
    split.save(tmp_path / "split.json")
    loaded = Split.load(tmp_path / "split.json")
    assert loaded == split and loaded.kind == "stratified"
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(UserError, match="cannot read split file"):
        Split.load(tmp_path / "bad.json")


def test_night_split_keeps_nights_together():
    samples = _samples()
    when = {s.path: s.timestamp for s in samples}
    split = by_night(samples, 0.2, 0.2, seed=1)
    nights = {part: {night_of(when[p]) for p, _ in split.part(part)} for part in PARTS}
    assert all(nights[part] for part in PARTS)
    assert not nights["train"] & nights["val"] and not nights["train"] & nights["test"]
    assert not nights["val"] & nights["test"]
    assert sum(len(split.part(p)) for p in PARTS) == len(samples)
    assert split.kind == "night" and by_night(samples, 0.2, 0.2, seed=1) == split


def test_night_boundary_is_noon():
    evening = datetime(2014, 12, 1, 22, tzinfo=UTC)
    assert night_of(evening) == night_of(evening + timedelta(hours=7)) == "2014-12-01"
    assert night_of(evening + timedelta(hours=15)) == "2014-12-02"


def test_night_split_needs_timestamps():
    samples = _samples() + [Sample(Path("/data/x.png"), "arcs", None)]
    with pytest.raises(UserError, match="timestamp"):
        by_night(samples, 0.2, 0.2, seed=0)
