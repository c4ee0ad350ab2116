"""Thumbnails for dashboards: a small JPEG of the newest frame, kept under a size cap (``[mqtt] thumbnails``).

A thumbnail is made from the file by :func:`~auroral.edge.station.snapshot.snapshot_jpeg` (the pipeline's read
guards, a reduced JPEG decode), on the decode thread, while the inference thread runs the model on the batch
before: only for a live frame captured after every frame decided so far, so a backlog costs nothing. Measured
on this project's synthetic all-sky frames, that is 6 ms (1024 px), 14 ms (2048 px) and 27 ms (3000 px) per
frame, against 0.2-1.5 ms from the image the loader has just decoded; the loader does not hand that image out,
and its reduced decode stops at the model's input size (256 px for a 1024 px frame), below a 320 px thumbnail.
At a camera's cadence (a frame every few seconds or more) the file costs a few per mille of one core.

A thumbnail over the cap is re-encoded at lower qualities, then at half the size, until it fits; one that never
fits is skipped with a log line. :class:`RecentThumbnails` keeps the last few by frame name, so the frame that
started a breakup onset (a few frames back) can be published on ``thumbnail/onset`` without reading it again.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from auroral.edge.frames import FrameError
from auroral.edge.station.snapshot import snapshot_jpeg

log = logging.getLogger("auroral.thumbnails")

_QUALITIES = (70, 55, 40, 25)  # tried in turn after snapshot_jpeg's own quality
_MIN_SIDE = 32  # smaller than this shows nothing of the sky: skip instead


def thumbnail(path: Path, max_side: int, max_bytes: int) -> bytes | None:
    """A JPEG of the frame at ``path``, longer side at most ``max_side``, at most ``max_bytes`` long; None (logged)
    when the file cannot be read or no encoding fits."""
    try:
        data = snapshot_jpeg(path, max_side)
    except FrameError as exc:
        log.warning("event=thumbnail_skipped frame=%r reason=%r", path.name, str(exc))
        return None
    if len(data) <= max_bytes:
        return data
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    side = max(image.shape[:2]) if image is not None else 0
    while image is not None and side >= _MIN_SIDE:
        scale = side / max(image.shape[:2])
        scaled = image if scale >= 1 else cv2.resize(
            image, (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
            interpolation=cv2.INTER_AREA)
        for quality in _QUALITIES:
            ok, encoded = cv2.imencode(".jpg", scaled, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok and encoded.size <= max_bytes:
                return encoded.tobytes()
        side //= 2
    log.warning("event=thumbnail_skipped frame=%r reason=over_cap max_bytes=%d", path.name, max_bytes)
    return None


class RecentThumbnails:
    """The thumbnails of the last ``keep`` frames by name: an onset names a frame of its window, already seen."""

    def __init__(self, keep: int):
        self.keep = keep
        self._by_name: OrderedDict[str, bytes] = OrderedDict()

    def add(self, name: str, jpeg: bytes) -> None:
        self._by_name[name] = jpeg
        self._by_name.move_to_end(name)
        while len(self._by_name) > self.keep:
            self._by_name.popitem(last=False)

    def get(self, name: str | None) -> bytes | None:
        return self._by_name.get(name) if name is not None else None
