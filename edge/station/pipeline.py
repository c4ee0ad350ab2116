"""Frames to records: a decode thread and an inference thread joined by a small bounded queue.

The decode thread takes up to ``batch_size`` due paths from the scheduler (one when frames trickle in
live, a micro-batch when a backlog waits) and loads them (:class:`~auroral.edge.framebatch.FrameLoader`:
decode + preprocess, a reason for each file that fails); the inference thread runs the model and hands
the batch to the :class:`~auroral.edge.station.ledger.Ledger`, which records it in one transaction. Only
paths wait in the scheduler; at most two preprocessed batches exist at any time, so memory stays
bounded however many files arrive. A frame that cannot be loaded is retried with back-off, then
quarantined and reported.
"""
from __future__ import annotations

import logging
import os
import queue
import shutil
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from auroral.edge.capture_time import Captured, CaptureTime
from auroral.edge.classifier import Classifier
from auroral.edge.frames import FileVersion, FrameError, read_version
from auroral.edge.sky import Site, Sky, SkyModel
from auroral.edge.station.ledger import Classified, Ledger
from auroral.edge.station.scheduler import Item, Scheduler
from auroral.edge.station.supervisor import Component, Context
from auroral.edge.station.thumbnails import thumbnail

log = logging.getLogger("auroral.pipeline")

_WAIT_S = 0.5
_DECODE_DEADLINE_S = 60.0  # a batch of the largest frames decodes in seconds; a stuck read never ends
_INFER_DEADLINE_S = 120.0  # a CPU ResNet-50 batch of 256 frames still fits


@dataclass
class Frame:
    """One frame of a batch on its way to the ledger."""

    item: Item
    captured: Captured
    version: FileVersion
    sky: Sky | None  # None without [site]
    row: int | None  # its row in the batch; None when the model does not run on it (not night)
    thumbnail: bytes | None = None  # [mqtt] thumbnails: a JPEG of the newest live frame


@dataclass
class Work:
    frames: list[Frame]
    batch: np.ndarray  # (rows, 3, S, S): one row per frame the model runs on

    @property
    def items(self) -> list[Item]:
        return [frame.item for frame in self.frames]


