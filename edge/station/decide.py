"""Decisions from the stream of labels: the sky state (the current label), breakup onset (→ alert +
capture trigger), aurora on/off alerts, and arming capture from other stations' alerts. Pure logic: the
caller passes times in, and the whole state round-trips through :meth:`Decider.snapshot` so a restart
mid-breakup does not trigger again.

Breakup onset uses hysteresis: it fires when at least ``n`` of the last ``m`` frames are ``label`` with
confidence ≥ ``threshold``; it re-arms only once no such frame is left in the window, and a trigger
(from any source) is followed by ``cooldown_s`` without another, with at most ``max_per_hour``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from auroral.edge.contract import AlertType
from auroral.edge.station.config import AuroraConfig, ExternalConfig, TriggerConfig


@dataclass(frozen=True)
class Alert:
    type: AlertType
    frame: str | None
    confidence: float | None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trigger:
    reason: str
    frame: str | None
    duration_s: float
    run_command: bool


@dataclass(frozen=True)
class StateChange:
    """The sky's label changed (published retained on ``state``)."""

    label: str
    since: datetime
    frame: str
    confidence: float


Event = Alert | Trigger | StateChange


class Decider:
    def __init__(self, trigger: TriggerConfig, aurora: AuroraConfig, external: ExternalConfig,
                 state: dict[str, Any] | None = None):
        self.trigger = trigger
        self.aurora = aurora
        self.external = external
        state = state or {}
        self.window: deque[bool] = deque(state.get("window", []), maxlen=trigger.m)
        self.armed: bool = state.get("armed", True)
        self.triggers: list[datetime] = [datetime.fromisoformat(t) for t in state.get("triggers", [])]
        self.aurora_state: bool | None = state.get("aurora")
        self.streak: list[bool] = list(state.get("streak", []))
        self.sky: dict[str, str] = dict(state.get("sky") or {})  # {"label", "since"} of the current sky state

    def snapshot(self) -> dict[str, Any]:
        return {"window": list(self.window), "armed": self.armed, "triggers": [t.isoformat() for t in self.triggers],
                "aurora": self.aurora_state, "streak": self.streak, "sky": self.sky}

    def observe(self, frame: str, label: str, confidence: float, now: datetime) -> list[Event]:
        """One classified frame → the state change, alerts and triggers it causes (the state change first:
        a subscriber holding a later message knows the retained state is at least this current)."""
        events: list[Event] = []
        if label != self.sky.get("label"):
            self.sky = {"label": label, "since": now.isoformat()}
            events.append(StateChange(label, now, frame, confidence))
        hit = label == self.trigger.label and confidence >= self.trigger.threshold
        self.window.append(hit)
        if self.armed and sum(self.window) >= self.trigger.n:
            self.armed = False
            events.append(Alert("breakup_onset", frame, confidence))
            if self._may_trigger(now):
                events.append(Trigger("breakup_onset", frame, self.trigger.duration_s, run_command=True))
        elif not self.armed and not any(self.window):
            self.armed = True
        events.extend(self._aurora(frame, label in self.aurora.labels, confidence))
        return events

    def external_alert(self, station: str, alert_type: str, frame: str | None, confidence: float | None,
                       at: datetime, now: datetime) -> list[Event]:
        """A valid alert from another station: arms capture when the rules say so.

        Only a recent alert of an arming type with a stated confidence above the threshold arms: a
        replayed old alert, or one that does not say how sure it is, must not start a capture.
        """
        if alert_type not in self.external.arm_types:
            return []
        if confidence is None or confidence < self.external.min_confidence:
            return []
        if abs((now - at).total_seconds()) > self.external.max_age_s:
            return []
        if not self._may_trigger(now):
            return []
        return [Alert("external_arm", frame, confidence, {"source": station}),
                Trigger(f"external:{station}:{alert_type}", frame, self.trigger.duration_s, run_command=False)]

    def _may_trigger(self, now: datetime) -> bool:
        self.triggers = [t for t in self.triggers if now - t < timedelta(hours=1)]
        if self.triggers and now - self.triggers[-1] < timedelta(seconds=self.trigger.cooldown_s):
            return False
        if len(self.triggers) >= self.trigger.max_per_hour:
            return False
        self.triggers.append(now)
        return True

    def _aurora(self, frame: str, is_aurora: bool, confidence: float) -> list[Event]:
        self.streak = (self.streak + [is_aurora])[-self.aurora.frames:]
        if len(self.streak) < self.aurora.frames or len(set(self.streak)) != 1 or self.aurora_state == is_aurora:
            return []
        previous, self.aurora_state = self.aurora_state, is_aurora
        if previous is None and not is_aurora:
            return []  # the first settled state is a clear sky: nothing to announce
        return [Alert("aurora_on" if is_aurora else "aurora_off", frame, confidence)]
