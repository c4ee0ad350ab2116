"""`auroral stats`: count tables that match the Parquet rows, hour-of-night binning, and the three figures."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auroral.edge.archive.stats import add_night_columns, ribbon_matrix, write_stats
from auroral.edge.archive.store import ResultStore
from auroral.edge.classes import CLASSES
from auroral.edge.errors import UserError

SHA = "a" * 64
FIGURES = ("occurrence_by_hour.png", "nightly_timeline.png", "monthly_counts.png")


def results_dataset(out: Path, seed: int = 3) -> pd.DataFrame:
    """An archive result set over three months of nights, a few rows without capture time, via the store."""
    rng = np.random.default_rng(seed)
    rows = []
    for night in range(12):
        evening = datetime(2019, 11, 1, 17, 0, tzinfo=UTC) + timedelta(days=7 * night)
        for minute in range(0, 13 * 60, 20):
            probabilities = rng.dirichlet(np.ones(len(CLASSES)))
            best = int(np.argmax(probabilities))
            row = {"path": f"/archive/KIR_{evening + timedelta(minutes=minute):%Y%m%d_%H%M%S}.jpg",
                   "captured_at": evening + timedelta(minutes=minute), "label": CLASSES[best],
                   "confidence": float(probabilities[best]), "model_sha256": SHA}
            row.update({f"p_{c}": float(p) for c, p in zip(CLASSES, probabilities, strict=True)})
            rows.append(row)
    undated = dict(rows[0], path="/archive/no-time-in-name.jpg", captured_at=None)
    store = ResultStore(out, list(CLASSES), SHA)
    store.write(rows[: len(rows) // 2], [])
    store.write(rows[len(rows) // 2:] + [undated], [])
    return pd.read_parquet(out)


def test_counts_csv_match_the_parquet_rows(tmp_path):
    results = results_dataset(tmp_path / "results.parquet")
    written = write_stats(tmp_path / "results.parquet", tmp_path / "stats")
    dated = results.dropna(subset=["captured_at"])
    expected = dated["label"].value_counts().reindex(list(CLASSES), fill_value=0)
    for name in ("counts_by_hour.csv", "counts_by_month.csv", "counts_by_night.csv"):
        table = pd.read_csv(tmp_path / "stats" / name, index_col=0)
        assert list(table.columns) == list(CLASSES) + ["total"]
        assert table[list(CLASSES)].sum().tolist() == expected.tolist(), name
        assert (table[list(CLASSES)].sum(axis=1) == table["total"]).all()
    hourly = pd.read_csv(tmp_path / "stats" / "counts_by_hour.csv", index_col=0)
    assert list(hourly.index) == list(range(12, 24)) + list(range(12))  # noon to noon: one night is contiguous
    for hour in range(24):
        assert hourly.loc[hour, "total"] == (dated["captured_at"].dt.hour == hour).sum()
    monthly = pd.read_csv(tmp_path / "stats" / "counts_by_month.csv", index_col=0)
    assert list(monthly.index) == ["2019-11", "2019-12", "2020-01"]
    nightly = pd.read_csv(tmp_path / "stats" / "counts_by_night.csv", index_col=0)
    assert len(nightly) == 12  # frames after midnight belong to the night of the evening before
    for figure in FIGURES:
        data = (tmp_path / "stats" / figure).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, figure
    assert sorted(p.name for p in written) == sorted(FIGURES + ("counts_by_hour.csv", "counts_by_month.csv",
                                                                 "counts_by_night.csv"))


def test_longitude_shifts_hours_to_local_solar_time(tmp_path):
    results = results_dataset(tmp_path / "results.parquet")
    write_stats(tmp_path / "results.parquet", tmp_path / "utc")
    write_stats(tmp_path / "results.parquet", tmp_path / "local", longitude=45.0)  # UTC + 3 h
    utc = pd.read_csv(tmp_path / "utc" / "counts_by_hour.csv", index_col=0)
    local = pd.read_csv(tmp_path / "local" / "counts_by_hour.csv", index_col=0)
    for hour in range(24):
        assert local.loc[(hour + 3) % 24].tolist() == utc.loc[hour].tolist()
    assert local["total"].sum() == results["captured_at"].notna().sum()


def test_bad_results_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        write_stats(tmp_path / "missing.parquet", tmp_path / "stats")
    (tmp_path / "not.parquet").write_text("path,label\n")
    with pytest.raises(UserError, match="not a Parquet dataset"):
        write_stats(tmp_path / "not.parquet", tmp_path / "stats")
    pd.DataFrame({"path": ["x"], "label": ["arcs"]}).to_parquet(tmp_path / "other.parquet")
    with pytest.raises(UserError, match="lacks the columns"):
        write_stats(tmp_path / "other.parquet", tmp_path / "stats")


def test_ribbon_cells_hold_the_most_frequent_class_of_their_night():
    times = pd.to_datetime(["2019-01-04T21:00:00Z", "2019-01-04T21:03:00Z", "2019-01-04T21:06:00Z",
                            "2019-01-05T02:15:00Z", "2019-01-05T20:00:00Z"])
    frame = pd.DataFrame({"captured_at": times, "label": ["arcs", "breakup", "breakup", "patchy", "faint"]})
    matrix, nights = ribbon_matrix(add_night_columns(frame, None), list(CLASSES))
    assert nights == ["2019-01-04", "2019-01-05"]  # 02:15 on the 5th belongs to the night of the 4th
    cell = {hhmm: (hhmm // 100 * 60 + hhmm % 100 - 12 * 60) % (24 * 60) // 10 for hhmm in (2100, 215, 2000)}
    assert matrix[0, cell[2100]] == CLASSES.index("breakup")
    assert matrix[0, cell[215]] == CLASSES.index("patchy")
    assert matrix[1, cell[2000]] == CLASSES.index("faint")
    assert np.isnan(matrix).sum() == matrix.size - 3
