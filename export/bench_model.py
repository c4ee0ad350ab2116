"""Model-only latency on the same preprocessed frames: PyTorch eager (the baseline), ONNX Runtime fp32/int8, GPU.

The ONNX Runtime figures use the station's own backend (``auroral.edge.backends``, same session
options), so they are what the daemon gets. Backends this machine lacks are reported, not skipped.
"""
from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort

from auroral.edge.backends import create_backend
from auroral.edge.bundle import Bundle

from .bench_stats import summarize, time_calls

log = logging.getLogger(__name__)

Infer = Callable[[np.ndarray], Any]

#: backend key in the report → (station backend kind, precision, ONNX Runtime provider it needs)
ORT_BACKENDS = {
    "ort_cpu_fp32": ("ort-cpu", "fp32", "CPUExecutionProvider"),
    "ort_cpu_int8": ("ort-cpu", "int8", "CPUExecutionProvider"),
    "ort_cuda_fp32": ("ort-cuda", "fp32", "CUDAExecutionProvider"),
    "ort_tensorrt_fp32": ("ort-tensorrt", "fp32", "TensorrtExecutionProvider"),
}


def torch_eager(module: Any) -> Infer:
    """PyTorch eager inference as a researcher runs it: ``inference_mode``, CPU, default threads."""
    import torch

    def infer(batch: np.ndarray) -> Any:
        with torch.inference_mode():
            return module(torch.from_numpy(batch)).numpy()

    return infer


def available_backends(bundle: Bundle) -> tuple[dict[str, Infer], dict[str, str]]:
    """Station backends that can run here, and for the others why not."""
    runnable: dict[str, Infer] = {}
    missing: dict[str, str] = {}
    providers = ort.get_available_providers()
    for key, (kind, precision, provider) in ORT_BACKENDS.items():
        if provider not in providers:
            missing[key] = f"not available here (ONNX Runtime has no {provider})"
        else:
            runnable[key] = create_backend(bundle, kind, precision).infer
    if importlib.util.find_spec("tensorrt") is None:
        missing["tensorrt"] = "not available here (TensorRT is not installed)"
    else:
        runnable["tensorrt_fp32"] = create_backend(bundle, "tensorrt", "fp32").infer
    return runnable, missing


def time_model(infer: Infer, frames: np.ndarray, batch: int, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Latency stats of ``infer`` on batches of ``batch`` taken in turn from ``frames`` (tiled if too few)."""
    if len(frames) < batch:
        frames = np.concatenate([frames] * -(-batch // len(frames)))
    starts = max(1, len(frames) - batch + 1)
    chunks = [np.ascontiguousarray(frames[s:s + batch]) for s in range(0, starts, batch)]
    times = time_calls(lambda i: infer(chunks[i % len(chunks)]), repeats, warmup)
    return summarize(times, images_per_call=batch)


def model_only(backends: dict[str, Infer], frames: np.ndarray, batches: list[int], repeats: int) -> dict[str, Any]:
    """``{backend: {"batch<b>": stats}}`` with each backend's speed-up over PyTorch eager at the same batch."""
    results: dict[str, Any] = {}
    for name, infer in backends.items():
        results[name] = {}
        for batch in batches:
            stats = time_model(infer, frames, batch, max(3, repeats // batch))
            results[name][f"batch{batch}"] = stats
            log.info("event=bench_model backend=%s batch=%d median_ms=%.2f p95_ms=%.2f", name, batch,
                     stats["median_ms"], stats["p95_ms"])
    baseline = results.get("pytorch_eager", {})
    for name, per_batch in results.items():
        for key, stats in per_batch.items():
            stats["speedup_vs_pytorch"] = round(baseline[key]["median_ms"] / stats["median_ms"], 3)
    return results
