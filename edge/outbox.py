"""Turns decisions into contract messages in the spool, and carries out what must happen after commit.

Messages are spooled inside the caller's transaction (with the journal entry they belong to); metrics,
the publisher wake-up and the optional local onset command run only once that transaction committed.
"""
from __future__ import annotations

import logging
import subprocess
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime

from .affinity import unpin_this_thread
from .config import TriggerConfig
from .contract import RETAINED, AlertMessage, TriggerMessage, _Message, topic
from .decide import Alert, Event, Trigger
from .metrics import StationMetrics
from .spool import Spool
from .wakeup import Wakeup

log = logging.getLogger("auroral.outbox")


class Outbox:
    def __init__(self, prefix: str, station: str, spool: Spool, metrics: StationMetrics, trigger: TriggerConfig,
                 wake: Wakeup):
        self.prefix = prefix
        self.station = station
        self.spool = spool
        self.metrics = metrics
        self.trigger = trigger
        self.wake = wake

    def put(self, conn: sqlite3.Connection, name: str, message: _Message, live: bool = True) -> None:
        """Spool one message for ``auroral/<station>/<name>``, retained where the contract says so."""
        self.spool.put(conn, topic(self.prefix, self.station, name), message.to_json(), name in RETAINED, live)

    def put_events(self, conn: sqlite3.Connection, events: Sequence[Event], at: datetime, live: bool = True) -> None:
        for event in events:
            if isinstance(event, Alert):
                self.put(conn, "alerts", AlertMessage(type=event.type, at=at, frame=event.frame,
                                                      confidence=event.confidence, **event.extra), live=live)
            else:
                self.put(conn, "capture/trigger", TriggerMessage(duration_s=event.duration_s, reason=event.reason,
                                                                 frame=event.frame), live=live)

    def committed(self, events: Sequence[Event]) -> None:
        """After commit: count, log, wake the publisher, start the onset command."""
        for event in events:
            if isinstance(event, Alert):
                self.metrics.alerts.labels(event.type).inc()
                log.info("event=alert type=%s frame=%s confidence=%s", event.type, event.frame, event.confidence)
            elif isinstance(event, Trigger):
                source = "external" if event.reason.startswith("external") else "local"
                self.metrics.triggers.labels(source).inc()
                log.info("event=capture_trigger reason=%s frame=%s duration_s=%g", event.reason, event.frame,
                         event.duration_s)
                if event.run_command and self.trigger.command:
                    threading.Thread(target=self._run_command, args=(event,), name="onset-command", daemon=True).start()
        self.wake.set()

    def _run_command(self, event: Trigger) -> None:
        unpin_this_thread()  # started from the pinned inference thread: the camera's command gets every CPU
        command = [*self.trigger.command, event.frame or ""]
        try:
            result = subprocess.run(command, timeout=self.trigger.command_timeout_s, capture_output=True, check=False)
        except subprocess.TimeoutExpired:
            log.error("event=onset_command_timeout command=%s timeout_s=%g", command[0], self.trigger.command_timeout_s)
            self.metrics.errors.labels("onset_command").inc()
            return
        except OSError as exc:
            log.error("event=onset_command_failed command=%s error=%r", command[0], exc.strerror or str(exc))
            self.metrics.errors.labels("onset_command").inc()
            return
        if result.returncode != 0:
            log.error("event=onset_command_failed command=%s returncode=%d stderr=%r", command[0], result.returncode,
                      result.stderr.decode(errors="replace")[-200:])
            self.metrics.errors.labels("onset_command").inc()
        else:
            log.info("event=onset_command_done command=%s", command[0])
