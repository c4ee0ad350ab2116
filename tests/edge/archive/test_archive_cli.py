"""`auroral archive` and `auroral stats` from the command line: options, outputs, one-line user errors."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
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
                       start=datetime(2019, 1, day, 20, tzinfo=timezone.utc), cadence_s=1200)
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
    times = sorted(pd.read_parquet(out)["captured_at"])
    assert times == [pd.Timestamp(f"2021-02-03T22:0{m}:00Z") for m in (1, 2)]


@pytest.mark.parametrize("args, message", [
    (["--bundle", "{tmp}/no-bundle"], "does not exist"),
    (["--since", "2019-02-01", "--until", "2019-01-01"], "is not before"),
    (["--since", "yesterday"], "is not a date"),
    (["--pattern", "*.fits"], "no frames found"),
    (["--time-regex", "(unclosed"], "not a valid regular expression"),
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
