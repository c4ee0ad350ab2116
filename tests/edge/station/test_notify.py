"""Notifications for people (``[notify] urls``): through Apprise's JSON webhook to a tiny HTTP server here,
from a running daemon and in-process; the cooldown; a URL Apprise cannot use is a one-line config error."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest

from auroral.edge.errors import UserError
from auroral.edge.station.config import load_config
from auroral.edge.station.decide import Alert, Trigger
from auroral.edge.station.notify import Notifier
from support.faults import Station, connected_client, settle
from support.mqttcollect import Collector
from support.stationctx import make_context, wait_for

BREAKUP = (224, 224, 224)  # the toy bundle calls these breakup with confidence > 0.99
QUIET = (0, 0, 0)


class Webhook:
    """A local HTTP endpoint for Apprise's ``json://`` service: keeps every JSON body posted to it and
    answers with ``status``."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        received, answer = self.bodies, status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's API
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"json://127.0.0.1:{self.server.server_port}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Camera:
    """PNG frames with Kiruna-style names, one second apart in capture time ending about now (a live camera)."""

    def __init__(self, folder: Path):
        self.folder, self.count = folder, 0
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)

    def shoot(self, colour) -> tuple[str, datetime]:
        captured = self.start + timedelta(seconds=self.count)
        name = f"KIR_{captured:%Y%m%d_%H%M%S}.png"
        self.count += 1
        image = np.zeros((48, 48, 3), np.uint8)
        image[:] = colour
        cv2.imwrite(str(self.folder / name), image)
        return name, captured


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _sample(station: Station, result: str) -> float:
    return station.metrics().get(f'auroral_notifications_total{{result="{result}"}}', 0.0)


@pytest.mark.integration
def test_each_breakup_onset_reaches_the_webhook_once_with_station_time_and_thumbnail(tmp_path, broker, toy_bundle):
    sky = [BREAKUP, BREAKUP, BREAKUP, BREAKUP, QUIET, QUIET, QUIET, BREAKUP, BREAKUP, QUIET]
    with Webhook() as webhook:
        config = {"trigger": {"n": 2, "m": 3, "threshold": 0.9, "cooldown_s": 0},
                  "notify": {"urls": [webhook.url], "cooldown_s": 0}}
        with Collector(broker, "auroral/#") as collector, \
                Station(tmp_path, toy_bundle.root, broker.address, config) as station:
            camera = Camera(station.watch)
            shots = []
            for i, colour in enumerate(sky):  # one at a time, as a camera does, so the order is the sky's
                shots.append(camera.shoot(colour))
                collector.wait_for(lambda ms, n=i + 1: sum(m.topic.endswith("/frames") for m in ms) >= n)
            marker = connected_client(broker)
            settle(collector, station, marker)
            marker.loop_stop()
            onsets = [a for a in (m.json() for m in collector.on("alerts")) if a["type"] == "breakup_onset"]
            assert [a["frame"] for a in onsets] == [shots[0][0], shots[7][0]]
            station.wait_until(lambda: _sample(station, "sent") == 2, what="two notifications sent")
            assert station.alive
    assert len(webhook.bodies) == 2, "one notification per onset"
    for body, (name, captured) in zip(webhook.bodies, [shots[0], shots[7]], strict=True):
        assert body["title"] == "kiruna: auroral breakup onset"
        assert "station kiruna" in body["message"] and f"captured {_iso(captured)}" in body["message"]
        assert f"frame {name}" in body["message"]
        (attachment,) = body["attachments"]
        assert attachment["mimetype"] == "image/jpeg" and attachment["filename"] == Path(name).stem + ".jpg"
        thumbnail = cv2.imdecode(np.frombuffer(base64.b64decode(attachment["base64"]), np.uint8), cv2.IMREAD_COLOR)
        assert thumbnail.shape == (48, 48, 3) and abs(int(thumbnail.mean()) - 224) <= 2


