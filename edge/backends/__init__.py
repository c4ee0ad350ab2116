"""Inference backends behind one interface, so the station can swap ONNX Runtime and TensorRT.

A backend takes the preprocessed float32 NCHW batch and returns float32 N×C class probabilities.
Backends are chosen by name from one registry, :data:`BACKENDS`: the station config's ``[model] backend``
type and every ``--backend`` choice derive from it. Each backend says clearly when its runtime is not
installed here.
"""
from __future__ import annotations

from typing import Literal, Protocol, get_args

import numpy as np

from auroral.edge.bundle import Bundle
from auroral.edge.errors import UserError

BackendName = Literal["ort-cpu", "ort-cuda", "ort-tensorrt", "tensorrt"]
#: every backend name, in the order they are listed to the user
BACKENDS: tuple[BackendName, ...] = get_args(BackendName)


class Backend(Protocol):
    name: str

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 → (N, C) float32 probabilities."""

    def bind_caller(self) -> None:
        """Called once by the thread that will run :meth:`infer` (pins it where the backend pins threads)."""


def create_backend(bundle: Bundle, kind: str = "ort-cpu", precision: str = "fp32", threads: int | None = None,
                   pin: bool = False) -> Backend:
    """Build the named backend for one precision variant of a bundle; ``pin``: one CPU per CPU inference thread."""
    if kind not in BACKENDS:
        raise UserError(f"unknown backend {kind!r}; choose one of {', '.join(BACKENDS)}")
    if kind == "tensorrt":
        from auroral.edge.backends.tensorrt import TensorRTBackend

        return TensorRTBackend(bundle, precision)
    from auroral.edge.backends.ort import OrtBackend

    return OrtBackend(bundle, precision, provider=kind, threads=threads, pin=pin)
