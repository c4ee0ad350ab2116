"""Alerts from other stations (untrusted input): size-limited, schema-validated, counted, then ruled on.

Anything malformed is counted in ``auroral_external_alerts_rejected_total`` and dropped without
touching the decision logic; our own alerts echoed back by a wildcard subscription are ignored.
"""
from __future__ import annotations

import logging

from pydantic import ValidationError

from auroral.edge.contract import AlertMessage
from auroral.edge.station.ledger import Ledger
from auroral.edge.station.metrics import StationMetrics

log = logging.getLogger("auroral.external")


class ExternalAlerts:
    def __init__(self, prefix: str, station: str, max_bytes: int, ledger: Ledger, metrics: StationMetrics):
        self.own_prefix = f"{prefix}/{station}/"
        self.max_bytes = max_bytes
        self.ledger = ledger
        self.metrics = metrics

    def __call__(self, topic: str, payload: bytes) -> None:
        if topic.startswith(self.own_prefix):
            return
        source = topic.split("/")[1] if topic.count("/") >= 2 else topic
        if len(payload) > self.max_bytes:
            self._reject("too_large", topic, f"{len(payload)} bytes")
            return
        try:
            alert = AlertMessage.model_validate_json(payload)
        except (ValidationError, ValueError) as exc:
            self._reject("invalid", topic, str(exc).splitlines()[0][:120])
            return
        self.metrics.external.labels(alert.type).inc()
        self.ledger.external(source, alert)

    def _reject(self, reason: str, topic: str, detail: str) -> None:
        self.metrics.external_rejected.labels(reason).inc()
        log.warning("event=external_alert_rejected topic=%s reason=%s detail=%r", topic, reason, detail)
