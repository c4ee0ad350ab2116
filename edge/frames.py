"""Reading all-sky frames from disk: JPEG and PNG (8/16 bit, colour or mono), FITS when astropy is present.

Frames come back as RGB (H×W×3) or mono (H×W) arrays, uint8, uint16 or float32 in [0, 1], each side at
least :data:`MIN_SIDE` pixels; anything else is a :class:`FrameError` with the reason, the only exception
:func:`read_frame` raises. A watch folder is open to whatever a camera, an uploader or a person puts
there, so a file is opened only if it is a regular file (checked on the open descriptor, opened
non-blocking so a FIFO cannot hang the reader), no larger than :data:`MAX_FILE_BYTES`, and decoded only
once its header shows that the decoded image fits in :data:`MAX_DECODED_BYTES`. A JPEG much larger than
the model input is decoded at 1/2, 1/4 or 1/8 scale by libjpeg itself, which is several times faster
than a full decode followed by a resize.
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import io
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from auroral.edge.rasterheader import HeaderError, RasterHeader, read_header

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".fits", ".fit", ".fts")
_FITS = (".fits", ".fit", ".fts")
#: files larger than this are refused unread (a frame of a 60 MP 16-bit camera is under 150 MB)
MAX_FILE_BYTES = 512 * 2**20
#: frames whose decoded array would need more memory than this are refused from their header
MAX_DECODED_BYTES = 512 * 2**20
#: frames above this many pixels are refused rather than decoded (a 20000×20000 PNG would need 1.2 GB)
MAX_PIXELS = 200_000_000
#: frames with a side shorter than this are not sky images (and would crop to nothing)
MIN_SIDE = 8
#: how much of a file's start is kept for its capture time (EXIF fits in one 64 KiB JPEG segment)
HEADER_BYTES = 64 * 1024
_REDUCED = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))
_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


class FrameError(Exception):
    """A frame file cannot be decoded (yet): empty, truncated, corrupt, missing, too large or not an image."""


def is_frame(path: Path) -> bool:
    return path.suffix.lower() in FRAME_SUFFIXES and not path.name.startswith(".")


def unreadable_patterns(patterns: Iterable[str]) -> list[str]:
    """The watch patterns whose frames this install cannot decode: FITS-only patterns when astropy is missing."""
    if _fits_available():
        return []
    return [p for p in patterns if _fits_only(p)]


def _fits_only(pattern: str) -> bool:
    """Whether ``pattern`` matches FITS names and no JPEG or PNG name (``*.fits``, ``KIR_*.FIT``, ``*.f*``)."""
    pattern = pattern.lower()
    if "." not in pattern:
        return False
    extension = pattern.rsplit(".", 1)[1]
    matches = {suffix for suffix in FRAME_SUFFIXES if fnmatch.fnmatchcase(suffix[1:], extension)}
    return bool(matches) and matches <= set(_FITS)


def _fits_available() -> bool:
    return importlib.util.find_spec("astropy") is not None


@dataclass(frozen=True)
class FileVersion:
    """Which exposure a file held when it was read: size and modification time (cheap to compare with a
    ``stat``) and a digest of the bytes, so the same bytes touched or rewritten again are recognised."""

    size: int
    mtime_ns: int
    digest: str


@dataclass(frozen=True)
class FrameFile:
    image: np.ndarray
    version: FileVersion
    header: bytes  #: the first :data:`HEADER_BYTES` of the file, where EXIF and FITS headers are
    full_size: tuple[int, int]  #: (width, height) of the frame as stored; ``image`` is smaller after a reduced decode


#: the smallest side a reduced JPEG decode must keep: pixels, or a function of the frame's full (width, height)
MinSide = int | Callable[[int, int], int] | None


def read_frame(path: str | Path, min_side: MinSide = None) -> np.ndarray:
    """Decode one frame; ``min_side`` allows a reduced-size JPEG decode that keeps at least that many pixels."""
    return load_frame(path, min_side).image


def load_frame(path: str | Path, min_side: MinSide = None) -> FrameFile:
    """:func:`read_frame`, plus the version of the file that was decoded, its header bytes and its full size, all
    from one read."""
    path = Path(path)
    data, info = _read_regular_file(path)
    try:
        if path.suffix.lower() in _FITS:
            image = _decode_fits(data)
            full_size = (image.shape[1], image.shape[0])
        else:
            image, full_size = _decode_raster(data, min_side)
        image = _checked(image)
    except FrameError:
        raise
    except Exception as exc:  # noqa: BLE001 - a decoder failing on an odd file is that file's problem only
        raise FrameError(f"not a decodable image ({type(exc).__name__}: {exc})") from exc
    version = FileVersion(len(data), info.st_mtime_ns, hashlib.blake2b(data, digest_size=16).hexdigest())
    return FrameFile(image, version, data[:HEADER_BYTES], full_size)


def read_version(path: str | Path) -> tuple[FileVersion, bytes]:
    """The version and header bytes of a frame file, without decoding it (a frame the model will not see)."""
    data, info = _read_regular_file(Path(path))
    return FileVersion(len(data), info.st_mtime_ns, hashlib.blake2b(data, digest_size=16).hexdigest()), \
        data[:HEADER_BYTES]


def _read_regular_file(path: Path) -> tuple[bytes, os.stat_result]:
    """The whole file, if it is a regular file of at most :data:`MAX_FILE_BYTES`; never blocks on a FIFO."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a device or FIFO is not even opened
            raise FrameError(f"not a regular file ({_kind(os.stat(path).st_mode)})")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise FrameError("file vanished before it could be read") from exc
    except OSError as exc:
        raise FrameError(f"cannot read file ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "rb", buffering=0) as file:
        try:
            info = os.fstat(fd)  # the file opened, which may have been swapped since the check above
            if not stat.S_ISREG(info.st_mode):
                raise FrameError(f"not a regular file ({_kind(info.st_mode)})")
            if info.st_size > MAX_FILE_BYTES:
                raise FrameError(f"file of {info.st_size:,} bytes is larger than the {MAX_FILE_BYTES:,} a frame may be")
            data = file.read(info.st_size)  # no more than fstat saw: a file still growing is caught as truncated
        except OSError as exc:
            raise FrameError(f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise FrameError("empty file (0 bytes)")
    return data, info


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a file")


def _check_size(width: int, height: int, decoded_bytes: int) -> None:
    if width * height > MAX_PIXELS:
        raise FrameError(f"{width}×{height} pixels is more than the {MAX_PIXELS:,} a frame may have")
    if decoded_bytes > MAX_DECODED_BYTES:
        raise FrameError(f"{width}×{height} frame would take {decoded_bytes:,} bytes decoded, more than the "
                         f"{MAX_DECODED_BYTES:,} allowed")


def _reduction(header: RasterHeader, min_side: MinSide) -> tuple[int, int]:
    """(factor, OpenCV flag) for the decode: the largest JPEG reduction that keeps ``min_side`` pixels."""
    if header.format != "JPEG":
        return 1, cv2.IMREAD_UNCHANGED
    if callable(min_side):
        min_side = min_side(header.width, header.height)
    if min_side:
        for factor, flag in _REDUCED:
            if min(header.width, header.height) // factor >= min_side:
                return factor, flag
    return 1, cv2.IMREAD_COLOR


def _decode_raster(data: bytes, min_side: MinSide) -> tuple[np.ndarray, tuple[int, int]]:
    """The decoded image and the (width, height) its header gives, which a reduced decode is smaller than."""
    try:
        header = read_header(data)
    except HeaderError as exc:
        raise FrameError(str(exc)) from exc
    factor, flag = _reduction(header, min_side)
    _check_size(header.width, header.height, header.decoded_bytes(factor))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None:
        raise FrameError(f"not a decodable {header.format} image")
    if image.ndim == 3 and image.shape[2] == 4:  # alpha (grey + alpha and palettes come as BGRA too)
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)  # drops alpha in the same pass
    elif image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=image)  # in place: no second copy of a large frame
    return image, (header.width, header.height)


