"""Floods: hundreds of frames dropped at once, and a backlog found at start-up. Memory stays bounded, a
live frame jumps the backlog, and every frame is published exactly once. (The issue's 5,000 frames:
`scripts/soak.py --burst 5000`, see docs/RELIABILITY.md.)"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from support.faults import FrameFeed, Ledger, Station, retained_state
from support.mqttcollect import Collector

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLOOD = 600
BACKLOG = 150
BACKLOG_SIDE = 1000  # big PNGs (no reduced decode): the backlog takes a few seconds to classify
RSS_GROWTH_LIMIT_MB = 100


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler(threading.Thread):
    """Records the peak RSS of a process until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.05):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, AssertionError):
                return

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def test_flood_of_frames_dropped_at_once(tmp_path, broker, toy_bundle):
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address) as station:
        ledger = Ledger(collector)
        feed.write(5)  # warm-up: model loaded, connected
        ledger.wait_for_frames(feed.expected)
        baseline = rss_mb(station.process.pid)
        sampler = RssSampler(station.process.pid)
        sampler.start()
        feed.write(FLOOD, atomic=True)  # an archive copied in, or a high-rate burst
        ledger.wait_for_frames(feed.expected, timeout=120)
        peak = sampler.stop()

        ledger.assert_exactly_once(feed.expected)
        assert station.processed() == FLOOD + 5
        assert peak - baseline < RSS_GROWTH_LIMIT_MB, f"RSS grew {peak - baseline:.0f} MB during the flood"
        assert retained_state(broker)["label"] == ledger.latest()["label"], "retained state is stale"


def test_live_frame_jumps_the_backlog(tmp_path, broker, toy_bundle):
    """Frames that piled up while the daemon was down wait behind a frame that arrives live."""
    spec = toy_bundle.manifest.preprocess
    piled_up = FrameFeed(tmp_path / "station" / "incoming", spec, size=BACKLOG_SIDE, suffix=".png", noise=0)
    backlog = {p.name for p in piled_up.write(BACKLOG)}
    feed = FrameFeed(piled_up.folder, spec, first=BACKLOG)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address) as station:
        ledger = Ledger(collector)
        station.wait_until(lambda: station.processed() >= 10, what="the backlog being classified")
        live = feed.write(1)[0].name
        expected = {**piled_up.expected, **feed.expected}
        ledger.wait_for_frames(expected, timeout=120)

        ledger.assert_exactly_once(expected)
        seqs = {m["frame"]: m["seq"] for m in ledger.frames()}
        classified_later = sum(1 for name in backlog if seqs[name] > seqs[live])
        assert classified_later >= BACKLOG // 4, (
            f"live frame classified behind the backlog: only {classified_later} backlog frames after it")
        arrival = [m["frame"] for m in ledger.frames()]
        published_later = len(set(arrival[arrival.index(live) + 1:]) & backlog)
        assert published_later >= BACKLOG // 4, (
            f"live frame published behind the backlog: only {published_later} backlog frames after it")
