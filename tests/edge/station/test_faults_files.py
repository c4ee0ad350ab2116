"""File faults: each bad file is retried with back-off, then quarantined and reported; good frames all pass.

Tests run as root here, and root ignores file modes, so the permission tests run the daemon as the
unprivileged user ``nobody`` (``setpriv``) in a world-traversable scratch dir: a mode-000 file is then
a real EACCES, and a mode-000 watch folder a real unreadable folder.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from support.faults import FrameFeed, Ledger, Station
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration

NOBODY = 65534
QUICK_RETRY = {"frames": {"retries": 3, "retry_base_s": 0.2}}
PATIENT_RETRY = {"frames": {"retries": 6, "retry_base_s": 0.5}}


def station_config(tmp_path: Path, retry: dict) -> dict:
    return {**retry, "frames": {**retry["frames"], "quarantine": "move",
                                "quarantine_dir": str(tmp_path / "quarantine")}}


def test_bad_files_are_quarantined_and_reported(tmp_path, broker, toy_bundle):
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    config = station_config(tmp_path, QUICK_RETRY)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address, config) as station:
        ledger = Ledger(collector)
        station.wait_watching()
        feed.write(3)
        whole = feed.encode(feed.image())
        bad = {
            "KIR_20261124_230000_truncated.jpg": whole[: len(whole) // 2],
            "KIR_20261124_230001_empty.jpg": b"",
            "KIR_20261124_230002_notanimage.jpg": b"this is a log file, not a frame\n" * 20,
            "KIR_20261124_230003_garbage.png": os.urandom(3000),
        }
        for name, data in bad.items():
            (feed.folder / name).write_bytes(data)
        vanished = feed.folder / "KIR_20261124_230004_vanished.jpg"
        vanished.write_bytes(whole)
        vanished.unlink()  # deleted before the daemon could read it
        feed.write(3)
        alerts = ledger.wait_for_alerts("frame_quarantined", len(bad))
        ledger.wait_for_frames(feed.expected)

        ledger.assert_exactly_once(feed.expected)
        assert sorted(a["frame"] for a in alerts) == sorted(bad), "each bad file quarantined exactly once"

        def moved() -> list[str]:
            return sorted(p.name for p in (tmp_path / "quarantine").iterdir() if p.name in bad)

        # the quarantine is recorded (and its alert sent) before the file is moved, so the move may lag the alert
        station.wait_until(lambda: len(moved()) == len(bad), what="quarantined files moved")
        assert moved() == sorted(bad)
        assert not any((feed.folder / name).exists() for name in bad), "quarantined files leave the watch folder"
        assert station.quarantined() == len(bad)
        assert station.processed() == 6
        station.wait_until(lambda: f"event=frame_vanished frame={str(vanished)!r}" in station.log(),
                           what="vanished file logged")
        feed.write(2)  # and the daemon carries on
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        assert len(ledger.wait_for_alerts("frame_quarantined", len(bad))) == len(bad)


def test_frame_still_being_written_is_retried_not_quarantined(tmp_path, broker, toy_bundle):
    """A camera that closes a half-written file and appends the rest later: one label, no quarantine."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address,
                    station_config(tmp_path, PATIENT_RETRY)) as station:
        ledger = Ledger(collector)
        station.wait_watching()
        data = feed.encode(feed.image())
        slow = feed.folder / "KIR_20261124_220000_slow.jpg"
        slow.write_bytes(data[: len(data) // 3])
        station.wait_until(lambda: station.retries() >= 1, what="a failed first attempt on the partial file")
        with open(slow, "ab") as rest:
            rest.write(data[len(data) // 3:])
        feed.expect(slow)
        feed.write(2)
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        assert station.quarantined() == 0
        assert not [a for a in collector.on("alerts") if a.json()["type"] == "frame_quarantined"]


def test_huge_frame_is_classified(tmp_path, broker, toy_bundle):
    """A 6000×4000 frame is decoded at reduced scale and classified once, like any other."""
    import cv2

    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address, station_config(tmp_path, QUICK_RETRY)):
        ledger = Ledger(collector)
        huge = feed.folder / "KIR_20261124_210000_huge.jpg"
        image = feed.image((40, 200, 90))
        cv2.imwrite(str(huge), cv2.resize(image, (6000, 4000), interpolation=cv2.INTER_NEAREST))
        feed.expect(huge)
        feed.write(2)
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)


@pytest.fixture
def nobody_dir():
    """A scratch dir the unprivileged daemon can reach (pytest's tmp dirs are root-only)."""
    root = Path(tempfile.mkdtemp(prefix="auroral-nobody-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def nobody_station(root: Path, toy_bundle, broker) -> Station:
    bundle = shutil.copytree(toy_bundle.root, root / "bundle")
    station = Station(root / "station", bundle, broker.address, station_config(root, QUICK_RETRY), user=str(NOBODY))
    for path in (root / "station", station.watch, station.state, root / "quarantine"):
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, NOBODY, NOBODY)
    return station


def test_permission_denied_file_is_quarantined(nobody_dir, broker, toy_bundle):
    station = nobody_station(nobody_dir, toy_bundle, broker)
    feed = FrameFeed(station.watch, toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, station:
        ledger = Ledger(collector)
        locked = station.watch / "KIR_20261124_230000_locked.jpg"
        fd = os.open(locked, os.O_WRONLY | os.O_CREAT, 0o000)  # root-owned, mode 000: nobody may not read it
        os.write(fd, feed.encode(feed.image()))
        os.close(fd)
        feed.write(3)
        alerts = ledger.wait_for_alerts("frame_quarantined", 1)
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        assert [a["frame"] for a in alerts] == [locked.name]
        assert station.quarantined() == 1 and station.alive


def test_unreadable_watch_folder_is_retried(nobody_dir, broker, toy_bundle):
    """The watch folder is unreadable at start-up: reported, retried, and its frames classified once fixed."""
    station = nobody_station(nobody_dir, toy_bundle, broker)
    feed = FrameFeed(station.watch, toy_bundle.manifest.preprocess)
    os.chown(station.watch, 0, 0)
    feed.write(4)
    station.watch.chmod(0o000)
    with Collector(broker, "auroral/#") as collector, station:
        ledger = Ledger(collector)
        station.wait_until(lambda: station.watch_errors() >= 2, what="the unreadable folder reported and retried")
        assert station.processed() == 0
        station.watch.chmod(0o777)
        feed.write(2)
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        assert station.alive


def test_watch_folder_removed_and_recreated(tmp_path, broker, toy_bundle):
    """A remount or a camera that recreates its folder: the daemon re-attaches and misses no frame."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address,
                    station_config(tmp_path, QUICK_RETRY)) as station:
        ledger = Ledger(collector)
        station.wait_watching()
        feed.write(2)
        ledger.wait_for_frames(feed.expected)
        shutil.rmtree(feed.folder)
        feed.folder.mkdir()
        feed.write(3)
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        assert station.alive


def test_watch_folder_rotated_away_and_recreated(tmp_path, broker, toy_bundle):
    """A nightly rotation renames the folder away and creates a fresh one (or a disk is mounted over it):
    the old watch follows the old folder, so the daemon must notice and attach to the new one."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address,
                    station_config(tmp_path, QUICK_RETRY)) as station:
        ledger = Ledger(collector)
        station.wait_watching()
        feed.write(2)
        ledger.wait_for_frames(feed.expected)
        feed.folder.rename(tmp_path / "station" / "night-1")
        feed.folder.mkdir()
        feed.write(3)
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        assert station.alive
