"""Supervision of the daemon's threads and callbacks, and the health that follows from it.

Every long-lived thread of the station runs through :meth:`Supervisor.spawn` and every callback that a
library calls on its own thread (paho, watchdog) through :meth:`Supervisor.guard`. An unexpected
exception is logged once with its traceback (``event=component_failed``), counted in
``auroral_component_failures_total{component}``, and the thread is started again after a back-off. A
component that fails ``max_failures`` times within ``window_s`` makes the daemon stop with a non-zero
exit, so that systemd restarts the whole process.

Each component beats (:meth:`Supervisor.beat`) at least once per its own deadline; the station is
healthy (``/healthz`` 200, systemd's ``WATCHDOG=1``) only while every component has beaten in time and
none has given up. A component that is late is named in the health report.

For tests of this machinery on a real daemon, ``AURORAL_INJECT_FAULT=name:count[,name:count]`` in the
daemon's environment makes the first ``count`` runs of those components fail at once.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from auroral.edge.station.config import StationConfig
from auroral.edge.station.metrics import StationMetrics

log = logging.getLogger("auroral.supervisor")

F = TypeVar("F", bound=Callable[..., Any])

_BACKOFF_MIN_S = 0.5
_BACKOFF_MAX_S = 30.0


@dataclass
class _Beat:
    deadline_s: float
    last: float = field(default_factory=time.monotonic)
    failures: deque[float] = field(default_factory=deque)  # monotonic times of recent failures


class Supervisor:
    def __init__(self, metrics: StationMetrics, stop: threading.Event, max_failures: int = 5,
                 window_s: float = 600.0, inject: str = ""):
        self.metrics = metrics
        self.stop = stop  # set when a component gives up: the daemon then shuts down and exits non-zero
        self.max_failures = max_failures
        self.window_s = window_s
        self.fatal: str | None = None  # the component that gave up, if any
        self._beats: dict[str, _Beat] = {}
        self._lock = threading.Lock()
        self._faults = {name: int(count) for name, _, count in (part.rpartition(":") for part in inject.split(","))
                        if name and count.isdigit()}

    # --- heartbeats and health -------------------------------------------------------------------
    def register(self, name: str, deadline_s: float) -> None:
        """Expect a beat from ``name`` at least every ``deadline_s`` seconds from now on."""
        with self._lock:
            self._beats[name] = _Beat(deadline_s)

    def unregister(self, name: str) -> None:
        """``name`` stopped on purpose: it no longer counts towards health."""
        with self._lock:
            self._beats.pop(name, None)

    def beat(self, name: str) -> None:
        beat = self._beats.get(name)
        if beat is not None:
            beat.last = time.monotonic()

    def health(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """(healthy, {component: {"age_s", "deadline_s", "ok", "failures"}})."""
        now = time.monotonic()
        with self._lock:
            report = {name: {"age_s": round(now - b.last, 3), "deadline_s": b.deadline_s,
                             "ok": now - b.last <= b.deadline_s, "failures": len(b.failures)}
                      for name, b in sorted(self._beats.items())}
        return self.fatal is None and all(r["ok"] for r in report.values()), report

    # --- running things under supervision --------------------------------------------------------
    def spawn(self, name: str, loop: Callable[[], None], deadline_s: float,
              done: threading.Event) -> threading.Thread:
        """Run ``loop`` on a thread named ``name`` until it returns with ``done`` set; restart it after a
        failure (or an unexpected return) with back-off, and give up after too many failures."""
        self.register(name, deadline_s)
        thread = threading.Thread(target=self._run, args=(name, loop, done), name=name, daemon=True)
        thread.start()
        return thread

    def _run(self, name: str, loop: Callable[[], None], done: threading.Event) -> None:
        backoff = _BACKOFF_MIN_S
        while True:
            self.beat(name)
            try:
                if self._faults.get(name, 0) > 0:
                    self._faults[name] -= 1
                    raise RuntimeError("injected fault (AURORAL_INJECT_FAULT)")
                loop()
            except Exception as exc:  # noqa: BLE001 - this is the one place that catches everything
                if not self.failed(name, exc):
                    return
            else:
                if done.is_set():
                    self.unregister(name)
                    return
                if not self.failed(name, RuntimeError("returned while it should still run")):
                    return
            if done.wait(backoff):
                self.unregister(name)
                return
            backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def guard(self, name: str, callback: F) -> F:
        """``callback`` wrapped so that an exception is logged and counted, never raised into the library
        that called it (paho re-raises callback exceptions and would end its network loop)."""

        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - see the docstring
                self.failed(name, exc)
                return None

        return guarded  # type: ignore[return-value]

    def failed(self, name: str, exc: BaseException) -> bool:
        """Log and count one failure of ``name``; False when it has failed too often and the daemon stops."""
        self.metrics.component_failures.labels(name).inc()
        now = time.monotonic()
        with self._lock:
            beat = self._beats.setdefault(name, _Beat(deadline_s=float("inf")))
            beat.failures.append(now)
            while beat.failures and now - beat.failures[0] > self.window_s:
                beat.failures.popleft()
            count = len(beat.failures)
        log.error("event=component_failed component=%s failures_in_window=%d error=%r", name, count, exc,
                  exc_info=exc)
        if count >= self.max_failures:
            self.fatal = name
            log.critical("event=component_gave_up component=%s failures=%d window_s=%g action=stopping", name,
                         count, self.window_s)
            self.stop.set()
            return False
        return True


class Component:
    """A long-lived part of the daemon. Every component is built from the daemon's :class:`Context` and
    its collaborators, runs its loops on supervised threads, and has the same lifecycle:
    :meth:`start`, then :meth:`stop` (which asks its loops to finish and waits up to ``timeout``)."""

    def __init__(self, context: Context):
        self.context = context
        self.config = context.config
        self.metrics = context.metrics
        self.supervisor = context.supervisor
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        raise NotImplementedError

    def spawn(self, name: str, loop: Callable[[], None], deadline_s: float) -> None:
        self._threads.append(self.supervisor.spawn(name, loop, deadline_s, self.stopping))

    def stop(self, timeout: float) -> None:
        self.stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                log.warning("event=component_stop_timeout thread=%s timeout_s=%g", thread.name, timeout)


@dataclass
class Context:
    """What every component gets: the validated configuration, the metrics and the supervisor."""

    config: StationConfig
    metrics: StationMetrics
    supervisor: Supervisor
