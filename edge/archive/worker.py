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

from auroral.edge.capture_time import CaptureTime
from auroral.edge.classifier import Classifier, Prediction

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


def classify_chunk(bundle_dir: str, precision: str, paths: list[str], capture: CaptureTime) -> ChunkResult:
    """Classify ``paths`` exactly as the station does (load → infer), in micro-batches of :data:`INFER_BATCH`
    frames, so a large chunk does not need gigabytes for a CNN; a bad frame is reported, never fatal."""
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
            result.rows += [_row(group[index], prediction, capture, classifier.model_sha256)
                            for index, prediction in zip(loaded.loaded, predictions, strict=True)]
    return result


def _row(path: str, prediction: Prediction, capture: CaptureTime, model_sha256: str) -> dict:
    row = {"path": path, "captured_at": capture.from_name(Path(path).name),
           "label": prediction.label, "confidence": prediction.confidence}
    row.update({f"p_{name}": p for name, p in prediction.probabilities.items()})
    row["model_sha256"] = model_sha256
    return row
