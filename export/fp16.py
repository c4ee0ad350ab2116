"""FP32 → FP16 ONNX with float32 inputs/outputs kept, so the station feeds every precision the same array."""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx
from onnxconverter_common import float16

log = logging.getLogger(__name__)


def convert_fp16(fp32_path: Path, out_path: Path) -> Path:
    model = onnx.load(str(fp32_path))
    with warnings.catch_warnings():  # one warning per weight below fp16's range; flushing those to 0 is intended
        warnings.filterwarnings("ignore", message="the float32 number", category=UserWarning)
        half = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.save(half, str(out_path))
    onnx.checker.check_model(str(out_path), full_check=True)
    log.info("event=fp16_converted path=%s bytes=%d", out_path, out_path.stat().st_size)
    return out_path
