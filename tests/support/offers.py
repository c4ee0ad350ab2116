"""A stand-in for the station's scheduler that records what a watcher offers it."""
from __future__ import annotations

import threading
from pathlib import Path


class Offers:
    """Stands in for the scheduler: records what the watcher offers."""

    def __init__(self):
        self.seen: list[tuple[Path, bool]] = []
        self.changed = threading.Condition()

    def offer(self, path: Path, live: bool, settle_s: float = 0.0) -> None:
        with self.changed:
            self.seen.append((path, live))
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.seen) >= count, timeout)
