"""Finding the frames of an archive: recursive walk, file-name patterns, skipped sub-folders, a capture-date range.

Archives are organised by date in countless ways, so the date range is applied to each frame's capture
time by the station's rules (:mod:`auroral.edge.capture_time`: FITS ``DATE-OBS``, EXIF, the name in the
camera's time zone, and only then the file's modification time, which copying an archive destroys).
"""
from __future__ import annotations

import fnmatch
import glob
import os
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auroral.edge.capture_time import DEFAULT_FORMAT, DEFAULT_REGEX, CaptureTime
from auroral.edge.errors import UserError
from auroral.edge.frames import is_frame

_GLOB_CHARS = set("*?[")


def name_time(regex: str | None = None, fmt: str | None = None, tz: str = "UTC") -> CaptureTime:
    """The capture-time rules with the name convention ``regex``/``fmt`` read in the zone ``tz``; refuses a regex
    without the group it needs and an unknown zone."""
    regex, fmt = regex or DEFAULT_REGEX, fmt or DEFAULT_FORMAT  # the station's defaults
    try:
        capture = CaptureTime(regex, fmt, tz)
    except re.error as exc:
        raise UserError(f"--time-regex {regex!r} is not a valid regular expression ({exc})") from exc
    except ValueError as exc:  # the zone
        raise UserError(f"--timezone: {exc}") from exc
    if capture.regex.groups < 1:
        raise UserError(f"--time-regex {regex!r} needs one group around the time, e.g. (\\d{{8}}_\\d{{6}})")
    return capture


def parse_when(text: str, end: bool = False) -> datetime:
    """``--since``/``--until`` value: an ISO date or date-time, read as UTC unless it names a zone.

    With ``end`` a bare date means the end of that day, so ``--until 2019-01-31`` includes the 31st.
    """
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"{text!r} is not a date or date-time (use e.g. 2019-01-04 or 2019-01-04T21:30)") from exc
    if end and len(text.strip()) == 10:
        when += timedelta(days=1)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _expand(source: str) -> list[Path]:
    path = Path(source)
    if path.exists():
        return [path]
    if _GLOB_CHARS & set(source):
        matches = sorted(Path(p) for p in glob.glob(source, recursive=True))
        if matches:
            return matches
        raise UserError(f"the pattern {source!r} matches no file or folder")
    raise UserError(f"{source} does not exist")


def _walk(root: Path, exclude_dirs: tuple[str, ...] = ()) -> Iterator[Path]:
    """Files under ``root`` as absolute paths, never entering a folder named in ``exclude_dirs``; ``os.walk``
    needs no stat per file (matters on NFS/Lustre)."""
    root = root.resolve()
    if not root.is_dir():
        yield root
        return
    for folder, folders, names in os.walk(root):
        folders[:] = [f for f in folders if f not in exclude_dirs]
        for name in names:
            yield Path(folder, name)


def _matches(path: Path, patterns: tuple[str, ...]) -> bool:
    if patterns:
        return any(fnmatch.fnmatch(path.name, p) for p in patterns)
    return is_frame(path)


def discover(sources: Iterable[str], patterns: tuple[str, ...] = (), since: datetime | None = None,
             until: datetime | None = None, capture: CaptureTime | None = None,
             exclude_dirs: tuple[str, ...] = ()) -> list[Path]:
    """Every frame under ``sources`` (files, folders or glob patterns), absolute, sorted, without duplicates.

    ``patterns`` are file-name globs (default: every frame suffix); folders named in ``exclude_dirs``
    (a camera program's thumbnails) are not searched. With a date range, each frame's capture time comes
    from ``capture`` (its header, its name, its mtime), which costs one small read per frame.
    """
    capture = capture or name_time()
    found: set[Path] = set()
    for source in sources:
        for root in _expand(source):
            for path in _walk(root, exclude_dirs):
                if not _matches(path, patterns):
                    continue
                if since or until:
                    captured = capture(path).at
                    if (since and captured < since) or (until and captured >= until):
                        continue
                found.add(path)
    return sorted(found)
