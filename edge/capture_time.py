"""When a frame was taken, from the frame itself where it says so.

In this order, the first that gives a time wins:

1. ``fits``: the FITS header's ``DATE-OBS`` (UTC by the FITS standard), moved to mid-exposure when
   ``EXPTIME`` is known (``DATE-OBS`` is the start of the exposure);
2. ``exif``: EXIF ``DateTimeOriginal`` with ``SubSecTimeOriginal`` and ``OffsetTimeOriginal`` (without an
   offset, the clock is the station's ``timezone``);
3. ``name``: the configured pattern, then the conventions camera programs use (``20261129_223344``,
   ``20261129T223344``, ``20261129223344``, ``261129_223344``), read in the station's ``timezone``;
4. ``mtime``: the file's modification time.

Only the first 64 KiB of a file are read for its header, from a descriptor opened without blocking and
checked to be a regular file, so a FIFO or a device in a camera folder cannot stall this either.
"""
from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from PIL import ExifTags, Image

from auroral.edge.rasterheader import JPEG_MAGIC

_EXIF_APP1 = b"Exif\x00\x00"  # the identifier that opens a JPEG's APP1 Exif segment, the only place Pillow reads it

#: Kiruna-style names: ``KIR_20261124_220100.jpg``; the default configured pattern
DEFAULT_REGEX = r"(\d{8}_\d{6})"
DEFAULT_FORMAT = "%Y%m%d_%H%M%S"

TimeSource = Literal["fits", "exif", "name", "mtime"]

#: (pattern, strptime formats) of the names camera programs write, tried after the configured pattern
CONVENTIONS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"(?<!\d)(\d{8}[_T-]\d{6})(?!\d)"), ("%Y%m%d_%H%M%S", "%Y%m%dT%H%M%S", "%Y%m%d-%H%M%S")),
    (re.compile(r"(?<!\d)(\d{14})(?!\d)"), ("%Y%m%d%H%M%S",)),
    (re.compile(r"(?<!\d)(\d{6}_\d{6})(?!\d)"), ("%y%m%d_%H%M%S",)),
)
_HEADER_BYTES = 64 * 1024
_FITS = (".fits", ".fit", ".fts")
_PLAUSIBLE = (datetime(1990, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class Captured:
    at: datetime  #: aware, UTC
    source: TimeSource


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (e.g. ``Europe/Stockholm``); ValueError names it when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as 'UTC' or 'Europe/Stockholm')") from exc


class CaptureTime:
    """``CaptureTime()(path)`` → :class:`Captured`; ``regex``'s first group holds a time in ``fmt``."""

    def __init__(self, regex: str = DEFAULT_REGEX, fmt: str = DEFAULT_FORMAT, tz: str = "UTC"):
        self.regex = re.compile(regex)
        self.fmt = fmt
        self.tz = zone(tz)

    def __call__(self, path: Path, header: bytes | None = None) -> Captured:
        """``header``: the file's first bytes when the caller has already read them (else they are read here)."""
        header = _read_header(path) if header is None else header
        if header:
            found = _from_fits(header) if path.suffix.lower() in _FITS else self._from_exif(header)
            if found is not None:
                return found
        at = self.from_name(path.name)
        if at is not None:
            return Captured(at, "name")
        try:
            return Captured(datetime.fromtimestamp(path.stat().st_mtime, UTC), "mtime")
        except OSError:
            return Captured(datetime.now(UTC), "mtime")

    def from_name(self, name: str) -> datetime | None:
        """The time in a file name: the configured pattern first, then the common conventions."""
        for pattern, formats in ((self.regex, (self.fmt,)), *CONVENTIONS):
            match = pattern.search(name)
            if match is None:
                continue
            for fmt in formats:
                at = self._local(match.group(1), fmt)
                if at is not None:
                    return at
        return None

    def _local(self, text: str, fmt: str) -> datetime | None:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            return None
        at = (parsed if parsed.tzinfo else parsed.replace(tzinfo=self.tz)).astimezone(UTC)
        return at if _PLAUSIBLE[0] <= at < _PLAUSIBLE[1] else None

    def _from_exif(self, header: bytes) -> Captured | None:
        if header.startswith(JPEG_MAGIC) and _EXIF_APP1 not in header:
            return None  # a JPEG without an Exif segment, as many all-sky cameras write: nothing for Pillow to parse
        try:
            exif = Image.open(io.BytesIO(header)).getexif().get_ifd(ExifTags.IFD.Exif)
        except Exception:  # noqa: BLE001 - Pillow raises many types for odd headers; the name is next
            return None
        original = exif.get(ExifTags.Base.DateTimeOriginal)
        if not isinstance(original, str):
            return None
        offset = exif.get(ExifTags.Base.OffsetTimeOriginal)
        subsec = exif.get(ExifTags.Base.SubsecTimeOriginal)
        text = original.strip().rstrip("\x00")
        fmt = "%Y:%m:%d %H:%M:%S"
        if isinstance(subsec, str) and subsec.strip().isdigit():
            text, fmt = f"{text}.{subsec.strip()[:6]}", fmt + ".%f"
        if isinstance(offset, str) and re.fullmatch(r"[+-]\d{2}:\d{2}", offset.strip()):
            text, fmt = text + offset.strip(), fmt + "%z"
        at = self._local(text, fmt)
        return Captured(at, "exif") if at is not None else None


def _from_fits(header: bytes) -> Captured | None:
    try:
        from astropy.io import fits
    except ImportError:  # the edge install reads no FITS at all; the station says so at start
        return None
    try:
        cards = fits.Header.fromstring(header.decode("ascii", errors="replace"))  # reads up to the END card
        start = datetime.fromisoformat(str(cards["DATE-OBS"]).strip())
    except Exception:  # noqa: BLE001 - a header astropy cannot parse or without DATE-OBS: the name is next
        return None
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    exposure = cards.get("EXPTIME")
    if isinstance(exposure, (int, float)) and 0 < exposure < 86400:
        start += timedelta(seconds=exposure / 2)
    return Captured(start, "fits") if _PLAUSIBLE[0] <= start < _PLAUSIBLE[1] else None


def _read_header(path: Path) -> bytes:
    """The first bytes of a regular file (b"" for anything else or on any error)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return b""
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return b""
        return os.read(descriptor, _HEADER_BYTES)
    except OSError:
        return b""
    finally:
        os.close(descriptor)
