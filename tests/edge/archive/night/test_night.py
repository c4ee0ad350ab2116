"""`auroral night`: the keogram (one column per frame, the label band, the onset marked), the onset catalogue in
capture time and the summary, from an archive run and from a station's recorded history."""
from __future__ import annotations

import csv
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from auroral.edge.archive.night import keogram
from auroral.edge.archive.night.products import from_archive, from_state, night_window
from auroral.edge.capture_time import Captured
from auroral.edge.classes import CLASSES
from auroral.edge.classifier import Prediction
from auroral.edge.cli import main
from auroral.edge.contract import ModelRef
from auroral.edge.errors import UserError
from auroral.edge.frames import FileVersion, read_frame
from auroral.edge.preprocess import PreprocessSpec
from auroral.edge.station.ledger import Classified, Ledger
from auroral.edge.tools.synth import night_sequence
from support.stationctx import make_context
from support.toybundle import expected_probabilities

FRAMES = 20
PRODUCTS = ("keogram.png", "onsets.csv", "onsets.parquet", "summary.md", "summary.png")


def labelled_night(out: Path, start: datetime, cadence_s: float = 60) -> tuple[list[Path], list[str]]:
    """A synthetic night of FRAMES frames with a breakup (frames 12-16), and its intended labels."""
    paths = night_sequence(out, FRAMES, 64, 7, start=start, cadence_s=cadence_s)
    with open(out / "labels.csv", newline="") as handle:
        return paths, [row["label"] for row in csv.DictReader(handle)]


def first_onset(hits: list[bool], n: int = 3, m: int = 5) -> int:
    """Index of the first frame of the first window of m frames holding n breakup hits (the trigger's rule)."""
    for end in range(len(hits)):
        window = [i for i in range(max(0, end - m + 1), end + 1) if hits[i]]
        if len(window) >= n:
            return window[0]
    raise AssertionError("no onset in the labels")


def toy_hits(paths: list[Path]) -> tuple[list[str], list[bool]]:
    """The toy model's label of each frame, and whether it is a breakup at the trigger's threshold (0.6)."""
    spec = PreprocessSpec(size=32)
    probabilities = [expected_probabilities(read_frame(p), spec) for p in paths]
    labels = [CLASSES[int(p.argmax())] for p in probabilities]
    return labels, [label == "breakup" and p.max() >= 0.6 for label, p in zip(labels, probabilities, strict=True)]


def test_archive_night_gives_the_keogram_band_and_onset_where_the_breakup_starts(tmp_path, toy_bundle, capsys):
    start = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    paths, _ = labelled_night(tmp_path / "frames", start)
    toy, hits = toy_hits(paths)  # what the archive will say
    onset = first_onset(hits)
    assert toy[onset] == "breakup" and "breakup" not in toy[:onset]  # the night's breakup starts here
    results = tmp_path / "results.parquet"
    assert main(["archive", str(tmp_path / "frames"), "--pattern", "KIR_*.jpg", "--bundle", str(toy_bundle.root),
                 "--out", str(results), "--engine", "pool", "--workers", "1", "--no-progress"]) == 0
    paths[3].unlink()  # a frame whose file is gone: labelled, but not in the keogram
    out = tmp_path / "night"
    assert main(["night", "2026-11-29", "--archive", str(results), "--out", str(out), "--station", "KIR",
                 "--timezone", "Europe/Stockholm"]) == 0
    for name in PRODUCTS:
        assert (out / name).stat().st_size > 0, name

    night = from_archive(results, night_window(start.date(), "UTC"), "KIR")
    assert [f.label for f in night.frames] == toy
    image = keogram.build(night.frames)
    assert image.image.shape == (keogram.HEIGHT, FRAMES - 1, 3)  # one column per frame still on disk
    assert image.missing == 1
    assert [o.captured_at for o in night.onsets] == [start + timedelta(minutes=onset)]

    rows = pd.read_csv(out / "onsets.csv")
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["onset_at"] == f"{start + timedelta(minutes=onset):%Y-%m-%dT%H:%M:%SZ}"
    assert (row["station"], row["first_frame"], bool(row["live"])) == ("KIR", paths[onset].name, False)
    last = max(i for i, hit in enumerate(hits) if hit)
    assert row["duration_s"] == (last - onset) * 60
    table = pd.read_parquet(out / "onsets.parquet")
    assert table["onset_at"].iloc[0] == pd.Timestamp(start + timedelta(minutes=onset))
    summary = (out / "summary.md").read_text()
    assert "1 skipped (file gone or unreadable)" in summary
    assert f"| breakup | {toy.count('breakup')} |" in summary
    assert paths[onset].name in summary and "![keogram](keogram.png)" in summary


