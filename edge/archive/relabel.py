"""Re-labelling an archive: send chunks of frames to an engine, write each finished chunk, show progress.

The main process only discovers, schedules and writes; workers decode and infer. At most twice as
many chunks as the engine has slots (worker threads) are in flight, so memory stays flat for millions of frames, and
every finished chunk is on disk at once, so an interrupted run loses at most the chunks in flight.
"""
from __future__ import annotations

import logging
import math
import time
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path

from auroral.edge.archive.discovery import name_time
from auroral.edge.archive.engine import Engine
from auroral.edge.archive.store import ResultStore
from auroral.edge.archive.worker import INFER_BATCH, classify_chunk
from auroral.edge.bundle import load_bundle
from auroral.edge.capture_time import CaptureTime
from auroral.edge.progress import bar as progress_bar
from auroral.edge.sky import SkyModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArchiveSummary:
    discovered: int
    already_done: int
    classified: int
    unreadable: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return (self.classified + self.unreadable) / self.seconds if self.seconds > 0 else 0.0


def _chunk_size(pending: int, slots: int, largest: int) -> int:
    """Frames per chunk: ``largest`` for a large run; a smaller run is cut into about 16 chunks per slot, so the
    slots finish together (at most one small chunk runs alone at the end), but never into chunks smaller than
    one inference batch unless a slot would otherwise get no work."""
    even = math.ceil(pending / (16 * slots))
    smallest = min(INFER_BATCH, math.ceil(pending / slots))
    return max(1, min(largest, max(even, smallest)))


def _chunks(paths: list[str], size: int) -> list[list[str]]:
    return [paths[i:i + size] for i in range(0, len(paths), size)]


def run_archive(paths: list[Path], bundle_dir: Path, out: Path, engine: Engine, *, precision: str = "fp32",
                chunk_size: int = 512, limit: int | None = None, progress: bool = True,
                capture: CaptureTime | None = None, sky: SkyModel | None = None) -> ArchiveSummary:
    """Classify the ``paths`` not yet in ``out`` (at most ``limit`` of them) and append them to ``out``."""
    capture = capture or name_time()
    bundle = load_bundle(bundle_dir)
    store = ResultStore(out, list(bundle.classes), bundle.sha256(precision))
    done = store.done_paths()
    todo = [str(p) for p in paths if str(p) not in done]
    pending = todo if limit is None else todo[:limit]
    chunk_size = _chunk_size(len(pending), engine.slots(), chunk_size)
    queue = _chunks(pending, chunk_size)
    log.info("event=archive_start discovered=%d already_done=%d pending=%d chunk_size=%d slots=%d",
             len(paths), len(paths) - len(todo), len(pending), chunk_size, engine.slots())
    queue.reverse()  # pop() from the end keeps the original order
    bundle_arg = str(bundle.root.resolve())
    classified = unreadable = 0
    started = time.monotonic()
    in_flight: set[Future] = set()
    with progress_bar(total=len(pending), unit="img", desc="archive", hide=not progress, smoothing=0.05) as bar:
        try:
            while queue or in_flight:
                while queue and len(in_flight) < 2 * engine.slots():
                    in_flight.add(engine.executor.submit(classify_chunk, bundle_arg, precision, queue.pop(), capture,
                                                          sky))
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    store.write(result.rows, result.errors)
                    classified += len(result.rows)
                    unreadable += len(result.errors)
                    bar.update(len(result.rows) + len(result.errors))
        finally:
            for future in in_flight:
                future.cancel()
    summary = ArchiveSummary(len(paths), len(paths) - len(todo), classified, unreadable, time.monotonic() - started)
    log.info("event=archive_done classified=%d unreadable=%d seconds=%.1f images_per_s=%.1f out=%s",
             classified, unreadable, summary.seconds, summary.images_per_second, out)
    return summary
