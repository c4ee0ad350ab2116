"""The station daemon end to end: `auroral run` as a subprocess, a real mosquitto, frames written like a camera."""
from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from auroral.edge.contract import AlertMessage, FrameMessage, StatusMessage, utc_now
from support.faults import Station, connected_client, settle
from support.mqttcollect import Collector
from support.toybundle import expected_label

pytestmark = pytest.mark.integration

BREAKUP = (224, 224, 224)  # the toy bundle gives these breakup / faint with confidence > 0.99
QUIET = (0, 0, 0)
COLOURS = [(255, 40, 40), (40, 255, 40), (40, 40, 255), BREAKUP, QUIET, (200, 120, 30)]


class Camera:
    """Writes PNG frames with Kiruna-style names, one minute apart in capture time and ending about now (a
    live camera: its onsets may trigger), and remembers what the toy bundle must call each."""

    def __init__(self, folder: Path, spec):
        self.folder, self.spec, self.count, self.expected = folder, spec, 0, {}
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)

    def shoot(self, colour) -> str:
        name = f"KIR_{self.start + timedelta(seconds=self.count):%Y%m%d_%H%M%S}.png"
        self.count += 1
        image = np.zeros((48, 48, 3), np.uint8)
        image[:] = colour
        cv2.imwrite(str(self.folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.expected[name] = expected_label(image, self.spec)
        return name


def frames(collector) -> list[FrameMessage]:
    return [FrameMessage.model_validate_json(m.payload) for m in collector.on("frames")]


def wait_frames(collector, n: int) -> list[FrameMessage]:
    collector.wait_for(lambda ms: sum(m.topic.endswith("/frames") for m in ms) >= n)
    return frames(collector)


def test_each_frame_published_once_with_its_label_and_status_retained(tmp_path, broker, toy_bundle):
    with Collector(broker, "auroral/#") as collector, Station(tmp_path, toy_bundle.root, broker.address) as station:
        camera = Camera(station.watch, toy_bundle.manifest.preprocess)
        for colour in COLOURS:
            camera.shoot(colour)
        wait_frames(collector, len(COLOURS))
        marker = connected_client(broker)
        settle(collector, station, marker)  # and nothing more arrives
        marker.loop_stop()
        received = frames(collector)
        assert sorted(f.frame for f in received) == sorted(camera.expected)
        assert {f.frame: f.label for f in received} == camera.expected
        assert sorted(f.seq for f in received) == list(range(len(COLOURS)))
        assert all(f.model.sha256 == toy_bundle.sha256() for f in received)
        assert all(abs(f.captured_at - datetime.now(UTC)) < timedelta(hours=1) for f in received)
        with Collector(broker, "auroral/kiruna/status") as late:  # a new subscriber gets the retained status
            status = late.wait_for(lambda ms: len(ms) >= 1)[0]
        assert status.retain and StatusMessage.model_validate_json(status.payload).state == "online"
        assert station.processed() == len(COLOURS)
        assert station.stop() == 0
    assert collector.on("status")[-1].json()["state"] == "stopped"


def test_last_will_offline_when_daemon_is_killed(tmp_path, broker, toy_bundle):
    with Collector(broker, "auroral/kiruna/status") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address) as station:
        collector.wait_for(lambda ms: any(m.json()["state"] == "online" for m in ms))
        station.kill9()
        collector.wait_for(lambda ms: any(m.json()["state"] == "offline" for m in ms))
    with Collector(broker, "auroral/kiruna/status") as late:
        retained = late.wait_for(lambda ms: len(ms) >= 1)[0]
    assert retained.retain and retained.json()["state"] == "offline"


def test_restart_classifies_nothing_twice_and_skips_nothing(tmp_path, broker, toy_bundle):
    station = Station(tmp_path, toy_bundle.root, broker.address)
    camera = Camera(station.watch, toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector:
        with station:
            for colour in COLOURS[:4]:
                camera.shoot(colour)
            wait_frames(collector, 4)
            assert station.stop() == 0
        for colour in COLOURS:  # the camera goes on while the daemon is down
            camera.shoot(colour)
        with station:
            camera.shoot(BREAKUP)
            received = wait_frames(collector, len(camera.expected))
    assert sorted(f.frame for f in received) == sorted(camera.expected), "a frame classified twice or skipped"
    assert sorted(f.seq for f in received) == list(range(len(camera.expected)))
    assert {f.frame: f.label for f in received} == camera.expected


def test_breakup_sequence_gives_one_trigger_per_onset(tmp_path, broker, toy_bundle):
    marker_file, cpus_file = tmp_path / "onsets.txt", tmp_path / "cpus.txt"
    # the frame's path comes after "--", so a name beginning with "-" is never taken for an option; the rest of
    # the trigger is in the environment
    command = (f'[ "$1" = "--" ] || exit 9; '
               f'echo "$2 $AURORAL_FRAME $AURORAL_REASON $AURORAL_CAPTURED_AT $AURORAL_UNTIL $AURORAL_DURATION_S" '
               f'>> {marker_file}; grep Cpus_allowed_list /proc/$$/status >> {cpus_file}; exit 3')
    config = {"trigger": {"n": 2, "m": 3, "threshold": 0.9, "cooldown_s": 0, "duration_s": 120,
                          "command": ["sh", "-c", command, "onset"]}}
    sky = [BREAKUP, BREAKUP, BREAKUP, BREAKUP, QUIET, QUIET, QUIET, BREAKUP, BREAKUP, QUIET]
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, config) as station:
        camera = Camera(station.watch, toy_bundle.manifest.preprocess)
        names = []
        for i, colour in enumerate(sky):  # one at a time, as a camera does, so the order is the sky's
            names.append(camera.shoot(colour))
            wait_frames(collector, i + 1)
        marker = connected_client(broker)
        settle(collector, station, marker)
        marker.loop_stop()
        triggers = [m.json() for m in collector.on("capture/trigger")]
        assert [t["frame"] for t in triggers] == [names[0], names[7]], "one trigger per onset, at its first frame"
        assert all(t["mode"] == "high_rate" and t["duration_s"] == 120 for t in triggers)
        assert [t["path"] for t in triggers] == [str(station.watch / names[0]), str(station.watch / names[7])]
        for t in triggers:
            assert datetime.fromisoformat(t["until"]) - datetime.fromisoformat(t["at"]) == timedelta(seconds=120)
        onsets = [a for a in (m.json() for m in collector.on("alerts")) if a["type"] == "breakup_onset"]
        assert [(a["frame"], a["live"]) for a in onsets] == [(names[0], True), (names[7], True)]
        assert [a["captured_at"] for a in onsets] == [t["captured_at"] for t in triggers]
        station.wait_until(lambda: marker_file.exists() and len(marker_file.read_text().splitlines()) == 2,
                           what="the onset command ran twice")
        runs = [line.split() for line in marker_file.read_text().splitlines()]
        assert [run[:3] for run in runs] == [[t["path"], t["frame"], "breakup_onset"] for t in triggers]
        assert [run[3:] for run in runs] == [[t["captured_at"], t["until"], "120"] for t in triggers]
        ours = next(line for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("Cpus_allowed_list"))
        assert cpus_file.read_text().splitlines() == [ours] * 2, "the camera's command must not inherit a pinned CPU"
        assert station.triggers() == 2 and station.alive, "a failing onset command must not be fatal"


def test_malformed_external_alerts_are_counted_and_never_trigger(tmp_path, broker, toy_bundle):
    config = {"external": {"topics": ["auroral/+/alerts"], "min_confidence": 0.8, "max_bytes": 1024}}
    now = utc_now()
    bad = [b"", b"not json", b"[1, 2]", b'{"type": "breakup_onset"}',
           b'{"type": "launch", "at": "2026-11-24T22:00:00Z"}',
           json.dumps({"type": "breakup_onset", "at": now.isoformat(), "confidence": 7}).encode(), b"{" * 5000]
    weak = AlertMessage(type="breakup_onset", at=now, frame="TRO_1.jpg", confidence=0.5).to_json()
    strong = AlertMessage(type="breakup_onset", at=now, frame="TRO_2.jpg", confidence=0.95).to_json()
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, config) as station:
        client = connected_client(broker)
        station.wait_until(lambda: station.connected() == 1, what="daemon connected")
        for payload in bad + [weak]:
            client.publish("auroral/tromso/alerts", payload, qos=1).wait_for_publish(10)
        station.wait_until(lambda: station.external_rejected() == len(bad) and station.external_seen() == 1,
                           what="malformed alerts counted")
        settle(collector, station, client)
        assert not collector.on("capture/trigger") and station.triggers() == 0 and station.alive
        client.publish("auroral/tromso/alerts", strong, qos=1).wait_for_publish(10)  # a good one does arm
        collector.wait_for(lambda ms: any(m.topic.endswith("/capture/trigger") for m in ms))
        client.loop_stop()
    trigger = collector.on("capture/trigger")[0].json()
    assert trigger["reason"] == "external:tromso:breakup_onset" and trigger["frame"] == "TRO_2.jpg"