@pytest.mark.integration
def test_a_failing_endpoint_is_logged_and_counted_and_the_station_goes_on(tmp_path, broker, toy_bundle):
    with Webhook(status=500) as failing, Webhook() as working:
        config = {"trigger": {"n": 2, "m": 3, "threshold": 0.9},
                  "notify": {"urls": [failing.url, working.url]}}
        with Station(tmp_path, toy_bundle.root, broker.address, config) as station:
            camera = Camera(station.watch)
            for _ in range(3):
                camera.shoot(BREAKUP)
            station.wait_until(lambda: _sample(station, "failed") == 1 and _sample(station, "sent") == 1,
                               what="one notification failed, the other sent")
            assert "event=notify_failed type=breakup_onset" in station.log()
            assert f"url='json://127.0.0.1:{failing.server.server_port}/alerts" in station.log()
            camera.shoot(QUIET)
            station.wait_until(lambda: station.processed() == 4, what="the next frame classified")
            assert station.healthz()[0] == 200
            assert station.stop() == 0
    assert len(failing.bodies) == len(working.bodies) == 1


def _notifier(tmp_path: Path, **sections) -> Notifier:
    context = make_context(tmp_path, **sections)
    return Notifier(context)


def _alert(kind: str, frame: str, live: bool = True) -> Alert:
    return Alert(kind, frame, 0.95, captured_at=datetime(2026, 11, 24, 22, 15, 30, tzinfo=UTC), live=live)


def _counted(notifier: Notifier, result: str) -> float:
    return notifier.metrics.registry.get_sample_value("auroral_notifications_total", {"result": result}) or 0.0


def test_cooldown_allows_one_notification_per_alert_type_and_only_live_alerts(tmp_path):
    notifier = _notifier(tmp_path, notify={"urls": ["json://127.0.0.1:9/alerts"], "cooldown_s": 3600})
    trigger = Trigger("breakup_onset", "a.jpg", 600.0, True, datetime.now(UTC))
    notifier.committed([_alert("breakup_onset", "a.jpg"), trigger, _alert("breakup_onset", "b.jpg"),
                        _alert("aurora_on", "c.jpg"), _alert("aurora_off", "d.jpg"),
                        _alert("frame_quarantined", "e.jpg"), _alert("aurora_on", "f.jpg", live=False)])
    notifier.committed([_alert("aurora_on", "g.jpg")])
    queued = [notifier.pending.get_nowait() for _ in range(notifier.pending.qsize())]
    assert [(a.type, a.frame) for a in queued] == [("breakup_onset", "a.jpg"), ("aurora_on", "c.jpg")]
    assert _counted(notifier, "suppressed") == 2


def test_cooldown_defaults_to_the_trigger_cooldown(tmp_path):
    notifier = _notifier(tmp_path, trigger={"cooldown_s": 0}, notify={"urls": ["json://127.0.0.1:9/alerts"]})
    notifier.committed([_alert("breakup_onset", "a.jpg")])
    notifier.committed([_alert("breakup_onset", "b.jpg")])
    assert notifier.pending.qsize() == 2 and _counted(notifier, "suppressed") == 0


def test_a_frame_that_cannot_be_found_is_notified_without_attachment(tmp_path):
    with Webhook() as webhook:
        notifier = _notifier(tmp_path, notify={"urls": [webhook.url]})
        notifier.start()
        try:
            notifier.committed([_alert("aurora_on", "KIR_20261124_221530.jpg")])
            wait_for(lambda: _counted(notifier, "sent") == 1, "the notification sent")
        finally:
            notifier.stop(5.0)
    (body,) = webhook.bodies
    assert body["title"] == "station: aurora" and "captured 2026-11-24T22:15:30Z" in body["message"]
    assert not body.get("attachments")


def test_a_url_apprise_cannot_use_is_a_config_error_that_hides_the_secret(tmp_path, capsys, caplog):
    path = tmp_path / "station.toml"
    path.write_text("[watch]\ndirs=['/x']\n[model]\nbundle='/b'\n"
                    "[notify]\nurls=['ntfy://alerts', 'tgram://SECRETTOKEN/chat']\n")
    with pytest.raises(UserError) as raised:
        load_config(path)
    message = str(raised.value)
    assert "notify.urls: entry 2 (tgram://SEC…) is not a URL Apprise understands" in message
    assert "\n" not in message and "SECRETTOKEN" not in message + capsys.readouterr().err + caplog.text


def test_check_config_reports_a_bad_url_in_one_line(tmp_path, toy_bundle):
    path = tmp_path / "station.toml"
    path.write_text(f"[watch]\ndirs=['{tmp_path}']\n[model]\nbundle='{toy_bundle.root}'\n"
                    "[notify]\nurls=['discord://webhook-without-token']\n")
    result = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "run", "--config", str(path),
                             "--check-config"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "notify.urls: entry 1 (discord://web…)" in line and "without-token" not in line
