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
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from PIL import ExifTags, Image

from auroral.edge.capture_time import zone
from auroral.edge.classes import CLASSES
from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

FORMATS = ("jpg", "png")
#: the trees camera programs write (see auroral.edge.station.presets for where each convention comes from)
LAYOUTS = ("plain", "indi-allsky", "allsky")
_THUMBNAIL = 32
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
                   cadence_s: float = 60.0, breakup_at: int | None = None, breakup_len: int = 5,
                   layout: str = "plain", tz: str = "UTC") -> list[Path]:
    """A short synthetic night in capture order, written as the camera program of ``layout`` writes it.

    ``plain``: ``KIR_YYYYMMDD_HHMMSS.jpg`` in one folder. ``indi-allsky`` and ``allsky``: their dated trees,
    names, thumbnails, latest-image copies and EXIF (:func:`_camera_files`). Names and EXIF are in the
    time zone ``tz``, as those programs stamp them in the camera host's local time; each file's mtime is
    its capture time. The breakup occupies frames ``breakup_at`` .. ``breakup_at + breakup_len - 1``
    (default: about 60 % into the night). ``out_dir/labels.csv`` (path relative to ``out_dir``, label,
    UTC timestamp) holds the intended labels and the true capture times. Without ``start`` the last frame
    is stamped with the current time, so a station sees a night that just happened rather than an old
    archive. Returns the frames' paths, in capture order (not the extra copies).
    """
    if not cadence_s >= 1.0:
        raise UserError(f"the cadence must be at least 1 s (names have one-second resolution), got {cadence_s}")
    if layout not in LAYOUTS:
        raise UserError(f"--layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    try:
        local = zone(tz)
    except ValueError as exc:
        raise UserError(f"--timezone: {exc}") from None
    plan = _night_plan(n_frames, breakup_at, breakup_len)
    out_dir = _prepare(Path(out_dir), size, "jpg")
    if start is None:
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=cadence_s * (n_frames - 1))
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    camera = uuid.uuid5(uuid.NAMESPACE_URL, f"auroral-synth-camera-{seed}")
    written: list[Path] = []
    rows: list[tuple[str, str, str]] = []
    for index, (label, intensity) in enumerate(plan):
        captured = start + timedelta(seconds=cadence_s * index)
        image = render_frame(label, size, np.random.default_rng([seed, index]), intensity)
        path = _camera_files(out_dir, layout, image, captured, captured.astimezone(local), camera)
        written.append(path)
        rows.append((path.relative_to(out_dir).as_posix(), label, captured.isoformat().replace("+00:00", "Z")))
    with open(out_dir / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "label", "timestamp"))
        writer.writerows(rows)
    log.info("event=synth_night frames=%d layout=%s timezone=%s breakup_from=%s folder=%s", n_frames, layout, tz,
             next((r[0] for r in rows if r[1] == "breakup"), None), out_dir)
    return written


def _camera_files(out_dir: Path, layout: str, image: np.ndarray, captured: datetime, local: datetime,
                  camera: uuid.UUID) -> Path:
    """Write one exposure as ``layout``'s program does; returns the exposure's own file.

    indi-allsky (``indi_allsky/image.py`` ``write_img``, ``_getImageFolder``): ``ccd_<uuid>/exposures/<day
    date>/night/<DD_HH>/ccd1_<%Y%m%d_%H%M%S>.jpg``, EXIF ``DateTimeOriginal`` in local time without an
    offset, ``latest.jpg`` at the top, thumbnails named by uuid. AllSky (``scripts/saveImage.sh``):
    ``<night date>/image-<%Y%m%d%H%M%S>.jpg`` without EXIF and a thumbnail of the same name under
    ``<night date>/thumbnails/`` (its ``image.jpg`` lives in its tmp folder, outside this tree). The night's
    date is the local date twelve hours earlier, as both programs file a night under its evening.
    """
    night = (local - timedelta(hours=12)).strftime("%Y%m%d")
    if layout == "plain":
        path = out_dir / f"{STATION_PREFIX}_{local:%Y%m%d_%H%M%S}.jpg"
        _write(path, image)
    elif layout == "indi-allsky":
        folder = out_dir / f"ccd_{camera}" / "exposures" / night / "night" / f"{local:%d_%H}"
        path = folder / f"ccd1_{local:%Y%m%d_%H%M%S}.jpg"
        _write_with_exif(path, image, local)
        _write(_folder(folder / "thumbnails") / f"{uuid.uuid5(camera, path.name)}.jpg", _thumbnail(image))
    else:
        folder = out_dir / night
        path = _folder(folder) / f"image-{local:%Y%m%d%H%M%S}.jpg"
        _write(path, image)
        _write(_folder(folder / "thumbnails") / path.name, _thumbnail(image))
    stamp = captured.timestamp()
    os.utime(path, (stamp, stamp))
    if layout == "indi-allsky":
        shutil.copy2(path, out_dir / "latest.jpg")  # indi-allsky: unlink, then copy2 of the newest exposure
    return path


