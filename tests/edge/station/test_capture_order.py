"""Decisions in capture-time order: an old night replayed into a fresh install gives its onsets and no
trigger; after a burst processed newest first, the retained state is the newest capture."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from support.faults import STATION, Station, connected_client, settle
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration

BREAKUP = (224, 224, 224)  # the toy bundle: breakup / faint / colored with confidence > 0.99
QUIET = (0, 0, 0)
RED = (255, 40, 40)


def write(folder, captured: datetime, colour) -> str:
    name = f"KIR_{captured:%Y%m%d_%H%M%S}.png"
    image = np.zeros((32, 32, 3), np.uint8)
    image[:] = colour
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    (folder / name).write_bytes(data.tobytes())
    return name


def test_a_night_two_days_old_gives_its_onsets_and_no_trigger(tmp_path, broker, toy_bundle):
    marker = tmp_path / "command-ran"
    config = {"trigger": {"n": 2, "m": 3, "threshold": 0.9, "cooldown_s": 0,
                          "command": ["sh", "-c", f"touch {marker}"]}}
    station = Station(tmp_path, toy_bundle.root, broker.address, config)
    night = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    sky = [QUIET, QUIET, BREAKUP, BREAKUP, BREAKUP, QUIET, QUIET, QUIET, BREAKUP, BREAKUP]
    names = [write(station.watch, night + timedelta(minutes=i), colour) for i, colour in enumerate(sky)]
    with Collector(broker, "auroral/#") as collector, station:
        collector.wait_for(lambda ms: sum(m.topic.endswith("/frames") for m in ms) >= len(sky), timeout=60)
        client = connected_client(broker)
        try:
            settle(collector, station, client)
        finally:
            client.loop_stop()
        onsets = [a for a in (m.json() for m in collector.on("alerts")) if a["type"] == "breakup_onset"]
        assert [(a["frame"], a["live"]) for a in onsets] == [(names[2], False), (names[8], False)]
        assert [datetime.fromisoformat(a["captured_at"]) for a in onsets] == [night + timedelta(minutes=2),
                                                                              night + timedelta(minutes=8)]
        assert collector.on("capture/trigger") == [] and station.triggers() == 0
        assert station.stop() == 0
    assert not marker.exists(), "the camera's command ran for a night two days old"


def test_after_a_burst_the_retained_state_is_the_newest_capture(tmp_path, broker, toy_bundle):
    now = datetime.now(UTC).replace(microsecond=0)
    with Station(tmp_path, toy_bundle.root, broker.address, {"model": {"batch_size": 4}}) as station:
        station.wait_watching()
        with Collector(broker, "auroral/#") as collector:
            for i in range(24):  # a burst: older frames all breakup, the newest one red (colored)
                write(station.watch, now - timedelta(seconds=60 - i), BREAKUP)
            newest = write(station.watch, now, RED)
            collector.wait_for(lambda ms: sum(m.topic.endswith("/frames") for m in ms) >= 25, timeout=60)
            client = connected_client(broker)
            try:
                settle(collector, station, client)
            finally:
                client.loop_stop()
        with Collector(broker, f"auroral/{STATION}/state") as late:  # what a new subscriber is told
            retained = late.wait_for(lambda ms: len(ms) >= 1)[0].json()
        assert (retained["frame"], retained["label"]) == (newest, "colored")
        assert station.stop() == 0
