"""A small JPEG of one frame, for a person to look at (the station page's ``/latest.jpg``).

The frame is read with the same guards as the pipeline's (:func:`~auroral.edge.frames.read_frame`: regular
files only, size limits, a reduced JPEG decode), brought to 8 bits and shrunk so that its longer side is at
most ``max_side`` pixels; a frame already that small keeps its size.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from auroral.edge.frames import FrameError, read_frame

MAX_SIDE = 640
QUALITY = 85


def snapshot_jpeg(path: str | Path, max_side: int = MAX_SIDE) -> bytes:
    """The frame at ``path`` as JPEG bytes; a :class:`FrameError` when it cannot be read or encoded."""
    image = _eight_bit(read_frame(path, min_side=max_side))
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))),
                           interpolation=cv2.INTER_AREA)
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])
    if not ok:
        raise FrameError("could not encode a JPEG of the frame")
    return data.tobytes()


def _eight_bit(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype == np.float32:
        return np.round(image * 255).astype(np.uint8)
    return image
