"""A bundle with its own classes (OATH's six, with cloudy and moon) runs on the station: its classes are in
the messages, its manifest says which are auroral and which start an onset, and cloudy frames never do."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from auroral.edge.bundle import ModelInfo
from auroral.edge.classes import OATH6
from auroral.edge.preprocess import PreprocessSpec
from auroral.export.bundle_writer import write_bundle
from support.faults import Station, connected_client, settle
from support.mqttcollect import Collector
from support.toybundle import toy_onnx

pytestmark = pytest.mark.integration

#: columns arc, diffuse, discrete, cloudy, moon, clear: a bright grey sky is discrete, a blue-grey one cloudy
WEIGHTS = np.array([[0, 0, 2, -1, 0, -2], [0, 0, 2, -1, 0, -2], [0, 0, 2, 3, 0, -2]], np.float32)
BIAS = np.array([-5, -5, -3, 0, -5, 0], np.float32)
DISCRETE, CLOUDY = (224, 224, 224), (100, 100, 140)


@pytest.fixture(scope="module")
def oath_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("oath")
    return write_bundle(root / "bundle", {"fp32": toy_onnx(root / "m.onnx", WEIGHTS, BIAS)},
                        ModelInfo(name="toy-oath", architecture="tests.toybundle", kind="cnn"),
                        PreprocessSpec(size=32), classes=list(OATH6))


def test_an_oath_bundle_runs_with_its_own_classes_and_cloudy_frames_never_start_an_onset(tmp_path, broker,
                                                                                          oath_bundle):
    assert (oath_bundle.auroral_classes, oath_bundle.onset_classes) == (["arc", "diffuse", "discrete"],
                                                                         ["discrete"])
    config = {"trigger": {"n": 2, "m": 3, "threshold": 0.8, "cooldown_s": 0}, "aurora": {"frames": 2}}
    station = Station(tmp_path, oath_bundle.root, broker.address, config)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    sky = [CLOUDY] * 5 + [DISCRETE] * 3
    with Collector(broker, "auroral/#") as collector, station:
        station.wait_watching()
        for i, colour in enumerate(sky):  # one at a time, as a camera does
            image = np.zeros((32, 32, 3), np.uint8)
            image[:] = colour
            ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            (station.watch / f"KIR_{start + timedelta(seconds=i):%Y%m%d_%H%M%S}.png").write_bytes(data.tobytes())
            collector.wait_for(lambda ms, n=i + 1: sum(m.topic.endswith("/frames") for m in ms) >= n)
        client = connected_client(broker)
        try:
            settle(collector, station, client)
        finally:
            client.loop_stop()
        frames = [m.json() for m in collector.on("frames")]
        assert [f["label"] for f in frames] == ["cloudy"] * 5 + ["discrete"] * 3
        assert all(set(f["probabilities"]) == set(OATH6) for f in frames)
        alerts = [(a["type"], a["frame"]) for a in (m.json() for m in collector.on("alerts"))]
        first_discrete = frames[5]["frame"]
        assert ("breakup_onset", first_discrete) in alerts
        assert not [a for a in alerts if a[0] == "breakup_onset" and a[1] != first_discrete]  # none from cloudy
        assert ("aurora_on", frames[6]["frame"]) in alerts
        assert station.stop() == 0
    assert "event=class_sets onset=discrete aurora=arc,diffuse,discrete" in station.log()


def test_a_config_naming_a_class_the_bundle_lacks_is_a_start_up_error(tmp_path, broker, oath_bundle):
    station = Station(tmp_path, oath_bundle.root, broker.address, {"trigger": {"labels": ["breakup"]}})
    with station:
        assert station.process.wait(timeout=60) == 2
    assert "trigger.labels: breakup not among the bundle's classes (arc, diffuse, discrete, cloudy, moon, clear)" \
        in station.log()
