"""Alerts for people (``[notify] urls``): a breakup onset or aurora coming on, sent to phones, mail and chats
through Apprise (ntfy, mailto, tgram, matrix, discord, json/form webhooks, ...).

A notification says which station, when the frame was captured (UTC), the frame's name and the model's
confidence, with the frame attached as a small JPEG when the file can still be read. Only live alerts
notify: a replayed night or a backlog drained after an outage is news to no one. Each alert type has its
own cooldown (``[notify] cooldown_s``, by default ``[trigger] cooldown_s``) counted from the last one
notified, so one onset gives one notification at most and a flickering aurora state no flood; the
cooldown lives in memory and starts afresh with the daemon.

Alerts are queued once committed (the ledger calls :meth:`Notifier.committed`) and sent on the notifier's
own supervised thread, one URL after another, each with ``[notify] timeout_s`` as its connect and read
timeout: a dead phone gateway never holds up classification. A failure is logged
(``event=notify_failed``), counted (``auroral_notifications_total{result="failed"}``) and not retried, since
a breakup notified an hour late only misleads. Apprise's own log lines (free text, where a URL it cannot
use appears in full) are kept out of the station's log; their warnings become the failure's reason.
"""
from __future__ import annotations

import logging
import queue
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import apprise
from apprise.attachment.file import AttachFile

from auroral.edge.affinity import unpin_this_thread
from auroral.edge.contract import printable
from auroral.edge.frames import FrameError
from auroral.edge.station.config import apprise_service
from auroral.edge.station.decide import Alert, Event
from auroral.edge.station.snapshot import snapshot_jpeg
from auroral.edge.station.supervisor import Component, Context

log = logging.getLogger("auroral.notify")

HEADLINES = {"breakup_onset": "auroral breakup onset", "aurora_on": "aurora"}  # the alert types that notify
THUMBNAIL_PX = 320
_WAIT_S = 1.0


class Notifier(Component):
    def __init__(self, context: Context):
        super().__init__(context)
        notify = self.config.notify
        self.cooldown_s = notify.cooldown_s if notify.cooldown_s is not None else self.config.trigger.cooldown_s
        self.timeout_s = notify.timeout_s
        if notify.urls:
            logging.getLogger("apprise").propagate = False
        self.services = [_service(url, notify.timeout_s) for url in notify.urls]
        self.pending: queue.Queue[Alert] = queue.Queue()
        self._last: dict[str, float] = {}  # alert type → monotonic time of its last notification

    def start(self) -> None:
        if self.services:
            self.spawn("notify", self._loop, deadline_s=len(self.services) * 2 * self.timeout_s + 30.0)

    def committed(self, events: Sequence[Event]) -> None:
        """Queue a notification for each live alert among ``events`` that notifies and is past its cooldown
        (called after their commit, under the ledger's lock: nothing here waits)."""
        if not self.services:
            return
        for event in events:
            if not (isinstance(event, Alert) and event.live and event.type in HEADLINES):
                continue
            now, last = time.monotonic(), self._last.get(event.type)
            if last is not None and now - last < self.cooldown_s:
                self.metrics.notifications.labels("suppressed").inc()
                log.info("event=notify_suppressed type=%s frame=%r cooldown_s=%g", event.type, event.frame,
                         self.cooldown_s)
                continue
            self._last[event.type] = now
            self.pending.put(event)

    def _loop(self) -> None:
        unpin_this_thread()
        while not self.stopping.is_set():
            self.supervisor.beat("notify")
            try:
                alert = self.pending.get(timeout=_WAIT_S)
            except queue.Empty:
                continue
            self._send(alert)

    def _send(self, alert: Alert) -> None:
        title = f"{self.config.station}: {HEADLINES[alert.type]}"
        body = "\n".join([f"{HEADLINES[alert.type].capitalize()} at station {self.config.station}",
                          f"captured {_utc(alert.captured_at)}" if alert.captured_at else "capture time unknown",
                          f"frame {printable(alert.frame or '(unknown)')}",
                          f"confidence {alert.confidence:.2f}" if alert.confidence is not None else "confidence -"])
        with self._thumbnail(alert) as attachment:
            for service in self.services:
                self.supervisor.beat("notify")
                self._deliver(service, alert, title, body, attachment)

    def _deliver(self, service: _Service, alert: Alert, title: str, body: str, attachment: AttachFile | None) -> None:
        target = service.target
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as reasons:
            sent = service.apprise.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT,
                                          attach=attachment)
        if sent:
            self.metrics.notifications.labels("sent").inc()
            log.info("event=notify_sent type=%s frame=%r url=%r attached=%s", alert.type, alert.frame, target,
                     attachment is not None)
        else:
            self.metrics.notifications.labels("failed").inc()
            lines = reasons.getvalue().strip().splitlines()
            log.error("event=notify_failed type=%s frame=%r url=%r reason=%r", alert.type, alert.frame, target,
                      lines[-1] if lines else "Apprise gave no reason")

    @contextmanager
    def _thumbnail(self, alert: Alert) -> Iterator[AttachFile | None]:
        """The alert's frame as a small JPEG in a temporary file while the notification goes out, or None when
        the frame cannot be found or read (gone, rewritten, unreadable): then the text goes alone."""
        path = alert.path
        try:
            data = snapshot_jpeg(path, THUMBNAIL_PX) if path else None
        except FrameError as exc:
            log.warning("event=notify_thumbnail_skipped frame=%r reason=%r", alert.frame, str(exc))
            data = None
        if data is None:
            yield None
            return
        with tempfile.NamedTemporaryFile(prefix="auroral-notify-", suffix=".jpg") as handle:
            handle.write(data)
            handle.flush()
            yield AttachFile(handle.name, name=f"{printable(Path(alert.frame or 'frame').stem)[:100]}.jpg",
                             mimetype="image/jpeg")


@dataclass(frozen=True)
class _Service:
    apprise: apprise.Apprise  # holding the one service of a URL
    target: str  # the URL as Apprise shows it in private (tokens and passwords masked), without its options


def _service(url: str, timeout_s: float) -> _Service:
    """The service of ``url`` (checked at config load), with our timeouts."""
    service: Any = apprise_service(url)
    service.socket_connect_timeout = service.socket_read_timeout = timeout_s
    holder = apprise.Apprise()
    holder.add(service)
    return _Service(holder, service.url(privacy=True).partition("?")[0])


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
