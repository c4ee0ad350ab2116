"""A deterministic, torch-free test bundle: the label is a fixed linear function of mean colour.

The ONNX graph is ReduceMean(H, W) → MatMul → Add → Softmax, so tests can predict the label of any
frame with numpy (:func:`expected_label`) and the station is checked against an exact answer.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from auroral.edge.bundle import Bundle, ModelInfo
from auroral.edge.classes import CLASSES
from auroral.edge.preprocess import Preprocessor, PreprocessSpec
from auroral.export.bundle_writer import write_bundle

# One row per input channel (normalised R, G, B), one column per class.
WEIGHTS = np.array(
    [
        # breakup colored arcs discrete patchy edge faint
        [4.0, 6.0, -2.0, 0.0, 0.0, 1.0, -3.0],   # red
        [6.0, -4.0, 3.0, 2.0, 1.0, 0.5, -3.0],   # green
        [2.0, 1.0, -1.0, 0.0, 2.0, -1.0, -3.0],  # blue
    ],
    dtype=np.float32,
)
BIAS = np.array([-2.0, 0.0, 1.0, 0.5, 0.0, 0.0, 0.0], dtype=np.float32)


def toy_onnx(path: Path, weights: np.ndarray = WEIGHTS, bias: np.ndarray = BIAS) -> Path:
    """The linear colour model; ``weights`` (3 × classes) and ``bias`` give another class set."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "height", "width"])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", weights.shape[1]])
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    nodes = [
        helper.make_node("ReduceMean", ["input", "axes"], ["pooled"], keepdims=0),
        helper.make_node("MatMul", ["pooled", "weights"], ["logits_raw"]),
        helper.make_node("Add", ["logits_raw", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(nodes, "toy_colour_classifier", [x], [y],
                              [axes, numpy_helper.from_array(weights.astype(np.float32), "weights"),
                               numpy_helper.from_array(bias.astype(np.float32), "bias")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def make_toy_bundle(out_dir: Path, size: int = 32) -> Bundle:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = toy_onnx(out_dir / "toy.onnx")
    bundle = write_bundle(
        out_dir,
        {"fp32": onnx_path},
        ModelInfo(name="toy", architecture="tests.toybundle", kind="cnn"),
        PreprocessSpec(size=size),
        training={"data": "none: a fixed linear function of mean colour"},
    )
    onnx_path.unlink()
    return bundle


def expected_probabilities(image: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    pooled = Preprocessor(spec)(image).mean(axis=(1, 2))
    logits = pooled @ WEIGHTS + BIAS
    e = np.exp(logits - logits.max())
    return e / e.sum()


def expected_label(image: np.ndarray, spec: PreprocessSpec) -> str:
    return CLASSES[int(np.argmax(expected_probabilities(image, spec)))]