def _folder(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _thumbnail(image: np.ndarray) -> np.ndarray:
    return cv2.resize(image, (_THUMBNAIL, _THUMBNAIL), interpolation=cv2.INTER_AREA)


def _write_with_exif(path: Path, image: np.ndarray, local: datetime) -> None:
    """A JPEG whose EXIF ``DateTimeOriginal`` is ``local``'s wall clock, as Pillow writes it for indi-allsky."""
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = f"{local:%Y:%m:%d %H:%M:%S}"
    _folder(path.parent)
    try:
        Image.fromarray(image).save(path, "JPEG", quality=_JPEG_QUALITY, exif=exif)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc}") from None


def parse_start(text: str, tz: str = "UTC") -> datetime:
    """``--start``: an ISO date-time, in ``tz`` unless it names its own offset; a one-line error otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise UserError(f"--start {text!r} is not a date-time (use e.g. 2026-11-29T18:00)") from None
    try:
        local = zone(tz)
    except ValueError as exc:
        raise UserError(f"--timezone: {exc}") from None
    return (when if when.tzinfo else when.replace(tzinfo=local)).astimezone(UTC)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="write synthetic all-sky frames of the seven classes (test and demo data)",
        description="Draw procedural all-sky camera frames (circular fisheye view, stars, noise, moon and "
        "clouds now and then, green 557.7 nm and red 630 nm aurora) for the classes "
        f"{', '.join(CLASSES)}, one folder per class: OUT/<class>/<class>_00000.jpg. The classes overlap on "
        "purpose, so models trained on them are not trivially perfect; use them for tests and demos, never "
        "in place of real data. The same seed gives the same files. With --night: one night in capture "
        "order (quiet sky, brightening arcs, a breakup, recovery), written as a camera program writes it "
        "(--layout: its folders, names, thumbnails, EXIF and mtimes, in --timezone), with OUT/labels.csv.",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--per-class", type=int, default=50, help="frames per class")
    parser.add_argument("--size", type=int, default=128,
                        help=f"frame side in pixels, {MIN_SIZE}..{MAX_SIZE}")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--format", choices=FORMATS, default="jpg", help="file format")
    night = parser.add_argument_group("a night (--night)")
    night.add_argument("--night", action="store_true", help="write one night in capture order instead of classes")
    night.add_argument("--layout", choices=LAYOUTS, default="plain",
                       help="plain: KIR_YYYYMMDD_HHMMSS.jpg in OUT; indi-allsky or allsky: that program's tree")
    night.add_argument("--start", metavar="DATETIME",
                       help="first capture, e.g. 2026-11-29T18:00, in --timezone unless it has an offset "
                            "(default: the night ends now)")
    night.add_argument("--timezone", default="UTC", metavar="ZONE",
                       help="IANA zone of the names and EXIF, the camera host's")
    night.add_argument("--frames", type=int, default=60, help="frames in the night")
    night.add_argument("--cadence", type=float, default=60.0, metavar="S", help="seconds between frames")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.night:
        start = parse_start(args.start, args.timezone) if args.start else None
        written = night_sequence(args.out, args.frames, args.size, args.seed, start, args.cadence,
                                 breakup_len=max(0, min(5, args.frames)), layout=args.layout, tz=args.timezone)
        print(f"wrote a night of {len(written)} frames ({args.layout} layout, {args.timezone}) to {args.out}")
        return 0
    if args.start or args.layout != "plain" or args.timezone != "UTC":
        raise UserError("--layout, --start and --timezone describe a night: add --night")
    written = generate(args.out, args.per_class, args.size, args.seed, args.format)
    print(f"wrote {len(written)} frames ({args.per_class} per class, {args.size} px) to {args.out}")
    return 0
