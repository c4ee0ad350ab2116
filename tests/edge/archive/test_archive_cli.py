"""`auroral archive` and `auroral stats` from the command line: options, outputs, one-line user errors."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from auroral.edge.tools.replay import capture_time_from_name
from auroral.edge.tools.synth import night_sequence


def auroral(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def nights(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nights")
    for day in (3, 4, 5):
        night_sequence(root / f"2019-01-{day:02d}", 12, 32, seed=day,
                       start=datetime(2019, 1, day, 20, tzinfo=UTC), cadence_s=1200)
    return root


def test_archive_then_stats(nights, toy_bundle, tmp_path):
    out = tmp_path / "results.parquet"
    result = auroral("archive", str(nights), "--bundle", str(toy_bundle.root), "--out", str(out), "--engine", "pool",
                     "--workers", "1", "--since", "2019-01-04", "--until", "2019-01-04", "--no-progress")
    assert result.returncode == 0, result.stderr
    expected = sorted(str(p.resolve()) for p in nights.rglob("KIR_*.jpg")
                      if capture_time_from_name(p.name).date() == datetime(2019, 1, 4).date())
    assert 0 < len(expected) < 36
    assert sorted(pd.read_parquet(out)["path"]) == expected
    assert f"{len(expected)} frames classified, 0 unreadable" in result.stdout

    again = auroral("archive", str(nights), "--bundle", str(toy_bundle.root), "--out", str(out), "--engine", "pool",
                    "--workers", "1", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert f"{36 - len(expected)} frames classified, 0 unreadable, {len(expected)} already done" in again.stdout
    assert pd.read_parquet(out)["path"].is_unique

    stats = auroral("stats", str(out), "--out", str(tmp_path / "stats"), "--longitude", "19.2")
    assert stats.returncode == 0, stats.stderr
    for name in ("occurrence_by_hour.png", "nightly_timeline.png", "monthly_counts.png", "counts_by_hour.csv"):
        assert str(tmp_path / "stats" / name) in stats.stdout.splitlines()
    assert pd.read_csv(tmp_path / "stats" / "counts_by_hour.csv")["total"].sum() == 36


def test_custom_file_name_times(toy_bundle, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for minute in range(3):
        cv2.imwrite(str(frames / f"asc-2021-02-03T22-{minute:02d}-00.png"), np.full((32, 32, 3), 90, np.uint8))
    out = tmp_path / "results.parquet"
    result = auroral("archive", str(frames), "--bundle", str(toy_bundle.root), "--out", str(out), "--workers", "1",
                     "--engine", "pool", "--time-regex", r"(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d)",
                     "--time-format", "%Y-%m-%dT%H-%M-%S", "--since", "2021-02-03T22:01", "--no-progress")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out).sort_values("captured_at")
    assert list(rows["captured_at"]) == [pd.Timestamp(f"2021-02-03T22:0{m}:00Z") for m in (1, 2)]
    assert set(rows["time_source"]) == {"name"}


@pytest.mark.parametrize(("preset", "source"), [("indi-allsky", "exif"), ("allsky", "name")])
def test_a_camera_programs_tree_with_its_preset_and_time_zone(toy_bundle, tmp_path, preset, source):
    tree = tmp_path / "images"
    start = datetime(2026, 1, 14, 22, 58, tzinfo=UTC)  # 23:58 in Stockholm: names and EXIF say so
    frames = night_sequence(tree, 4, 32, seed=1, start=start, breakup_len=0, layout=preset, tz="Europe/Stockholm")
    out = tmp_path / "results.parquet"
    result = auroral("archive", str(tree), "--bundle", str(toy_bundle.root), "--out", str(out), "--workers", "1",
                     "--engine", "pool", "--preset", preset, "--timezone", "Europe/Stockholm",
                     "--since", "2026-01-14T22:59", "--no-progress")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out).sort_values("captured_at")
    assert list(rows["path"]) == [str(p.resolve()) for p in frames[1:]]  # no thumbnail, no latest.jpg
    assert list(rows["captured_at"]) == [pd.Timestamp("2026-01-14T22:59:00Z") + pd.Timedelta(minutes=m)
                                         for m in range(3)]
    assert set(rows["time_source"]) == {source}


def test_results_written_before_time_source_still_resume_and_plot(nights, toy_bundle, tmp_path):
    out = tmp_path / "results.parquet"
    common = [str(nights), "--bundle", str(toy_bundle.root), "--out", str(out), "--engine", "pool", "--workers", "1",
              "--no-progress"]
    assert auroral("archive", *common, "--until", "2019-01-04").returncode == 0
    for part in out.glob("part-*.parquet"):  # as an older auroral wrote them
        pq.write_table(pq.read_table(part).drop_columns(["time_source"]), part)
    again = auroral("archive", *common)
    assert again.returncode == 0, again.stderr
    assert "12 frames classified, 0 unreadable, 24 already done" in again.stdout
    stats = auroral("stats", str(out), "--out", str(tmp_path / "stats"))
    assert stats.returncode == 0, stats.stderr
    assert pd.read_csv(tmp_path / "stats" / "counts_by_hour.csv")["total"].sum() == 36


@pytest.mark.parametrize("args, message", [
    (["--bundle", "{tmp}/no-bundle"], "does not exist"),
    (["--since", "2019-02-01", "--until", "2019-01-01"], "is not before"),
    (["--since", "yesterday"], "is not a date"),
    (["--pattern", "*.fits"], "no frames found"),
    (["--time-regex", "(unclosed"], "not a valid regular expression"),
    (["--timezone", "Europe/Kiruna"], "--timezone: unknown time zone 'Europe/Kiruna'"),
    (["--dask", "local"], "'local' is not a scheduler address such as tcp://host:8786"),
])
def test_archive_user_errors_are_one_line(nights, toy_bundle, tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--bundle" not in args:
        args += ["--bundle", str(toy_bundle.root)]
    result = auroral("archive", str(nights), "--out", str(tmp_path / "r.parquet"), "--engine", "pool",
                     "--workers", "1", *args)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("auroral archive: error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_stats_of_missing_results_is_a_user_error(tmp_path):
    result = auroral("stats", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "stats"))
    assert result.returncode == 2 and "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_archive_with_a_site_says_how_dark_each_frame_was(nights, toy_bundle, tmp_path):
    out = tmp_path / "kiruna.parquet"
    result = auroral("archive", str(nights), "--bundle", str(toy_bundle.root), "--out", str(out), "--engine", "pool",
                     "--workers", "1", "--no-progress", "--site", "67.84,20.41,400")
    assert result.returncode == 0, result.stderr
    rows = pd.read_parquet(out)
    assert len(rows) == 36 and set(rows["sky"]) == {"night"} and (rows["sun_elevation"] < -12).all()
    assert rows["moonlit"].dtype == bool and rows["moon_illumination"].dropna().between(0, 1).all()
    plain = auroral("archive", str(nights), "--bundle", str(toy_bundle.root), "--out", str(tmp_path / "p.parquet"),
                    "--engine", "pool", "--workers", "1", "--no-progress", "--limit", "3")
    assert plain.returncode == 0 and pd.read_parquet(tmp_path / "p.parquet")["sky"].isna().all()
    bad = auroral("archive", str(nights), "--bundle", str(toy_bundle.root), "--out", str(tmp_path / "b.parquet"),
                  "--site", "95,20")
    assert bad.returncode == 2 and "latitude 95.0 is not between -90 and 90" in bad.stderr
