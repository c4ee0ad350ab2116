"""TLS + password + ACL against a Mosquitto configured like production (tests/securebroker.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.faults import FrameFeed, Ledger, Station, connected_client, settle
from support.securebroker import STATION, USERS, SecureBroker

pytestmark = pytest.mark.integration

REFUSED = re.compile(r"(?i)not authori[sz]ed|bad user name or password")


@pytest.fixture(scope="module")
def secure_broker():
    with SecureBroker() as running:
        yield running


def test_connects_with_right_credentials(tmp_path, secure_broker, toy_bundle):
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    config = secure_broker.station_config(tmp_path / "secrets")
    with secure_broker.collector("auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, secure_broker.address, config) as station:
        ledger = Ledger(collector)
        feed.write(3)
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        assert any(m.json()["state"] == "online" for m in collector.on("status"))
        password = USERS["station"]
        assert password not in station.log(), "the password must never be logged"
        cmdline = Path(f"/proc/{station.process.pid}/cmdline").read_bytes().decode()
        assert password not in cmdline, "the password must never be on the command line"


def test_wrong_password_is_refused_clearly(tmp_path, secure_broker, toy_bundle):
    config = secure_broker.station_config(tmp_path / "secrets", password="not-the-password")
    with Station(tmp_path / "station", toy_bundle.root, secure_broker.address, config) as station:
        FrameFeed(station.watch, toy_bundle.manifest.preprocess).write(2)
        station.wait_until(lambda: len(REFUSED.findall(station.log())) >= 2,
                           what="refusals logged clearly, and retried")
        station.wait_until(lambda: station.processed() == 2, what="frames classified and kept in the spool")
        assert station.connected() == 0 and station.spool_depth() >= 2
        assert "not-the-password" not in station.log()


def test_untrusted_server_certificate_is_refused(tmp_path, secure_broker, toy_bundle):
    """A daemon that trusts another CA must not talk to this broker (no silent downgrade to no-verify)."""
    with SecureBroker() as impostor_ca:  # a second, unrelated CA
        config = secure_broker.station_config(tmp_path / "secrets", ca_file=impostor_ca.certs["ca.crt"])
        with Station(tmp_path / "station", toy_bundle.root, secure_broker.address, config) as station:
            station.wait_until(lambda: "certificate verify failed" in station.log(),
                               what="the TLS verification failure logged")
            assert station.connected() == 0


def test_cannot_publish_outside_its_acl(tmp_path, secure_broker):
    """With the station's own credentials, a publish outside ``auroral/kiruna/#`` never reaches anyone."""
    with secure_broker.collector("auroral/#") as collector:
        station_client = connected_client(secure_broker, "station")
        observer = connected_client(secure_broker, "observer")
        try:
            station_client.publish("auroral/tromso/frames", b'{"forged": true}', qos=1).wait_for_publish(10)
            station_client.publish("auroral/tromso/capture/trigger", b'{"forged": true}', qos=1).wait_for_publish(10)
            station_client.publish(f"auroral/{STATION}/alerts", b'{"allowed": true}', qos=1).wait_for_publish(10)
            observer.publish("auroral/test/marker", b"settle", qos=1).wait_for_publish(10)
            collector.wait_for(lambda ms: any(m.topic == "auroral/test/marker" for m in ms))
        finally:
            for client in (station_client, observer):
                client.loop_stop()
                client.disconnect()
    topics = [m.topic for m in collector.messages]
    assert f"auroral/{STATION}/alerts" in topics
    assert not [t for t in topics if t.startswith("auroral/tromso/")], topics


def test_daemon_outside_its_acl_delivers_nothing(tmp_path, secure_broker, toy_bundle):
    """A station id the ACL does not grant: the broker rejects every message; none reaches a subscriber."""
    config = secure_broker.station_config(tmp_path / "secrets")
    with secure_broker.collector("auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, secure_broker.address, config, station="tromso") as station:
        FrameFeed(station.watch, toy_bundle.manifest.preprocess).write(3)
        station.wait_until(lambda: station.processed() == 3, what="frames classified")
        marker = connected_client(secure_broker, "observer")
        try:
            settle(collector, station, marker)
        finally:
            marker.loop_stop()
            marker.disconnect()
        assert not [m.topic for m in collector.messages if m.topic.startswith("auroral/tromso/")]
        assert REFUSED.search(station.log()), "the rejection must be logged clearly"


def test_secure_broker_refuses_anonymous_plaintext_and_wrong_password(secure_broker):
    """The fixture itself: only TLS with a known user gets in (else the tests above would prove nothing)."""
    import ssl

    import paho.mqtt.client as mqtt

    def connack(client) -> int | str:
        try:
            client.connect(secure_broker.host, secure_broker.port)
        except (ssl.SSLError, OSError) as exc:
            return type(exc).__name__
        result = []
        client.on_connect = lambda c, u, f, rc, p: result.append(rc)
        while not result:
            if client.loop(timeout=1) != mqtt.MQTT_ERR_SUCCESS and not result:
                return "connection lost"
        client.disconnect()
        return result[0].value

    new = lambda: mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)  # noqa: E731
    assert connack(new()) == "connection lost"  # plain MQTT to a TLS port
    anonymous = new()
    anonymous.tls_set(ca_certs=str(secure_broker.certs["ca.crt"]))
    assert connack(anonymous) == 0x87  # not authorized
    assert connack(secure_broker.secure(new(), "station", "wrong")) == 0x87  # mosquitto 2.0 answers "not authorized"
    assert connack(secure_broker.secure(new(), "station", USERS["station"])) == 0


def test_corrected_password_file_is_used_without_restart(tmp_path, secure_broker, toy_bundle):
    """The operator fixes the password file: the next connection attempt uses it, and the spool drains."""
    secrets = tmp_path / "secrets"
    config = secure_broker.station_config(secrets, password="typo")
    with secure_broker.collector("auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, secure_broker.address, config) as station:
        ledger = Ledger(collector)
        feed = FrameFeed(station.watch, toy_bundle.manifest.preprocess)
        feed.write(2)
        station.wait_until(lambda: len(REFUSED.findall(station.log())) >= 2, what="refusals logged")
        (secrets / "mqtt-password").write_text(USERS["station"] + "\n")
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
