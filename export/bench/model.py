"""Model-only latency on the same preprocessed frames: PyTorch eager (the baseline), ONNX Runtime fp32/int8, GPU.

The ONNX Runtime figures use the station's own backend (``auroral.edge.backends``, same session
options, threads pinned one per CPU as in the daemon's inference thread), so they are what the daemon
gets. Backends this machine lacks are reported, not skipped.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort

from auroral.edge.backends import create_backend
from auroral.edge.bundle import Bundle
from auroral.edge.errors import UserError
from auroral.export.bench.stats import cpu_share, summarize, time_calls

log = logging.getLogger(__name__)

Infer = Callable[[np.ndarray], Any]

GPU_BATCHES = (1, 32, 256)  # the GPU throughput points

#: backend key in the report → (station backend kind, precision, what it needs: an ORT provider or a module)
STATION_BACKENDS = {
    "ort_cpu_fp32": ("ort-cpu", "fp32", "CPUExecutionProvider"),
    "ort_cpu_int8": ("ort-cpu", "int8", "CPUExecutionProvider"),
    "ort_cuda_fp32": ("ort-cuda", "fp32", "CUDAExecutionProvider"),
    "ort_tensorrt_fp32": ("ort-tensorrt", "fp32", "TensorrtExecutionProvider"),
    "tensorrt_fp32": ("tensorrt", "fp32", "tensorrt"),
}


def torch_eager(module: Any) -> Infer:
    """PyTorch eager inference as a researcher runs it: ``inference_mode``, CPU, default threads."""
    import torch

    def infer(batch: np.ndarray) -> Any:
        with torch.inference_mode():
            return module(torch.from_numpy(batch)).numpy()

    return infer


def _lacking(needs: str) -> str | None:
    if needs.endswith("ExecutionProvider"):
        return None if needs in ort.get_available_providers() else f"ONNX Runtime has no {needs}"
    return None if importlib.util.find_spec(needs) else f"{needs} is not installed"


def as_the_daemon_runs_it(bundle: Bundle, kind: str, precision: str) -> Infer:
    """A station backend's ``infer`` from a caller pinned as the daemon's inference thread is.

    The bench's own thread is freed after each call.
    """
    backend = create_backend(bundle, kind, precision, pin=True)
    if not hasattr(os, "sched_getaffinity"):
        return backend.infer

    def infer(batch: np.ndarray) -> Any:
        allowed = os.sched_getaffinity(0)
        backend.bind_caller()
        try:
            return backend.infer(batch)
        finally:
            os.sched_setaffinity(0, allowed)
    return infer


def available_backends(bundle: Bundle) -> tuple[dict[str, Infer], dict[str, str]]:
    """Station backends that can run here, and for the others why not."""
    runnable: dict[str, Infer] = {}
    missing: dict[str, str] = {}
    for key, (kind, precision, needs) in STATION_BACKENDS.items():
        reason = _lacking(needs)
        if reason is None:
            try:
                runnable[key] = as_the_daemon_runs_it(bundle, kind, precision)
            except UserError as exc:  # e.g. no GPU behind the provider, or no engine built for this bundle
                reason = str(exc)
        if reason is not None:
            missing[key] = f"not available here ({reason})"
    return runnable, missing


def archive_worker_model(bundle: Bundle) -> Infer:
    """int8 on one ONNX Runtime thread, unpinned: the model as each ``auroral archive`` pool worker runs it."""
    return create_backend(bundle, "ort-cpu", "int8", threads=1).infer


def time_model(infer: Infer, frames: np.ndarray, batch: int, repeats: int, warmup: int = 2) -> dict[str, float]:
    """Latency stats of ``infer`` on batches of ``batch`` taken in turn from ``frames`` (tiled if too few), and
    ``cpu_share``: this process's CPU time over the wall time × the CPUs it may use, warm-up included."""
    if len(frames) < batch:
        frames = np.concatenate([frames] * -(-batch // len(frames)))
    starts = max(1, len(frames) - batch + 1)
    chunks = [np.ascontiguousarray(frames[s:s + batch]) for s in range(0, starts, batch)]
    wall, cpu = time.perf_counter(), time.process_time()
    times = time_calls(lambda i: infer(chunks[i % len(chunks)]), repeats, warmup)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {**summarize(times, images_per_call=batch), "cpu_share": cpu_share(cpu, wall)}


def time_after_idle(infer: Infer, frames: np.ndarray, gap_s: float, repeats: int) -> dict[str, float]:
    """Batch-1 latency when each call follows ``gap_s`` of idleness, as at a camera's cadence.

    That is, with cold caches and a sleeping thread pool.
    """
    singles = [np.ascontiguousarray(frame[None]) for frame in frames]
    times = time_calls(lambda i: infer(singles[i % len(singles)]), repeats, warmup=1, gap_s=gap_s)
    return {"gap_s": gap_s, **summarize(times)}


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
    return results


def add_speedups(results: dict[str, Any]) -> None:
    """Each figure's speed-up over PyTorch eager at the same batch (where the baseline ran that batch), in place."""
    baseline = results.get("pytorch_eager", {})
    for per_batch in results.values():
        for key, stats in per_batch.items():
            if key in baseline:
                stats["speedup_vs_pytorch"] = round(baseline[key]["median_ms"] / stats["median_ms"], 3)
