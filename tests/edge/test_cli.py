"""The `auroral` command: every subcommand has help and follows the same conventions, and the station side
stays free of torch."""
import argparse
import io
import subprocess
import sys
from typing import get_args

import pytest

from auroral.edge import progress
from auroral.edge.backends import BACKENDS
from auroral.edge.bundle import PRECISION_CHOICES, PRECISIONS
from auroral.edge.cli import build_parser, main
from auroral.edge.station.config import ModelConfig
from auroral.edge.tools.synth import generate

SUBCOMMANDS = ["synth", "train", "evaluate", "export", "run", "replay", "listen", "bench", "archive", "stats", "demo",
               "engine", "circle", "night", "homeassistant"]
#: each command that shows a progress bar, with the least arguments it parses
WITH_BARS = {
    "train": ["--data", "data", "--out", "run"],
    "evaluate": ["run"],
    "export": ["run", "--out", "bundle"],
    "bench": [],
    "archive": ["frames", "--bundle", "bundle", "--out", "out"],
    "demo": [],
}


def auroral(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", *args], capture_output=True, text=True, **kwargs)


def commands() -> dict[str, argparse.ArgumentParser]:
    return build_parser()._subparsers._group_actions[0].choices


def option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


def test_every_subcommand_is_registered():
    assert sorted(commands()) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(command):
    result = auroral(command, "--help")
    assert result.returncode == 0, result.stderr
    assert f"usage: auroral {command}" in result.stdout


def test_station_side_imports_no_training_stack():
    code = (
        "import sys, auroral.edge, auroral.edge.classifier, auroral.edge.cli as cli\n"
        "cli.build_parser()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "               ('torch', 'torchvision', 'sklearn', 'matplotlib', 'dask', 'distributed',\n"
        "                'pandas', 'pyarrow'))\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_missing_extra_names_the_extra_to_install():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from auroral.edge.cli import main\n"
        "sys.exit(main(['train', '--data', '.', '--model', 'knn', '--out', 'x']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert "pip install 'auroral[train]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_subcommand_is_a_usage_error():
    result = auroral()
    assert result.returncode == 2 and "usage: auroral" in result.stderr


def test_an_output_path_that_is_a_file_is_a_one_line_error(tmp_path):
    occupied = tmp_path / "occupied"
    occupied.write_text("not a folder")
    result = auroral("demo", "--out", str(occupied))
    assert result.returncode == 2
    assert "auroral demo: error:" in result.stderr and str(occupied) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_shows_every_default_once(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option: no default split by wrapping
    parser = commands()[command]
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if action.default in (None, False, [], argparse.SUPPRESS) or not action.option_strings:
            continue
        assert f"(default: {action.default})" in text, action.option_strings
        assert "default" not in action.help, f"{action.option_strings}: the default is also written by hand"


def test_global_options_before_or_after_the_subcommand():
    parser = build_parser()
    assert parser.parse_args(["synth", "--out", "x"]).log_level == "INFO"
    assert parser.parse_args(["--log-level", "DEBUG", "synth", "--out", "x"]).log_level == "DEBUG"
    assert parser.parse_args(["synth", "--out", "x", "--log-level", "ERROR"]).log_level == "ERROR"
    assert parser.parse_args(["--log-level", "DEBUG", "synth", "--log-level", "ERROR", "--out", "x"]).log_level == \
        "ERROR"


def test_log_level_after_the_subcommand_sets_the_threshold(tmp_path, capsys):
    generate(tmp_path / "frames", per_class=1, size=32, seed=0)
    assert main(["replay", str(tmp_path / "frames"), "--into", str(tmp_path / "a"), "--fps", "0"]) == 0
    assert "event=replay_done" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "frames"), "--into", str(tmp_path / "b"), "--fps", "0",
                 "--log-level", "WARNING"]) == 0
    assert "event=replay_done" not in capsys.readouterr().err


def test_train_help_marks_data_required(capsys):
    result = auroral("train", "--help")
    assert "(--data DATA | --resume)" in " ".join(result.stdout.split())
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["train", "--out", "run"])
    assert info.value.code == 2
    assert "one of the arguments --data --resume is required" in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(WITH_BARS))
def test_no_progress_on_every_command_with_a_bar(command):
    assert build_parser().parse_args([command, *WITH_BARS[command], "--no-progress"]).no_progress is True


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_only_on_a_terminal_and_never_with_no_progress():
    assert progress.bar(range(3)).disable  # pytest's stderr is not a terminal
    assert not progress.bar(range(3), file=Terminal()).disable
    assert progress.bar(range(3), file=Terminal(), hide=True).disable
    try:
        assert main(["bench", "--frames", "0", "--no-progress"]) == 2  # stops at its option check
        assert progress.bar(range(3), file=Terminal()).disable
    finally:
        progress.configure(enabled=True)
    assert main(["bench", "--frames", "0"]) == 2
    assert not progress.bar(range(3), file=Terminal()).disable


def test_bars_stay_out_of_piped_output(tmp_path):
    """A report table on a pipe is not interleaved with bar fragments (training decodes > 50 frames here)."""
    generate(tmp_path / "data", per_class=12, size=32, seed=0)
    result = auroral("--log-level", "WARNING", "train", "--data", str(tmp_path / "data"), "--model", "knn",
                     "--image-size", "32", "--out", str(tmp_path / "run"))
    assert result.returncode == 0, result.stderr
    assert "decode train" not in result.stderr and "\r" not in result.stderr + result.stdout


def test_backend_and_precision_names_come_from_one_place():
    assert get_args(ModelConfig.model_fields["backend"].annotation) == BACKENDS
    assert get_args(ModelConfig.model_fields["precision"].annotation) == PRECISION_CHOICES
    run, archive = commands()["run"], commands()["archive"]
    assert tuple(option(run, "--backend").choices) == BACKENDS
    assert tuple(option(run, "--precision").choices) == PRECISION_CHOICES
    assert tuple(option(archive, "--precision").choices) == PRECISIONS
