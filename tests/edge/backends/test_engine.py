"""TensorRT engine caching and the clear refusal where TensorRT is not installed (as on this machine)."""
from __future__ import annotations

import sys

import pytest

from auroral.edge import cli
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