def test_keogram_figure_marks_the_onset_under_the_band(tmp_path, toy_bundle):
    """What the PNG shows: the onset line on the keogram and the band, a band cell per frame in its class colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import dates

    start = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    labelled_night(tmp_path / "frames", start)
    results = tmp_path / "results.parquet"
    assert main(["archive", str(tmp_path / "frames"), "--pattern", "KIR_*.jpg", "--bundle", str(toy_bundle.root),
                 "--out", str(results), "--engine", "pool", "--workers", "1", "--no-progress"]) == 0
    night = from_archive(results, night_window(start.date(), "UTC"), "KIR")
    fig, (image_ax, band_ax) = plt.subplots(2, 1, sharex=True)
    keogram.draw(night, keogram.build(night.frames), image_ax, band_ax)
    onset_x = dates.date2num(night.onsets[0].captured_at)
    for ax in (image_ax, band_ax):
        assert [line.get_xdata()[0] for line in ax.get_lines()] == [onset_x]
    band = band_ax.collections[0].get_array()
    cells = band.compressed()  # the gaps between frames are masked: one cell per frame remains
    assert [night.classes[int(c)] for c in cells] == [f.label for f in night.frames]
    assert image_ax.get_legend() is not None
    plt.close(fig)


def classified(path: Path, captured: datetime, label: str) -> Classified:
    return Classified(path, Captured(captured, "name"), Prediction(label, 0.95, {label: 0.95}), time.time(), True,
                      FileVersion(path.stat().st_size, int(captured.timestamp()), f"{hash(path) & 0xffff:032x}"))


def test_state_dir_night_uses_the_onsets_the_station_recorded(tmp_path):
    cadence = timedelta(seconds=10)
    start = (datetime.now(UTC) - FRAMES * cadence).replace(microsecond=0)  # just captured: the onset is live
    paths, labels = labelled_night(tmp_path / "frames", start, cadence.total_seconds())
    onset = first_onset([label == "breakup" for label in labels])
    state = tmp_path / "state"
    context = make_context(state)
    ledger = Ledger.open(context.config, context.metrics, ModelRef(name="toy", sha256="0" * 64), lambda events: None)
    try:
        for i in (0, 5, 10, 15):  # recorded in batches, as the daemon does
            ledger.frames([classified(p, start + j * cadence, label)
                           for j, (p, label) in list(enumerate(zip(paths, labels, strict=True)))[i:i + 5]])
        # read while the daemon holds the state directory, in a zone where these frames are near midnight
        offset = (-start.hour) % 24 - (24 if (-start.hour) % 24 > 12 else 0)
        timezone = f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-6 is UTC+6
        # and under a sky that is dark whenever the test runs: on the equator, at that zone's solar midnight
        site = f"0,{15 * offset}"
        evening = (start + timedelta(hours=offset - 12)).date()
        night = from_state(state, night_window(evening, timezone), "KIR")
    finally:
        ledger.close()
    assert [o.captured_at for o in night.onsets] == [start + onset * cadence]
    assert night.onsets[0].live

    out = tmp_path / "night"
    assert main(["night", evening.isoformat(), "--state-dir", str(state), "--out", str(out),
                 "--site", site, "--timezone", timezone]) == 0
    for name in PRODUCTS:
        assert (out / name).stat().st_size > 0, name
    rows = pd.read_csv(out / "onsets.csv")
    assert rows["onset_at"].tolist() == [f"{start + onset * cadence:%Y-%m-%dT%H:%M:%SZ}"]
    assert rows["first_frame"].tolist() == [paths[onset].name] and rows["live"].tolist() == [True]
    last = max(i for i, label in enumerate(labels) if label == "breakup")
    assert rows["duration_s"].tolist() == [(last - onset) * cadence.total_seconds()]
    assert rows["peak_confidence"].tolist() == [0.95]
    summary = (out / "summary.md").read_text()
    assert f"Dark hours at 0.00, {15 * offset:.2f}" in summary
    assert f"| breakup | {labels.count('breakup')} |" in summary
    assert set(CLASSES) <= set(night.classes)


def test_one_line_errors(tmp_path, capsys):
    assert main(["night", "2026-11-29", "--state-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["night", "2026-11-29", "--state-dir", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no state.db" in capsys.readouterr().err
    assert main(["night", "2026-11-29", "--archive", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "o")]) == 2
    assert "auroral archive" in capsys.readouterr().err
    assert main(["night", "2026-11-29", "--archive", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--timezone", "Mars/Olympus"]) == 2
    assert "unknown time zone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["night", "29.11.2026", "--archive", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "not a date" in capsys.readouterr().err


def test_a_night_without_frames_is_a_one_line_error(tmp_path):
    state = tmp_path / "state"
    context = make_context(state)
    ledger = Ledger.open(context.config, context.metrics, ModelRef(name="toy", sha256="0" * 64), lambda events: None)
    ledger.close()
    with pytest.raises(UserError, match="no frames captured in the night of 2026-11-29"):
        from_state(state, night_window(datetime(2026, 11, 29).date(), "UTC"), "KIR")