def test_tells_systemd_ready_watchdog_and_stopping(tmp_path, broker, toy_bundle, monkeypatch):
    import socket

    notify_path = Path(tempfile.mkdtemp(prefix="auroral-notify-")) / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(30)
        monkeypatch.setenv("NOTIFY_SOCKET", str(notify_path))
        with Station(tmp_path, toy_bundle.root, broker.address) as station:
            seen: list[str] = []
            while "WATCHDOG=1" not in seen:
                seen.append(notify.recv(256).decode())
            assert "READY=1" in seen
            assert station.stop() == 0
            while "STOPPING=1" not in seen:
                seen.append(notify.recv(256).decode())
    shutil.rmtree(notify_path.parent)


def test_frames_moved_in_from_another_folder_are_classified(tmp_path, broker, toy_bundle):
    """A camera that writes elsewhere and `mv`s into the folder gives only "created" events: still taken."""
    outside = tmp_path / "camera-tmp"
    outside.mkdir()
    with Collector(broker, "auroral/#") as collector, Station(tmp_path, toy_bundle.root, broker.address) as station:
        collector.wait_for(lambda ms: any(m.topic.endswith("/status") for m in ms))
        station.wait_until(lambda: "event=watching" in station.log(), what="watch folder attached")
        camera = Camera(outside, toy_bundle.manifest.preprocess)
        for colour in COLOURS[:3]:
            name = camera.shoot(colour)
            (outside / name).rename(station.watch / name)
        received = wait_frames(collector, 3)
    assert {f.frame: f.label for f in received} == camera.expected


