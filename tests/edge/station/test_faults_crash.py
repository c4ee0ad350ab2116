"""kill -9 (and a clean SIGTERM) of the daemon mid-stream, then restart: every frame classified once,
every label delivered, one trigger per onset."""
from __future__ import annotations

import pytest

from support.faults import FrameFeed, Ledger, Station, connected_client, retained_state, settle
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("how", ["kill9", "sigterm"])
def test_stop_mid_stream_then_restart(tmp_path, broker, toy_bundle, how):
    """Three stops at different points of a 60-frame stream; the fourth start drains the rest."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address) as station:
        ledger = Ledger(collector)
        feed.write(20)
        for progress in (5, 25, 45):
            # stop once `progress` frames are out: the rest classified and spooled but unsent, or still waiting
            ledger.wait_for_count(progress)
            if how == "kill9":
                station.kill9()
            else:
                assert station.stop() == 0
            feed.write(20 if progress < 45 else 0)  # frames keep arriving while the daemon is down
            station.start()
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        seqs = sorted(next(iter(s)) for s in ledger.seqs_by_frame().values())
        assert seqs == list(range(seqs[0], seqs[0] + len(feed.expected))), "seq has gaps after the crashes"
        assert station.starts == 4 and station.alive
        assert retained_state(broker)["label"] == ledger.latest()["label"], "retained state is stale"
    assert len(feed.expected) == 60


BREAKUP = (255, 255, 0)  # the toy bundle labels this colour breakup with confidence ~1


def test_kill9_during_breakup_gives_one_trigger(tmp_path, broker, toy_bundle):
    """A crash right after an onset does not make the restarted daemon see a second onset."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address) as station:
        ledger = Ledger(collector)
        feed.write(3, colour=BREAKUP)  # n=3 of m=5 → onset on the third
        collector.wait_for(lambda ms: any(m.topic.endswith("/capture/trigger") for m in ms))
        station.kill9()
        feed.write(4, colour=BREAKUP)  # the breakup goes on
        station.start()
        ledger.wait_for_frames(feed.expected)
        client = connected_client(broker)
        try:
            settle(collector, station, client)
        finally:
            client.loop_stop()
            client.disconnect()
        ledger.assert_exactly_once(feed.expected)
        assert set(feed.expected.values()) == {"breakup"}
        onsets = {a.json()["frame"] for a in collector.on("alerts") if a.json()["type"] == "breakup_onset"}
        triggers = {t.json()["frame"] for t in collector.on("capture/trigger")}
        assert len(onsets) == 1 and triggers == onsets, (onsets, triggers)
