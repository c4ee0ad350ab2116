"""When a frame was taken: parsed from its file name (configurable pattern), else its modification time."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

#: Kiruna-style names: ``KIR_20261124_220100.jpg`` (UTC); the station, replay and archive default
DEFAULT_REGEX = r"(\d{8}_\d{6})"
DEFAULT_FORMAT = "%Y%m%d_%H%M%S"


class CaptureTime:
    """``CaptureTime(r"(\\d{8}_\\d{6})", "%Y%m%d_%H%M%S")(path)`` → aware UTC datetime."""

    def __init__(self, regex: str = DEFAULT_REGEX, fmt: str = DEFAULT_FORMAT):
        self.regex = re.compile(regex)
        self.fmt = fmt

    def from_name(self, name: str) -> datetime | None:
        match = self.regex.search(name)
        if not match:
            return None
        try:
            return datetime.strptime(match.group(1), self.fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            return None

    def __call__(self, path: Path) -> datetime:
        parsed = self.from_name(path.name)
        if parsed is not None:
            return parsed
        try:
            return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
        except OSError:
            return datetime.now(timezone.utc)
