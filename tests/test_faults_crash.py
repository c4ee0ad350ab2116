"""kill -9 of the daemon mid-stream, then restart: every frame classified once, every label delivered."""
from __future__ import annotations

import pytest

from faults import FrameFeed, Ledger, Station, retained_state
from mqttcollect import Collector

pytestmark = pytest.mark.integration


def test_kill9_mid_stream_then_restart(tmp_path, broker, toy_bundle):
    """Three SIGKILLs at different points of a 60-frame stream; the fourth start drains the rest."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, Station(tmp_path / "station", toy_bundle.root, broker.address) as station:
        ledger = Ledger(collector)
        feed.write(20)
        for progress in (5, 25, 45):
            # kill once `progress` frames are out: some classified and spooled, some not even decoded yet
            ledger.wait_for_count(progress)
            station.kill9()
            feed.write(20 if progress < 45 else 0)  # frames keep arriving while the daemon is down
            station.start()
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        seqs = sorted(next(iter(s)) for s in ledger.seqs_by_frame().values())
        assert seqs == list(range(seqs[0], seqs[0] + len(feed.expected))), "seq has gaps after the crashes"
        assert station.starts == 4 and station.alive
        assert retained_state(broker)["label"] == ledger.latest()["label"], "retained state is stale"
    assert len(feed.expected) == 60
