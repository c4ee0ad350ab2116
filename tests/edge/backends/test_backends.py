"""One contract for every inference backend: the same tests run on each backend available here; the
others must refuse with a clear one-line UserError (never a skip, never a traceback)."""
from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from auroral.edge.backends import BACKENDS, create_backend
from auroral.edge.bundle import PRECISIONS, ModelInfo, load_bundle
from auroral.edge.classes import CLASSES
from auroral.edge.errors import UserError
from auroral.edge.preprocess import Preprocessor, PreprocessSpec
from auroral.export.bundle_writer import write_bundle
from auroral.export.fp16 import convert_fp16
from auroral.export.int8 import quantize
from support.toybundle import expected_label, toy_onnx

SPEC = PreprocessSpec(size=32)
COLOURS = ([255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0], [255, 255, 255], [255, 200, 0])
MODEL = ModelInfo(name="toy", architecture="tests.toybundle", kind="cnn")
UNAVAILABLE = {
    "ort-cuda": "needs ONNX Runtime's CUDAExecutionProvider",
    "ort-tensorrt": "needs ONNX Runtime's TensorrtExecutionProvider",
    "tensorrt": "TensorRT is not installed here",
}


def available(kind: str) -> bool:
    if kind == "tensorrt":
        return importlib.util.find_spec("tensorrt") is not None and importlib.util.find_spec("cuda") is not None
    provider = {"ort-cpu": "CPUExecutionProvider", "ort-cuda": "CUDAExecutionProvider",
                "ort-tensorrt": "TensorrtExecutionProvider"}[kind]
    return provider in ort.get_available_providers()


def frames() -> list[np.ndarray]:
    return [np.full((40, 40, 3), colour, np.uint8) for colour in COLOURS]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The toy colour model in all three precisions (fp16 and int8 made by export's own converters)."""
    root = tmp_path_factory.mktemp("backends")
    calibration = []
    for i, image in enumerate(frames()):
        calibration.append(root / f"cal{i}.png")
        cv2.imwrite(str(calibration[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    fp32 = toy_onnx(root / "toy.onnx")
    sample = Preprocessor(SPEC).batch(frames())
    variants = {"fp32": fp32, "fp16": convert_fp16(fp32, root / "toy.fp16.onnx"), "int8": root / "toy.int8.onnx"}
    quantize(fp32, variants["int8"], calibration, SPEC, sample, repeats=2)
    return write_bundle(root / "bundle", variants, MODEL, SPEC)


def make_backend(bundle, kind: str, precision: str):
    if kind == "tensorrt":
        from auroral.edge.backends.engine import build_engine

        build_engine(bundle, precision, max_batch=8)
    return create_backend(load_bundle(bundle.root), kind, precision)


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("kind", BACKENDS)
def test_backend_contract(bundle, kind, precision):
    if not available(kind):
        with pytest.raises(UserError, match=UNAVAILABLE[kind]) as info:
            make_backend(bundle, kind, precision)
        assert "\n" not in str(info.value)
        return
    backend = make_backend(bundle, kind, precision)
    assert backend.name == kind
    backend.bind_caller()  # the inference thread's first call, on every backend
    batch = Preprocessor(SPEC).batch(frames())
    for n in (1, len(batch)):
        probabilities = backend.infer(batch[:n])
        assert probabilities.dtype == np.float32 and probabilities.shape == (n, len(CLASSES))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-3)
    labels = [CLASSES[i] for i in backend.infer(batch).argmax(axis=1)]
    assert labels == [expected_label(image, SPEC) for image in frames()]
    assert len(set(labels)) >= 3


def test_unknown_backend_is_a_user_error(bundle):
    with pytest.raises(UserError, match="unknown backend 'cuda'; choose one of ort-cpu"):
        create_backend(bundle, "cuda")


def test_missing_precision_is_a_user_error(tmp_path):
    root = tmp_path / "only-fp32"
    root.mkdir()
    fp32 = toy_onnx(tmp_path / "toy.onnx")
    single = write_bundle(root, {"fp32": fp32}, MODEL, SPEC)
    with pytest.raises(UserError, match="has no int8 model"):
        create_backend(single, "ort-cpu", "int8")
