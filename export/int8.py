"""Static INT8 quantisation (QDQ, per-channel weights) calibrated on real training frames.

Two activation encodings are built — U8S8 (uint8 activations, int8 weights) and S8S8 (int8 both) —
and the faster one on this CPU is kept: which wins depends on the CPU's integer dot-product support
(VNNI, AVX2 only, ARM SDOT), so it is measured, not assumed, and both timings go into the manifest.

Weights use ONNX Runtime's reduced range, [-64, 64]. On x86 CPUs without VNNI, ONNX Runtime multiplies
int8 weights with VPMADDUBSW, which adds two 8-bit products into a saturating int16: with full-range
weights a pair of large activations overflows it (255·127·2 > 32767) and bright frames get wrong
logits. With 7-bit weights the pair sum stays within int16 on every CPU a station may have, whichever
CPU exported the model.
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from tqdm import tqdm

from auroral.edge import progress
from auroral.edge.preprocess import PreprocessSpec
from auroral.export.latency import cpu_latency_ms
from auroral.export.samples import batches
from auroral.export.torch_onnx import INPUT_NAME

log = logging.getLogger(__name__)

FORMATS = {"U8S8": QuantType.QUInt8, "S8S8": QuantType.QInt8}


class FrameCalibrationReader(CalibrationDataReader):
    """Feeds preprocessed calibration frames to the quantiser batch by batch, with a progress bar."""

    def __init__(self, paths: Sequence[Path], spec: PreprocessSpec, batch_size: int = 8):
        self.paths = list(paths)
        self.spec = spec
        self.batch_size = batch_size
        self._iterator: Iterator[np.ndarray] | None = None
        self._progress: tqdm | None = None

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._iterator is None:
            self._iterator = batches(self.paths, self.spec, self.batch_size)
            self._progress = progress.bar(total=len(self.paths), desc="int8 calibration", unit="img", leave=False)
        batch = next(self._iterator, None)
        if batch is None:
            self._progress.close()
            return None
        self._progress.update(len(batch))
        return {INPUT_NAME: batch}

    def rewind(self) -> None:
        self._iterator = None


def output_nodes(model_path: Path) -> list[str]:
    """Nodes writing the graph output (the softmax): kept in float so probabilities are not rounded to 1/255."""
    model = onnx.load(str(model_path))
    outputs = {o.name for o in model.graph.output}
    return [node.name for node in model.graph.node if outputs & set(node.output)]


def quantize(fp32_path: Path, out_path: Path, calibration: Sequence[Path], spec: PreprocessSpec,
             sample: np.ndarray, repeats: int = 20) -> dict[str, Any]:
    """Quantise in both formats, keep the faster at ``out_path``; returns what goes into the manifest."""
    with tempfile.TemporaryDirectory(prefix="auroral-int8-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=False)
        timings: dict[str, float] = {}
        candidates: dict[str, Path] = {}
        for name, activation in FORMATS.items():
            candidate = Path(scratch) / f"{name}.onnx"
            quantize_static(
                str(prepared), str(candidate), FrameCalibrationReader(calibration, spec),
                quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=activation, weight_type=QuantType.QInt8, reduce_range=True,
                nodes_to_exclude=output_nodes(prepared),
            )
            timings[name] = round(cpu_latency_ms(candidate, sample, repeats=repeats), 3)
            candidates[name] = candidate
            log.info("event=int8_candidate format=%s latency_ms=%.3f", name, timings[name])
        chosen = min(timings, key=timings.__getitem__)
        out_path.write_bytes(candidates[chosen].read_bytes())
    fp32_ms = round(cpu_latency_ms(fp32_path, sample, repeats=repeats), 3)
    log.info("event=int8_chosen format=%s fp32_latency_ms=%.3f", chosen, fp32_ms)
    return {
        "format": "QDQ", "per_channel": True, "weights": "int8", "weight_range": [-64, 64],
        "activations": "uint8" if chosen == "U8S8" else "int8",
        "chosen": chosen, "cpu_latency_ms_batch1": {**timings, "fp32": fp32_ms},
        "calibration_images": len(calibration),
    }
