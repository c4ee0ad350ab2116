"""The onset-command adapters in systemd/examples/, run as `auroral run` runs them: `COMMAND -- FRAME_PATH`
with the AURORAL_* environment. indi-allsky, systemctl and systemd-run are stand-ins that record their
arguments; the indi-allsky one keeps its configuration in a JSON file, as `config.py dumpfile`/`load` would.
"""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "systemd" / "examples"
FLAG_FILE = EXAMPLES / "flag-file"
INDI = EXAMPLES / "indi-allsky-highrate"

ORIGINAL = {"EXPOSURE_PERIOD": 30.0, "EXPOSURE_PERIOD_DAY": 15.0, "CCD_EXPOSURE_MAX": 25.0,
            "CCD_EXPOSURE_MIN": 0.0, "CCD_EXPOSURE_DEF": 0.0, "INDI_SERVER": "localhost"}

RECORDER = """#!{python}
import json, os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({{"argv": [os.path.basename(sys.argv[0]), *sys.argv[1:]], "cwd": os.getcwd()}}) + "\\n")
"""

# indi-allsky's virtualenv python running its config.py: only the two actions the adapter uses
FAKE_INDI_PYTHON = RECORDER + """
script, action, *rest = sys.argv[1:]
if os.environ.get("FAKE_FAIL") == action:
    sys.exit("Configuration not loaded")
if action == "dumpfile":
    with open(os.environ["FAKE_DB"]) as db, open(rest[rest.index("--outfile") + 1], "w") as out:
        out.write(db.read())
elif action == "load" and "--force" in rest:
    with open(rest[rest.index("--config") + 1]) as new, open(os.environ["FAKE_DB"], "w") as db:
        db.write(new.read())
else:
    sys.exit("unexpected call")
"""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def trigger_env(tmp_path: Path, until: datetime, duration_s: float) -> dict[str, str]:
    frame = tmp_path / "frames" / "ccd1_20261129_223344.jpg"
    return {"AURORAL_REASON": "breakup_onset", "AURORAL_FRAME": frame.name, "AURORAL_FRAME_PATH": str(frame),
            "AURORAL_CAPTURED_AT": "2026-11-29T22:33:44Z", "AURORAL_UNTIL": iso(until),
            "AURORAL_DURATION_S": f"{duration_s:g}", "AURORAL_STATION": "kiruna"}


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


class FakeStation:
    """indi-allsky's install folder, its configuration and fake systemctl/systemd-run first on PATH."""

    def __init__(self, tmp_path: Path):
        self.dir = tmp_path / "indi-allsky"
        self.log = tmp_path / "calls.jsonl"
        self.db = tmp_path / "indi-allsky-config.json"
        self.state = tmp_path / "state" / "indi-allsky-highrate.json"
        self.db.write_text(json.dumps(ORIGINAL))
        bin_dir = tmp_path / "bin"
        venv_python = self.dir / "virtualenv" / "indi-allsky" / "bin" / "python3"
        venv_python.parent.mkdir(parents=True)
        bin_dir.mkdir()
        (self.dir / "config.py").write_text("# indi-allsky's config.py; run by the fake python3 beside it\n")
        scripts = {venv_python: FAKE_INDI_PYTHON, bin_dir / "systemctl": RECORDER, bin_dir / "systemd-run": RECORDER}
        for path, text in scripts.items():
            path.write_text(text.format(python=sys.executable))
            path.chmod(0o755)
        self.env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(tmp_path),
                    "INDI_ALLSKY_DIR": str(self.dir), "STATE_DIRECTORY": str(self.state.parent),
                    "FAKE_LOG": str(self.log), "FAKE_DB": str(self.db)}

    def onset(self, duration_s: float, **extra: str) -> subprocess.CompletedProcess[str]:
        until = self.until = datetime.now(UTC) + timedelta(seconds=duration_s)
        env = {**self.env, **trigger_env(self.dir.parent, until, duration_s), **extra}
        return run([str(INDI), "--", env["AURORAL_FRAME_PATH"]], env)

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]

    def config(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.db.read_text())
        return loaded

    def scheduled_restore(self) -> tuple[list[str], dict[str, str]]:
        """The command and environment of the last `systemd-run`, as the user manager would run it."""
        argv = [call for call in self.calls() if call[0] == "systemd-run"][-1]
        command = argv[next(i for i, arg in enumerate(argv) if not arg.startswith("-") and i > 0):]
        setenv = dict(arg.removeprefix("--setenv=").split("=", 1) for arg in argv if arg.startswith("--setenv="))
        return command, {"PATH": self.env["PATH"], "FAKE_LOG": self.env["FAKE_LOG"], "FAKE_DB": self.env["FAKE_DB"],
                         **setenv}

    def run_scheduled_restore(self) -> subprocess.CompletedProcess[str]:
        command, env = self.scheduled_restore()
        self.log.unlink()
        return run(command, env)


