"""A flood: hundreds of frames dropped at once. Memory stays bounded, a live frame jumps the backlog,
and every frame is published exactly once. (The issue's 5,000: `scripts/soak.py --burst 5000`.)"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from faults import FrameFeed, Ledger, Station, retained_state
from mqttcollect import Collector

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKLOG = 600
RSS_GROWTH_LIMIT_MB = 150


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class RssSampler(threading.Thread):
    """Records the peak RSS of a process until stopped."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self._stop_event = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.05):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, AssertionError):
                return

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        return self.peak


def test_flood_of_frames(tmp_path, broker, toy_bundle):
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector:
        ledger = Ledger(collector)
        with Station(tmp_path / "station", toy_bundle.root, broker.address) as station:
            feed.write(5)  # warm-up: model loaded, connected
            ledger.wait_for_frames(feed.expected)
            baseline = rss_mb(station.process.pid)
            sampler = RssSampler(station.process.pid)
            sampler.start()
            backlog = {p.name for p in feed.write(BACKLOG, atomic=True)}  # an archive copied in
            station.wait_until(lambda: station.processed() >= 55, what="the backlog being classified")
            live = feed.write(1)[0].name  # the sky goes on while the backlog drains
            ledger.wait_for_frames(feed.expected, timeout=120)
            peak = sampler.stop()

            ledger.assert_exactly_once(feed.expected)
            arrival = [m["frame"] for m in ledger.frames()]
            after_live = set(arrival[arrival.index(live) + 1:]) & backlog
            assert len(after_live) >= BACKLOG // 4, (
                f"live frame published behind the backlog: only {len(after_live)} backlog frames came after it")
            seqs = {m["frame"]: m["seq"] for m in ledger.frames()}
            classified_later = sum(1 for name in backlog if seqs[name] > seqs[live])
            assert classified_later >= BACKLOG // 4, (
                f"live frame classified behind the backlog: only {classified_later} backlog frames after it")
            assert peak - baseline < RSS_GROWTH_LIMIT_MB, f"RSS grew {peak - baseline:.0f} MB during the flood"
            assert station.processed() == BACKLOG + 6
            assert retained_state(broker)["label"] == ledger.latest()["label"], "retained state is stale"
