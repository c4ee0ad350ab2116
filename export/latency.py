"""Batch-1 latency of an ONNX model on ONNX Runtime's CPU provider: the figure INT8 format choice is based on."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from auroral.edge.backends.ort import session_options


def cpu_latency_ms(model_path: Path, sample: np.ndarray, repeats: int = 20, warmup: int = 3) -> float:
    """Median wall time of ``repeats`` single-image inferences after ``warmup`` runs (ms)."""
    session = ort.InferenceSession(str(model_path), session_options(None), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(sample[:1], dtype=np.float32)}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)
