"""TensorRT engine caching, ``auroral engine``, and the clear refusal where TensorRT is not installed (as here)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest

from auroral.edge import cli
from auroral.edge.backends import tensorrt
from auroral.edge.backends.tensorrt import ENGINE_DIR, TensorRTBackend, engine_key, engine_path
from auroral.edge.errors import UserError

SHA = "ab" * 32


def test_engine_key_changes_with_gpu_version_precision_and_model():
    base = engine_key("NVIDIA Jetson Orin NX", "8.5.2.2", "fp16", SHA)
    assert base == f"fp16.nvidia-jetson-orin-nx.trt8.5.2.2.{SHA[:16]}.engine"
    others = {
        engine_key("NVIDIA H100 80GB HBM3", "8.5.2.2", "fp16", SHA),
        engine_key("NVIDIA Jetson Orin NX", "10.3.0", "fp16", SHA),
        engine_key("NVIDIA Jetson Orin NX", "8.5.2.2", "int8", SHA),
        engine_key("NVIDIA Jetson Orin NX", "8.5.2.2", "fp16", "cd" * 32),
    }
    assert len(others) == 4 and base not in others
    assert "/" not in engine_key("a/b GPU", "10.0", "fp32", SHA)


def test_engines_live_next_to_the_bundle_and_follow_their_onnx_source(toy_bundle):
    path = engine_path(toy_bundle, "fp32", "Orin", "10.3.0")
    assert path.parent == toy_bundle.root / ENGINE_DIR
    assert path.name == engine_key("Orin", "10.3.0", "fp32", toy_bundle.sha256("fp32"))
    with pytest.raises(UserError, match="has no int8 model"):
        engine_path(toy_bundle, "int8", "Orin", "10.3.0")


@pytest.fixture
def without_tensorrt(monkeypatch):
    """Hide TensorRT even where it is installed, so the refusal is tested on every machine."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)


def test_backend_says_tensorrt_is_not_installed(toy_bundle, without_tensorrt):
    with pytest.raises(UserError, match=r"^TensorRT is not installed here \(no 'tensorrt' Python module\)"):
        TensorRTBackend(toy_bundle, "fp32")


def test_export_tensorrt_says_so_clearly(toy_bundle, without_tensorrt, capsys):
    assert cli.main(["export", "--tensorrt", "--verify", str(toy_bundle.root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("auroral export: error: TensorRT is not installed here") and err.count("\n") == 1


def test_engine_command_says_tensorrt_is_not_installed(toy_bundle, without_tensorrt, capsys):
    assert cli.main(["engine", "--precision", "fp32", str(toy_bundle.root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("auroral engine: error: TensorRT is not installed here") and err.count("\n") == 1


def test_engine_command_needs_no_training_stack(toy_bundle):
    """An edge-only install (no torch) reaches the engine build: the refusal here is about TensorRT only."""
    code = ("import sys; sys.modules['torch'] = sys.modules['tensorrt'] = None\n"
            "from auroral.edge.cli import main\n"
            f"sys.exit(main(['engine', {str(toy_bundle.root)!r}]))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("auroral engine: error: TensorRT is not installed here")
    assert "Traceback" not in result.stderr


def test_engine_help_shows_its_options_and_defaults():
    result = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "engine", "--help"], capture_output=True,
                            text=True, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "usage: auroral engine" in result.stdout and "BUNDLE_DIR" in result.stdout
    assert "--max-batch N" in result.stdout and "(default: 16)" in result.stdout


@pytest.mark.parametrize("argv", [["--max-batch", "0"], ["--precision", "fp64"]])
def test_engine_bad_option_is_a_usage_error(toy_bundle, argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["engine", str(toy_bundle.root), *argv])
    assert info.value.code == 2
    assert "auroral engine: error: argument" in capsys.readouterr().err


def test_missing_engine_points_to_auroral_engine(toy_bundle, monkeypatch):
    """With TensorRT present but no engine built for this GPU, the backend names the command that builds it."""
    monkeypatch.setitem(sys.modules, "tensorrt", SimpleNamespace(__version__="10.3.0"))
    monkeypatch.setattr(tensorrt, "import_cudart", lambda: SimpleNamespace())
    monkeypatch.setattr(tensorrt, "gpu_name", lambda cudart=None: "Orin")
    with pytest.raises(UserError, match=r"no TensorRT engine for fp32 .*; build it with: auroral engine "
                                        rf"--precision fp32 {re.escape(str(toy_bundle.root))}$"):
        TensorRTBackend(toy_bundle, "fp32")
