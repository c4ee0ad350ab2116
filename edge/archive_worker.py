"""What one archive worker does with a chunk of paths: decode, preprocess, infer, return plain rows.

The worker keeps its :class:`~auroral.edge.classifier.Classifier` in a process-wide cache, so each
worker process (local pool or Dask) verifies and loads the bundle once, not once per chunk. Frames
that cannot be decoded are returned as errors instead of failing the chunk.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classifier import Classifier
from .frames import FrameError
from .capture_time import CaptureTime

log = logging.getLogger(__name__)

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
    """Classify ``paths`` in one batch, exactly as the station does (decode → preprocess → infer).

    Frames are preprocessed one by one into the batch (what ``Preprocessor.batch`` does) so that a
    single bad frame is reported instead of failing the whole chunk.
    """
    classifier = worker_classifier(bundle_dir, precision)
    size = classifier.preprocessor.spec.size
    batch = np.empty((len(paths), 3, size, size), np.float32)
    result, good = ChunkResult(), []
    for path in paths:
        try:
            classifier.preprocessor(classifier.decode(path), out=batch[len(good)])
        except (FrameError, ValueError) as exc:  # ValueError: decodes, but not an H×W(×3) image
            result.errors.append((path, str(exc)))
            continue
        good.append(path)
    if not good:
        return result
    for path, prediction in zip(good, classifier.predict(batch[:len(good)])):
        row = {"path": path, "captured_at": capture.from_name(Path(path).name),
               "label": prediction.label, "confidence": prediction.confidence}
        row.update({f"p_{name}": p for name, p in prediction.probabilities.items()})
        row["model_sha256"] = classifier.model_sha256
        result.rows.append(row)
    return result
