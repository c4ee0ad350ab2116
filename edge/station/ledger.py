"""The station's one commit path: every change of its state is recorded here, in one transaction.

A classified frame, a quarantined frame and an external alert all go the same way: under the decision
lock and one state-database transaction, the journal entry (and ``seq``), the decider's new state and
every message they cause are written together; only once that transaction has committed are the
after-effects carried out (metrics, log lines, the publisher woken, the onset command queued). A crash
at any moment leaves either all of it or none of it, so a frame is never classified twice, never lost,
and a decision is never published without the state that made it.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from auroral.edge.capture_time import Captured
from auroral.edge.classifier import Prediction
from auroral.edge.contract import RETAINED, AlertMessage, ModelRef, topic, utc_now
from auroral.edge.frames import FileVersion
from auroral.edge.sky import Site, Sky, SkyModel
from auroral.edge.station import messages
from auroral.edge.station.config import StationConfig
from auroral.edge.station.decide import Alert, Decider, Event, Observation, StateChange, Trigger
from auroral.edge.station.history import Decision, History, SeenFrame
from auroral.edge.station.journal import Journal
from auroral.edge.station.metrics import StationMetrics
from auroral.edge.station.spool import Spool
from auroral.edge.station.statedb import StateDB
from auroral.edge.station.thumbnails import RecentThumbnails

log = logging.getLogger("auroral.ledger")


@dataclass(frozen=True)
class Classified:
    """One frame ready to be recorded: labelled by the model, or not (outside night, with ``classify = night``)."""

    path: Path
    captured: Captured
    prediction: Prediction | None
    seen: float  # wall clock when the daemon first saw the file
    live: bool
    version: FileVersion  # the exposure the label is about
    sky: Sky | None = None  # None without [site]
    thumbnail: bytes | None = None  # a JPEG for dashboards ([mqtt] thumbnails), made for live frames only


class Ledger:
    def __init__(self, db: StateDB, journal: Journal, spool: Spool, decider: Decider, metrics: StationMetrics,
                 prefix: str, station: str, model: ModelRef, after_commit: Callable[[Sequence[Event]], None],
                 min_confidence: float = 0.0, thumbnails: RecentThumbnails | None = None):
        self.db = db
        self.history = History(db)
        self.min_confidence = min_confidence  # below it a frame is published as uncertain and decides nothing
        self.journal = journal
        self.spool = spool
        self.decider = decider
        self.metrics = metrics
        self.prefix = prefix
        self.station = station
        self.model = model
        self.after_commit = after_commit  # wakes the publisher and queues the onset command
        self.thumbnails = thumbnails  # None unless [mqtt] thumbnails: the newest frames' JPEGs, for onsets
        self._lock = threading.Lock()  # decisions and their messages are made one change at a time

    @classmethod
    def open(cls, config: StationConfig, metrics: StationMetrics, model: ModelRef,
             after_commit: Callable[[Sequence[Event]], None]) -> Ledger:
        """The ledger of ``config.state_dir``: its database, journal, spool and the decider's saved state."""
        db = StateDB(config.state_dir)
        journal = Journal(db)
        spool = Spool(db, config.spool.max_messages, config.spool.max_age_s, metrics)
        state = journal.load_state("decider") or {}
        state.setdefault("sky", journal.load_state("sky"))  # a database from when the sky state was kept apart
        site = config.site
        sky = site and SkyModel(Site(site.latitude, site.longitude, site.elevation_m), config.sky.max_sun_elevation,
                                config.sky.max_moon_illumination)
        decider = Decider(config.trigger, config.aurora, config.external, state, config.sky,
                          sky.next_dark if sky else None)
        thumbnails = RecentThumbnails(config.trigger.m) if config.mqtt.thumbnails else None
        return cls(db, journal, spool, decider, metrics, config.mqtt.prefix, config.station, model, after_commit,
                   config.model.min_confidence, thumbnails)

    def close(self) -> None:
        self.db.close()

    def is_newest(self, captured_at: datetime) -> bool:
        """Whether a frame captured at ``captured_at`` would be the newest capture decided so far (the live
        sky); read without the lock, so a hint for what is worth preparing, settled again in the transaction."""
        latest = self.decider.latest
        return latest is None or captured_at >= latest

    # --- what can happen -------------------------------------------------------------------------
    def frames(self, classified: Sequence[Classified]) -> None:
        """Record classified frames: journal + seq, ``state``/``frames`` messages and the decisions they cause,
        in capture order (the decisions follow capture time, whatever order the frames were processed in)."""

        def change(conn: sqlite3.Connection, now: datetime) -> list[Event]:
            events: list[Event] = []
            for item in sorted(classified, key=lambda c: c.captured.at):
                name = item.path.name
                prediction = item.prediction
                uncertain = prediction is not None and prediction.confidence < self.min_confidence
                seq = self.journal.next_seq(conn)
                newest = self.is_newest(item.captured.at)  # under the lock: the decider's own test of the live sky
                found = self.decider.observe(Observation(
                    name, str(item.path), item.captured.at, prediction.label if prediction else None,
                    min(1.0, max(0.0, prediction.confidence)) if prediction else None, uncertain, item.sky), now)
                # the retained state goes before its frame: a subscriber holding the frame knows the broker's
                # retained state is already at least this current
                states = [e for e in found if isinstance(e, StateChange)]
                self._put(conn, [messages.event(e, now) for e in states], item.live)
                self._put(conn, [messages.frame(name, item.captured, prediction, self.model,
                                                time.time() - item.seen, seq, uncertain, item.sky)], item.live)
                self._put(conn, [messages.event(e, now) for e in found if not isinstance(e, StateChange)], item.live)
                if newest and item.live:
                    self._thumbnails(conn, item, found)
                self.journal.record(conn, str(item.path), "done", seq, item.version)
                self.history.add_frame(conn, SeenFrame(seq, name, str(item.path), item.captured.at,
                                                       prediction.label if prediction else None,
                                                       prediction.confidence if prediction else None,
                                                       item.sky.kind if item.sky else None, uncertain))
                events += found
            return events

        self._record(change)
        self.metrics.last_frame.set_to_current_time()
        for item in classified:
            label = item.prediction.label if item.prediction else f"({item.sky.kind if item.sky else 'unknown'})"
            self.metrics.frames.labels(label).inc()
            log.debug("event=frame_recorded frame=%r label=%s sky=%s", item.path.name, label,
                      item.sky.kind if item.sky else None)

    def same_exposure(self, path: Path, version: FileVersion) -> bool:
        """True when ``path`` holds the bytes already journalled for it (touched, or rewritten with the same
        exposure): its new size and time are noted, and there is nothing to classify."""
        if not self.journal.same_bytes(str(path), version):
            return False
        self.journal.touch(str(path), version)
        log.info("event=frame_unchanged frame=%r action=skipped", str(path))
        return True

    def quarantine(self, path: Path, reason: str, attempts: int, live: bool) -> None:
        """Record a frame given up on: journalled as quarantined, announced with a ``frame_quarantined`` alert."""
        alert = Alert("frame_quarantined", path.name, None, {"reason": reason, "attempts": attempts})

        def change(conn: sqlite3.Connection, now: datetime) -> list[Event]:
            self.journal.record(conn, str(path), "quarantined")
            self._put(conn, [messages.event(alert, now)], live)
            return [alert]

        self._record(change)
        self.metrics.quarantined.inc()

    def external(self, source: str, alert: AlertMessage) -> None:
        """Rule on a valid alert from another station; record what it causes (possibly nothing)."""

        def change(conn: sqlite3.Connection, now: datetime) -> list[Event]:
            found = self.decider.external_alert(source, alert.type, alert.frame, alert.confidence, alert.at, now)
            self._put(conn, [messages.event(e, now) for e in found], live=True)
            return found

        self._record(change)

    # --- the one commit sequence -----------------------------------------------------------------
    def _record(self, change: Callable[[sqlite3.Connection, datetime], list[Event]]) -> None:
        with self._lock:
            with self.db.transaction() as conn:
                now = utc_now()
                events = change(conn, now)
                for event in events:
                    if not isinstance(event, StateChange):
                        self.history.add_decision(conn, _decision(event, now))
                self.journal.save_state(conn, "decider", self.decider.snapshot())
            self._committed(events)

    def _thumbnails(self, conn: sqlite3.Connection, item: Classified, found: Sequence[Event]) -> None:
        """Spool the newest frame's thumbnail, and that of the frame that started a live breakup onset (kept
        from when it was the newest frame): retained, each supersedes the one before it."""
        if self.thumbnails is None:
            return
        if item.thumbnail is not None:
            self.spool.put(conn, topic(self.prefix, self.station, "thumbnail"), item.thumbnail, True, True)
            self.thumbnails.add(item.path.name, item.thumbnail)
        for event in found:
            if isinstance(event, Alert) and event.type == "breakup_onset" and event.live:
                jpeg = self.thumbnails.get(event.frame)
                if jpeg is None:
                    log.info("event=thumbnail_skipped frame=%r reason=onset_frame_not_seen_since_start", event.frame)
                    continue
                self.spool.put(conn, topic(self.prefix, self.station, "thumbnail/onset"), jpeg, True, True)

    def _put(self, conn: sqlite3.Connection, outgoing: Sequence[messages.Outgoing], live: bool) -> None:
        for item in outgoing:
            self.spool.put(conn, topic(self.prefix, self.station, item.name), item.message.to_json(),
                           item.name in RETAINED, live)

    def _committed(self, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, Alert):
                self.metrics.alerts.labels(event.type).inc()
                level = logging.ERROR if event.type == "frame_quarantined" else logging.INFO
                log.log(level, "event=alert type=%s frame=%r confidence=%s extra=%r", event.type, event.frame,
                        event.confidence, event.extra)
            elif isinstance(event, Trigger):
                source = "external" if event.reason.startswith("external") else "local"
                self.metrics.triggers.labels(source).inc()
                log.info("event=capture_trigger reason=%s frame=%r duration_s=%g", event.reason, event.frame,
                         event.duration_s)
        self.after_commit(events)


def _decision(event: Alert | Trigger, now: datetime) -> Decision:
    if isinstance(event, Trigger):
        return Decision(now, event.captured_at, "trigger", event.frame, True,
                        {"reason": event.reason, "duration_s": event.duration_s, "until": event.until.isoformat()})
    return Decision(now, event.captured_at, event.type, event.frame, event.live,
                    {"confidence": event.confidence, **event.extra})
