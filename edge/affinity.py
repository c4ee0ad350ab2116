"""Which CPUs the station's threads run on: inference threads pinned one per CPU, everything else free.

Pinning is per thread, and a thread or process inherits the CPUs of the thread that starts it, so a
thread started from the pinned inference thread (the onset command's) must free itself first.
"""
from __future__ import annotations

import logging
import os

log = logging.getLogger("auroral.affinity")


def usable_cpus() -> int:
    """How many CPUs this process may run on: its affinity mask where the platform has one."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def inference_cpus(threads: int | None) -> list[int] | None:
    """One CPU per inference thread (Linux): the calling thread takes the first, ONNX Runtime's pool the rest.

    Left to the scheduler, the pool thread is often woken onto the caller's core, and a two-thread run
    gets no parallelism at all (int8 ResNet-50 on 2 cores: 11 ms instead of 7.5 ms after a decode,
    docs/PERFORMANCE.md). ``threads`` defaults to every CPU this process may use. None where pinning is
    impossible or pointless: not Linux, a single thread, or more threads than allowed CPUs.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    count = threads or len(allowed)
    if count < 2 or count > len(allowed):
        return None
    try:  # a seccomp filter (systemd's ~@resources) may forbid it: then nothing is pinned
        os.sched_setaffinity(0, allowed)
    except OSError as exc:
        log.warning("event=cpu_pinning_unavailable error=%r (inference threads left to the scheduler)", str(exc))
        return None
    return allowed[:count]


def pin_this_thread(cpu: int) -> None:
    """Run the calling thread on ``cpu`` only (a CPU from :func:`inference_cpus`, so pinning is permitted)."""
    os.sched_setaffinity(0, {cpu})


def unpin_this_thread() -> None:
    """Give the calling thread every CPU of the main thread (which is never pinned) again; no-op off Linux."""
    if not hasattr(os, "sched_getaffinity"):
        return
    try:
        os.sched_setaffinity(0, os.sched_getaffinity(os.getpid()))
    except OSError:  # forbidden (seccomp): then nothing was pinned either
        pass
