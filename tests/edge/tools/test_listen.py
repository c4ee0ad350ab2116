"""`auroral listen`: one readable line per frame and alert from a live broker (and --json)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from auroral.edge.contract import AlertMessage, FrameMessage, ModelRef, utc_now
from auroral.edge.tools.broker import LocalBroker
from auroral.edge.tools.listen import describe
from support.faults import connected_client

pytestmark = pytest.mark.integration

FRAME = FrameMessage(frame="KIR_20261124_220000.jpg", captured_at=utc_now(), label="arcs", confidence=0.87,
                     probabilities={"arcs": 0.87, "faint": 0.13}, model=ModelRef(name="toy", sha256="0" * 64),
                     latency_ms=12.3, seq=41)
ALERT = AlertMessage(type="breakup_onset", at=utc_now(), frame="KIR_20261124_220100.jpg", confidence=0.93)


def listen(broker, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "auroral.edge.cli", "listen", "--station", "kiruna",
                             "--broker", broker.address, "--count", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def publish_when_listening(broker, process: subprocess.Popen) -> str:
    assert process.stderr.readline().startswith("listening on auroral/kiruna/#")
    client = connected_client(broker)
    # the subscription may trail the "listening" line: retained messages reach it whenever it lands
    for name, message in (("frames", FRAME), ("alerts", ALERT)):
        client.publish(f"auroral/kiruna/{name}", message.to_json(), qos=1, retain=True).wait_for_publish(10)
    client.loop_stop()
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    return out


def test_one_readable_line_per_message(broker):
    lines = publish_when_listening(broker, listen(broker)).splitlines()
    assert len(lines) == 2
    frame_line = next(line for line in lines if " frame " in line)
    assert "arcs" in frame_line and "0.87" in frame_line and "KIR_20261124_220000.jpg" in frame_line
    assert "seq=41" in frame_line
    alert_line = next(line for line in lines if "ALERT" in line)
    assert "breakup_onset" in alert_line and "0.93" in alert_line


def test_json_lines(broker):
    lines = publish_when_listening(broker, listen(broker, "--json")).splitlines()
    decoded = {json.loads(line)["topic"]: json.loads(line)["payload"] for line in lines}
    assert decoded["auroral/kiruna/frames"]["seq"] == 41
    assert decoded["auroral/kiruna/alerts"]["type"] == "breakup_onset"


def test_garbage_is_shown_not_fatal():
    assert "not JSON" in describe("auroral/kiruna/frames", b"\xff\x00")
    assert "status   online" in describe("auroral/kiruna/status", b'{"state": "online", "since": "x"}')


def test_a_broker_that_refuses_the_login_is_a_one_line_error():
    with LocalBroker(options={"allow_anonymous": "false"}) as closed:
        result = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "listen", "--broker", closed.address,
                                 "--station", "kiruna"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"the broker at {closed.address} refused the connection: Not authorized" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("topic, payload", [
    ("auroral/kiruna/frames", {"frame": "a\x1b]0;owned\x07\nb.jpg", "label": "arcs\x1b[2J", "confidence": 0.5,
                               "seq": 1, "latency_ms": 3, "captured_at": "2026-11-24T22:00:00Z"}),
    ("auroral/kiruna/alerts", {"type": "breakup_onset\r", "at": "x\x9b1m", "frame": "\u202egpj.exe", "confidence": 1}),
    ("auroral/kiruna/capture/trigger", {"reason": "external:\x1b[8m", "duration_s": "\n"}),
    ("auroral/kir\x1buna/state", {"label": ["\x1b"], "since": {"\x07": 1}}),
    ("auroral/kiruna/frames", ["\x1b[2J"]),
])
def test_strings_from_a_message_cannot_drive_the_terminal(topic, payload):
    line = describe(topic, json.dumps(payload, ensure_ascii=False).encode())
    assert line.isprintable(), line


def test_fields_of_the_wrong_type_are_shown_not_fatal():
    line = describe("auroral/kiruna/frames",
                    b'{"frame": 7, "label": {"a": 1}, "confidence": "0.9", "latency_ms": true}')
    assert "0.9" in line and "latency=truems" in line
    assert "ALERT" in describe("auroral/kiruna/alerts", b'{"confidence": "high"}')