def test_indi_allsky_adapter_shoots_fast_reloads_and_schedules_its_restore(tmp_path):
    station = FakeStation(tmp_path)
    result = station.onset(300)
    assert result.returncode == 0, result.stderr
    assert "event=highrate_started" in result.stderr
    assert {key: station.config()[key] for key in ("EXPOSURE_PERIOD", "EXPOSURE_PERIOD_DAY", "CCD_EXPOSURE_MAX")} \
        == {"EXPOSURE_PERIOD": 5.0, "EXPOSURE_PERIOD_DAY": 5.0, "CCD_EXPOSURE_MAX": 5.0}
    assert station.config()["INDI_SERVER"] == "localhost"  # the rest of the configuration is loaded back as it was
    calls = station.calls()
    assert [call[:3] for call in calls[:2]] == [["python3", str(station.dir / "config.py"), "dumpfile"],
                                                ["python3", str(station.dir / "config.py"), "load"]]
    assert "--force" in calls[1]
    assert calls[2] == ["systemctl", "--user", "reload", "indi-allsky.service"]
    assert calls[3] == ["systemctl", "--user", "stop", "auroral-highrate-restore.timer"]
    schedule = calls[4]
    assert schedule[:4] == ["systemd-run", "--user", "--collect", "--unit=auroral-highrate-restore"]
    delay = next(arg for arg in schedule if arg.startswith("--on-active="))
    assert 0 < int(delay.removeprefix("--on-active=").removesuffix("s")) <= 300
    command, env = station.scheduled_restore()
    assert command[:2] == [str(INDI.resolve()), "--restore"]
    assert datetime.fromisoformat(command[2]) == station.until  # the window it restores
    assert env["INDI_ALLSKY_DIR"] == str(station.dir) and env["AURORAL_HIGHRATE_STATE"] == str(station.state)
    assert len(calls) == 5


def test_the_scheduled_restore_puts_the_original_settings_back(tmp_path):
    station = FakeStation(tmp_path)
    assert station.onset(300).returncode == 0
    result = station.run_scheduled_restore()
    assert result.returncode == 0, result.stderr
    assert "event=highrate_restored" in result.stderr
    assert station.config() == ORIGINAL
    calls = station.calls()
    assert [call[2] for call in calls[:2]] == ["dumpfile", "load"]
    assert calls[2] == ["systemctl", "--user", "reload", "indi-allsky.service"]
    assert not station.state.exists()


def test_a_second_onset_keeps_the_originals_and_pushes_the_restore_back(tmp_path):
    station = FakeStation(tmp_path)
    assert station.onset(300).returncode == 0
    first_restore = station.scheduled_restore()
    station.log.unlink()
    result = station.onset(600)
    assert result.returncode == 0, result.stderr
    calls = station.calls()
    assert [call[0] for call in calls] == ["systemctl", "systemd-run"]  # indi-allsky is left alone
    assert calls[0] == ["systemctl", "--user", "stop", "auroral-highrate-restore.timer"]
    second_restore = station.scheduled_restore()
    # the first timer, had it fired meanwhile, finds the window extended and leaves the settings fast
    station.log.write_text("")
    result = run(*first_restore)
    assert result.returncode == 0 and "reason=extended" in result.stderr
    assert station.config()["EXPOSURE_PERIOD"] == 5.0 and station.calls() == []
    assert json.loads(station.state.read_text())["original"]["EXPOSURE_PERIOD"] == 30.0
    assert run(*second_restore).returncode == 0
    assert station.config() == ORIGINAL and not station.state.exists()


def test_the_restore_keeps_a_setting_changed_meanwhile(tmp_path):
    station = FakeStation(tmp_path)
    assert station.onset(300).returncode == 0
    station.db.write_text(json.dumps({**station.config(), "EXPOSURE_PERIOD": 10.0}))  # edited in the web interface
    assert station.run_scheduled_restore().returncode == 0
    assert station.config() == {**ORIGINAL, "EXPOSURE_PERIOD": 10.0}


def test_an_expired_window_changes_nothing(tmp_path):
    station = FakeStation(tmp_path)
    result = station.onset(-10)
    assert result.returncode == 0 and "reason=expired" in result.stderr
    assert station.calls() == [] and station.config() == ORIGINAL


def test_indi_allsky_adapter_reports_a_failing_config_py_on_one_line(tmp_path):
    station = FakeStation(tmp_path)
    result = station.onset(300, FAKE_FAIL="dumpfile")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "indi-allsky-highrate: error: config.py dumpfile failed (exit 1): Configuration not loaded"]
    assert [call[2] for call in station.calls()] == ["dumpfile"]
    assert not station.state.exists()


