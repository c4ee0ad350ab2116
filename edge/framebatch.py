"""Frame files → one preprocessed batch, plus the reason for every file that could not join it.

The station, the archive, training and export all turn a list of paths into model input through
:class:`FrameLoader`, so a bad frame is treated the same everywhere: it is reported with its reason and
never affects the other frames of its batch. Any exception a decoder or the preprocessing raises for
one file (a truncated JPEG, an image of an odd shape, a bug in a decoder on an odd file) becomes that
file's reason; nothing escapes to the caller's thread.

A camera's own fisheye circle (:mod:`auroral.edge.circle`), in pixels of its full-size frames, replaces the
spec's field of view: it is turned into fractions with each frame's full size from its header, so a reduced
JPEG decode crops the same sky, and only the sky inside it reaches the model.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from auroral.edge.frames import FileVersion, FrameError, MinSide, load_frame, read_frame
from auroral.edge.preprocess import Preprocessor, PreprocessSpec

log = logging.getLogger(__name__)


@dataclass
class FrameBatch:
    """The frames of one call that loaded, in order, and why the others did not."""

    batch: np.ndarray  #: (len(loaded), 3, S, S) float32, ready for the model
    loaded: list[int] = field(default_factory=list)  #: indices into the paths given, one per row of ``batch``
    failed: list[tuple[int, str]] = field(default_factory=list)  #: (index into the paths, reason)
    seconds: list[float] = field(default_factory=list)  #: decode + preprocess time of each loaded frame
    versions: list[FileVersion] = field(default_factory=list)  #: the file version each loaded frame came from
    headers: list[bytes] = field(default_factory=list)  #: the start of each loaded file (EXIF, FITS header)


class FrameLoader:
    """Decodes frames at the smallest resolution that still fills the model input, then preprocesses them."""

    def __init__(self, spec: PreprocessSpec, circle: tuple[float, float, float] | None = None):
        """``circle``: (cx, cy, r) of the camera's field of view in pixels of its full-size frames; None keeps
        the spec's own field of view."""
        if circle is not None and not circle[2] > 0:
            raise ValueError(f"circle radius must be positive, got {circle[2]}")
        self.spec = spec
        self.circle = circle
        self.preprocessor = Preprocessor(spec)
        self.min_side: MinSide = spec.min_source_side() if circle is None else self._circle_min_side
        self._per_size: dict[tuple[int, int], Preprocessor] = {}

    def read(self, path: str | Path) -> np.ndarray:
        """One frame as decoded (RGB or mono, native dtype); raises :class:`FrameError`."""
        return read_frame(path, min_side=self.min_side)

    def preprocessor_for(self, width: int, height: int) -> Preprocessor:
        """The preprocessing of a frame whose full size is ``width``×``height`` (the same one without a circle)."""
        if self.circle is None:
            return self.preprocessor
        if (width, height) not in self._per_size:  # a camera has one or two frame sizes
            self._per_size[width, height] = Preprocessor(self.spec.for_circle(*self.circle, width, height))
        return self._per_size[width, height]

    def _circle_min_side(self, width: int, height: int) -> int:
        return self.preprocessor_for(width, height).spec.min_source_side()

    def batch(self, images: list[np.ndarray]) -> np.ndarray:
        """Decoded full-size frames → one (N, 3, S, S) batch (tests and tools; files go through :meth:`load`)."""
        out = np.empty((len(images), 3, self.spec.size, self.spec.size), np.float32)
        for i, image in enumerate(images):
            self.preprocessor_for(image.shape[1], image.shape[0])(image, out=out[i])
        return out

    def load(self, paths: Sequence[str | Path], out: np.ndarray | None = None) -> FrameBatch:
        """Load ``paths`` into ``out`` (a reusable (≥N, 3, S, S) float32 buffer) or a new array."""
        size = self.spec.size
        if out is None:
            out = np.empty((len(paths), 3, size, size), np.float32)
        elif out.shape[0] < len(paths) or out.shape[1:] != (3, size, size) or out.dtype != np.float32:
            raise ValueError(f"buffer of shape {out.shape} cannot hold {len(paths)} frames of 3×{size}×{size}")
        result = FrameBatch(out[:0])
        for index, path in enumerate(paths):
            started = time.perf_counter()
            try:
                frame = load_frame(path, min_side=self.min_side)
                self.preprocessor_for(*frame.full_size)(frame.image, out=out[len(result.loaded)])
            except FrameError as exc:
                result.failed.append((index, str(exc)))
                continue
            except ValueError as exc:  # decodes, but not an image the model can take (shape, channels)
                result.failed.append((index, f"not a usable frame: {exc}"))
                continue
            except Exception as exc:  # noqa: BLE001 - a decoder bug on one odd file must not stop the others
                log.warning("event=decoder_error frame=%r error=%r", os.fspath(path), exc)
                result.failed.append((index, f"decoder error: {exc!r}"))
                continue
            result.loaded.append(index)
            result.seconds.append(time.perf_counter() - started)
            result.versions.append(frame.version)
            result.headers.append(frame.header)
        result.batch = out[:len(result.loaded)]
        return result
