"""Decision logic (pure): breakup onset with hysteresis and cooldown, aurora on/off, external arming."""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from auroral.edge.classes import CLASSES, default_class_sets
from auroral.edge.station.config import AuroraConfig, ExternalConfig, TriggerConfig
from auroral.edge.station.decide import Alert, Decider, Observation, StateChange, Trigger

T0 = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def decider(state=None, external=None, **trigger) -> Decider:
    settings = {"labels": ["breakup"], "n": 2, "m": 3, "threshold": 0.8, "cooldown_s": 600, "max_per_hour": 6,
                **trigger}
    auroral, _ = default_class_sets(CLASSES)
    return Decider(TriggerConfig(**settings), AuroraConfig(labels=auroral, frames=2),
                   ExternalConfig(**{"min_confidence": 0.8, "cooldown_s": 600, **(external or {})}), state)


def seen(name: str, label: str, captured_at: datetime, confidence: float = 0.95) -> Observation:
    return Observation(name, f"/cam/{name}", captured_at, label, confidence)


def run(d: Decider, labels, start=T0, step_s=10.0, confidence=0.95):
    """Feed labels one per ``step_s``, each decided as it is captured; return (index, event) pairs."""
    events = []
    for i, label in enumerate(labels):
        at = start + timedelta(seconds=i * step_s)
        for event in d.observe(seen(f"f{i}", label, at, confidence), at):
            events.append((i, event))
    return events


def triggers(events):
    return [i for i, e in events if isinstance(e, Trigger)]


def alerts(events, kind):
    return [i for i, e in events if isinstance(e, Alert) and e.type == kind]


def test_onset_needs_n_of_last_m_and_fires_once_while_breakup_lasts():
    events = run(decider(), ["breakup", "faint", "faint", "breakup", "faint", "breakup", "breakup", "breakup"])
    assert triggers(events) == [5]
    assert alerts(events, "breakup_onset") == [5]


def test_low_confidence_breakup_does_not_count():
    d = decider()
    events = d.observe(seen("a", "breakup", T0, 0.5), T0) + d.observe(seen("b", "breakup", T0, 0.79), T0)
    assert not triggers([(0, e) for e in events])


def test_cooldown_suppresses_a_second_trigger_but_not_the_alert():
    labels = ["breakup"] * 2 + ["faint"] * 3 + ["breakup"] * 2
    events = run(decider(cooldown_s=600), labels, step_s=10)
    assert triggers(events) == [1]
    assert alerts(events, "breakup_onset") == [1, 6]
    events = run(decider(cooldown_s=600), labels, step_s=200)  # second onset 1000 s later: past the cooldown
    assert triggers(events) == [1, 6]


def test_rate_limit_per_hour_holds_with_zero_cooldown():
    labels = (["breakup"] * 2 + ["faint"] * 3) * 5
    assert len(triggers(run(decider(cooldown_s=0, max_per_hour=3), labels))) == 3


def test_state_round_trips_so_a_restart_mid_breakup_does_not_retrigger():
    d = decider()
    assert triggers(run(d, ["breakup", "breakup"])) == [1]
    restarted = decider(state=d.snapshot())
    assert triggers(run(restarted, ["breakup", "breakup", "breakup"], start=T0 + timedelta(seconds=30))) == []


def test_aurora_on_and_off_need_consecutive_agreeing_frames():
    events = run(decider(), ["faint", "faint", "arcs", "faint", "arcs", "arcs", "arcs", "faint", "faint"])
    assert alerts(events, "aurora_on") == [5]
    assert alerts(events, "aurora_off") == [8]


def test_external_alert_arms_capture_by_rule_and_respects_its_cooldown():
    d = decider()
    assert d.external_alert("tromso", "aurora_on", None, 0.99, T0, T0) == []
    assert d.external_alert("tromso", "breakup_onset", "x.jpg", 0.5, T0, T0) == []
    assert d.external_alert("tromso", "breakup_onset", "x.jpg", None, T0, T0) == []  # no confidence: never arms
    assert d.external_alert("tromso", "breakup_onset", "x.jpg", 0.9, T0 - timedelta(hours=1), T0) == []  # stale
    assert d.external_alert("tromso", "breakup_onset", "x.jpg", 0.9, T0 + timedelta(hours=1), T0) == []  # future
    armed = d.external_alert("tromso", "breakup_onset", "x.jpg", 0.9, T0 - timedelta(seconds=20), T0)
    assert [type(e) for e in armed] == [Alert, Trigger] and armed[1].reason == "external:tromso:breakup_onset"
    assert not armed[1].run_command
    later = T0 + timedelta(seconds=60)
    assert d.external_alert("abisko", "breakup_onset", "y.jpg", 0.9, later, later) == []


def test_external_arming_never_spends_the_local_budget():
    """An alert from outside arms capture, and the real breakup here right after still gets its own trigger and
    command (while a second alert from outside, within the external cooldown, does not arm again)."""
    d = decider(cooldown_s=600, max_per_hour=1)
    assert len(d.external_alert("tromso", "breakup_onset", "x.jpg", 0.9, T0, T0)) == 2
    local = [e for _, e in run(d, ["breakup", "breakup"], start=T0 + timedelta(seconds=30)) if isinstance(e, Trigger)]
    assert [(t.reason, t.run_command) for t in local] == [("breakup_onset", True)]
    later = T0 + timedelta(seconds=60)
    assert d.external_alert("abisko", "breakup_onset", "y.jpg", 0.9, later, later) == []


