"""What one archive worker does with a chunk of paths: decode, preprocess, infer, return plain rows.

The worker keeps its :class:`~auroral.edge.classifier.Classifier` in a process-wide cache, so each
worker process (local pool or Dask) verifies and loads the bundle once, not once per chunk. Frames
that cannot be loaded are returned as errors (with the station's reasons) instead of failing the chunk.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from auroral.edge.capture_time import Captured, CaptureTime
from auroral.edge.classifier import Classifier, Prediction
from auroral.edge.sky import SkyModel

log = logging.getLogger(__name__)

#: frames per inference call: large enough for efficient ONNX Runtime batches, small enough for memory
INFER_BATCH = 32

_CLASSIFIERS: dict[tuple[str, str], Classifier] = {}


@dataclass
class ChunkResult:
    """Rows for the Parquet dataset (one dict per frame) and (path, reason) for unreadable frames."""

    rows: list[dict] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def worker_classifier(bundle_dir: str, precision: str) -> Classifier:
    """The classifier of this process, loaded on first use; one ONNX Runtime thread per worker."""
    key = (bundle_dir, precision)
    if key not in _CLASSIFIERS:
        _CLASSIFIERS[key] = Classifier(bundle_dir, "ort-cpu", precision, threads=1)
        log.info("event=archive_worker_bundle_loaded bundle=%s precision=%s", bundle_dir, precision)
    return _CLASSIFIERS[key]


def classify_chunk(bundle_dir: str, precision: str, paths: list[str], capture: CaptureTime,
                   sky: SkyModel | None = None) -> ChunkResult:
    """Classify ``paths`` exactly as the station does (load → infer), in micro-batches of :data:`INFER_BATCH`
    frames, so a large chunk does not need gigabytes for a CNN; a bad frame is reported, never fatal.
    With a ``sky`` model (the site), each row also says how dark the sky was."""
    classifier = worker_classifier(bundle_dir, precision)
    size = classifier.loader.spec.size
    buffer = np.empty((INFER_BATCH, 3, size, size), np.float32)
    result = ChunkResult()
    for start in range(0, len(paths), INFER_BATCH):
        group = paths[start:start + INFER_BATCH]
        loaded = classifier.load(group, out=buffer)
        result.errors += [(group[index], reason) for index, reason in loaded.failed]
        if loaded.loaded:
            predictions = classifier.predict(loaded.batch)
            result.rows += [_row(group[index], capture(Path(group[index]), header), prediction,
                                 classifier.model_sha256, sky)
                            for index, header, prediction
                            in zip(loaded.loaded, loaded.headers, predictions, strict=True)]
    return result


def _row(path: str, captured: Captured, prediction: Prediction, model_sha256: str, sky: SkyModel | None) -> dict:
    """``captured`` comes from the header the loader already read, so no file is opened twice."""
    row = {"path": path, "captured_at": captured.at, "time_source": captured.source,
           "label": prediction.label, "confidence": prediction.confidence}
    if sky is not None:
        at = sky.at(captured.at)
        row.update({"sky": at.kind, "sun_elevation": at.sun_elevation, "moonlit": at.moonlit,
                    "moon_elevation": at.moon_elevation if at.moon_up else None,
                    "moon_illumination": at.moon_illumination if at.moon_up else None})
    row.update({f"p_{name}": p for name, p in prediction.probabilities.items()})
    row["model_sha256"] = model_sha256
    return row