def test_indi_allsky_adapter_refuses_a_period_indi_allsky_would_not_take(tmp_path):
    station = FakeStation(tmp_path)
    result = station.onset(300, AURORAL_HIGHRATE_PERIOD_S="0.5")
    assert result.returncode == 2
    assert "AURORAL_HIGHRATE_PERIOD_S=0.5" in result.stderr and "Traceback" not in result.stderr
    assert station.calls() == []


def read_flag_with_sh(path: Path, *names: str) -> list[str]:
    script = ". \"$1\" && " + " && ".join(f"printf '%s\\n' \"${name}\"" for name in names)
    return subprocess.run(["sh", "-c", script, "sh", str(path)], capture_output=True, text=True, check=True,
                          timeout=30).stdout.splitlines()


def test_flag_file_holds_the_expiry_and_the_trigger_for_sh_and_python(tmp_path):
    flag = tmp_path / "run" / "highrate"
    until = datetime(2026, 11, 29, 22, 38, 44, 500000, tzinfo=UTC)
    env = {"PATH": os.environ["PATH"], **trigger_env(tmp_path, until, 300), "AURORAL_FLAG_FILE": str(flag)}
    env["AURORAL_FRAME_PATH"] = str(tmp_path / "night 1" / "it's $HOME.jpg")
    result = run([str(FLAG_FILE), "--", env["AURORAL_FRAME_PATH"]], env)
    assert result.returncode == 0, result.stderr
    values = dict(token.split("=", 1) for token in shlex.split(flag.read_text()))
    assert values == {"AURORAL_UNTIL": "2026-11-29T22:38:44.500000Z", "AURORAL_UNTIL_EPOCH": str(1795991925),
                      "AURORAL_DURATION_S": "300", "AURORAL_REASON": "breakup_onset", "AURORAL_STATION": "kiruna",
                      "AURORAL_FRAME": "ccd1_20261129_223344.jpg", "AURORAL_FRAME_PATH": env["AURORAL_FRAME_PATH"],
                      "AURORAL_CAPTURED_AT": "2026-11-29T22:33:44Z"}
    assert int(until.timestamp()) + 1 == 1795991925  # whole seconds, rounded up: never ends early
    assert read_flag_with_sh(flag, "AURORAL_UNTIL_EPOCH", "AURORAL_FRAME_PATH") == [
        "1795991925", env["AURORAL_FRAME_PATH"]]
    assert flag.stat().st_mode & 0o777 == 0o644


def test_flag_file_is_replaced_by_a_rename_never_rewritten_in_place(tmp_path):
    flag = tmp_path / "highrate"
    flag.write_text("AURORAL_UNTIL_EPOCH=1\n")
    os.link(flag, tmp_path / "previous")  # a reader holding the old file keeps seeing all of it
    until = datetime.now(UTC) + timedelta(seconds=120)
    env = {"PATH": os.environ["PATH"], **trigger_env(tmp_path, until, 120), "AURORAL_FLAG_FILE": str(flag)}
    assert run([str(FLAG_FILE), "--", env["AURORAL_FRAME_PATH"]], env).returncode == 0
    assert (tmp_path / "previous").read_text() == "AURORAL_UNTIL_EPOCH=1\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["highrate", "previous"]  # no temporary left
    assert read_flag_with_sh(flag, "AURORAL_UNTIL_EPOCH") != ["1"]


def test_flag_file_without_until_expires_duration_after_now_and_takes_the_path_after_dashes(tmp_path):
    flag = tmp_path / "highrate"
    env = {"PATH": os.environ["PATH"], "AURORAL_DURATION_S": "120", "AURORAL_FLAG_FILE": str(flag)}
    before = datetime.now(UTC)
    assert run([str(FLAG_FILE), "--", "/srv/allsky/-odd.jpg"], env).returncode == 0
    after = datetime.now(UTC)
    values = dict(token.split("=", 1) for token in shlex.split(flag.read_text()))
    assert before.timestamp() + 120 <= int(values["AURORAL_UNTIL_EPOCH"]) <= after.timestamp() + 121
    assert values["AURORAL_FRAME_PATH"] == "/srv/allsky/-odd.jpg"


def test_flag_file_without_expiry_is_a_one_line_error(tmp_path):
    result = run([str(FLAG_FILE), "--", "x.jpg"], {"PATH": os.environ["PATH"],
                                                   "AURORAL_FLAG_FILE": str(tmp_path / "highrate")})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "flag-file: error: AURORAL_UNTIL or AURORAL_DURATION_S (seconds) must be set"]
    assert not (tmp_path / "highrate").exists()
