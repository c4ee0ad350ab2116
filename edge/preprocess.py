"""Preprocessing shared by training, export, the station and archive runs.

One spec, one implementation: an all-sky frame (H×W×3 RGB or H×W mono, uint8 or uint16) is cropped
to the square around the circular field of view (padded with black where the circle reaches past the
frame's edge, as on a 720×480 sensor, so the square stays square), resized, scaled to [0, 1], normalised per channel,
masked outside the circle, and returned as float32 CHW. The spec is stored in every model bundle so
the station reproduces exactly what the model saw in training.
"""
from __future__ import annotations

from functools import cached_property
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: sample types a frame may have (what :func:`auroral.edge.frames.read_frame` returns; float32 is in [0, 1])
_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


class PreprocessSpec(BaseModel):
    """How a frame becomes a model input; serialised into the bundle manifest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(224, ge=8, le=2048, description="square model input side, pixels")
    fov_center: tuple[float, float] = Field((0.5, 0.5),
                                            description="circle centre (x, y) as fractions of width, height")
    fov_radius: float = Field(0.5, gt=0, le=1.0, description="circle radius as a fraction of min(width, height)")
    mask: bool = Field(True, description="zero everything outside the circular field of view")
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    colour_order: Literal["RGB"] = "RGB"
    layout: Literal["NCHW"] = "NCHW"

    def crop_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) of the square around the field of view, clipped to the frame."""
        radius = self.fov_radius * min(height, width)
        cx, cy = self.fov_center[0] * width, self.fov_center[1] * height
        top, bottom = _span(cy - radius, cy + radius, height)
        left, right = _span(cx - radius, cx + radius, width)
        return top, bottom, left, right

    def square_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) of the square around the field of view, not clipped: it may reach past
        the frame's edges (a circle cut off by the sensor). Inside the frame it equals :meth:`crop_box`."""
        radius = self.fov_radius * min(height, width)
        cx, cy = self.fov_center[0] * width, self.fov_center[1] * height
        top, left = round(cy - radius), round(cx - radius)
        return top, max(top + 1, round(cy + radius)), left, max(left + 1, round(cx + radius))

    def for_circle(self, cx: float, cy: float, r: float, width: int, height: int) -> PreprocessSpec:
        """This spec with the field of view of a camera's own circle, given in pixels of a ``width``×``height``
        frame and stored as fractions, so a reduced decode of the same frame crops the same sky."""
        return PreprocessSpec.model_validate(self.model_dump() | {
            "fov_center": (cx / width, cy / height), "fov_radius": r / min(width, height)})

    def min_source_side(self) -> int:
        """Smallest frame side that still gives the model full resolution (for reduced JPEG decode)."""
        return int(np.ceil(self.size / (2 * self.fov_radius)))


def _span(start: float, stop: float, length: int) -> tuple[int, int]:
    """[start, stop) rounded and clipped to [0, length), never empty: a tiny frame still crops to one pixel."""
    first = min(max(0, round(start)), length - 1)
    return first, max(first + 1, min(length, round(stop)))


class Preprocessor:
    """Applies a :class:`PreprocessSpec`; caches the mask and the affine scale so frames cost one pass."""

    def __init__(self, spec: PreprocessSpec):
        self.spec = spec

    @cached_property
    def _mask(self) -> np.ndarray:
        s = self.spec.size
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        centre = (s - 1) / 2.0
        inside = (xx - centre) ** 2 + (yy - centre) ** 2 <= (s / 2.0) ** 2
        return inside.astype(np.float32)

    def _affine(self, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        peak = 65535.0 if dtype == np.uint16 else 255.0 if dtype == np.uint8 else 1.0
        std = np.asarray(self.spec.std, np.float32)
        scale = (1.0 / (peak * std)).reshape(3, 1, 1)
        offset = (-np.asarray(self.spec.mean, np.float32) / std).reshape(3, 1, 1)
        return scale, offset

    def __call__(self, image: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return (or write into ``out``) the float32 (3, size, size) model input for one frame."""
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3) or 0 in image.shape:
            raise ValueError(f"expected an H×W or H×W×3 image, got shape {image.shape}")
        if image.dtype not in _DTYPES:
            raise ValueError(f"expected uint8, uint16 or float32 samples, got {image.dtype}")
        s = self.spec.size
        resized = cv2.resize(self._square(image), (s, s), interpolation=cv2.INTER_AREA)
        if resized.ndim == 2:
            resized = np.repeat(resized[:, :, None], 3, axis=2)
        scale, offset = self._affine(resized.dtype)
        if out is None:
            out = np.empty((3, s, s), np.float32)
        np.multiply(resized.transpose(2, 0, 1), scale, out=out, casting="unsafe")
        out += offset
        if self.spec.mask:
            out *= self._mask
        return out

    def _square(self, image: np.ndarray) -> np.ndarray:
        """The square around the field of view: a view of ``image``, or a black-padded copy where the square
        reaches past the frame's edges (so the circle stays round and centred under the mask)."""
        height, width = image.shape[:2]
        top, bottom, left, right = self.spec.square_box(height, width)
        inside = self.spec.crop_box(height, width)
        if inside == (top, bottom, left, right):
            return image[top:bottom, left:right]
        if top >= height or bottom <= 0 or left >= width or right <= 0:
            raise ValueError(f"the field of view lies outside the {width}×{height} frame")
        square = np.zeros((bottom - top, right - left, *image.shape[2:]), image.dtype)
        square[inside[0] - top:inside[1] - top, inside[2] - left:inside[3] - left] = \
            image[inside[0]:inside[1], inside[2]:inside[3]]
        return square

    def batch(self, images: list[np.ndarray]) -> np.ndarray:
        """Stack several frames into one (N, 3, size, size) float32 array without extra copies."""
        out = np.empty((len(images), 3, self.spec.size, self.spec.size), np.float32)
        for i, image in enumerate(images):
            self(image, out=out[i])
        return out
