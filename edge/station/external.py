"""Alerts from other stations (untrusted input): size-limited, schema-validated, counted, then ruled on.

Anything malformed is counted in ``auroral_external_alerts_rejected_total`` and dropped without
touching the decision logic, a retained copy included: it is refused before any rule (the age check
too) sees it. The sending station is the topic's second level and must be a valid station id, since it
is echoed in our own alerts and triggers; our own alerts echoed back by a wildcard subscription are ignored.
"""
from __future__ import annotations

import logging
import re

from pydantic import ValidationError

from auroral.edge.contract import STATION_ID, AlertMessage
from auroral.edge.station.ledger import Ledger
from auroral.edge.station.metrics import StationMetrics

log = logging.getLogger("auroral.external")

_STATION = re.compile(STATION_ID)


class ExternalAlerts:
    def __init__(self, prefix: str, station: str, max_bytes: int, ledger: Ledger, metrics: StationMetrics):
        self.own_prefix = f"{prefix}/{station}/"
        self.max_bytes = max_bytes
        self.ledger = ledger
        self.metrics = metrics

    def __call__(self, topic: str, payload: bytes) -> None:
        if topic.startswith(self.own_prefix):
            return
        levels = topic.split("/")
        source = levels[1] if len(levels) >= 3 else ""
        if not _STATION.fullmatch(source):
            self._reject("bad_source", topic, "the topic's second level is not a station id")
            return
        if len(payload) > self.max_bytes:
            self._reject("too_large", topic, f"{len(payload)} bytes")
            return
        try:
            alert = AlertMessage.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            self._reject("invalid", topic, f"{'.'.join(map(str, first['loc']))}: {first['msg']}"[:120])
            return
        self.metrics.external.labels(alert.type).inc()
        self.ledger.external(source, alert)

    def _reject(self, reason: str, topic: str, detail: str) -> None:
        self.metrics.external_rejected.labels(reason).inc()
        log.warning("event=external_alert_rejected topic=%r reason=%s detail=%r", topic[:200], reason, detail)
