"""Every message the station publishes is built here, from a classified frame or a decision.

The models themselves are the contract (:mod:`auroral.edge.contract`); this module maps the station's
own objects onto them, so a field is filled in one place only.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from auroral.edge.capture_time import Captured
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
from auroral.edge.sky import Sky
from auroral.edge.station.decide import Alert, Event, StateChange, Trigger


@dataclass(frozen=True)
class Outgoing:
    """A message for ``<prefix>/<station>/<name>``."""

    name: str
    message: _Message


def frame(name: str, captured: Captured, prediction: Prediction | None, model: ModelRef, latency_s: float,
          seq: int, uncertain: bool = False, sky: Sky | None = None) -> Outgoing:
    """``prediction`` is None when the model did not run (outside night); ``sky`` None without a site."""
    moon_up = sky is not None and sky.moon_up
    return Outgoing("frames", FrameMessage(
        frame=name, captured_at=captured.at, time_source=captured.source,
        label=prediction.label if prediction else None,
        confidence=min(1.0, max(0.0, prediction.confidence)) if prediction else None,
        probabilities=prediction.probabilities if prediction else {}, uncertain=uncertain,
        sky=sky.kind if sky else None, sun_elevation=round(sky.sun_elevation, 3) if sky else None,
        moon_elevation=round(sky.moon_elevation, 3) if sky and moon_up else None,
        moon_illumination=round(sky.moon_illumination, 4) if sky and moon_up else None,
        moonlit=bool(sky and sky.moonlit), model=model, latency_ms=max(0.0, latency_s * 1000), seq=seq))


def event(decision: Event, at: datetime) -> Outgoing:
    """The message of one decision: ``state``, ``alerts`` or ``capture/trigger``."""
    if isinstance(decision, StateChange):
        confidence = None if decision.confidence is None else min(1.0, max(0.0, decision.confidence))
        return Outgoing("state", StateMessage(label=decision.label, since=decision.since, frame=decision.frame,
                                              confidence=confidence, sky=decision.sky, dark_at=decision.dark_at))
    if isinstance(decision, Alert):
        return Outgoing("alerts", AlertMessage(type=decision.type, at=at, frame=decision.frame,
                                               confidence=decision.confidence, captured_at=decision.captured_at,
                                               live=decision.live, **decision.extra))
    assert isinstance(decision, Trigger)
    return Outgoing("capture/trigger", TriggerMessage(at=decision.at, until=decision.until,
                                                      duration_s=decision.duration_s, reason=decision.reason,
                                                      frame=decision.frame, captured_at=decision.captured_at,
                                                      path=decision.path))


def status(state: Literal["online", "offline", "stopped"], since: datetime, model: str,
           version: str) -> StatusMessage:
    """The retained ``status`` payload (``online``, ``offline`` as the last will, ``stopped``)."""
    return StatusMessage(state=state, since=since, model=model, version=version)
