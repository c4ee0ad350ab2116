"""Where the sky is in a camera's frames: the fisheye circle, found from a handful of frames.

All-sky frames hold more than sky: a black border, burned-in time strips, station names and logos, and
horizon clutter. Only the sky inside the fisheye circle may reach the model, so the circle is found once
per camera and every frame is cropped to it and masked outside it (:class:`auroral.edge.framebatch.FrameLoader`).

The frames are averaged (noise and passing clouds fade, the fixed circle stays), blurred, and split at
the level halfway between the border (the frame's corners, which lie outside any fisheye circle) and the
sky (the frame's centre). A circle is fitted by least squares to the edge of the largest bright region,
leaving out edge points on the frame's border (a circle cut off by the sensor) and points far from the
fit (a text strip or logo touching the circle). A result that is not a plausible fisheye circle (too
small, centre outside the frame, a poor fit) is a :class:`CircleError`, never a guess.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auroral.edge.frames import FrameError, load_frame

log = logging.getLogger(__name__)

#: frames averaged for one detection
DEFAULT_FRAMES = 20
#: side of the working image the circle is found on (the result is scaled to the full frame)
WORK_SIDE = 512
#: a circle smaller than this fraction of the frame's short side is not a fisheye field of view
MIN_RADIUS_FRACTION = 0.25
#: where between the border's level (0) and the sky's (1) the sky ends
THRESHOLD = 0.35
#: the share of the fitted disc the bright region must fill, and the most of the region outside the disc
MIN_FILLED, MAX_OUTSIDE = 0.9, 0.2
#: the highest level (0 border, 1 sky) allowed just outside the circle
MAX_RING_LEVEL = 0.15


class CircleError(Exception):
    """The frames show no plausible fisheye circle (already cropped, all sky, all dark, or no frames)."""


@dataclass(frozen=True)
class Circle:
    """A fisheye circle in pixels of full-size frames of ``width``×``height``."""

    cx: float
    cy: float
    r: float
    width: int
    height: int

    @property
    def pixels(self) -> tuple[float, float, float]:
        return self.cx, self.cy, self.r

    def __str__(self) -> str:
        return f"{self.cx:.1f},{self.cy:.1f},{self.r:.1f} ({self.width}×{self.height} frames)"


def find_circle(images: Sequence[np.ndarray], full_size: tuple[int, int] | None = None) -> Circle:
    """The fisheye circle of ``images`` (decoded frames of one camera, all of one shape), in pixels of frames of
    ``full_size`` (width, height; unset: the images' own size, which a reduced decode makes smaller)."""
    if not images:
        raise CircleError("no frames to find the circle in")
    height, width = images[0].shape[:2]
    if any(image.shape[:2] != (height, width) for image in images):
        raise CircleError("the frames differ in size")
    full_width, full_height = full_size or (width, height)
    scale = WORK_SIDE / max(width, height)
    work_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    stack = np.mean([cv2.resize(_grey(image), work_size, interpolation=cv2.INTER_AREA) for image in images], axis=0)
    cx, cy, r = _fit(stack.astype(np.float32))
    to_full = full_width / work_size[0], full_height / work_size[1]
    circle = Circle(cx * to_full[0], cy * to_full[1], r * (to_full[0] + to_full[1]) / 2, full_width, full_height)
    _check_plausible(circle)
    return circle


def find_circle_in_files(paths: Sequence[Path], frames: int = DEFAULT_FRAMES) -> Circle:
    """The circle of the newest ``frames`` of ``paths`` that decode, at a reduced size; the frames of the newest
    one's size only (a camera that changed mode)."""
    images: list[np.ndarray] = []
    full_size: tuple[int, int] | None = None
    for path in sorted(paths, key=_mtime, reverse=True):
        if len(images) >= frames:
            break
        try:
            frame = load_frame(path, min_side=WORK_SIDE)
        except FrameError as exc:
            log.debug("event=circle_frame_skipped frame=%r reason=%r", str(path), str(exc))
            continue
        if full_size is None:
            full_size = frame.full_size
        if frame.full_size == full_size and (not images or frame.image.shape[:2] == images[0].shape[:2]):
            images.append(frame.image)
    if not images:
        raise CircleError("no decodable frames to find the circle in")
    return find_circle(images, full_size)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _grey(image: np.ndarray) -> np.ndarray:
    """Brightest channel in [0, 1] float32: a coloured sky and a grey one stand out from black alike."""
    peak = 65535.0 if image.dtype == np.uint16 else 255.0 if image.dtype == np.uint8 else 1.0
    grey = image.max(axis=2) if image.ndim == 3 else image
    return grey.astype(np.float32) / np.float32(peak)


def _fit(stack: np.ndarray) -> tuple[float, float, float]:
    """(cx, cy, r) of the sky's circle in ``stack`` pixels."""
    height, width = stack.shape
    short = min(height, width)
    blurred = cv2.GaussianBlur(stack, (0, 0), 1.0)  # noise only: a wider blur would merge text into bands
    border, noise = _border(blurred)
    middle = max(2, short // 8)
    sky = float(np.median(blurred[height // 2 - middle:height // 2 + middle, width // 2 - middle:width // 2 + middle]))
    if sky - border <= max(0.004, 4 * noise):
        raise CircleError(f"no contrast between the sky ({sky:.3f}) and the frame's border ({border:.3f}): "
                          "frames already cropped to the sky, or too dark")
    threshold = ((blurred > border + THRESHOLD * (sky - border)) * 255).astype(np.uint8)
    side = max(3, short // 30) | 1  # wider than a text stroke, far narrower than the circle
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    bright = cv2.morphologyEx(threshold, cv2.MORPH_OPEN, kernel)
    contours, _ = cv2.findContours(bright, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise CircleError("no bright region in the frames")
    largest = max(contours, key=cv2.contourArea)
    region = cv2.drawContours(np.zeros_like(bright), [largest], -1, 255, cv2.FILLED)
    cx, cy, r = _inscribed(region)
    points = largest.reshape(-1, 2).astype(np.float64)
    on_edge = (points[:, 0] <= 1) | (points[:, 1] <= 1) | (points[:, 0] >= width - 2) | (points[:, 1] >= height - 2)
    points = points[~on_edge]
    for tolerance in (max(2.0, 0.03 * short), 1.5):  # the circle's edge only, not a strip or logo that touches it
        points = points[np.abs(np.hypot(points[:, 0] - cx, points[:, 1] - cy) - r) <= tolerance]
        if len(points) < 20:
            raise CircleError("the bright region has too little round edge inside the frame: frames already "
                              "cropped to the sky")
        cx, cy, r = _least_squares(points)
    r += 0.5  # the contour runs through the outermost bright pixels' centres
    _check_disc(region, cx, cy, r)
    _check_sharp_edge(blurred, cx, cy, r, border, sky)
    return cx, cy, r


def _border(blurred: np.ndarray) -> tuple[float, float]:
    """(level, noise) of the black outside the circle: the darkest of patches at the corners and the middles
    of the sides, so a logo in one corner or a text strip along two sides does not count as the border."""
    height, width = blurred.shape
    side = max(2, min(height, width) // 16)
    tops, lefts = (0, (height - side) // 2, height - side), (0, (width - side) // 2, width - side)
    patches = [blurred[top:top + side, left:left + side] for top in tops for left in lefts
               if (top, left) != (tops[1], lefts[1])]
    darkest = min(patches, key=lambda patch: float(np.median(patch)))
    level = float(np.median(darkest))
    return level, 1.4826 * float(np.median(np.abs(darkest - level)))  # robust to a few letters in the patch


def _inscribed(region: np.ndarray) -> tuple[float, float, float]:
    """The largest circle inside ``region`` (uint8, 255 inside): a first estimate that a strip or logo touching
    the circle does not move. The frame's edges are extended outwards, so a circle the sensor cuts off is
    not shrunk to fit the frame."""
    pad = min(region.shape) // 2
    distance = cv2.distanceTransform(cv2.copyMakeBorder(region, pad, pad, pad, pad, cv2.BORDER_REPLICATE),
                                     cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    _, radius, _, (x, y) = cv2.minMaxLoc(distance)
    return float(x - pad), float(y - pad), float(radius)


def _least_squares(points: np.ndarray) -> tuple[float, float, float]:
    """Algebraic (Kåsa) circle fit: x² + y² = 2·cx·x + 2·cy·y + c, solved for cx, cy, c."""
    x, y = points[:, 0], points[:, 1]
    design = np.column_stack([2 * x, 2 * y, np.ones_like(x)])
    (cx, cy, c), *_ = np.linalg.lstsq(design, x * x + y * y, rcond=None)
    return float(cx), float(cy), float(np.sqrt(max(c + cx * cx + cy * cy, 0.0)))


def _check_disc(region: np.ndarray, cx: float, cy: float, r: float) -> None:
    """The fitted disc must be the bright region: filled by it, with little of the region outside it."""
    yy, xx = np.mgrid[0:region.shape[0], 0:region.shape[1]]
    disc = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    filled = (region & disc).sum() / max(1, disc.sum())
    outside = (region & ~disc).sum() / max(1, region.sum())
    if filled < MIN_FILLED or outside > MAX_OUTSIDE:
        raise CircleError(f"the bright region is not a circle (fills {filled:.0%} of the fitted disc, "
                          f"{outside:.0%} of it lies outside)")


def _check_sharp_edge(blurred: np.ndarray, cx: float, cy: float, r: float, border: float, sky: float) -> None:
    """Just outside the circle the frame must be as dark as its border: a fisheye's edge is sharp, while a
    sky that merely darkens towards the horizon (frames already cropped to the sky) fades slowly."""
    short = min(blurred.shape)
    yy, xx = np.mgrid[0:blurred.shape[0], 0:blurred.shape[1]]
    distance = np.hypot(xx - cx, yy - cy)
    ring = (distance > r + 0.025 * short) & (distance <= r + 0.05 * short)
    if ring.any():
        level = (float(np.median(blurred[ring])) - border) / (sky - border)
        if level > MAX_RING_LEVEL:
            raise CircleError(f"the sky fades out instead of ending at a circle (just outside it: {level:.0%} of "
                              "the sky's level): frames already cropped to the sky")


def _check_plausible(circle: Circle) -> None:
    short = min(circle.width, circle.height)
    if not (0 <= circle.cx < circle.width and 0 <= circle.cy < circle.height):
        raise CircleError(f"found a circle centred outside the frame ({circle})")
    if circle.r < MIN_RADIUS_FRACTION * short:
        raise CircleError(f"found a circle of radius {circle.r:.0f} px, too small for a fisheye field of view in "
                          f"{circle.width}×{circle.height} frames")
    if circle.r > 0.5 * np.hypot(circle.width, circle.height):
        raise CircleError(f"found a circle of radius {circle.r:.0f} px, larger than the frame ({circle})")