def _decode_fits(data: bytes) -> np.ndarray:
    try:
        from astropy.io import fits
    except ImportError as exc:
        raise FrameError("FITS frames need astropy, which this install lacks: pip install astropy") from exc
    with fits.open(io.BytesIO(data), memmap=False) as hdus:
        hdu = next((h for h in hdus if h.is_image and h.header.get("NAXIS", 0) > 0), None)
        if hdu is None:
            raise FrameError("FITS file holds no image")
        shape = [int(hdu.header[f"NAXIS{axis}"]) for axis in range(int(hdu.header["NAXIS"]), 0, -1)]
        width, height = shape[-1], (shape[-2] if len(shape) > 1 else 1)
        data_bytes = int(np.prod(shape)) * abs(int(hdu.header["BITPIX"])) // 8
        _check_size(width, height, data_bytes)
        if not isinstance(hdu, fits.CompImageHDU) and hdus.fileinfo(hdus.index(hdu))["datLoc"] + data_bytes > len(data):
            raise FrameError("truncated FITS (data shorter than its header says): still being written or cut short")
        return _fits_image(np.asarray(hdu.data))


def _fits_image(data: np.ndarray) -> np.ndarray:
    """A FITS array as H×W or H×W×3: planes of one (NAXIS3 = 1) are dropped, a 3-plane cube is colour."""
    while data.ndim > 2 and data.shape[0] == 1:
        data = data[0]
    if data.ndim == 3 and data.shape[0] == 3:  # FITS colour cubes are plane-first
        data = np.moveaxis(data, 0, -1)
    if data.ndim != 2 and not (data.ndim == 3 and data.shape[2] == 3):
        raise FrameError(f"FITS data of shape {data.shape} is neither a mono nor an RGB image")
    if data.dtype.kind == "f":
        return _unit_range(data)
    if data.dtype.kind not in "iu":
        raise FrameError(f"FITS data of type {data.dtype} is not an image")
    if data.dtype == np.uint8:
        return np.ascontiguousarray(data)
    return np.clip(data, 0, 65535).astype(np.uint16)


def _unit_range(data: np.ndarray) -> np.ndarray:
    """Float data scaled to [0, 1] float32 by its finite range; NaN and infinities become 0 or 1."""
    finite = np.isfinite(data)
    if not finite.any():
        raise FrameError("FITS image has no finite pixel value")
    lo, hi = float(data[finite].min()), float(data[finite].max())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        scaled = ((data - lo) / (hi - lo or 1.0)).astype(np.float32)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=1.0, neginf=0.0)
    return np.clip(scaled, 0.0, 1.0, out=scaled)


def _checked(image: np.ndarray) -> np.ndarray:
    """``image`` if it is what every caller may assume (see the module docstring), else a :class:`FrameError`."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise FrameError(f"decoded to shape {image.shape}, neither H×W nor H×W×3")
    if image.dtype not in _DTYPES:
        raise FrameError(f"decoded to {image.dtype} samples, not 8/16-bit or float")
    height, width = image.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise FrameError(f"{width}×{height} pixels is too small for a frame (each side needs at least {MIN_SIDE})")
    return image
