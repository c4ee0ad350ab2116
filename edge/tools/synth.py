"""``auroral synth``: procedural all-sky frames for the seven classes, the test and demo data source.

Labelled all-sky images cannot ship with the code, yet tests, the demo and quick experiments need
frames that look like a fisheye camera's: a circular field of view, stars, sensor noise, green
(557.7 nm) and red (630 nm) emission in arcs, folds, patches and breakups. The classes overlap on
purpose (faint arcs, arcs far from the zenith, weak patches, moonlight and clouds), so a classifier
trained here is not trivially perfect. Synthetic accuracy is never a substitute for real data.
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np

from auroral.edge.classes import CLASSES
from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

FORMATS = ("jpg", "png")
MIN_SIZE, MAX_SIZE = 16, 2048
STATION_PREFIX = "KIR"
MAGNETIC_DECLINATION = np.deg2rad(12.0)  # angle of magnetic east-west in the frame

# how an RGB sensor renders each emission line (linear, unit peak)
GREEN = np.array([0.30, 1.00, 0.35], np.float32)   # OI 557.7 nm
RED = np.array([1.00, 0.10, 0.16], np.float32)     # OI 630.0 nm, high altitude
PURPLE = np.array([0.55, 0.15, 1.00], np.float32)  # N2+ 427.8 nm lower borders blended with red
_AIRGLOW = np.array([0.45, 0.60, 0.80], np.float32)
_CLOUD = np.array([0.80, 0.80, 0.85], np.float32)
# Camera-sized frames are written as cameras and libjpeg write them: 4:2:0 chroma. Small training
# frames keep full-resolution chroma: subsampled colour bleeds into the black outside the circle there.
_CAMERA_SIZE = 512
_JPEG_QUALITY = 95


class _Sky:
    """Pixel coordinates of a fisheye frame: unit circle = horizon, axes rotated about the zenith."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.size = size
        centre, radius = (size - 1) / 2.0, size * 0.49
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        u, v = (xx - centre) / radius, (yy - centre) / radius
        # forms align with the auroral oval, roughly along the station's magnetic east-west (x),
        # so the rotation about the zenith varies around that axis rather than uniformly
        angle = rng.uniform(-0.6, 0.6) + MAGNETIC_DECLINATION
        self.x = np.cos(angle) * u - np.sin(angle) * v
        self.y = np.sin(angle) * u + np.cos(angle) * v
        self.r = np.hypot(u, v)
        self.inside = self.r <= 1.0


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-variance noise with features about ``size / cells`` pixels across."""
    coarse = rng.standard_normal((cells, cells)).astype(np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return (field - field.mean()) / (field.std() + 1e-6)


def _along(rng: np.random.Generator, x: np.ndarray, knots: int, depth: float) -> np.ndarray:
    """Brightness modulation along a form: rays and beads when ``knots`` is large, fading ends when small."""
    positions = np.linspace(-1.6, 1.6, knots)
    values = np.clip(1.0 + depth * rng.standard_normal(knots), 0.05, None)
    return np.interp(x, positions, values).astype(np.float32)


def _band(sky: _Sky, rng: np.random.Generator, offset: float, width: float, curvature: float,
          fold: float = 0.0, rays: float = 0.2) -> np.ndarray:
    """One auroral arc or band: a curved line across the sky, a sharp lower border and a diffuse top."""
    freq, phase = rng.uniform(2.0, 7.0), rng.uniform(0.0, 2.0 * np.pi)
    line = offset + curvature * sky.x ** 2 + fold * np.sin(freq * sky.x + phase)
    line += 0.3 * fold * np.sin(2.3 * freq * sky.x + 2.0 * phase)
    distance = sky.y - line
    sigma = np.where(distance < 0, 0.6 * width, 1.8 * width)
    profile = np.exp(-0.5 * (distance / sigma) ** 2)
    return (profile * _along(rng, sky.x, 48, rays) * _along(rng, sky.x, 5, 0.4)).astype(np.float32)


def _glow(sky: _Sky, cx: float, cy: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((sky.x - cx) ** 2 + (sky.y - cy) ** 2) / sigma ** 2).astype(np.float32)


Emission = tuple[np.ndarray, np.ndarray, np.ndarray]  # green, red, purple intensity maps


def _arcs(sky: _Sky, rng: np.random.Generator) -> Emission:
    green = rng.uniform(0.0, 0.1) * _glow(sky, 0.0, rng.uniform(-0.3, 0.3), 0.5)  # diffuse aurora beside the arcs
    for _ in range(rng.integers(1, 4)):
        green += rng.uniform(0.3, 1.4) * _band(sky, rng, rng.uniform(-0.55, 0.55), rng.uniform(0.025, 0.1),
                                                rng.uniform(-0.35, 0.35), rng.uniform(0.0, 0.04), rng.uniform(0.0, 0.4))
    return green, rng.uniform(0.03, 0.2) * cv2.GaussianBlur(green, (0, 0), sky.size / 20), 0.1 * green


def _discrete(sky: _Sky, rng: np.random.Generator) -> Emission:
    green = np.zeros_like(sky.r)
    for _ in range(rng.integers(1, 4)):
        green += rng.uniform(0.35, 1.7) * _band(sky, rng, rng.uniform(-0.6, 0.6), rng.uniform(0.02, 0.07),
                                                rng.uniform(-0.5, 0.5), rng.uniform(0.03, 0.2), rng.uniform(0.3, 0.9))
    if rng.random() < 0.4:  # a curl or spot of discrete aurora off the main forms
        green += rng.uniform(0.2, 0.8) * _glow(sky, rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6),
                                               rng.uniform(0.05, 0.15))
    return green, rng.uniform(0.05, 0.25) * cv2.GaussianBlur(green, (0, 0), sky.size / 16), 0.2 * green


def _breakup(sky: _Sky, rng: np.random.Generator) -> Emission:
    green = np.zeros_like(sky.r)
    for _ in range(rng.integers(2, 5)):
        green += rng.uniform(0.8, 3.0) * _band(sky, rng, rng.uniform(-0.5, 0.5), rng.uniform(0.04, 0.14),
                                               rng.uniform(-0.6, 0.6), rng.uniform(0.08, 0.3), rng.uniform(0.4, 1.0))
    spread = rng.uniform(0.4, 0.9)  # the widespread brightening of the expansion phase
    green += rng.uniform(0.1, 0.7) * _glow(sky, rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), spread)
    return green, rng.uniform(0.05, 0.3) * green, rng.uniform(0.2, 0.6) * green


def _colored(sky: _Sky, rng: np.random.Generator) -> Emission:
    green = np.zeros_like(sky.r)
    for _ in range(rng.integers(0, 3)):
        green += rng.uniform(0.1, 0.8) * _band(sky, rng, rng.uniform(-0.6, 0.6), rng.uniform(0.03, 0.1),
                                               rng.uniform(-0.4, 0.4), rng.uniform(0.0, 0.12), rng.uniform(0.1, 0.6))
    red = rng.uniform(0.15, 0.7) * np.clip(0.8 + 0.3 * _smooth_noise(rng, sky.size, int(rng.integers(3, 7))), 0, None)
    red *= _glow(sky, rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.4, 1.0))
    red += rng.uniform(0.3, 1.2) * cv2.GaussianBlur(green, (0, 0), sky.size / 14)
    return green, red, rng.uniform(0.2, 0.9) * green + rng.uniform(0.0, 0.3) * red


def _patchy(sky: _Sky, rng: np.random.Generator) -> Emission:
    field = _smooth_noise(rng, sky.size, int(rng.integers(6, 14)))
    green = rng.uniform(0.25, 0.8) * np.clip(field - rng.uniform(-0.3, 0.6), 0, None)
    green += rng.uniform(0.05, 0.2) * _glow(sky, 0.0, 0.0, 0.8)  # the diffuse background the patches sit in
    if rng.random() < 0.3:  # a remnant arc or band of the earlier activity
        green += rng.uniform(0.1, 0.5) * _band(sky, rng, rng.uniform(-0.6, 0.6), rng.uniform(0.05, 0.12),
                                               rng.uniform(-0.3, 0.3), 0.02, 0.3)
    return green, 0.05 * green, 0.05 * green


def _edge(sky: _Sky, rng: np.random.Generator) -> Emission:
    side = rng.choice([-1.0, 1.0])
    green = rng.uniform(0.3, 1.6) * _band(sky, rng, side * rng.uniform(0.7, 0.92), rng.uniform(0.03, 0.1),
                                          side * rng.uniform(-0.3, 0.05), rng.uniform(0.0, 0.1), rng.uniform(0.1, 0.7))
    if rng.random() < 0.4:  # a second, diffuse glow low on the horizon
        green += rng.uniform(0.1, 0.5) * _glow(sky, rng.uniform(-0.6, 0.6), side * 0.95, 0.2)
    horizon_only = np.clip((sky.r - 0.55) / 0.2, 0.0, 1.0)
    green *= horizon_only
    return green, rng.uniform(0.05, 0.4) * green, 0.15 * green


def _faint(sky: _Sky, rng: np.random.Generator) -> Emission:
    green = np.zeros_like(sky.r)
    if rng.random() < 0.6:  # faint diffuse glow; otherwise a clear sky
        green += rng.uniform(0.01, 0.08) * np.clip(1.0 + 0.5 * _smooth_noise(rng, sky.size, 4), 0, None)
        if rng.random() < 0.4:
            green += rng.uniform(0.04, 0.2) * _band(sky, rng, rng.uniform(-0.7, 0.7), rng.uniform(0.08, 0.2), 0.1)
    return green, 0.1 * green, np.zeros_like(green)


_RENDERERS: dict[str, Callable[[_Sky, np.random.Generator], Emission]] = {
    "breakup": _breakup, "colored": _colored, "arcs": _arcs, "discrete": _discrete,
    "patchy": _patchy, "edge": _edge, "faint": _faint,
}


def _stars(sky: _Sky, rng: np.random.Generator) -> np.ndarray:
    count = max(20, int(rng.integers(120, 320) * (sky.size / 256) ** 2))
    rows, cols = rng.integers(0, sky.size, count), rng.integers(0, sky.size, count)
    field = np.zeros_like(sky.r)
    np.add.at(field, (rows, cols), 0.05 * rng.pareto(1.3, count).astype(np.float32) + 0.03)
    return cv2.GaussianBlur(field, (0, 0), max(0.5, sky.size / 700))


def _moon(sky: _Sky, rng: np.random.Generator) -> np.ndarray:
    angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.95)
    offset = np.hypot(sky.x - distance * np.cos(angle), sky.y - distance * np.sin(angle))
    return (rng.uniform(0.1, 0.5) * np.exp(-offset / 0.35) + 3.0 * (offset < 0.04)).astype(np.float32)


def render_frame(label: str, size: int, rng: np.random.Generator, intensity: float = 1.0) -> np.ndarray:
    """One synthetic all-sky frame of class ``label``: H×W×3 uint8 RGB, black outside the fisheye circle.

    ``intensity`` scales the auroral emission only (stars, airglow, moon and noise stay), which is how
    :func:`night_sequence` lets arcs brighten towards a breakup.
    """
    if label not in _RENDERERS:
        raise UserError(f"unknown class {label!r}; expected one of {', '.join(CLASSES)}")
    sky = _Sky(size, rng)
    green, red, purple = _RENDERERS[label](sky, rng)
    aurora = intensity * (green[..., None] * GREEN + red[..., None] * RED + purple[..., None] * PURPLE)
    airglow = rng.uniform(0.004, 0.02) * (1.0 + 2.0 * sky.r ** 2)
    light = aurora + airglow[..., None] * _AIRGLOW
    if rng.random() < 0.12:
        light += _moon(sky, rng)[..., None] * np.array([1.0, 0.95, 0.85], np.float32)
    transmission = np.ones_like(sky.r)
    if rng.random() < 0.2:  # clouds dim what is behind them and scatter moon and city light
        cloud = np.clip(0.4 * _smooth_noise(rng, size, int(rng.integers(3, 8))) + rng.uniform(0.2, 0.6), 0, 1)
        transmission -= 0.85 * cloud
        light = light * transmission[..., None] + (rng.uniform(0.02, 0.12) * cloud)[..., None] * _CLOUD
    light += (_stars(sky, rng) * transmission)[..., None]
    light *= (rng.uniform(0.7, 1.3) * (1.0 - 0.45 * np.clip(sky.r, 0, 1) ** 3))[..., None]  # exposure, vignetting
    shot = rng.uniform(0.01, 0.04) * np.sqrt(np.clip(light, 0, None))
    light += (shot + rng.uniform(0.003, 0.012)) * rng.standard_normal(light.shape).astype(np.float32)
    encoded = np.clip(light, 0.0, 1.0) ** (1.0 / 2.2) * 255.0  # sensor saturation, then display gamma
    return (np.rint(encoded) * sky.inside[..., None]).astype(np.uint8)


def _jpeg_params(size: int) -> list[int]:
    chroma = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420 if size >= _CAMERA_SIZE else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444
    return [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, chroma]


def _write(path: Path, image: np.ndarray) -> None:
    params = _jpeg_params(min(image.shape[:2])) if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params):
        raise UserError(f"cannot write {path}")


def _prepare(out_dir: Path, size: int, fmt: str) -> Path:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"--size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {size}")
    if fmt not in FORMATS:
        raise UserError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out_dir}: {exc.strerror or exc}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UserError(f"output folder {out_dir} is not writable")
    return out_dir


def generate(out_dir: str | Path, per_class: int, size: int, seed: int, fmt: str = "jpg") -> list[Path]:
    """Write ``per_class`` frames of every class as ``out_dir/<class>/<class>_00000.<fmt>``.

    Frame ``i`` of a class depends only on (seed, class, i), so a larger ``per_class`` keeps the
    frames of a smaller one.
    """
    if per_class < 1:
        raise UserError(f"--per-class must be at least 1, got {per_class}")
    out_dir = _prepare(Path(out_dir), size, fmt)
    written: list[Path] = []
    for class_id, label in enumerate(CLASSES):
        folder = out_dir / label
        folder.mkdir(exist_ok=True)
        for index in range(per_class):
            path = folder / f"{label}_{index:05d}.{fmt}"
            _write(path, render_frame(label, size, np.random.default_rng([seed, class_id, index])))
            written.append(path)
        log.info("event=synth_class class=%s frames=%d folder=%s", label, per_class, folder)
    return written


def _night_plan(n_frames: int, breakup_at: int | None, breakup_len: int) -> list[tuple[str, float]]:
    """(label, intensity) per frame: clear/faint sky, arcs brightening, the breakup, patchy/faint recovery."""
    if n_frames < 1:
        raise UserError(f"a night needs at least 1 frame, got {n_frames}")
    if breakup_len < 0:
        raise UserError(f"the breakup length must not be negative, got {breakup_len}")
    start = max(0, min(round(0.6 * n_frames), n_frames - breakup_len)) if breakup_at is None else breakup_at
    if start < 0 or start + breakup_len > n_frames:
        raise UserError(f"a breakup of {breakup_len} frames at frame {start} does not fit a night of {n_frames} frames")
    quiet = start // 3
    growing = start - quiet
    plan = [("faint", 1.0)] * quiet
    plan += [("arcs", 0.5 + i / max(1, growing - 1)) for i in range(growing)]
    plan += [("breakup", 1.4 if i < 2 else 1.0) for i in range(breakup_len)]
    rest = n_frames - len(plan)
    patchy = (2 * rest + 2) // 3
    return plan + [("patchy", 1.0)] * patchy + [("faint", 1.0)] * (rest - patchy)


def night_sequence(out_dir: str | Path, n_frames: int, size: int, seed: int, start: datetime | None = None,
                   cadence_s: float = 60.0, breakup_at: int | None = None, breakup_len: int = 5) -> list[Path]:
    """A short synthetic night in capture order, named like a station's frames (``KIR_YYYYMMDD_HHMMSS.jpg``).

    The breakup occupies frames ``breakup_at`` .. ``breakup_at + breakup_len - 1`` (default: about 60 %
    into the night). ``out_dir/labels.csv`` (path, label, timestamp) holds the intended labels. Without
    ``start`` the last frame is stamped with the current UTC time, so a station sees a night that just
    happened rather than an old archive.
    """
    if not cadence_s >= 1.0:
        raise UserError(f"the cadence must be at least 1 s (names have one-second resolution), got {cadence_s}")
    plan = _night_plan(n_frames, breakup_at, breakup_len)
    out_dir = _prepare(Path(out_dir), size, "jpg")
    if start is None:
        start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=cadence_s * (n_frames - 1))
    start = start.replace(tzinfo=timezone.utc) if start.tzinfo is None else start.astimezone(timezone.utc)
    written: list[Path] = []
    rows: list[tuple[str, str, str]] = []
    for index, (label, intensity) in enumerate(plan):
        captured = start + timedelta(seconds=cadence_s * index)
        path = out_dir / f"{STATION_PREFIX}_{captured:%Y%m%d_%H%M%S}.jpg"
        _write(path, render_frame(label, size, np.random.default_rng([seed, index]), intensity))
        written.append(path)
        rows.append((path.name, label, captured.isoformat().replace("+00:00", "Z")))
    with open(out_dir / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "label", "timestamp"))
        writer.writerows(rows)
    log.info("event=synth_night frames=%d breakup_from=%s folder=%s", n_frames,
             next((r[0] for r in rows if r[1] == "breakup"), None), out_dir)
    return written


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic all-sky frames of the seven classes (test and demo data)",
        description="Draw procedural all-sky camera frames (circular fisheye view, stars, noise, moon and "
        "clouds now and then, green 557.7 nm and red 630 nm aurora) for the classes "
        f"{', '.join(CLASSES)}, one folder per class: OUT/<class>/<class>_00000.jpg. The classes overlap on "
        "purpose, so models trained on them are not trivially perfect; use them for tests and demos, never "
        "in place of real data. The same seed gives the same files.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--per-class", type=int, default=50, help="frames per class")
    parser.add_argument("--size", type=int, default=128,
                        help=f"frame side in pixels, {MIN_SIZE}..{MAX_SIZE}")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--format", choices=FORMATS, default="jpg", help="file format")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    written = generate(args.out, args.per_class, args.size, args.seed, args.format)
    print(f"wrote {len(written)} frames ({args.per_class} per class, {args.size} px) to {args.out}")
    return 0
