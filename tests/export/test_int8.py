"""INT8 weights stay in the reduced range, so no CPU's integer kernel can saturate on them.

On x86 without VNNI, ONNX Runtime sums pairs of uint8×int8 products in a saturating int16: full-range weights
overflow it on bright frames and the labels go wrong (the backend contract test shows that only on such a CPU).
This check holds on any CPU: every int8 weight the model dequantises is within [-64, 64], where 2·255·64 fits.
"""
from __future__ import annotations

import cv2
import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from auroral.edge.preprocess import Preprocessor, PreprocessSpec
from auroral.export.int8 import quantize
from support.toybundle import toy_onnx

SPEC = PreprocessSpec(size=32)


def test_int8_weights_use_the_reduced_range(tmp_path):
    frames = [np.full((40, 40, 3), colour, np.uint8) for colour in ([255, 255, 255], [255, 200, 0], [0, 0, 0])]
    calibration = []
    for i, image in enumerate(frames):
        calibration.append(tmp_path / f"cal{i}.png")
        cv2.imwrite(str(calibration[-1]), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    int8 = tmp_path / "toy.int8.onnx"
    info = quantize(toy_onnx(tmp_path / "toy.onnx"), int8, calibration, SPEC, Preprocessor(SPEC).batch(frames),
                    repeats=1)
    model = onnx.load(str(int8))
    dequantized = {node.input[0] for node in model.graph.node if node.op_type == "DequantizeLinear"}
    weights = [numpy_helper.to_array(t) for t in model.graph.initializer
               if t.name in dequantized and t.data_type == TensorProto.INT8]
    assert weights
    assert all(np.abs(w.astype(np.int32)).max() <= 64 for w in weights)
    assert max(np.abs(w.astype(np.int32)).max() for w in weights) == 64
    assert info["weight_range"] == [-64, 64]
