"""Finding the frames of an archive: recursive walk, file-name patterns, and a capture-date range.

Archives are organised by date in countless ways, but station frames carry their capture time in the
file name (``KIR_20190104_213000.jpg``), so the date range is applied to names, never to file
modification times (which copying an archive destroys).
"""
from __future__ import annotations

import fnmatch
import glob
import logging
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

from auroral.edge.capture_time import DEFAULT_FORMAT, DEFAULT_REGEX, CaptureTime
from auroral.edge.errors import UserError
from auroral.edge.frames import is_frame

log = logging.getLogger(__name__)

_GLOB_CHARS = set("*?[")


def name_time(regex: str | None = None, fmt: str | None = None) -> CaptureTime:
    """The capture-time parser for file names (UTC); refuses a regex without the group it needs."""
    regex, fmt = regex or DEFAULT_REGEX, fmt or DEFAULT_FORMAT  # the station's defaults
    try:
        capture = CaptureTime(regex, fmt)
    except re.error as exc:
        raise UserError(f"--time-regex {regex!r} is not a valid regular expression ({exc})") from exc
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
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


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


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` as absolute paths; ``os.walk`` needs no stat per file (matters on NFS/Lustre)."""
    root = root.resolve()
    if not root.is_dir():
        yield root
        return
    for folder, _, names in os.walk(root):
        for name in names:
            yield Path(folder, name)


def _matches(path: Path, patterns: tuple[str, ...]) -> bool:
    if patterns:
        return any(fnmatch.fnmatch(path.name, p) for p in patterns)
    return is_frame(path)


def discover(sources: Iterable[str], patterns: tuple[str, ...] = (), since: datetime | None = None,
             until: datetime | None = None, capture: CaptureTime | None = None) -> list[Path]:
    """Every frame under ``sources`` (files, folders or glob patterns), absolute, sorted, without duplicates.

    ``patterns`` are file-name globs (default: every frame suffix). With a date range, frames whose
    name has no capture time are left out (and counted in the log), since they cannot be placed.
    """
    capture = capture or name_time()
    found: set[Path] = set()
    undated = 0
    for source in sources:
        for root in _expand(source):
            for path in _walk(root):
                if not _matches(path, patterns):
                    continue
                if since or until:
                    captured = capture.from_name(path.name)
                    if captured is None:
                        undated += 1
                        continue
                    if (since and captured < since) or (until and captured >= until):
                        continue
                found.add(path)
    if undated:
        log.warning("event=archive_undated_skipped count=%d reason=no_capture_time_in_name", undated)
    return sorted(found)
