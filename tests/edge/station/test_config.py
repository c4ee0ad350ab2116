"""Station configuration: TOML + flags, validated; mistakes are one clear line naming the key, exit 2."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from auroral.edge.errors import UserError
from auroral.edge.station.config import load_config, parse_broker

EXAMPLE = Path(__file__).parents[3] / "edge" / "station" / "station.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "station.toml"
    path.write_text(text)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", "run", *args], capture_output=True, text=True,
                          timeout=120)


def test_example_config_is_valid_and_flags_override_it(tmp_path):
    config = load_config(EXAMPLE, {"mqtt": parse_broker("broker.example:8883"), "station": "abisko"})
    assert config.station == "abisko"
    assert (config.mqtt.host, config.mqtt.port) == ("broker.example", 8883)
    assert config.trigger.n <= config.trigger.m and config.watch.dirs


def test_flags_alone_are_enough(tmp_path):
    config = load_config(None, {"watch": {"dirs": [str(tmp_path)]}, "model": {"bundle": str(tmp_path)},
                                "state_dir": str(tmp_path / "state")})
    assert config.mqtt.port == 1883 and config.quarantine_dir == tmp_path / "state" / "quarantine"


@pytest.mark.parametrize("text, key", [
    ("[watch]\ndirs=['/x']\nfolders=1\n[model]\nbundle='/b'\n", "watch.folders: unknown key"),
    ("[watch]\ndirs=['/x']\n[model]\nbundle='/b'\n[mqtt]\nport=70000\n", "mqtt.port"),
    ("[watch]\ndirs=['/x']\n[model]\nbundle='/b'\n[trigger]\nn=5\nm=3\n", "trigger: n must be <= m"),
    ("[watch]\ndirs=['/x']\n", "model: required"),
    ("[watch]\ndirs=['/x']\n[model]\nbundle='/b'\nbackend='cuda'\n", "model.backend"),
])
def test_bad_values_name_the_key(tmp_path, text, key):
    with pytest.raises(UserError, match=key.replace("(", r"\(")):
        load_config(write(tmp_path, text))


BASE = "[watch]\ndirs=['/x']\n[model]\nbundle='/b'\n"


@pytest.mark.parametrize("text, key", [
    ("[mqtt]\ntls=true\nca_file='/nonexistent/ca.crt'\n", "mqtt: ca_file /nonexistent/ca.crt does not exist"),
    ("[mqtt]\ntls=true\ncert_file='/nonexistent/c.crt'\nkey_file='/nonexistent/c.key'\n", "cert_file"),
    ("[external]\ntopics=['auroral/#/alerts']\n", "external.topics: .* '#' must be a whole level and the last"),
    ("[external]\ntopics=['auroral/tromso#']\n", "external.topics: .* '#' must be a whole level"),
    ("[external]\ntopics=['auroral/tro+/alerts']\n", "external.topics: .* '\\+' must be a whole level"),
    ("[external]\ntopics=['auroral/+/alerts', '']\n", "external.topics: '' is not a topic filter"),
    ("[mqtt]\nprefix='obs/auroral'\n", "mqtt.prefix: 'obs/auroral' must be one topic level"),
    ("[mqtt]\nprefix='auroral+'\n", "mqtt.prefix: .* must be one topic level"),
    ("[mqtt]\nprefix='#'\n", "mqtt.prefix: .* must be one topic level"),
    ("[mqtt]\nprefix=''\n", "mqtt.prefix: .* must be one topic level"),
    ("[mqtt]\nprefix='$SYS'\n", "mqtt.prefix: .* must be one topic level"),
])
def test_mqtt_settings_that_would_only_fail_on_the_wire_are_config_errors(tmp_path, text, key):
    with pytest.raises(UserError, match=key):
        load_config(write(tmp_path, BASE + text))


def test_valid_filters_and_an_existing_ca_file_pass(tmp_path):
    (tmp_path / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    config = load_config(write(tmp_path, BASE + f"[mqtt]\ntls=true\nca_file='{tmp_path / 'ca.crt'}'\n"
                                              "[external]\ntopics=['auroral/+/alerts', 'auroral/#', '#', '+/+/+']\n"))
    assert config.mqtt.tls and len(config.external.topics) == 4


def test_a_login_without_tls_is_allowed_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="auroral.config"):
        config = load_config(write(tmp_path, BASE + "[mqtt]\nusername='kiruna'\n"))
        assert config.mqtt.username == "kiruna"
        (tmp_path / "ca.crt").write_text("")
        load_config(write(tmp_path, BASE + f"[mqtt]\nusername='k'\ntls=true\nca_file='{tmp_path / 'ca.crt'}'\n"))
        load_config(write(tmp_path, BASE))
    assert [r.message.split()[0] for r in caplog.records] == ["event=mqtt_password_in_clear"]


def test_check_config_catches_a_missing_ca_file(tmp_path, toy_bundle):
    path = write(tmp_path, f"[watch]\ndirs=['{tmp_path}']\n[model]\nbundle='{toy_bundle.root}'\n"
                           "[mqtt]\ntls=true\nca_file='/nonexistent/ca.crt'\n")
    result = run_cli("--config", str(path), "--check-config")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.endswith(f"{path}: mqtt: ca_file /nonexistent/ca.crt does not exist (needed with tls = true)")


@pytest.mark.parametrize("command, reason", [
    ("['/nonexistent/camera-high-rate']", "'/nonexistent/camera-high-rate' is not an executable file"),
    ("['{not_executable}']", "is not an executable file"),
    ("[]", "command is empty"),
])
def test_check_config_fails_for_an_onset_command_that_cannot_run(tmp_path, toy_bundle, command, reason):
    not_executable = tmp_path / "camera.sh"
    not_executable.write_text("#!/bin/sh\n")  # no execute permission
    path = write(tmp_path, f"[watch]\ndirs=['{tmp_path}']\n[model]\nbundle='{toy_bundle.root}'\n"
                           f"[trigger]\ncommand={command.format(not_executable=not_executable)}\n")
    result = run_cli("--config", str(path), "--check-config")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "trigger.command" in line and reason in line


def test_check_config_accepts_a_good_file(tmp_path, toy_bundle):
    path = write(tmp_path, f"station='kiruna'\n[watch]\ndirs=['{tmp_path}']\n[model]\nbundle='{toy_bundle.root}'\n")
    result = run_cli("--config", str(path), "--check-config")
    assert result.returncode == 0, result.stderr
    assert "configuration OK: station kiruna" in result.stdout


@pytest.mark.parametrize("text, message", [
    ("[watch]\ndirs=['/x']\n[model]\nbundle='/b'\n[mqtt]\nprot=1\n", "mqtt.prot: unknown key"),
    ("[watch\n", "not valid TOML"),
])
def test_config_errors_are_one_line_and_exit_2(tmp_path, text, message):
    result = run_cli("--config", str(write(tmp_path, text)), "--check-config")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_broker_flag_is_a_user_error(tmp_path):
    result = run_cli("--watch", str(tmp_path), "--bundle", str(tmp_path), "--broker", "host:port", "--check-config")
    assert result.returncode == 2 and "--broker 'host:port': expected HOST:PORT" in result.stderr


def test_mqtt_password_comes_from_the_systemd_credential(tmp_path, monkeypatch):
    (tmp_path / "mqtt-password").write_text("s3cret\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    config = load_config(None, {"watch": {"dirs": ["/x"]}, "model": {"bundle": "/b"}, "mqtt": {"username": "k"}})
    assert config.mqtt.resolved_password_file() == tmp_path / "mqtt-password"
