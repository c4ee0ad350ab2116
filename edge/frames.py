"""Reading all-sky frames from disk: JPEG and PNG (8/16 bit, colour or mono), FITS when astropy is present.

Frames come back as RGB (H×W×3) or mono (H×W) arrays in their native dtype. A JPEG much larger than
the model input is decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself, which is several times faster
than a full decode followed by a resize.
"""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".fits", ".fit", ".fts")
_JPEG = (".jpg", ".jpeg")
#: frames above this many pixels are refused rather than decoded (a 20000×20000 PNG would need 1.2 GB)
MAX_PIXELS = 200_000_000
_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


class FrameError(Exception):
    """A frame file cannot be decoded (yet): empty, truncated, corrupt, missing or not an image."""


def is_frame(path: Path) -> bool:
    return path.suffix.lower() in FRAME_SUFFIXES and not path.name.startswith(".")


def _header_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the file header alone, refusing frames too large to decode safely."""
    try:
        width, height = Image.open(io.BytesIO(data)).size  # parses the header only
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for a bad header
        raise FrameError(f"not a readable image header ({exc})") from exc
    if width * height > MAX_PIXELS:
        raise FrameError(f"{width}×{height} pixels is more than the {MAX_PIXELS:,} a frame may have")
    return width, height


def _reduced_flag(width: int, height: int, min_side: int | None) -> int:
    if not min_side:
        return cv2.IMREAD_COLOR
    for factor, flag in _REDUCED:
        if min(width, height) // factor >= min_side:
            return flag
    return cv2.IMREAD_COLOR


def _decode_raster(path: Path, data: bytes, min_side: int | None) -> np.ndarray:
    is_jpeg = path.suffix.lower() in _JPEG
    if is_jpeg and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise FrameError("truncated JPEG (no end-of-image marker): still being written or cut short")
    if path.suffix.lower() == ".png" and b"IEND" not in data[-16:]:
        raise FrameError("truncated PNG (no IEND chunk): still being written or cut short")
    width, height = _header_size(data)
    buffer = np.frombuffer(data, np.uint8)
    flag = _reduced_flag(width, height, min_side) if is_jpeg else cv2.IMREAD_UNCHANGED
    image = cv2.imdecode(buffer, flag)
    if image is None:
        raise FrameError("not a decodable image")
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def _decode_fits(path: Path) -> np.ndarray:
    try:
        from astropy.io import fits
    except ImportError as exc:
        raise FrameError("FITS frames need astropy: pip install astropy") from exc
    try:
        data = fits.getdata(path)
    except Exception as exc:  # noqa: BLE001 - astropy raises OSError, TypeError, ValueError...
        raise FrameError(f"not a readable FITS file ({exc})") from exc
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[0] == 3:  # FITS colour cubes are plane-first
        data = np.moveaxis(data, 0, -1)
    if data.dtype.kind == "f":
        lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
        data = np.nan_to_num((data - lo) / (hi - lo or 1.0)).astype(np.float32)
    elif data.dtype != np.uint8:
        data = np.clip(data, 0, 65535).astype(np.uint16)
    return np.ascontiguousarray(data)


def read_frame(path: str | Path, min_side: int | None = None) -> np.ndarray:
    """Decode one frame; ``min_side`` allows a reduced-size JPEG decode that keeps at least that many pixels."""
    path = Path(path)
    if path.suffix.lower() in (".fits", ".fit", ".fts"):
        return _decode_fits(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise FrameError("file vanished before it could be read") from exc
    except OSError as exc:
        raise FrameError(f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise FrameError("empty file (0 bytes)")
    return _decode_raster(path, data, min_side)
