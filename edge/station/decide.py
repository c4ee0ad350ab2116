"""Decisions from the stream of labels: the sky state (the current label), breakup onset (→ alert +
capture trigger), aurora on/off alerts, and arming capture from other stations' alerts. Pure logic: the
caller passes times in (the clock is read once, when saved state is loaded), and the whole state
round-trips through :meth:`Decider.snapshot` so a restart mid-breakup does not trigger again.

Breakup onset uses hysteresis: it fires when at least ``n`` of the last ``m`` frames are ``label`` with
confidence ≥ ``threshold``; it re-arms only once no such frame is left in the window, and a local trigger
is followed by ``[trigger] cooldown_s`` without another, with at most ``max_per_hour``. Arming from other
stations has its own budget (``[external] cooldown_s``, ``max_per_hour``): alerts from outside can never
use up the local one, so a real breakup here is always captured and its command run.

A trigger time later than now (recorded while the clock was ahead) is clamped to now and logged, so a
clock that was wrong once blocks triggers for one cooldown at most, not until it catches up.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from auroral.edge.contract import AlertType, utc_now
from auroral.edge.station.config import AuroraConfig, ExternalConfig, TriggerConfig

log = logging.getLogger("auroral.decide")


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
        now = utc_now()
        self.triggers = _clamped([datetime.fromisoformat(t) for t in state.get("triggers", [])], now, "local")
        self.external_triggers = _clamped([datetime.fromisoformat(t) for t in state.get("external_triggers", [])],
                                          now, "external")
        self.aurora_state: bool | None = state.get("aurora")
        self.streak: list[bool] = list(state.get("streak", []))
        self.sky: dict[str, str] = dict(state.get("sky") or {})  # {"label", "since"} of the current sky state

    def snapshot(self) -> dict[str, Any]:
        return {"window": list(self.window), "armed": self.armed, "triggers": [t.isoformat() for t in self.triggers],
                "external_triggers": [t.isoformat() for t in self.external_triggers],
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
            if self._may_trigger(self.triggers, now, self.trigger.cooldown_s, self.trigger.max_per_hour, "local"):
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
        if not self._may_trigger(self.external_triggers, now, self.external.cooldown_s, self.external.max_per_hour,
                                 "external"):
            return []
        return [Alert("external_arm", frame, confidence, {"source": station}),
                Trigger(f"external:{station}:{alert_type}", frame, self.trigger.duration_s, run_command=False)]

    @staticmethod
    def _may_trigger(history: list[datetime], now: datetime, cooldown_s: float, max_per_hour: int,
                     source: str) -> bool:
        """Whether a trigger fits the budget kept in ``history`` (updated in place, and the trigger recorded)."""
        history[:] = [t for t in _clamped(history, now, source) if now - t < timedelta(hours=1)]
        if history and now - max(history) < timedelta(seconds=cooldown_s):
            return False
        if len(history) >= max_per_hour:
            return False
        history.append(now)
        return True

    def _aurora(self, frame: str, is_aurora: bool, confidence: float) -> list[Event]:
        self.streak = (self.streak + [is_aurora])[-self.aurora.frames:]
        if len(self.streak) < self.aurora.frames or len(set(self.streak)) != 1 or self.aurora_state == is_aurora:
            return []
        previous, self.aurora_state = self.aurora_state, is_aurora
        if previous is None and not is_aurora:
            return []  # the first settled state is a clear sky: nothing to announce
        return [Alert("aurora_on" if is_aurora else "aurora_off", frame, confidence)]


def _clamped(times: list[datetime], now: datetime, source: str) -> list[datetime]:
    """``times`` with any later than ``now`` (written while the clock was ahead) set to ``now``, logged."""
    ahead = [t for t in times if t > now]
    if ahead:
        log.warning("event=trigger_time_clamped source=%s count=%d latest=%s now=%s", source, len(ahead),
                    max(ahead).isoformat(), now.isoformat())
    return [min(t, now) for t in times]
