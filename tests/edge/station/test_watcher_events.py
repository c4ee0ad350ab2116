"""The watcher asks the kernel only for the events it acts on: a camera's chunked writes and the daemon's own
reads of a frame never reach the watcher, whether its folder is flat (inotify read on one thread) or a tree
(watchdog)."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from auroral.edge.frames import load_frame, read_version
from auroral.edge.station.watcher import Watcher
from support.offers import Offers
from support.stationctx import make_context


@pytest.mark.parametrize("recursive", [False, True], ids=["flat", "tree"])
def test_only_creations_closes_and_renames_reach_the_watcher(tmp_path, recursive):
    folder = tmp_path / "incoming"
    folder.mkdir()
    offers = Offers()
    context = make_context(tmp_path, watch={"dirs": [str(folder)], "patterns": ["*.jpg"], "recursive": recursive})
    watcher = Watcher(context, offers)
    assert (watcher.events is None) == recursive  # a tree keeps watchdog
    calls: list[str] = []
    found = watcher.found
    watcher.found = lambda path, live, settle_s=0.0: (calls.append(path.name), found(path, live, settle_s))
    dispatched: list[str] = []
    dispatch = watcher.handler.dispatch
    watcher.handler.dispatch = lambda event: (dispatched.append(type(event).__name__), dispatch(event))
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while folder not in watcher.watches and time.monotonic() < deadline:
            time.sleep(0.05)
        noise = np.random.default_rng(3).integers(0, 256, (480, 720, 3), dtype=np.uint8)
        jpeg = cv2.imencode(".jpg", noise)[1].tobytes()
        written = folder / "KIR_20260101_000000.jpg"
        with open(written, "wb") as handle:  # as a camera writes: in chunks
            for start in range(0, len(jpeg), 1024):
                handle.write(jpeg[start:start + 1024])
                handle.flush()
        (folder / "KIR_20260101_000100.part").write_bytes(jpeg)
        (folder / "KIR_20260101_000100.part").rename(folder / "KIR_20260101_000100.jpg")
        assert offers.wait_for(2, timeout=10)
        time.sleep(1.0)  # longer than an event takes to arrive here
        before_reads = list(calls)
        for _ in range(3):  # the daemon reading the frame: opens, reads and closes without writing
            load_frame(written, min_side=224)
            read_version(written)
        time.sleep(1.0)
    finally:
        watcher.stop(timeout=5)
    # created and closed for each file, the rename once: nothing for the 1024-byte chunks or the reads
    assert sorted(before_reads) == sorted(["KIR_20260101_000000.jpg"] * 2 + ["KIR_20260101_000100.part"] * 2
                                          + ["KIR_20260101_000100.jpg"])
    assert calls == before_reads
    assert sorted(set(dispatched)) == (["FileClosedEvent", "FileCreatedEvent", "FileMovedEvent"] if recursive else [])
    assert {path.name for path, _ in offers.seen} >= {"KIR_20260101_000000.jpg", "KIR_20260101_000100.jpg"}
