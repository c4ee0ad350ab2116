"""Real images for parity checks and INT8 calibration, decoded and preprocessed exactly as the station does."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from auroral.edge.errors import UserError
from auroral.edge.framebatch import FrameLoader
from auroral.edge.frames import is_frame
from auroral.edge.preprocess import PreprocessSpec
from auroral.export.source import label_index


def load_batch(paths: Sequence[Path], spec: PreprocessSpec) -> np.ndarray:
    """Decode and preprocess frames into one (N, 3, S, S) float32 batch; unreadable frames are a UserError."""
    loaded = FrameLoader(spec).load(paths)
    if loaded.failed:
        index, reason = loaded.failed[0]
        raise UserError(f"cannot read image {paths[index]}: {reason}")
    return loaded.batch


def labelled_batch(items: Sequence[tuple[Path, Any]], spec: PreprocessSpec, classes: list[str],
                   limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(batch, label indices) for the first ``limit`` items of a split."""
    chosen = list(items)[:limit] if limit else list(items)
    if not chosen:
        raise UserError("the training run has no validation images to check the exported model against")
    batch = load_batch([Path(p) for p, _ in chosen], spec)
    labels = np.array([label_index(label, classes) for _, label in chosen], dtype=np.int64)
    return batch, labels


def frames_under(directory: Path, what: str = "calibration data") -> list[Path]:
    """All frame files below ``directory``, sorted so calibration is reproducible; ``what`` names it in errors."""
    if not directory.is_dir():
        raise UserError(f"{what} {directory} does not exist or is not a directory")
    found = sorted(p for p in directory.rglob("*") if p.is_file() and is_frame(p))
    if not found:
        raise UserError(f"{what} {directory} contains no images (.jpg, .png, .fits)")
    return found


def batches(paths: Sequence[Path], spec: PreprocessSpec, size: int) -> Iterator[np.ndarray]:
    """Preprocessed batches of at most ``size`` frames, decoded lazily to bound memory."""
    for start in range(0, len(paths), size):
        yield load_batch(paths[start:start + size], spec)
