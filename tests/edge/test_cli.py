"""The `auroral` command: every subcommand has help, and the station side stays free of torch."""
import subprocess
import sys

import pytest

from auroral.edge.cli import build_parser

SUBCOMMANDS = ["synth", "train", "evaluate", "export", "run", "replay", "listen", "bench", "archive", "stats", "demo"]


def auroral(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", *args], capture_output=True, text=True, **kwargs)


def test_every_subcommand_is_registered():
    choices = build_parser()._subparsers._group_actions[0].choices
    assert sorted(choices) == sorted(SUBCOMMANDS)


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
