"""Decisions from the stream of labels: the sky state (the current label), breakup onset (→ alert +
capture trigger), aurora on/off alerts, and arming capture from other stations' alerts. Pure logic: the
caller passes times in (the clock is read once, when saved state is loaded), and the whole state
round-trips through :meth:`Decider.snapshot` so a restart mid-breakup does not trigger again.

Decisions follow capture time, not processing order. Frames are processed newest first after an outage
or in a burst, so each frame is decided on one of two streams: a frame captured after every frame
decided so far goes to the *live* stream, which alone moves the retained sky state; an older one (a
backlog drained behind the live sky) goes to the *history* stream, which finds its onsets and aurora
alerts but never triggers. A frame captured more than ``[trigger] max_age_s`` from now never triggers
either: its alerts say ``live: false``. Replaying last night into a fresh install therefore gives last
night's onsets, each with the capture time of its first frame, and no trigger.

Only frames of a dark sky decide: a frame in day or twilight (with a ``[site]``), one whose label is
below ``[model] min_confidence`` (uncertain), or one the model did not run on is recorded and published
but never counts towards aurora on/off or an onset. The retained state then says ``day`` or
``twilight``, with the time the sky is next dark. A breakup seen under a bright moon (``moonlit``) is
announced but triggers only with ``[sky] moonlit_triggers``.

Breakup onset uses hysteresis: it fires when at least ``n`` of the last ``m`` frames are ``label`` with
confidence ≥ ``threshold``, names the first such frame of the window, and re-arms only once no such frame
is left in the window. A local trigger is followed by ``[trigger] cooldown_s`` without another, with at
most ``max_per_hour``. Arming from other stations has its own budget (``[external] cooldown_s``,
``max_per_hour``): alerts from outside can never use up the local one, so a real breakup here is always
captured and its command run.

A trigger time later than now (recorded while the clock was ahead) is clamped to now and logged, so a
clock that was wrong once blocks triggers for one cooldown at most, not until it catches up; so is a
newest capture time more than an hour ahead of the clock, so later frames are not all taken for late ones
(a camera clock a few minutes ahead keeps its frames in order).
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from auroral.edge.contract import AlertType, SkyKind, utc_now
from auroral.edge.sky import Sky
from auroral.edge.station.config import AuroraConfig, ExternalConfig, SkyConfig, TriggerConfig

log = logging.getLogger("auroral.decide")

#: a newest capture further ahead of the station's clock than this was stamped by a clock that was wrong
_CLOCK_AHEAD = timedelta(hours=1)


@dataclass(frozen=True)
class Observation:
    """One recorded frame, as the decisions see it."""

    frame: str
    path: str
    captured_at: datetime
    label: str | None  # None: the model did not run (not night)
    confidence: float | None
    uncertain: bool = False  # below [model] min_confidence: decides nothing
    sky: Sky | None = None  # None without [site]: the sky counts as night

    @property
    def dark(self) -> bool:
        return self.sky is None or self.sky.kind == "night"

    @property
    def counts(self) -> bool:
        """Whether it may count towards aurora on/off and an onset: a dark sky and a sure label."""
        return self.dark and not self.uncertain and self.label is not None


@dataclass(frozen=True)
class Alert:
    type: AlertType
    frame: str | None
    confidence: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    captured_at: datetime | None = None
    live: bool = True
    path: str | None = None  # the frame's path on the station (for a thumbnail or a notification)


@dataclass(frozen=True)
class Trigger:
    reason: str
    frame: str | None
    duration_s: float
    run_command: bool
    at: datetime
    captured_at: datetime | None = None
    path: str | None = None

    @property
    def until(self) -> datetime:
        return self.at + timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class StateChange:
    """The sky's label changed (published retained on ``state``)."""

    label: str
    since: datetime
    frame: str
    confidence: float | None
    sky: SkyKind | None = None
    dark_at: datetime | None = None  # while day or twilight: when the sky is next dark


Event = Alert | Trigger | StateChange


class _Stream:
    """The onset window and the aurora streak over frames taken in capture order."""

    def __init__(self, trigger: TriggerConfig, aurora: AuroraConfig, state: dict[str, Any]):
        self.trigger = trigger
        self.aurora = aurora
        # each entry: {"hit": bool, "frame", "path", "captured_at", "confidence"} (older snapshots: bools)
        self.window: deque[dict[str, Any]] = deque(
            ({"hit": entry} if isinstance(entry, bool) else entry for entry in state.get("window", [])),
            maxlen=trigger.m)
        self.armed: bool = state.get("armed", True)
        self.aurora_state: bool | None = state.get("aurora")
        self.streak: list[bool] = list(state.get("streak", []))

    def snapshot(self) -> dict[str, Any]:
        return {"window": list(self.window), "armed": self.armed, "aurora": self.aurora_state,
                "streak": self.streak}

    def step(self, seen: Observation) -> tuple[dict[str, Any] | None, list[AlertType]]:
        """(the first frame of a breakup onset this frame completes, or None; aurora alerts it causes)."""
        hit = seen.label in (self.trigger.labels or ()) and (seen.confidence or 0.0) >= self.trigger.threshold
        self.window.append({"hit": hit, "frame": seen.frame, "path": seen.path,
                            "captured_at": seen.captured_at.isoformat(), "confidence": seen.confidence})
        onset = None
        hits = [entry for entry in self.window if entry["hit"]]
        if self.armed and len(hits) >= self.trigger.n:
            self.armed = False
            onset = {**hits[0], "confidence": max(entry.get("confidence", 0.0) for entry in hits)}
        elif not self.armed and not hits:
            self.armed = True
        return onset, self._aurora(seen.label in (self.aurora.labels or ()))

    def _aurora(self, is_aurora: bool) -> list[AlertType]:
        self.streak = (self.streak + [is_aurora])[-self.aurora.frames:]
        if len(self.streak) < self.aurora.frames or len(set(self.streak)) != 1 or self.aurora_state == is_aurora:
            return []
        previous, self.aurora_state = self.aurora_state, is_aurora
        if previous is None and not is_aurora:
            return []  # the first settled state is a clear sky: nothing to announce
        return ["aurora_on" if is_aurora else "aurora_off"]


