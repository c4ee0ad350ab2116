"""A station :class:`~auroral.edge.station.supervisor.Context` for testing one component in-process."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auroral.edge.classes import CLASSES, default_class_sets
from auroral.edge.station.config import StationConfig
from auroral.edge.station.metrics import StationMetrics
from auroral.edge.station.supervisor import Context, Supervisor


def make_context(state_dir: Path, **sections: Any) -> Context:
    """A context over ``state_dir`` with the given config sections (e.g. ``journal={"prune_every_s": 0.2}``)."""
    config = StationConfig.model_validate({"state_dir": str(state_dir), "watch": {"dirs": [str(state_dir)]},
                                           "model": {"bundle": str(state_dir)}, **sections})
    auroral, onset = default_class_sets(CLASSES)  # what a bundle of the seven classes says
    config = config.with_classes(list(CLASSES), auroral, onset)
    metrics = StationMetrics()
    return Context(config, metrics, Supervisor(metrics, threading.Event()))


def failures(context: Context, component: str) -> float:
    """``auroral_component_failures_total{component=...}`` as the metrics endpoint would show it."""
    value = context.metrics.registry.get_sample_value("auroral_component_failures_total", {"component": component})
    return value or 0.0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
