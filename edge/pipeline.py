"""Frames to messages: a decode thread and an inference thread joined by a small bounded queue.

The decode thread takes up to ``batch_size`` due paths from the scheduler (one when frames trickle
in live, a micro-batch when a backlog waits), decodes and preprocesses them; the inference thread runs
the model and commits, per batch, one transaction: seq, ``frames`` message, ``state``/alerts/trigger
from the decider, and the journal entry. Only paths wait in the scheduler; at most two preprocessed
batches exist at any time, so memory stays bounded however many files arrive.
A frame that cannot be decoded is retried with back-off, then quarantined and reported.
"""
from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from .capture_time import CaptureTime
from .classifier import Classifier, Prediction
from .config import StationConfig
from .contract import FrameMessage, ModelRef, StateMessage, utc_now
from .decide import Alert, Decider
from .frames import FrameError
from .journal import Journal
from .metrics import StationMetrics
from .outbox import Outbox
from .scheduler import Item, Scheduler
from .statedb import StateDB

log = logging.getLogger("auroral.pipeline")

_STALL_S = 30.0


@dataclass
class Work:
    items: list[Item]
    captured: list[datetime]
    batch: np.ndarray
    decoded_at: float


class Pipeline:
    def __init__(self, config: StationConfig, classifier: Classifier, scheduler: Scheduler, db: StateDB,
                 journal: Journal, outbox: Outbox, decider: Decider, decide_lock: threading.Lock,
                 metrics: StationMetrics, stop: threading.Event, on_beat: Callable[[], None]):
        self.config = config
        self.classifier = classifier
        self.scheduler = scheduler
        self.db = db
        self.journal = journal
        self.outbox = outbox
        self.decider = decider
        self.decide_lock = decide_lock
        self.metrics = metrics
        self.stop = stop
        self.on_beat = on_beat
        self.capture_time = CaptureTime(config.watch.capture_time_regex, config.watch.capture_time_format)
        self.work: queue.Queue[Work] = queue.Queue(maxsize=2)
        self.decode_beat = time.monotonic()
        self.fatal = False  # set when the state database cannot be written: the daemon exits non-zero
        self.sky = journal.load_state("sky") or {}
        self.model = ModelRef(name=classifier.model_name, sha256=classifier.model_sha256)
        self.decoder = threading.Thread(target=self._decode_loop, name="decode", daemon=True)
        self.inferrer = threading.Thread(target=self._infer_loop, name="infer", daemon=True)

    def start(self) -> None:
        self.decoder.start()
        self.inferrer.start()

    def join(self, timeout: float) -> None:
        self.decoder.join(timeout)
        self.inferrer.join(timeout)

    # --- decode thread ---------------------------------------------------------------------------
    def _decode_loop(self) -> None:
        while not self.stop.is_set():
            self.decode_beat = time.monotonic()
            items = self.scheduler.take(self.config.model.batch_size, timeout=0.5)
            if items:
                work = self._decode(items)
                while work is not None and not self.stop.is_set():
                    try:
                        self.work.put(work, timeout=0.5)
                        break
                    except queue.Full:
                        self.decode_beat = time.monotonic()

    def _decode(self, items: list[Item]) -> Work | None:
        good, images, captured = [], [], []
        for item in items:
            started = time.monotonic()
            self.metrics.latency.labels("queue").observe(max(0.0, time.time() - item.seen))
            try:
                image = self.classifier.decode(item.path)
            except FrameError as exc:
                self._failed(item, str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - a decoder bug on one odd file must not stop the station
                self._failed(item, f"decoder error: {exc!r}")
                continue
            images.append(image)
            good.append(item)
            captured.append(self.capture_time(item.path))
            self.metrics.latency.labels("decode").observe(time.monotonic() - started)
        if not good:
            return None
        return Work(good, captured, self.classifier.preprocessor.batch(images), time.monotonic())

    def _failed(self, item: Item, reason: str) -> None:
        if not item.path.exists():
            log.warning("event=frame_vanished frame=%s", item.path)
            self.scheduler.finish(item)
            return
        item.attempts += 1
        if item.attempts <= self.config.frames.retries:
            delay = self.config.frames.retry_base_s * 2 ** (item.attempts - 1)
            self.metrics.retries.inc()
            log.info("event=frame_retry frame=%s attempt=%d retry_in_s=%.2f reason=%r", item.path, item.attempts,
                     delay, reason)
            self.scheduler.retry(item, delay)
        else:
            self._quarantine(item, reason)

    def _quarantine(self, item: Item, reason: str) -> None:
        alert = Alert("frame_quarantined", item.path.name, None, {"reason": reason, "attempts": item.attempts})
        with self.decide_lock, self.db.transaction() as conn:
            self.journal.record(conn, str(item.path), "quarantined")
            self.outbox.put_events(conn, [alert], utc_now(), live=item.live)
        where = "listed"
        if self.config.frames.quarantine == "move":
            where = self._move_to_quarantine(item.path)
        self.metrics.quarantined.inc()
        log.error("event=frame_quarantined frame=%s attempts=%d reason=%r where=%s", item.path, item.attempts,
                  reason, where)
        self.outbox.committed([alert])
        self.scheduler.finish(item)

    def _move_to_quarantine(self, path: Path) -> str:
        folder = self.config.quarantine_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / path.name
            if target.exists():
                target = folder / f"{path.stem}.{time.time_ns()}{path.suffix}"
            shutil.move(str(path), target)
            return str(target)
        except OSError as exc:
            self.metrics.errors.labels("quarantine_move").inc()
            log.error("event=quarantine_move_failed frame=%s error=%r (kept in place, listed in the journal)",
                      path, exc.strerror or str(exc))
            return "listed"

    # --- inference thread --------------------------------------------------------------------------
    def _infer_loop(self) -> None:
        self.classifier.backend.bind_caller()
        while True:
            try:
                work = self.work.get(timeout=0.5)
            except queue.Empty:
                self._beat()
                if self.stop.is_set() and not self.decoder.is_alive():
                    return
                continue
            started = time.monotonic()
            try:
                predictions = self.classifier.predict(work.batch)
            except Exception as exc:  # noqa: BLE001 - the backend failing on one batch: retry its frames
                self.metrics.errors.labels("inference").inc()
                log.error("event=inference_failed frames=%d error=%r", len(work.items), str(exc))
                for item in work.items:
                    self._failed(item, f"inference failed: {exc}")
                continue
            inferred = time.monotonic()
            for _ in work.items:
                self.metrics.latency.labels("infer").observe((inferred - started) / len(work.items))
            try:
                self._commit(work, predictions)
            except Exception as exc:  # noqa: BLE001 - e.g. disk full: nothing was committed; restart cleanly
                log.critical("event=commit_failed error=%r action=stopping", str(exc))
                self.fatal = True
                self.stop.set()
                return
            self.metrics.latency.labels("commit").observe(time.monotonic() - inferred)
            self._beat()

    def _beat(self) -> None:
        self.metrics.beat()
        if time.monotonic() - self.decode_beat < _STALL_S:
            self.on_beat()

    def _commit(self, work: Work, predictions: list[Prediction]) -> None:
        now = utc_now()
        events = []
        with self.decide_lock, self.db.transaction() as conn:
            for item, captured, prediction in zip(work.items, work.captured, predictions):
                name = item.path.name
                confidence = min(1.0, max(0.0, prediction.confidence))
                seq = self.journal.next_seq(conn)
                message = FrameMessage(frame=name, captured_at=captured, label=prediction.label, confidence=confidence,
                                       probabilities=prediction.probabilities, model=self.model,
                                       latency_ms=max(0.0, (time.time() - item.seen) * 1000), seq=seq)
                # the retained state goes before its frame: a subscriber holding the frame knows the broker's
                # retained state is already at least this current
                if prediction.label != self.sky.get("label"):
                    self.sky = {"label": prediction.label, "since": now.isoformat()}
                    self.outbox.put(conn, "state", StateMessage(label=prediction.label, since=now, frame=name,
                                                                confidence=confidence), live=item.live)
                self.outbox.put(conn, "frames", message, live=item.live)
                found = self.decider.observe(name, prediction.label, confidence, now)
                self.outbox.put_events(conn, found, now, live=item.live)
                events.extend(found)
                self.journal.record(conn, str(item.path), "done", seq)
            self.journal.save_state(conn, "decider", self.decider.snapshot())
            self.journal.save_state(conn, "sky", self.sky)
        finished = time.time()
        for item, prediction in zip(work.items, predictions):
            self.metrics.frames.labels(prediction.label).inc()
            self.metrics.latency.labels("total").observe(max(0.0, finished - item.seen))
            log.debug("event=frame_classified frame=%s label=%s confidence=%.3f", item.path.name, prediction.label,
                      prediction.confidence)
            self.scheduler.finish(item)
        self.outbox.committed(events)
