"""Latency statistics shared by every bench measurement: repeat a call, then median / p95 / p99 / throughput."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from auroral.edge.affinity import usable_cpus


def summarize(seconds: Sequence[float], images_per_call: int = 1) -> dict[str, float]:
    """Median, p95 and p99 in milliseconds, and images/s at the median, of per-call wall times."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    median = float(np.median(ms))
    return {
        "median_ms": round(median, 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "images_per_s": round(images_per_call * 1000.0 / median, 2) if median > 0 else float("inf"),
        "samples": int(ms.size),
    }


def cpu_share(cpu_s: float, wall_s: float) -> float:
    """This process's CPU time over the wall time × the CPUs it may use. Well below 1 for work whose threads fill
    every CPU means another job held CPUs meanwhile, and a figure timed then understates this machine."""
    return round(cpu_s / (wall_s * usable_cpus()), 3)


def time_calls(call: Callable[[int], object], repeats: int, warmup: int, gap_s: float = 0.0) -> list[float]:
    """Wall time of ``call(i)`` for ``repeats`` iterations after ``warmup`` untimed ones (i counts from 0).

    ``gap_s``: idle time, untimed, before each timed call (a camera's cadence); 0 times them back to back.
    """
    for i in range(warmup):
        call(i)
    times = []
    for i in range(repeats):
        if gap_s:
            time.sleep(gap_s)
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)
    return times
