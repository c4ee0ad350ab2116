"""Camera-program presets: the daemon reads an indi-allsky or AllSky tree, as ``auroral synth --night`` writes
it, completely, each exposure once, with its capture time right, and leaves every file of the camera's alone."""
from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from auroral.edge.errors import UserError
from auroral.edge.station.config import load_config
from auroral.edge.station.presets import PRESETS
from support.faults import Ledger, Station, connected_client, settle
from support.mqttcollect import Collector

ZONE = "Europe/Stockholm"  # the camera host's clock: names and EXIF are one hour ahead of UTC in January
#: where each program's capture time is read from: indi-allsky's EXIF, AllSky's and the plain names
SOURCE = {"indi-allsky": "exif", "allsky": "name", "plain": "name"}


def synth_night(out: Path, layout: str, frames: int = 4) -> dict[str, datetime]:
    """The night as the camera program writes it; frame name → true capture time (UTC)."""
    result = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "synth", "--night", "--layout", layout,
                             "--start", "2026-01-14T23:58", "--timezone", ZONE, "--frames", str(frames),
                             "--size", "48", "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with open(out / "labels.csv", newline="") as handle:
        return {Path(row["path"]).name: datetime.fromisoformat(row["timestamp"]) for row in csv.DictReader(handle)}


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: its content digest and mtime, to show nothing was moved, deleted or changed."""
    return {str(path.relative_to(root)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.mark.integration
@pytest.mark.parametrize("preset", PRESETS)
def test_each_preset_takes_every_exposure_once_with_its_capture_time(tmp_path, broker, toy_bundle, preset):
    station = Station(tmp_path, toy_bundle.root, broker.address,
                      {"watch": {"preset": preset, "dirs": [str(tmp_path / "incoming")], "timezone": ZONE}})
    captured = synth_night(station.watch, preset)
    before = snapshot(station.watch)
    assert len(before) > len(captured) or preset == "plain", "the camera's extra files (thumbnails, latest)"
    with Collector(broker, "auroral/#") as collector, station:
        ledger = Ledger(collector)
        ledger.wait_for_frames(captured)
        client = connected_client(broker)
        try:
            settle(collector, station, client)  # everything the daemon sent is in
        finally:
            client.loop_stop()
        assert {name: len(seqs) for name, seqs in ledger.seqs_by_frame().items()} == dict.fromkeys(captured, 1)
        frames = {m["frame"]: m for m in ledger.frames()}
        assert {name: datetime.fromisoformat(m["captured_at"]) for name, m in frames.items()} == captured
        assert {m["time_source"] for m in frames.values()} == {SOURCE[preset]}
        assert station.quarantined() == 0
        assert station.stop() == 0
    assert snapshot(station.watch) == before, "a file of the camera's was moved, deleted or changed"


def test_a_preset_fills_only_the_keys_the_file_leaves_out(tmp_path):
    config = load_config(None, {"watch": {"dirs": [str(tmp_path)], "preset": "allsky", "recursive": False},
                                "model": {"bundle": str(tmp_path)}})
    assert config.watch.recursive is False  # set explicitly: the file wins
    assert config.watch.patterns == ["*-??????????????.jpg", "*-??????????????.png"]
    assert config.watch.exclude_dirs == ["thumbnails"]
    assert config.frames.quarantine == "list"
    moved = load_config(None, {"watch": {"dirs": [str(tmp_path)], "preset": "indi-allsky"},
                               "frames": {"quarantine": "move"}, "model": {"bundle": str(tmp_path)}})
    assert moved.frames.quarantine == "move" and moved.watch.recursive is True
    plain = load_config(None, {"watch": {"dirs": [str(tmp_path)]}, "model": {"bundle": str(tmp_path)}})
    assert (plain.watch.preset, plain.watch.recursive, plain.frames.quarantine) == ("plain", False, "move")


@pytest.mark.parametrize(("watch", "message"), [
    ({"preset": "zwo"}, "watch.preset: Input should be 'plain', 'indi-allsky' or 'allsky'"),
    ({"timezone": "Europe/Kiruna"}, "watch.timezone: unknown time zone 'Europe/Kiruna'"),
])
def test_an_unknown_preset_or_zone_is_one_clear_error(tmp_path, watch, message):
    with pytest.raises(UserError, match="^configuration: " + message.replace("(", r"\(")) as error:
        load_config(None, {"watch": {"dirs": [str(tmp_path)], **watch}, "model": {"bundle": str(tmp_path)}})
    assert "\n" not in str(error.value)
