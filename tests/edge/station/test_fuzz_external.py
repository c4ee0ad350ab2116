"""External alert payloads from other stations are untrusted input: fuzzed, they never crash the daemon
and never trigger a capture; alerts that look valid (naive times, numbers as text, huge or hostile names)
are refused or made safe, and a good alert after them is still acted on; a flood of valid ones is
rate-limited to one trigger."""
from __future__ import annotations

import contextlib
import json
import tempfile
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from auroral.edge.contract import MAX_NAME, AlertMessage, utc_now
from auroral.edge.station.decide import Alert, Trigger
from support.faults import STATION, Station, connected_client, settle
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration

NEIGHBOUR_ALERTS = "auroral/tromso/alerts"
EXTERNAL = {"external": {"topics": ["auroral/+/alerts"]}}

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
    st.text(max_size=10), inner, max_size=5), max_leaves=20)
alert_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["breakup_onset", "aurora_on", "external_arm", "BREAKUP", "", "x" * 300]) | json_scalars},
    optional={"at": st.sampled_from(["2026-11-24T22:00:00Z", "yesterday", "", "2026-13-45T99:99:99Z"]) | json_scalars,
              "confidence": st.floats(allow_nan=True, allow_infinity=True) | json_scalars,
              "frame": json_values, "station": json_values, "extra": json_values})


def encoded(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


payloads = (st.binary(max_size=2000)
            | json_values.map(encoded)
            | alert_like.map(encoded)
            | st.text(max_size=500).map(lambda t: t.encode("utf-8", "surrogatepass")))


def is_valid_alert(payload: bytes) -> bool:
    """The fuzz is about malformed input; the odd generated payload that is a valid alert is left out."""
    try:
        AlertMessage.model_validate_json(payload)
        return True
    except (ValidationError, ValueError):
        return False


@contextlib.contextmanager
def handler(acted: list, **external):
    """The daemon's own external-alert handler, with its real ledger (decisions, state database, spool) and
    metrics, in-process; ``acted`` receives every decision the ledger commits; ``external`` overrides
    ``[external]`` settings."""
    from auroral.edge.contract import ModelRef
    from auroral.edge.station.config import StationConfig
    from auroral.edge.station.external import ExternalAlerts
    from auroral.edge.station.ledger import Ledger
    from auroral.edge.station.metrics import StationMetrics

    with tempfile.TemporaryDirectory(prefix="auroral-fuzz-") as state:
        config = StationConfig.model_validate({"station": STATION, "state_dir": state, "watch": {"dirs": [state]},
                                               "model": {"bundle": state},
                                               "external": {"topics": ["auroral/+/alerts"], **external}})
        metrics = StationMetrics()
        ledger = Ledger.open(config, metrics, ModelRef(name="toy", sha256="0" * 64), acted.extend)
        try:
            yield ExternalAlerts("auroral", STATION, 4096, ledger, metrics), metrics
        finally:
            ledger.close()


def rejected(metrics, reason: str | None = None) -> float:
    return sum(s.value for f in metrics.registry.collect() if f.name == "auroral_external_alerts_rejected"
               for s in f.samples if s.name.endswith("_total") and reason in (None, s.labels["reason"]))


@settings(max_examples=300, deadline=None)
@given(topic=st.sampled_from([NEIGHBOUR_ALERTS, "auroral/x/alerts", "auroral", "a/b", "auroral//alerts", ""])
       | st.text(max_size=60), payload=payloads)
@example(topic=NEIGHBOUR_ALERTS, payload=b"[" * 4000)  # deep nesting
@example(topic=NEIGHBOUR_ALERTS, payload=b'{"type": "breakup_onset", "at": "2026-11-24T22:00:00Z", "confidence": NaN}')
@example(topic=NEIGHBOUR_ALERTS,
         payload=b'{"type": "breakup_onset", "at": "2026-11-24T22:00:00Z", "confidence": 1e999}')
@example(topic=NEIGHBOUR_ALERTS, payload=b'{"type": "\\ud800"}')  # a lone surrogate escape
@example(topic=NEIGHBOUR_ALERTS, payload=b"\xff\xfe{}")
def test_fuzzed_payloads_in_process(topic, payload):
    """Hundreds of malformed payloads straight into the handler: never an exception, never an action."""
    assume(not is_valid_alert(payload))
    acted: list = []
    with handler(acted) as (on_message, metrics):
        on_message(topic, payload)
    assert acted == []
    assert rejected(metrics) == (0 if topic.startswith(f"auroral/{STATION}/") else 1)


def alert_json(**fields) -> bytes:
    return json.dumps({"type": "breakup_onset", "at": utc_now().isoformat(), "confidence": 0.95, **fields}).encode()


@pytest.mark.parametrize("payload, field", [
    (alert_json(at=utc_now().replace(tzinfo=None).isoformat()), "at"),  # a naive time: no time zone
    (alert_json(at=int(utc_now().timestamp())), "at"),
    (alert_json(at=str(int(utc_now().timestamp()))), "at"),
    (alert_json(confidence="0.95"), "confidence"),
    (alert_json(confidence=True), "confidence"),
    (alert_json(frame="<div>" * 600), "frame"),  # kilobytes of markup, never echoed
], ids=["naive-time", "number-time", "number-text-time", "text-confidence", "bool-confidence", "huge-frame"])
def test_alerts_that_only_look_valid_are_rejected_before_any_rule(caplog, payload, field):
    """Refused by validation, before the decision logic (its age check included) runs: so a retained copy
    of such an alert is refused again at every start instead of stopping the MQTT thread."""
    acted: list = []
    with handler(acted) as (on_message, metrics):
        on_message(NEIGHBOUR_ALERTS, payload)
    assert acted == [] and rejected(metrics, "invalid") == 1
    assert f"detail='{field}:" in caplog.text


def test_a_name_from_outside_is_echoed_escaped():
    acted: list = []
    with handler(acted) as (on_message, _):
        on_message(NEIGHBOUR_ALERTS, alert_json(frame="TRO\x1b]0;owned\x07\n event=forged.jpg"))
    alert, trigger = acted
    assert isinstance(alert, Alert) and isinstance(trigger, Trigger)
    assert alert.frame == trigger.frame == "TRO\\x1b]0;owned\\x07\\n event=forged.jpg"


@pytest.mark.parametrize("topic", ["auroral/tro\nmso/alerts", "auroral/" + "t" * 65 + "/alerts", "auroral/alerts",
                                   "auroral//alerts", "auroral/tromso\n/alerts"])
def test_a_source_that_is_not_a_station_id_is_rejected(topic):
    acted: list = []
    with handler(acted) as (on_message, metrics):
        on_message(topic, alert_json())
    assert acted == [] and rejected(metrics, "bad_source") == 1


zones = st.none() | st.timezones() | st.just(UTC)
any_time = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)
recent = st.builds(lambda s, zone: (utc_now() + timedelta(seconds=s)).astimezone(zone or UTC)
                   .replace(tzinfo=zone), st.integers(-400, 400), zones)  # naive or aware, around now
