"""The supervisor: a failing loop is logged, counted and restarted; one that keeps failing stops the daemon;
a guarded callback never raises into its caller; health names the component that is late."""
from __future__ import annotations

import logging
import threading

from auroral.edge.station.supervisor import Component
from support.stationctx import failures, make_context, wait_for


class Flaky(Component):
    """Fails its first ``fail`` runs, then beats until stopped."""

    def __init__(self, context, fail: int):
        super().__init__(context)
        self.fail = fail
        self.runs = 0
        self.steady = threading.Event()

    def start(self) -> None:
        self.spawn("flaky", self._loop, deadline_s=5.0)

    def _loop(self) -> None:
        self.runs += 1
        if self.runs <= self.fail:
            raise RuntimeError(f"boom {self.runs}")
        self.steady.set()
        while not self.stopping.wait(0.05):
            self.supervisor.beat("flaky")


def test_a_failed_loop_is_logged_counted_and_restarted(tmp_path, caplog):
    context = make_context(tmp_path)
    flaky = Flaky(context, fail=2)
    with caplog.at_level(logging.ERROR, "auroral.supervisor"):
        flaky.start()
        try:
            wait_for(flaky.steady.is_set, "the third run")
            healthy, report = context.supervisor.health()
        finally:
            flaky.stop(5)
    assert flaky.runs == 3 and failures(context, "flaky") == 2
    assert caplog.text.count("event=component_failed component=flaky") == 2
    assert "Traceback" in caplog.text and "RuntimeError: boom 1" in caplog.text
    assert healthy and report["flaky"]["ok"] and report["flaky"]["failures"] == 2
    assert not context.supervisor.stop.is_set()


def test_a_component_that_keeps_failing_stops_the_daemon(tmp_path):
    context = make_context(tmp_path)
    context.supervisor.max_failures = 3
    flaky = Flaky(context, fail=100)
    flaky.start()
    try:
        wait_for(context.supervisor.stop.is_set, "the daemon told to stop")
    finally:
        flaky.stop(5)
    assert context.supervisor.fatal == "flaky" and flaky.runs == 3
    assert not context.supervisor.health()[0]


def test_a_guarded_callback_never_raises(tmp_path, caplog):
    context = make_context(tmp_path)

    def on_message(payload: bytes) -> int:
        return len(payload) // 0

    guarded = context.supervisor.guard("mqtt-callback", on_message)
    with caplog.at_level(logging.ERROR, "auroral.supervisor"):
        assert guarded(b"x") is None
    assert failures(context, "mqtt-callback") == 1
    assert "ZeroDivisionError" in caplog.text


def test_health_names_the_component_that_is_late(tmp_path):
    context = make_context(tmp_path)
    supervisor = context.supervisor
    supervisor.register("decode", deadline_s=0.05)
    supervisor.register("mqtt", deadline_s=60.0)
    wait_for(lambda: not supervisor.health()[0], "decode to be late")
    healthy, report = supervisor.health()
    assert not report["decode"]["ok"] and report["mqtt"]["ok"]
    supervisor.beat("decode")
    assert supervisor.health()[0]


def test_a_component_stopped_on_purpose_no_longer_counts(tmp_path):
    context = make_context(tmp_path)
    flaky = Flaky(context, fail=0)
    flaky.start()
    wait_for(flaky.steady.is_set, "the loop running")
    flaky.stop(5)
    assert "flaky" not in context.supervisor.health()[1]
