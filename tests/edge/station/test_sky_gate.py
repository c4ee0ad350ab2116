"""Real skies on a running station: frames of a June noon at Kiruna are published as day and never alert or
trigger, even when the model calls them breakup; the same frames at a December midnight do trigger."""
from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta

import astropy.units as u
import cv2
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, get_sun
from astropy.time import Time
from astropy.utils import iers

from support.faults import STATION, Station, connected_client, settle
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration

KIRUNA = {"latitude": 67.84, "longitude": 20.41, "elevation_m": 400.0}
BREAKUP = (224, 224, 224)  # the toy bundle calls it breakup with confidence > 0.99
JUNE_NOON = datetime(2026, 6, 21, 10, 30, tzinfo=UTC)
DECEMBER_MIDNIGHT = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)  # new moon: a dark sky
FULL_MOON_MIDNIGHT = datetime(2026, 12, 23, 23, 0, tzinfo=UTC)  # the moon 49° up, fully lit


def astropy_sun_elevation(when: datetime) -> float:
    iers.conf.auto_download = False  # the bundled tables: no network here
    location = EarthLocation(lat=KIRUNA["latitude"] * u.deg, lon=KIRUNA["longitude"] * u.deg,
                             height=KIRUNA["elevation_m"] * u.m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IERS tables older than the date: fine at 0.1 degree
        frame = AltAz(obstime=Time(when), location=location)
        return float(get_sun(Time(when)).transform_to(frame).alt.deg)


def shoot(folder, start: datetime, count: int) -> list[str]:
    names = []
    for i in range(count):
        name = f"KIR_{start + timedelta(minutes=i):%Y%m%d_%H%M%S}.png"
        image = np.zeros((32, 32, 3), np.uint8)
        image[:] = BREAKUP
        ok, data = cv2.imencode(".png", image)
        assert ok
        (folder / name).write_bytes(data.tobytes())
        names.append(name)
    return names


def run_night(tmp_path, broker, toy_bundle, start: datetime, classify: str, moonlit_triggers: bool = False):
    marker = tmp_path / "command-ran"
    config = {"site": KIRUNA, "sky": {"classify": classify, "moonlit_triggers": moonlit_triggers},
              # the frames are stamped at chosen dates, so any age may trigger here
              "trigger": {"n": 2, "m": 3, "threshold": 0.9, "max_age_s": 1e10,
                          "command": ["sh", "-c", f"touch {marker}"]}}
    station = Station(tmp_path, toy_bundle.root, broker.address, config)
    names = shoot(station.watch, start, 4)
    with Collector(broker, "auroral/#") as collector, station:
        collector.wait_for(lambda ms: sum(m.topic.endswith("/frames") for m in ms) >= len(names), timeout=60)
        client = connected_client(broker)
        try:
            settle(collector, station, client)
        finally:
            client.loop_stop()
        if collector.on("capture/trigger"):
            station.wait_until(marker.exists, what="the onset command")
        assert station.stop() == 0
    return collector, marker


def test_june_noon_at_kiruna_is_day_and_never_alerts_even_when_the_model_says_breakup(tmp_path, broker,
                                                                                       toy_bundle):
    collector, marker = run_night(tmp_path, broker, toy_bundle, JUNE_NOON, classify="always")
    frames = [m.json() for m in collector.on("frames")]
    assert {f["sky"] for f in frames} == {"day"} and {f["label"] for f in frames} == {"breakup"}
    first = min(frames, key=lambda f: f["captured_at"])
    assert abs(first["sun_elevation"] - astropy_sun_elevation(JUNE_NOON)) < 0.1
    assert [a for a in (m.json() for m in collector.on("alerts")) if a["type"] != "frame_quarantined"] == []
    assert collector.on("capture/trigger") == [] and not marker.exists()
    with Collector(broker, f"auroral/{STATION}/state") as late:
        state = late.wait_for(lambda ms: len(ms) >= 1)[0].json()
    assert state["label"] == "day" and state["sky"] == "day"
    assert datetime.fromisoformat(state["dark_at"]) > JUNE_NOON + timedelta(days=30)  # polar summer


def test_by_default_the_model_does_not_run_by_day(tmp_path, broker, toy_bundle):
    collector, _ = run_night(tmp_path, broker, toy_bundle, JUNE_NOON, classify="night")
    frames = [m.json() for m in collector.on("frames")]
    unclassified = ("day", None, None, {})
    assert [(f["sky"], f["label"], f["confidence"], f["probabilities"]) for f in frames] == [unclassified] * 4


def test_the_same_frames_at_a_december_midnight_trigger(tmp_path, broker, toy_bundle):
    collector, marker = run_night(tmp_path, broker, toy_bundle, DECEMBER_MIDNIGHT, classify="night")
    frames = [m.json() for m in collector.on("frames")]
    assert {f["sky"] for f in frames} == {"night"} and {f["label"] for f in frames} == {"breakup"}
    assert all(f["sun_elevation"] < -12 for f in frames)
    onsets = [a for a in (m.json() for m in collector.on("alerts")) if a["type"] == "breakup_onset"]
    assert len(onsets) == 1 and len(collector.on("capture/trigger")) == 1 and marker.exists()


@pytest.mark.parametrize("moonlit_triggers", [False, True])
def test_a_breakup_under_a_bright_moon_is_announced_and_triggers_only_when_allowed(tmp_path, broker, toy_bundle,
                                                                                  moonlit_triggers):
    collector, marker = run_night(tmp_path, broker, toy_bundle, FULL_MOON_MIDNIGHT, "night", moonlit_triggers)
    frames = [m.json() for m in collector.on("frames")]
    assert all(f["moonlit"] and f["moon_elevation"] > 40 and f["moon_illumination"] > 0.9 for f in frames)
    onsets = [a for a in (m.json() for m in collector.on("alerts")) if a["type"] == "breakup_onset"]
    assert len(onsets) == 1
    assert len(collector.on("capture/trigger")) == int(moonlit_triggers) and marker.exists() == moonlit_triggers
