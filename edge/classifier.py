"""Frame → label: load (decode + preprocess) and infer with a bundle. Used by the station, archives and tests."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from auroral.edge.backends import create_backend
from auroral.edge.bundle import Bundle, BundleError, load_bundle
from auroral.edge.framebatch import FrameBatch, FrameLoader


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    probabilities: dict[str, float]


class Classifier:
    """A loaded bundle with its preprocessing and one inference backend.

    ``precision="auto"`` runs int8 where the bundle's export showed it costs under 0.5 pp of validation
    accuracy, else fp32. ``circle`` (cx, cy, r in full-frame pixels) is the camera's own field of view, used
    instead of the bundle's (:class:`~auroral.edge.framebatch.FrameLoader`).
    """

    def __init__(self, bundle: Bundle | str | Path, backend: str = "ort-cpu", precision: str = "fp32",
                 threads: int | None = None, pin_threads: bool = False,
                 circle: tuple[float, float, float] | None = None):
        self.bundle = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
        self.precision = precision = self.bundle.choose_precision() if precision == "auto" else precision
        self.loader = FrameLoader(self.bundle.manifest.preprocess, circle)
        self.backend = create_backend(self.bundle, backend, precision, threads, pin_threads)
        self.classes = list(self.bundle.classes)
        self.model_name = self.bundle.manifest.model.name
        self.model_sha256 = self.bundle.sha256(precision)
        self._check_against_manifest()

    def _check_against_manifest(self) -> None:
        """One inference on a dummy batch: a model that does not take the manifest's input or does not give
        one probability per manifest class is refused now, in one line, instead of every frame failing
        (or being labelled wrongly) later."""
        size = self.loader.spec.size
        where = f"bundle {self.bundle.root} ({self.precision})"
        try:
            out = np.asarray(self.backend.infer(np.zeros((2, 3, size, size), np.float32)))
        except Exception as exc:  # noqa: BLE001 - each runtime raises its own types for a shape mismatch
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise BundleError(f"{where}: the model does not take the 2×3×{size}×{size} input its manifest "
                              f"describes ({first[:200]})") from exc
        if out.shape != (2, len(self.classes)):
            raise BundleError(f"{where}: the model gives outputs of shape {out.shape}, but its manifest names "
                              f"{len(self.classes)} classes (expected (2, {len(self.classes)}))")
        if not np.all(np.isfinite(out)) or not np.allclose(out.sum(axis=1), 1.0, atol=1e-2):
            raise BundleError(f"{where}: the model's outputs are not probabilities (rows sum to "
                              f"{np.round(out.sum(axis=1), 3).tolist()})")

    def bind_caller(self) -> None:
        """Call once from the thread that will run :meth:`predict` (the backend may pin it to a CPU)."""
        self.backend.bind_caller()

    def load(self, paths: Sequence[str | Path], out: np.ndarray | None = None) -> FrameBatch:
        """Decode and preprocess ``paths``; unreadable frames come back with their reason, never raised."""
        return self.loader.load(paths, out)

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        """Classify an already preprocessed (N, 3, S, S) batch."""
        probabilities = self.backend.infer(batch)
        return [self._prediction(row) for row in probabilities]

    def classify(self, images: list[np.ndarray]) -> list[Prediction]:
        """Classify decoded images (tests and tools; the station and archives go through :meth:`load`)."""
        return self.predict(self.loader.batch(images))

    def _prediction(self, row: np.ndarray) -> Prediction:
        best = int(np.argmax(row))
        return Prediction(
            label=self.classes[best],
            confidence=float(row[best]),
            probabilities={c: round(float(p), 6) for c, p in zip(self.classes, row, strict=True)},
        )