class Pipeline(Component):
    def __init__(self, context: Context, classifier: Classifier, scheduler: Scheduler, ledger: Ledger):
        super().__init__(context)
        self.classifier = classifier
        self.scheduler = scheduler
        self.ledger = ledger
        watch = self.config.watch
        self.capture_time = CaptureTime(watch.capture_time_regex, watch.capture_time_format, watch.timezone)
        site, sky = self.config.site, self.config.sky
        self.sky = (SkyModel(Site(site.latitude, site.longitude, site.elevation_m), sky.max_sun_elevation,
                             sky.max_moon_illumination) if site is not None else None)
        self._gate = self.sky is not None and sky.classify == "night"  # the model runs on dark frames only
        self.work: queue.Queue[Work] = queue.Queue(maxsize=2)
        self._decoded = False  # set when the decode thread has finished: the inference thread may stop

    def start(self) -> None:
        """On :meth:`stop`, decoding ends first and inference once the batches in hand are recorded."""
        self.spawn("decode", self._decode_loop, _DECODE_DEADLINE_S)
        self.spawn("infer", self._infer_loop, _INFER_DEADLINE_S)

    # --- decode thread ---------------------------------------------------------------------------
    def _decode_loop(self) -> None:
        while not self.stopping.is_set():
            self.supervisor.beat("decode")
            items = self.scheduler.take(self.config.model.batch_size, timeout=_WAIT_S)
            if not items:
                continue
            work = self._load(items)
            while work is not None and not self.stopping.is_set():
                try:
                    self.work.put(work, timeout=_WAIT_S)
                    break
                except queue.Full:
                    self.supervisor.beat("decode")
            else:
                if work is not None:  # stopping with a loaded batch that no one will infer: try again next start
                    for item in work.items:
                        self.scheduler.finish(item)
        self._decoded = True

    def _load(self, items: list[Item]) -> Work | None:
        """Items → the frames to record: dark ones (or all, without the gate) decoded for the model, the others
        only read for their version; the same bytes seen again are dropped, unreadable files retried."""
        now = time.time()
        for item in items:
            self.metrics.latency.labels("queue").observe(max(0.0, now - item.seen))
        early = {id(item): self.capture_time(item.path) for item in items} if self._gate else {}
        skies = {key: self._sky_at(captured.at) for key, captured in early.items()}
        dark = [item for item in items if not self._gate or _is_night(skies[id(item)])]
        decoded, batch = self._decode(dark, early, skies)
        frames = decoded + self._read([item for item in items if item not in dark], early, skies)
        fresh = []
        for frame in frames:
            if self.ledger.same_exposure(frame.item.path, frame.version):
                self.scheduler.finish(frame.item)  # the same bytes again: no new frame
            else:
                fresh.append(frame)
        if not fresh:
            return None
        self._thumbnails(fresh)
        rows = [frame.row for frame in fresh if frame.row is not None]
        if rows != list(range(len(batch))):  # some decoded frames were dropped: keep the rows of the others
            batch = batch[rows]
            for number, frame in enumerate(frame for frame in fresh if frame.row is not None):
                frame.row = number
        return Work(fresh, batch)

    def _thumbnails(self, frames: list[Frame]) -> None:
        """A thumbnail of each live frame newer than every frame decided so far (``[mqtt] thumbnails``): made
        here, beside the inference of the batch before, and never for a backlog."""
        mqtt = self.config.mqtt
        if not mqtt.thumbnails:
            return
        for frame in frames:
            if frame.item.live and self.ledger.is_newest(frame.captured.at):
                frame.thumbnail = thumbnail(frame.item.path, mqtt.thumbnail_max_side, mqtt.thumbnail_max_bytes)

    def _decode(self, items: list[Item], early: dict[int, Captured],
                skies: dict[int, Sky | None]) -> tuple[list[Frame], np.ndarray]:
        """Frames the model runs on, decoded and preprocessed into one batch."""
        size = self.classifier.loader.spec.size
        if not items:
            return [], np.empty((0, 3, size, size), np.float32)
        loaded = self.classifier.load([item.path for item in items])
        for index, reason in loaded.failed:
            self._failed(items[index], reason)
        for seconds in loaded.seconds:
            self.metrics.latency.labels("decode").observe(seconds)
        frames = []
        for row, index in enumerate(loaded.loaded):
            item = items[index]
            captured = early.get(id(item)) or self.capture_time(item.path, loaded.headers[row])
            sky = skies[id(item)] if id(item) in skies else self._sky_at(captured.at)
            frames.append(Frame(item, captured, loaded.versions[row], sky, row))
        return frames, loaded.batch

    def _read(self, items: list[Item], early: dict[int, Captured], skies: dict[int, Sky | None]) -> list[Frame]:
        """Frames the model does not run on (not night): their version only, no decoding."""
        frames = []
        for item in items:
            try:
                version, _ = read_version(item.path)
            except FrameError as exc:
                self._failed(item, str(exc))
                continue
            frames.append(Frame(item, early[id(item)], version, skies[id(item)], None))
        return frames

    def _sky_at(self, when: datetime) -> Sky | None:
        return self.sky.at(when) if self.sky is not None else None

    def _failed(self, item: Item, reason: str) -> None:
        try:
            info = os.stat(item.path)
        except OSError:
            log.warning("event=frame_vanished frame=%r", str(item.path))
            self.scheduler.finish(item)
            return
        version, item.version = item.version, (info.st_size, info.st_mtime_ns)
        settle_s = self.config.watch.settle_s
        if version != item.version and (version is not None or time.time() - info.st_mtime < settle_s):
            # still being written (an uploader appending in chunks): wait until it has been still for settle_s;
            # this is no attempt, and a file that grows is never quarantined
            log.info("event=frame_growing frame=%r size=%d retry_in_s=%.2f", str(item.path), info.st_size, settle_s)
            self.scheduler.retry(item, settle_s)
            return
        item.attempts += 1
        frames = self.config.frames
        if item.attempts <= frames.retries:
            delay = frames.retry_base_s * 2 ** (item.attempts - 1)
            self.metrics.retries.inc()
            log.info("event=frame_retry frame=%r attempt=%d retry_in_s=%.2f reason=%r", str(item.path), item.attempts,
                     delay, reason)
            self.scheduler.retry(item, delay)
            return
        self.ledger.quarantine(item.path, reason, item.attempts, item.live)
        where = self._move_to_quarantine(item.path) if frames.quarantine == "move" else "listed"
        log.error("event=frame_quarantined frame=%r attempts=%d reason=%r where=%r", str(item.path), item.attempts,
                  reason, where)
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
            log.error("event=quarantine_move_failed frame=%r error=%r (kept in place, listed in the journal)",
                      str(path), exc.strerror or str(exc))
            return "listed"

    # --- inference thread ------------------------------------------------------------------------
    def _infer_loop(self) -> None:
        self.classifier.bind_caller()
        while True:
            self.supervisor.beat("infer")
            try:
                work = self.work.get(timeout=_WAIT_S)
            except queue.Empty:
                if self.stopping.is_set() and self._decoded:
                    return
                continue
            self._infer(work)

    def _infer(self, work: Work) -> None:
        started = time.monotonic()
        try:
            predictions = self.classifier.predict(work.batch) if len(work.batch) else []
        except Exception as exc:  # noqa: BLE001 - the backend failing on one batch: retry its frames
            self.metrics.errors.labels("inference").inc()
            log.error("event=inference_failed frames=%d error=%r", len(work.items), str(exc))
            for item in work.items:
                self._failed(item, f"inference failed: {exc}")
            return
        inferred = time.monotonic()
        for _ in predictions:
            self.metrics.latency.labels("infer").observe((inferred - started) / len(predictions))
        classified = [Classified(f.item.path, f.captured, predictions[f.row] if f.row is not None else None,
                                 f.item.seen, f.item.live, f.version, f.sky, f.thumbnail) for f in work.frames]
        try:
            self.ledger.frames(classified)
        except Exception:
            # nothing was committed (e.g. the disk is full): the frames wait and are tried again, uncounted
            for item in work.items:
                self.scheduler.retry(item, self.config.frames.retry_base_s)
            raise
        finished = time.time()
        self.metrics.latency.labels("commit").observe(time.monotonic() - inferred)
        for item in work.items:
            self.metrics.latency.labels("total").observe(max(0.0, finished - item.seen))
            self.scheduler.finish(item)


def _is_night(sky: Sky | None) -> bool:
    return sky is None or sky.kind == "night"