valid_looking = st.fixed_dictionaries(
    {"type": st.sampled_from(["breakup_onset", "aurora_on", "external_arm", "frame_quarantined"]),
     "at": (recent | any_time).map(datetime.isoformat) | st.integers() | st.floats() | st.integers().map(str),
     "confidence": st.none() | st.booleans() | st.floats() | st.integers() | st.floats(0, 1).map(str)
     | st.floats(0.8, 1),
     "frame": st.none() | st.text(max_size=300) | st.text(max_size=3000) | st.integers()},
    optional={"source": st.text(max_size=100), "reason": st.text(max_size=100)})


def echoed_safely(name: str | None) -> bool:
    return name is None or (len(name) <= 6 * MAX_NAME and not any(unicodedata.category(c) in {"Cc", "Cs", "Zl", "Zp"}
                                                                  for c in name))


@settings(max_examples=200, deadline=None)
@given(alert=valid_looking, station=st.sampled_from(["tromso", "abisko"]) | st.text(max_size=70))
@example(alert={"type": "breakup_onset", "at": "2026-11-29T16:35:08", "confidence": 0.95, "frame": None},
         station="tromso")
@example(alert={"type": "breakup_onset", "at": "0001-01-01T00:00:00-23:59", "confidence": 1, "frame": "\udcf8"},
         station="tromso")
def test_valid_looking_alerts_never_escape_the_handler_and_a_good_one_still_arms(alert, station):
    acted: list = []
    with handler(acted, cooldown_s=0, max_per_hour=1000) as (on_message, _):
        on_message(f"auroral/{station}/alerts", json.dumps(alert, allow_nan=True).encode())
        assert all(echoed_safely(event.frame) for event in acted)
        acted.clear()
        good = AlertMessage(type="breakup_onset", at=utc_now() - timedelta(seconds=5), frame="TRO_1.jpg",
                            confidence=0.99)
        on_message(NEIGHBOUR_ALERTS, good.to_json())
    assert [type(e) for e in acted] == [Alert, Trigger] and acted[1].reason == "external:tromso:breakup_onset"


@pytest.fixture(scope="module")
def external_station(tmp_path_factory, toy_bundle):
    from auroral.edge.tools.broker import LocalBroker

    root = tmp_path_factory.mktemp("fuzz")
    with LocalBroker() as broker, Collector(broker, "auroral/#") as collector, \
            Station(root / "station", toy_bundle.root, broker.address, EXTERNAL) as station:
        client = connected_client(broker)
        station.wait_until(lambda: station.connected() == 1, what="daemon connected")
        yield broker, collector, station, client
        client.loop_stop()
        client.disconnect()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(payloads, min_size=10, max_size=40))
def test_malformed_external_alerts_never_crash_or_trigger(external_station, batch):
    broker, collector, station, client = external_station
    batch = [p for p in batch if not is_valid_alert(p)] + [b"\x00" * 300_000]  # and one oversized payload
    before = station.external_rejected()
    for payload in batch:
        client.publish(NEIGHBOUR_ALERTS, payload, qos=1).wait_for_publish(10)
    station.wait_until(lambda: station.external_rejected() == before + len(batch),
                       what=f"{len(batch)} malformed alerts counted")
    settle(collector, station, client)
    assert station.alive
    assert not collector.on("capture/trigger"), "a malformed external alert triggered a capture"
    assert station.triggers() == 0


def test_trigger_flood_from_outside_is_rate_limited(tmp_path, broker, toy_bundle):
    config = {"external": {**EXTERNAL["external"], "cooldown_s": 600}}
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address, config) as station:
        client = connected_client(broker)
        try:
            station.wait_until(lambda: station.connected() == 1, what="daemon connected")
            now = datetime.now(UTC).isoformat()
            alert = AlertMessage(type="breakup_onset", at=now, frame="TRO_20261124_220000.jpg", confidence=0.99)
            for _ in range(200):
                client.publish(NEIGHBOUR_ALERTS, alert.to_json(), qos=1)
            client.publish(f"auroral/{STATION}/alerts", alert.to_json(), qos=1).wait_for_publish(10)  # our own echo
            station.wait_until(lambda: station.external_seen() >= 200, what="200 external alerts received")
            settle(collector, station, client)
        finally:
            client.loop_stop()
            client.disconnect()
        assert len(collector.on("capture/trigger")) == 1, "200 arming alerts must give one trigger"
        assert station.triggers() == 1 and station.alive
