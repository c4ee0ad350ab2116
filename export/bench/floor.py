"""The floor: model FLOPs at the input size over the machine's measured float32 peak = least possible latency."""
from __future__ import annotations

import time
from typing import Any

import numpy as np


def model_flops(module: Any, size: int) -> int:
    """Floating-point operations (multiply and add counted apart) of one image through ``module``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        module(torch.zeros(1, 3, size, size))
    return int(counter.get_total_flops())


def _best_gflops(matmul, n: int, repeats: int) -> float:
    matmul()
    best = min(_timed(matmul) for _ in range(repeats))
    return 2.0 * n ** 3 / best / 1e9


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _ort_matmul(a: np.ndarray, b: np.ndarray):
    """A one-node ONNX MatMul in ONNX Runtime (its MLAS kernels are what the ORT backends run on)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from auroral.edge.backends.ort import session_options

    n = a.shape[0]
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "peak",
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in ("a", "b")],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), session_options(None), providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {"a": a, "b": b})


def peak_gflops(n: int = 2048, repeats: int = 10) -> dict[str, float]:
    """Best-of-``repeats`` float32 GFLOP/s of an n×n matrix product in NumPy (BLAS), PyTorch and ONNX Runtime."""
    import torch

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    found = {"numpy_gflops": _best_gflops(lambda: a @ b, n, repeats),
             "torch_gflops": _best_gflops(lambda: torch.mm(ta, tb), n, repeats),
             "onnxruntime_gflops": _best_gflops(_ort_matmul(a, b), n, repeats)}
    return {**{k: round(v, 2) for k, v in found.items()}, "peak_gflops": round(max(found.values()), 2),
            "matrix_side": n}


def floor(flops: int, peak: dict[str, float]) -> dict[str, float]:
    """Minimum latency of one image at the measured peak."""
    return {"model_gflops": round(flops / 1e9, 3), **peak,
            "floor_ms_per_image": round(flops / (peak["peak_gflops"] * 1e9) * 1000.0, 3)}


def distance(model: dict[str, Any], floor_ms: float) -> None:
    """Add ``x_floor`` (per-image time over the floor) to every model-only figure, in place."""
    for per_batch in model.values():
        for key, stats in per_batch.items():
            per_image = stats["median_ms"] / int(key.removeprefix("batch"))
            stats["x_floor"] = round(per_image / floor_ms, 2)
