"""`auroral listen`: one readable line per frame and alert from a live broker (and --json), over TLS with a
login read from a station's TOML or from flags."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from auroral.edge.contract import AlertMessage, FrameMessage, ModelRef, utc_now
from auroral.edge.tools.broker import LocalBroker
from auroral.edge.tools.listen import describe
from support.faults import connected_client
from support.securebroker import USERS, SecureBroker

pytestmark = pytest.mark.integration

FRAME = FrameMessage(frame="KIR_20261124_220000.jpg", captured_at=utc_now(), time_source="name", label="arcs",
                     confidence=0.87,
                     probabilities={"arcs": 0.87, "faint": 0.13}, model=ModelRef(name="toy", sha256="0" * 64),
                     latency_ms=12.3, seq=41)
ALERT = AlertMessage(type="breakup_onset", at=utc_now(), frame="KIR_20261124_220100.jpg", confidence=0.93)


def listen(broker, *extra: str, at: tuple[str, ...] | None = None) -> subprocess.Popen:
    """``auroral listen`` for station kiruna; ``at`` replaces ``--broker ADDRESS`` (e.g. by ``--config FILE``)."""
    where = ("--broker", broker.address) if at is None else at
    return subprocess.Popen([sys.executable, "-m", "auroral.edge.cli", "listen", "--station", "kiruna",
                             *where, "--count", "2", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def publish_when_listening(broker, process: subprocess.Popen, user: str | None = None) -> str:
    first = process.stderr.readline()
    assert first.startswith("listening on auroral/kiruna/#"), first + process.stderr.read()
    client = connected_client(broker, user)
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


# --- TLS and a login, as the production station connects -----------------------------------------------------

@pytest.fixture(scope="module")
def secure_broker():
    with SecureBroker() as running:
        yield running


def station_toml(path, secure_broker, password: str = USERS["station"]):
    """A station.toml like systemd/station.toml, pointing at ``secure_broker`` (password in a file)."""
    mqtt = secure_broker.station_config(path.parent / "secrets", password=password)["mqtt"]
    host, port = secure_broker.address.rsplit(":", 1)
    path.write_text(f"""station = "kiruna"
metrics_port = 0

[watch]
dirs = ["/srv/allsky/incoming"]

[model]
bundle = "/var/lib/auroral/bundles/resnet50"

[mqtt]
host = "{host}"
port = {port}
tls = true
ca_file = {json.dumps(mqtt["ca_file"])}
username = "station"
password_file = {json.dumps(mqtt["password_file"])}
""")
    return path


def test_config_file_with_tls_and_password(tmp_path, secure_broker):
    config = station_toml(tmp_path / "station.toml", secure_broker)
    out = publish_when_listening(secure_broker, listen(secure_broker, at=("--config", str(config))), "station")
    assert any(" frame " in line and "KIR_20261124_220000.jpg" in line for line in out.splitlines()), out


def test_flags_with_tls_and_password(tmp_path, secure_broker):
    secret = tmp_path / "observer-password"
    secret.write_text(USERS["observer"] + "\n")
    flags = ("--broker", secure_broker.address, "--ca-file", str(secure_broker.certs["ca.crt"]),
             "--username", "observer", "--password-file", str(secret))
    out = publish_when_listening(secure_broker, listen(secure_broker, at=flags), "station")
    assert any(" frame " in line and "seq=41" in line for line in out.splitlines()), out


def run_listen(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", "listen", "--station", "kiruna", *args],
                          capture_output=True, text=True, timeout=60)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("auroral listen: error: "), result.stderr
    return lines[0]


def test_wrong_password_is_one_line_and_exit_2(tmp_path, secure_broker):
    config = station_toml(tmp_path / "station.toml", secure_broker, password="not-the-password")
    line = one_line_error(run_listen("--config", str(config)))
    assert f"the broker at {secure_broker.address} refused the connection: Not authorized" in line
    assert "not-the-password" not in line


def test_flags_override_the_file(tmp_path, secure_broker):
    """The file's password is wrong; --password-file with the right one wins."""
    config = station_toml(tmp_path / "station.toml", secure_broker, password="not-the-password")
    secret = tmp_path / "right"
    secret.write_text(USERS["station"])
    out = publish_when_listening(secure_broker, listen(secure_broker, "--password-file", str(secret),
                                                       at=("--config", str(config))), "station")
    assert " frame " in out


def test_untrusted_certificate_is_one_line_and_exit_2(secure_broker):
    """A CA that did not sign the broker's certificate (here: the client certificate) fails verification."""
    line = one_line_error(run_listen("--broker", secure_broker.address,
                                     "--ca-file", str(secure_broker.certs["client.crt"])))
    assert "TLS with the broker" in line and "CERTIFICATE_VERIFY_FAILED" in line


def test_plain_mqtt_to_a_tls_port_is_one_line_and_exit_2(secure_broker):
    line = one_line_error(run_listen("--broker", secure_broker.address))
    assert "closed the connection before answering" in line


def test_a_bad_mqtt_section_names_the_key(tmp_path):
    config = tmp_path / "station.toml"
    config.write_text("[mqtt]\nprot = 1\n")
    assert "mqtt.prot: unknown key" in one_line_error(run_listen("--config", str(config)))


def test_a_thumbnail_is_named_not_printed():
    line = describe("auroral/kiruna/thumbnail", b"\xff\xd8\xff\xe0" + bytes(100))
    assert line.split() == ["kiruna", "thumbnail", "(image/jpeg,", "104", "bytes)"]