class Decider:
    def __init__(self, trigger: TriggerConfig, aurora: AuroraConfig, external: ExternalConfig,
                 state: dict[str, Any] | None = None, sky: SkyConfig | None = None,
                 next_dark: Callable[[datetime], datetime | None] | None = None):
        self.trigger = trigger
        self.aurora = aurora
        self.external = external
        self.moonlit_triggers = sky.moonlit_triggers if sky else False
        self.next_dark = next_dark
        state = state or {}
        # a snapshot from before the two streams kept the live stream's keys at the top level
        self.live = _Stream(trigger, aurora, state.get("live", state))
        self.history = _Stream(trigger, aurora, state.get("history", {}))
        latest = state.get("latest")
        self.latest: datetime | None = datetime.fromisoformat(latest) if latest else None  # newest decided capture
        self._clamp_logged = False
        now = utc_now()
        self.triggers = _clamped([datetime.fromisoformat(t) for t in state.get("triggers", [])], now, "local")
        self.external_triggers = _clamped([datetime.fromisoformat(t) for t in state.get("external_triggers", [])],
                                          now, "external")
        self.sky: dict[str, str] = dict(state.get("sky") or {})  # {"label", "since"} of the current sky state

    def snapshot(self) -> dict[str, Any]:
        return {"live": self.live.snapshot(), "history": self.history.snapshot(),
                "latest": self.latest.isoformat() if self.latest else None,
                "triggers": [t.isoformat() for t in self.triggers],
                "external_triggers": [t.isoformat() for t in self.external_triggers], "sky": self.sky}

    def observe(self, seen: Observation, now: datetime) -> list[Event]:
        """One classified frame → the state change, alerts and triggers it causes (the state change first:
        a subscriber holding a later message knows the retained state is at least this current).

        Give the frames of one batch in capture order."""
        events: list[Event] = []
        if self.latest is not None and self.latest > now + _CLOCK_AHEAD:
            # decided while a clock was far ahead: else every correct frame after it would be taken as late
            if not self._clamp_logged:
                log.warning("event=capture_time_clamped latest=%s now=%s", self.latest.isoformat(), now.isoformat())
                self._clamp_logged = True
            self.latest = now
        elif self._clamp_logged and seen.captured_at <= now + _CLOCK_AHEAD:
            self._clamp_logged = False
        late = self.latest is not None and seen.captured_at < self.latest
        stream = self.history if late else self.live
        fresh = not late and abs((now - seen.captured_at).total_seconds()) <= self.trigger.max_age_s
        if not late:
            self.latest = seen.captured_at
            events += self._state(seen)
        if not seen.counts:  # day, twilight, an uncertain label, or no label at all: decides nothing
            return events
        onset, aurora = stream.step(seen)
        if onset is not None:
            first = datetime.fromisoformat(onset["captured_at"]) if onset.get("captured_at") else None
            events.append(Alert("breakup_onset", onset.get("frame"), onset["confidence"], captured_at=first,
                                live=fresh, path=onset.get("path")))
            may = fresh and (self.moonlit_triggers or not (seen.sky and seen.sky.moonlit))
            if may and self._may_trigger(self.triggers, now, self.trigger.cooldown_s, self.trigger.max_per_hour,
                                         "local"):
                events.append(Trigger("breakup_onset", onset.get("frame"), self.trigger.duration_s, True, now,
                                      first, onset.get("path")))
        for kind in aurora:
            events.append(Alert(kind, seen.frame, seen.confidence, captured_at=seen.captured_at, live=fresh,
                                path=seen.path))
        return events

    def _state(self, seen: Observation) -> list[Event]:
        """The retained sky state after the newest frame: its label on a dark sky, else day or twilight."""
        label: str
        if seen.sky is not None and not seen.dark:
            label, confidence = seen.sky.kind, None
        elif seen.counts and seen.label is not None:
            label, confidence = seen.label, seen.confidence
        else:
            return []  # an uncertain frame leaves the state as it is
        if label == self.sky.get("label"):
            return []
        self.sky = {"label": label, "since": seen.captured_at.isoformat()}
        dark_at = self.next_dark(seen.captured_at) if not seen.dark and self.next_dark else None
        return [StateChange(label, seen.captured_at, seen.frame, confidence, seen.sky.kind if seen.sky else None,
                            dark_at)]

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
                Trigger(f"external:{station}:{alert_type}", frame, self.trigger.duration_s, False, now)]

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


def _clamped(times: list[datetime], now: datetime, source: str) -> list[datetime]:
    """``times`` with any later than ``now`` (written while the clock was ahead) set to ``now``, logged."""
    ahead = [t for t in times if t > now]
    if ahead:
        log.warning("event=trigger_time_clamped source=%s count=%d latest=%s now=%s", source, len(ahead),
                    max(ahead).isoformat(), now.isoformat())
    return [min(t, now) for t in times]
