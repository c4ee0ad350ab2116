"""A timing bundle (fp32 + int8) for any torchvision architecture, built with the export package's own steps.

The weights are randomly initialised: latency does not depend on what the weights are, and the bench
must run on a machine without a trained run or internet. The int8 model goes through the same
quantisation (QDQ, calibrated on the bench frames, faster format measured) as ``auroral export``.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from auroral.edge.bundle import ModelInfo
from auroral.edge.classes import CLASSES
from auroral.edge.preprocess import PreprocessSpec
from auroral.export.bundle_writer import write_bundle
from auroral.export.int8 import quantize
from auroral.export.torch_onnx import export_torch

log = logging.getLogger(__name__)


def timing_model(name: str) -> Any:
    """``name`` from ``auroral.train.models`` with a softmax head (the bundle contract), random weights, eval mode."""
    import torch

    from auroral.train.models import build_model

    torch.manual_seed(0)
    return torch.nn.Sequential(build_model(name, len(CLASSES)), torch.nn.Softmax(dim=1)).eval()


def timing_bundle(module: Any, name: str, spec: PreprocessSpec, out_dir: Path, calibration: list[Path],
                  sample: np.ndarray) -> Path:
    """Export ``module`` to ONNX fp32, quantise to int8 on ``calibration`` frames, write a bundle at ``out_dir``."""
    with tempfile.TemporaryDirectory(prefix="auroral-bench-export-") as scratch_dir:
        scratch = Path(scratch_dir)
        fp32 = export_torch(module, scratch / "model.onnx", spec.size)
        int8 = scratch / "model.int8.onnx"
        quantization = quantize(fp32, int8, calibration, spec, sample, repeats=5)
        write_bundle(out_dir, {"fp32": fp32, "int8": int8},
                     ModelInfo(name=name, architecture=f"torchvision.{name}", kind="cnn"), spec, CLASSES,
                     training={"weights": "random initialisation (timing only)"},
                     metrics={"int8_quantization": quantization})
    log.info("event=bench_bundle_written path=%s int8_format=%s", out_dir, quantization["chosen"])
    return out_dir
