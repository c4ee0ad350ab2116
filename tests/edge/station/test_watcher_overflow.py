"""An inotify queue overflow loses events; watchdog (which watches trees) only logs it, and the watcher answers
with a rescan. Flat folders read the kernel's own overflow event: tests/edge/station/test_folderevents.py."""
from __future__ import annotations

import logging
import time

from auroral.edge.station.watcher import Watcher
from support.offers import Offers
from support.stationctx import make_context

OVERFLOW = "Inotify queue overflowed; filesystem events were lost"  # watchdog's own words


def test_overflow_log_record_makes_the_watcher_rescan(tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    offers = Offers()
    context = make_context(tmp_path, watch={"dirs": [str(folder)], "patterns": ["*.jpg"], "folder_retry_max_s": 1.0,
                                            "recursive": True})
    metrics = context.metrics
    watcher = Watcher(context, offers)
    watcher.start()
    try:
        deadline = time.monotonic() + 10
        while folder not in watcher.watches and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher._unschedule(folder)  # the watch goes deaf, as when the kernel drops its events
        names = [f"KIR_20260101_00000{i}.jpg" for i in range(3)]
        for name in names:
            (folder / name).write_bytes(b"frame")
        time.sleep(2.5)  # longer than the watcher's check interval: nothing is found without the alarm
        assert offers.seen == []
        logging.getLogger("watchdog.observers.inotify_c").warning(OVERFLOW)
        assert offers.wait_for(3, timeout=10)
        assert sorted(offers.seen) == [(folder / name, False) for name in names]  # backlog, like a start-up rescan
        assert metrics.watch_errors._value.get() == 1
    finally:
        watcher.stop(5)
    assert watcher._alarm not in logging.getLogger("watchdog.observers.inotify_c").handlers
