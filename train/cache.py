"""Decode and preprocess every image once into an in-memory float32 array (data sets here are small).

Augmentation then works on this cache, so each epoch costs no JPEG decoding on a 2-core machine.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from auroral.edge import progress
from auroral.edge.errors import UserError
from auroral.edge.framebatch import FrameLoader
from auroral.edge.preprocess import PreprocessSpec
from auroral.train.datasets import MAX_LISTED

log = logging.getLogger(__name__)


def preprocess_files(paths: list[Path], spec: PreprocessSpec, desc: str = "decode") -> np.ndarray:
    """(N, 3, S, S) float32 for ``paths``; every unreadable file is listed in one :class:`UserError`."""
    loader = FrameLoader(spec)
    out = np.zeros((len(paths), 3, spec.size, spec.size), np.float32)
    bad: list[str] = []
    for i, path in enumerate(progress.bar(paths, desc=desc, unit="img", leave=False, hide=len(paths) < 50)):
        bad += [f"{path} ({reason})" for _, reason in loader.load([path], out=out[i:i + 1]).failed]
    if bad:
        shown = ", ".join(bad[:MAX_LISTED]) + (f" (+{len(bad) - MAX_LISTED} more)" if len(bad) > MAX_LISTED else "")
        raise UserError(f"unreadable images ({len(bad)}): {shown}")
    log.info("event=cache_built images=%d size=%d mbytes=%.1f", len(paths), spec.size, out.nbytes / 2**20)
    return out
