"""A bundle whose model does not match its manifest is refused at load, in one line, instead of every frame
being quarantined or labelled wrongly later."""
from __future__ import annotations

import subprocess
import sys

import onnx
import pytest

from auroral.edge.bundle import BundleError, ModelInfo
from auroral.edge.classes import CLASSES
from auroral.edge.classifier import Classifier
from auroral.edge.preprocess import PreprocessSpec
from auroral.export.bundle_writer import write_bundle
from support.toybundle import toy_onnx

TOY = ModelInfo(name="toy", architecture="tests.toybundle", kind="cnn")


def fixed_input_onnx(path, side: int):
    """The toy model, but declaring a fixed ``side``×``side`` input, as a CNN export does."""
    model = onnx.load(toy_onnx(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = side, side
    onnx.save(model, path)
    return path


def test_a_model_with_fewer_classes_than_its_manifest_is_refused(tmp_path):
    bundle = write_bundle(tmp_path / "b", {"fp32": toy_onnx(tmp_path / "m.onnx")}, TOY, PreprocessSpec(size=32),
                          classes=list(CLASSES[:5]))
    with pytest.raises(BundleError, match=r"outputs of shape \(2, 7\), but its manifest names 5 classes") as info:
        Classifier(bundle.root)
    assert "\n" not in str(info.value)


def test_a_model_for_another_input_size_is_refused(tmp_path):
    bundle = write_bundle(tmp_path / "b", {"fp32": fixed_input_onnx(tmp_path / "m.onnx", 16)}, TOY,
                          PreprocessSpec(size=32))
    with pytest.raises(BundleError, match=r"does not take the 2×3×32×32 input its manifest describes") as info:
        Classifier(bundle.root)
    assert "\n" not in str(info.value)


def test_a_matching_bundle_loads(tmp_path):
    bundle = write_bundle(tmp_path / "b", {"fp32": fixed_input_onnx(tmp_path / "m.onnx", 32)}, TOY,
                          PreprocessSpec(size=32))
    assert Classifier(bundle.root).classes == list(CLASSES)


def test_the_station_refuses_a_mismatched_bundle_at_start(tmp_path):
    bundle = write_bundle(tmp_path / "b", {"fp32": toy_onnx(tmp_path / "m.onnx")}, TOY, PreprocessSpec(size=32),
                          classes=list(CLASSES[:5]))
    (tmp_path / "watch").mkdir()
    result = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "run", "--watch", str(tmp_path / "watch"),
                             "--bundle", str(bundle.root), "--broker", "127.0.0.1:1", "--state-dir",
                             str(tmp_path / "state"), "--metrics-port", "0"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("auroral run: error: bundle ")
    assert "Traceback" not in result.stderr
