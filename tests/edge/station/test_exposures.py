"""A frame is an exposure, not a path: a camera program that rewrites one file per exposure gets every
exposure classified, the same bytes written again are no new frame, and a file that is still growing is
taken once it is complete, never quarantined on the way."""
from __future__ import annotations

import os
import threading
import time

import pytest

from support.faults import FrameFeed, Ledger, Station, connected_client, settle
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration


def replace(path, data: bytes) -> None:
    """Write-then-rename, as camera programs update ``latest.jpg``."""
    temporary = path.with_name("." + path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def test_latest_jpg_rewritten_n_times_gives_n_frames_and_the_same_bytes_none(tmp_path, broker, toy_bundle):
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address) as station:
        station.wait_watching()
        feed = FrameFeed(station.watch, toy_bundle.manifest.preprocess)
        latest = station.watch / "latest.jpg"
        exposures = [feed.encode(feed.image(colour)) for colour in ((250, 10, 10), (10, 250, 10), (10, 10, 250))]
        for count, data in enumerate(exposures, start=1):
            replace(latest, data)
            collector.wait_for(lambda ms, n=count: sum(m.topic.endswith("/frames") for m in ms) >= n)
        replace(latest, exposures[-1])  # the same exposure written again
        os.utime(latest)  # and touched
        marker = connected_client(broker)
        try:
            station.wait_until(lambda: "event=frame_unchanged" in station.log(), what="the rewrite looked at")
            settle(collector, station, marker)
        finally:
            marker.loop_stop()
        frames = [m.json() for m in collector.on("frames")]
        assert [f["frame"] for f in frames] == ["latest.jpg"] * 3
        assert sorted(f["seq"] for f in frames) == [0, 1, 2]
        assert len({f["label"] for f in frames}) >= 2  # three different skies, not one label replayed
        assert station.stop() == 0
    with Station(tmp_path, toy_bundle.root, broker.address) as station:  # a restart's rescan: nothing new
        station.wait_watching()
        station.wait_until(lambda: station.processed() == 0 and "event=started" in station.log(), what="started")
        assert station.stop() == 0
    assert len(collector.on("frames")) == 3


def test_a_file_uploaded_in_chunks_is_classified_once_and_never_quarantined(tmp_path, broker, toy_bundle):
    config = {"frames": {"retries": 0, "retry_base_s": 0.1, "quarantine": "list"}, "watch": {"settle_s": 1.0}}
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, config) as station:
        ledger = Ledger(collector)
        station.wait_watching()
        feed = FrameFeed(station.watch, toy_bundle.manifest.preprocess)
        data = feed.encode(feed.image((200, 200, 40)))
        upload = station.watch / "KIR_20261124_220000_upload.jpg"
        chunks = [data[i:i + len(data) // 5 + 1] for i in range(0, len(data), len(data) // 5 + 1)]
        done = threading.Event()

        def uploader() -> None:
            for chunk in chunks:  # each chunk is its own open-append-close, like an FTP/SCP resume
                with open(upload, "ab") as handle:
                    handle.write(chunk)
                time.sleep(0.4)
            done.set()

        threading.Thread(target=uploader, daemon=True).start()
        assert done.wait(30)
        feed.expect(upload)
        ledger.wait_for_frames(list(feed.expected), timeout=60)
        ledger.assert_exactly_once(feed.expected)
        assert station.quarantined() == 0
        assert "event=frame_growing" in station.log()
        assert station.stop() == 0
