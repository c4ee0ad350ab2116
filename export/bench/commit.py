"""The station's durable commit of one frame, measured alone: its own ledger on a fresh state folder.

Every frame's records (journal entry and sequence number, its messages, history, the decider's state) are
committed in one SQLite transaction that returns only once they are on disk (``synchronous=FULL``), and
only then may its message leave. This times that transaction on the disk under the bench's work folder,
back to back like the other host stages and at the steady cadence (after the same idle gap as the model's
``1*`` lines, which is how a steady frame meets it): where a station keeps its state on an SD card, this
is the stage that says so.
"""
from __future__ import annotations

import hashlib
import itertools
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auroral.edge.bundle import Bundle
from auroral.edge.capture_time import Captured
from auroral.edge.classifier import Prediction
from auroral.edge.contract import ModelRef
from auroral.edge.frames import FileVersion
from auroral.edge.station.config import load_config
from auroral.edge.station.ledger import Classified, Ledger
from auroral.edge.station.metrics import StationMetrics
from auroral.export.bench.stats import summarize, time_calls


def durable_commit(bundle: Bundle, folder: Path, repeats: int, gap_s: float = 0.0,
                   warmup: int = 3) -> dict[str, float]:
    """Latency of recording one live frame of a quiet sky, as the daemon does after its inference.

    ``gap_s``: idle time before each timed commit (the steady cadence, as the model's ``1*`` lines); 0 times
    them back to back. ``folder`` (emptied, then created) holds the ledger's state folder and the watch
    folder its frames are named in.
    """
    shutil.rmtree(folder, ignore_errors=True)  # a journal from an earlier run would only add to the work
    watch = folder / "watch"
    watch.mkdir(parents=True, exist_ok=True)
    config = load_config(None, {"watch": {"dirs": [str(watch)]}, "state_dir": str(folder / "state"),
                                "model": {"bundle": str(bundle.root)}})
    config = config.with_classes(bundle.classes, bundle.auroral_classes, bundle.onset_classes)
    ledger = Ledger.open(config, StationMetrics(), ModelRef(name=bundle.manifest.model.name, sha256="0" * 64),
                         lambda events: None)
    classes = bundle.classes
    quiet = next((c for c in classes if c not in bundle.auroral_classes), classes[-1])
    probabilities = {c: 0.1 / len(classes) + (0.9 if c == quiet else 0.0) for c in classes}
    start = datetime.now(UTC)
    numbers = itertools.count()  # a new frame each call

    def record() -> None:
        i = next(numbers)
        name = f"bench_{i:06d}.jpg"
        version = FileVersion(65_000 + i, time.time_ns(), hashlib.blake2b(name.encode(), digest_size=16).hexdigest())
        ledger.frames([Classified(watch / name, Captured(start + timedelta(seconds=i), "mtime"),
                                  Prediction(quiet, probabilities[quiet], probabilities), time.time(), True, version)])

    try:
        times = time_calls(lambda _: record(), repeats, warmup, gap_s)
    finally:
        ledger.close()
    return {"gap_s": gap_s, **summarize(times)} if gap_s else summarize(times)
