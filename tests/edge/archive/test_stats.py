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
FIGURES = ("occurrence_rate_by_hour.png", "occurrence_by_hour.png", "nightly_timeline.png", "monthly_counts.png")


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
                                                                 "counts_by_night.csv", "occurrence_rate_by_hour.csv"))
    rates = pd.read_csv(tmp_path / "stats" / "occurrence_rate_by_hour.csv", index_col=0)
    assert rates["dark_frames"].sum() == len(dated)  # no sky columns: every dated frame counts as dark


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


def test_occurrence_is_a_rate_over_dark_and_moonless_frames():
    from auroral.edge.archive.stats import NIGHT_HOURS, dark_frames, rate_table

    at = pd.Timestamp("2026-01-10 22:10", tz="UTC")
    rows = pd.DataFrame({
        "captured_at": [at] * 6 + [pd.Timestamp("2026-01-10 13:10", tz="UTC")] * 2,
        "label": ["arcs", "arcs", "faint", "faint", "arcs", "breakup", "arcs", "arcs"],
        "sky": ["night"] * 6 + ["day"] * 2,
        "moonlit": [False, False, False, False, True, True, False, False],
    }).assign(hour=lambda f: f["captured_at"].dt.hour)
    classes = ["breakup", "arcs", "faint"]
    dark, meaning = dark_frames(rows)
    rates = rate_table(dark, classes, NIGHT_HOURS)
    assert rates.loc[22, "dark_frames"] == 6 and rates.loc[13, "dark_frames"] == 0  # day frames never count
    assert rates.loc[22, "arcs"] == pytest.approx(3 / 6) and np.isnan(rates.loc[13, "arcs"])
    moonless, _ = dark_frames(rows, moonless=True)
    assert rate_table(moonless, classes, NIGHT_HOURS).loc[22, "arcs"] == pytest.approx(2 / 4)
    assert "dark sky" in meaning
    everything, note = dark_frames(rows.drop(columns=["sky", "moonlit"]))
    assert len(everything) == 8 and "--site" in note


def test_magnetic_local_time_from_aacgm_and_the_solar_fallback_without_it(tmp_path, monkeypatch, caplog):
    import builtins
    import logging

    import aacgmv2

    from auroral.edge.archive.stats import magnetic_offset_hours
    from auroral.edge.sky import Site

    kiruna = Site(67.84, 20.41, 400.0)
    at = pd.Series(pd.to_datetime(["2026-01-10 22:00", "2026-01-10 22:02"], utc=True))
    offsets = magnetic_offset_hours(at, kiruna)
    mlon = aacgmv2.convert_latlon(67.84, 20.41, 0.4, datetime(2026, 1, 10))[1]
    expected = float(np.asarray(aacgmv2.convert_mlt(mlon, datetime(2026, 1, 10, 22, 0))).ravel()[0]) - 22.0
    assert offsets.tolist() == pytest.approx([expected, expected], abs=1e-3)  # one value per 5 minutes
    assert 1.0 < expected < 2.5  # Kiruna: MLT is about UTC + 1.4 h

    real_import = builtins.__import__

    def without_aacgmv2(name, *args, **kwargs):
        if name == "aacgmv2":
            raise ImportError("not installed here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_aacgmv2)
    assert magnetic_offset_hours(at, kiruna) is None
    results_dataset(tmp_path / "r.parquet")
    with caplog.at_level(logging.WARNING, "auroral.edge.archive.stats"):
        write_stats(tmp_path / "r.parquet", tmp_path / "stats", site=kiruna)
    assert "event=stats_mlt_unavailable fallback=local_solar_time" in caplog.text