def test_the_external_budget_is_its_own_and_survives_a_restart():
    d = decider(external={"cooldown_s": 0, "max_per_hour": 2})
    for i in range(2):
        at = T0 + timedelta(seconds=i)
        assert len(d.external_alert("tromso", "breakup_onset", None, 0.9, at, at)) == 2
    restarted = decider(state=d.snapshot(), external={"cooldown_s": 0, "max_per_hour": 2})
    at = T0 + timedelta(seconds=5)
    assert restarted.external_alert("tromso", "breakup_onset", None, 0.9, at, at) == []
    assert triggers(run(restarted, ["breakup", "breakup"], start=at)) == [1]


def test_a_trigger_time_in_the_future_is_clamped_when_loaded(caplog):
    """A trigger recorded while the clock was a day ahead must not block triggers until the clock catches up."""
    now = datetime.now(UTC)
    ahead = decider(cooldown_s=600)
    run(ahead, ["breakup", "breakup"], start=now + timedelta(days=1))
    with caplog.at_level(logging.WARNING, logger="auroral.decide"):
        restarted = decider(state=ahead.snapshot(), cooldown_s=600)
    assert [r.message.split()[0] for r in caplog.records].count("event=trigger_time_clamped") == 1
    assert all(datetime.fromisoformat(t) <= datetime.now(UTC) for t in restarted.snapshot()["triggers"])
    assert triggers(run(restarted, ["faint"] * 3 + ["breakup", "breakup"], start=now + timedelta(seconds=601))) == [4]


def test_a_trigger_time_in_the_future_is_clamped_when_compared(caplog):
    """The clock steps back after a trigger: the next onset waits one cooldown from now, not a day, and it is
    logged once."""
    d = decider(cooldown_s=600)
    run(d, ["breakup", "breakup"], start=T0 + timedelta(days=1))
    with caplog.at_level(logging.WARNING, logger="auroral.decide"):
        events = run(d, ["faint"] * 3 + ["breakup", "breakup"], start=T0)
        assert triggers(events) == []  # one cooldown from the clamped time
        assert triggers(run(d, ["faint"] * 3 + ["breakup", "breakup"], start=T0 + timedelta(seconds=700))) == [4]
    assert [r.message.split()[0] for r in caplog.records].count("event=trigger_time_clamped") == 1


def test_an_onset_names_the_first_frame_of_its_window_with_its_capture_time():
    events = run(decider(), ["faint", "breakup", "faint", "breakup"])
    [(fired, onset)] = [(i, e) for i, e in events if isinstance(e, Alert) and e.type == "breakup_onset"]
    [trigger] = [e for _, e in events if isinstance(e, Trigger)]
    assert fired == 3 and onset.frame == "f1" and onset.captured_at == T0 + timedelta(seconds=10) and onset.live
    assert (trigger.frame, trigger.path, trigger.captured_at) == ("f1", "/cam/f1", T0 + timedelta(seconds=10))
    assert trigger.until == trigger.at + timedelta(seconds=trigger.duration_s)


def test_frames_older_than_max_age_give_their_onsets_but_never_trigger():
    d = decider(max_age_s=300)
    last_night = T0 - timedelta(days=2)
    events = []
    for i, label in enumerate(["faint", "breakup", "breakup", "breakup", "faint"]):
        events += d.observe(seen(f"f{i}", label, last_night + timedelta(minutes=i)), T0)
    onsets = [e for e in events if isinstance(e, Alert) and e.type == "breakup_onset"]
    assert [(o.frame, o.live) for o in onsets] == [("f1", False)]
    assert not [e for e in events if isinstance(e, Trigger)]


def test_the_sky_state_follows_capture_time_not_processing_order():
    d = decider()
    newest = d.observe(seen("f9", "arcs", T0 + timedelta(minutes=9)), T0 + timedelta(minutes=9))
    assert [e.label for e in newest if isinstance(e, StateChange)] == ["arcs"]
    for i in range(8, 0, -1):  # the backlog drains behind the live sky, newest first
        late = d.observe(seen(f"f{i}", "breakup", T0 + timedelta(minutes=i)), T0 + timedelta(minutes=10))
        assert not [e for e in late if isinstance(e, (StateChange, Trigger))], "a late frame moved the sky"
        assert all(not e.live for e in late if isinstance(e, Alert))
    assert d.sky["label"] == "arcs"


def test_a_snapshot_from_before_the_two_streams_still_loads():
    old = {"window": [True, False], "armed": False, "triggers": [T0.isoformat()], "aurora": None, "streak": [],
           "sky": {"label": "breakup", "since": T0.isoformat()}}
    d = decider(state=old)
    assert [e["hit"] for e in d.live.window] == [True, False] and not d.live.armed and d.triggers == [T0]


def test_frames_decided_while_the_clock_was_ahead_do_not_make_later_ones_late(caplog):
    d = decider()
    ahead = T0 + timedelta(days=1)
    d.observe(seen("f0", "faint", ahead), ahead)  # camera and station clocks a day ahead, then corrected
    with caplog.at_level(logging.WARNING, logger="auroral.decide"):
        events = d.observe(seen("f1", "arcs", T0), T0)
    assert [e.label for e in events if isinstance(e, StateChange)] == ["arcs"]
    assert "event=capture_time_clamped" in caplog.text


def test_frames_a_little_ahead_of_the_clock_still_follow_capture_time():
    d = decider()
    ahead = [T0 + timedelta(minutes=5, seconds=i) for i in range(3)]  # a camera clock minutes fast
    labels = ["faint", "breakup", "arcs"]
    for i in (2, 1, 0):  # processed newest first, as after a burst
        d.observe(seen(f"f{i}", labels[i], ahead[i]), T0)
    assert d.sky["label"] == "arcs"  # the newest capture, not the last processed