def test_quarantine_inside_a_recursively_watched_folder_is_not_rewatched(tmp_path, broker, toy_bundle):
    quarantine = tmp_path / "incoming" / "quarantine"
    config = {"watch": {"recursive": True},
              "frames": {"retries": 1, "retry_base_s": 0.1, "quarantine_dir": str(quarantine)}}
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, config) as station:
        camera = Camera(station.watch, toy_bundle.manifest.preprocess)
        (station.watch / "KIR_20261124_230000.jpg").write_bytes(b"not a jpeg")
        camera.shoot(BREAKUP)
        collector.wait_for(lambda ms: any(m.topic.endswith("/alerts") for m in ms))
        wait_frames(collector, 1)
        marker = connected_client(broker)
        settle(collector, station, marker)
        marker.loop_stop()
        alerts = [m.json() for m in collector.on("alerts")]
        assert [(a["type"], a["frame"]) for a in alerts] == [("frame_quarantined", "KIR_20261124_230000.jpg")]
        assert (quarantine / "KIR_20261124_230000.jpg").exists() and station.quarantined() == 1


def test_mqtt_3_1_1_works_too(tmp_path, broker, toy_bundle):
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, {"mqtt": {"protocol": "v311"}}) as station:
        camera = Camera(station.watch, toy_bundle.manifest.preprocess)
        for colour in COLOURS[:2]:
            camera.shoot(colour)
        received = wait_frames(collector, 2)
        assert {f.frame: f.label for f in received} == camera.expected
        assert collector.on("status")[0].json()["state"] == "online"
