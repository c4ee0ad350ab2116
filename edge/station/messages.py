"""Every message the station publishes is built here, from a classified frame or a decision.

The models themselves are the contract (:mod:`auroral.edge.contract`); this module maps the station's
own objects onto them, so a field is filled in one place only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from auroral.edge.classifier import Prediction
from auroral.edge.contract import (
    AlertMessage,
    FrameMessage,
    ModelRef,
    StateMessage,
    StatusMessage,
    TriggerMessage,
    _Message,
)
from auroral.edge.station.decide import Alert, Event, StateChange, Trigger


@dataclass(frozen=True)
class Outgoing:
    """A message for ``<prefix>/<station>/<name>``."""

    name: str
    message: _Message


def frame(name: str, captured_at: datetime, prediction: Prediction, model: ModelRef, latency_s: float,
          seq: int) -> Outgoing:
    confidence = min(1.0, max(0.0, prediction.confidence))
    return Outgoing("frames", FrameMessage(frame=name, captured_at=captured_at, label=prediction.label,
                                           confidence=confidence, probabilities=prediction.probabilities,
                                           model=model, latency_ms=max(0.0, latency_s * 1000), seq=seq))


def event(decision: Event, at: datetime) -> Outgoing:
    """The message of one decision: ``state``, ``alerts`` or ``capture/trigger``."""
    if isinstance(decision, StateChange):
        return Outgoing("state", StateMessage(label=decision.label, since=decision.since, frame=decision.frame,
                                              confidence=min(1.0, max(0.0, decision.confidence))))
    if isinstance(decision, Alert):
        return Outgoing("alerts", AlertMessage(type=decision.type, at=at, frame=decision.frame,
                                               confidence=decision.confidence, **decision.extra))
    assert isinstance(decision, Trigger)
    return Outgoing("capture/trigger", TriggerMessage(duration_s=decision.duration_s, reason=decision.reason,
                                                      frame=decision.frame))


def status(state: Literal["online", "offline", "stopped"], since: datetime, model: str,
           version: str) -> StatusMessage:
    """The retained ``status`` payload (``online``, ``offline`` as the last will, ``stopped``)."""
    return StatusMessage(state=state, since=since, model=model, version=version)
