"""The systemd unit: Type=notify with a watchdog, restart on failure, credentials, and a hardening score < 2.5."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from auroral.edge.station.config import load_config

SYSTEMD = Path(__file__).parents[2] / "systemd"
UNIT = SYSTEMD / "auroral.service"


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_security_exposure_is_below_2_5():
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True,
                            text=True, timeout=60)
    match = re.search(r"Overall exposure level for auroral\.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout[-500:] + result.stderr[-500:]
    assert float(match.group(1)) < 2.5, result.stdout


def test_unit_runs_the_daemon_as_a_notify_service_with_watchdog_and_credentials():
    unit = directives()
    assert unit["Type"] == ["notify"] and unit["Restart"] == ["on-failure"]
    assert int(unit["WatchdogSec"][0].rstrip("s")) > 0
    assert unit["DynamicUser"] == ["yes"] and unit["StateDirectory"] == ["auroral"]
    assert unit["LoadCredential"][0].startswith("mqtt-password:")
    assert " run --config /etc/auroral/station.toml" in unit["ExecStart"][0]


def test_example_station_config_is_valid(monkeypatch, tmp_path):
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path))
    ca_file = tmp_path / "ca.crt"  # the station's CA lives in /etc/auroral there; a config must name one that exists
    ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    config = load_config(SYSTEMD / "station.toml", {"mqtt": {"ca_file": str(ca_file)}})
    assert config.state_dir == tmp_path and config.mqtt.tls and config.mqtt.password_file is None
