"""Broker faults: down at start-up, restarted mid-stream, a network blackhole, refused credentials.

Each test lets the daemon classify frames while it cannot deliver (the durable spool holds them), then
restores the broker and asserts every frame arrived, classified exactly once, with the right label.
The subscriber has a persistent session on a persistent broker, so what the broker acknowledged to the
daemon reaches it even across broker restarts (see docs/RELIABILITY.md).
"""
from __future__ import annotations

import re

import pytest

from support.faults import FrameFeed, Ledger, Station, durable_collector, persistent_broker, retained_state
from support.mqttcollect import Collector
from support.securebroker import USERS, SecureBroker
from support.tcpproxy import FreezableProxy

pytestmark = pytest.mark.integration

FAST_RECONNECT = {"mqtt": {"keepalive_s": 2, "connect_timeout_s": 2, "reconnect_min_s": 0.2, "reconnect_max_s": 2}}


def test_broker_down_at_startup(tmp_path, toy_bundle):
    with persistent_broker() as broker:
        with durable_collector(broker):
            pass  # registers the persistent session, then the broker goes down with it saved
        broker.stop()
        feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
        with Station(tmp_path / "station", toy_bundle.root, broker.address, FAST_RECONNECT) as station:
            feed.write(12)
            station.wait_until(lambda: station.processed() == 12, what="12 frames classified with no broker")
            assert station.spool_depth() >= 12, "classified frames must wait in the spool"
            broker.start()
            with durable_collector(broker) as collector:
                ledger = Ledger(collector)
                ledger.wait_for_frames(feed.expected)
                ledger.assert_exactly_once(feed.expected)
                station.wait_until(lambda: station.spool_depth() == 0, what="spool drained")
            assert station.processed() == 12 and station.alive


def test_broker_restarted_mid_stream(tmp_path, toy_bundle):
    with persistent_broker() as broker, durable_collector(broker) as collector:
        ledger = Ledger(collector)
        feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
        with Station(tmp_path / "station", toy_bundle.root, broker.address, FAST_RECONNECT) as station:
            feed.write(15)
            for done in (5, 20):
                ledger.wait_for_count(done)
                broker.stop()
                feed.write(15)  # classified while the broker is away
                broker.start()
            ledger.wait_for_frames(feed.expected)
            ledger.assert_exactly_once(feed.expected)
            assert station.processed() == 45 and station.alive
            assert retained_state(broker)["label"] == ledger.latest()["label"], "retained state is stale"


def test_network_blackhole(tmp_path, broker, toy_bundle):
    """The link hangs (no RST): the daemon notices by keepalive, reconnects when it heals, loses nothing."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, FreezableProxy(broker.host, broker.port) as link, \
            Station(tmp_path / "station", toy_bundle.root, link.address, FAST_RECONNECT) as station:
        ledger = Ledger(collector)
        feed.write(5)
        ledger.wait_for_frames(feed.expected)
        link.freeze()
        feed.write(10)
        station.wait_until(lambda: station.processed() == 15, what="frames classified during the blackhole")
        station.wait_until(lambda: station.connected() == 0, what="keepalive noticed the dead link")
        link.thaw()
        ledger.wait_for_frames(feed.expected)
        ledger.assert_exactly_once(feed.expected)
        station.wait_until(lambda: station.connected() == 1, what="reconnected")
        assert station.processed() == 15


def test_broker_refusing_auth(tmp_path, toy_bundle):
    """Wrong credentials: a clear log line, retries with back-off, frames kept; fixed credentials deliver all."""
    with SecureBroker(users={"observer": USERS["observer"]}) as broker, broker.collector("auroral/#") as collector:
        ledger = Ledger(collector)
        feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
        station = Station(tmp_path / "station", toy_bundle.root, broker.address,
                          broker.station_config(tmp_path / "secrets", FAST_RECONNECT))
        with station:
            feed.write(8)
            station.wait_until(lambda: station.processed() == 8, what="frames classified while refused")
            station.wait_until(lambda: len(re.findall(r"(?i)not authori[sz]ed|bad user name or password",
                                                        station.log())) >= 2,
                               what="two refused connection attempts logged clearly")
            assert USERS["station"] not in station.log(), "the password must never be logged"
            broker.set_users(USERS)  # the operator fixes the broker's password file
            ledger.wait_for_frames(feed.expected)
            ledger.assert_exactly_once(feed.expected)
            assert station.alive


def test_retained_state_is_current_after_an_outage(tmp_path, toy_bundle):
    """After an outage the retained ``state`` is the latest sky, not a backlog message sent after it."""
    with persistent_broker() as broker:
        with durable_collector(broker):
            pass
        broker.stop()
        feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
        with Station(tmp_path / "station", toy_bundle.root, broker.address, FAST_RECONNECT) as station:
            feed.write(6, colour=(0, 255, 0))  # arcs, while the broker is down
            station.wait_until(lambda: station.processed() == 6, what="backlog classified")
            station.wait_until(lambda: station.log().count("event=mqtt_connect_failed") >= 5,
                               what="an outage of several seconds")
            broker.start()
            with durable_collector(broker) as collector:
                feed.write(1, colour=(255, 0, 0))  # colored: the sky changes as the link comes back
                ledger = Ledger(collector)
                ledger.wait_for_frames(feed.expected)
                station.wait_until(lambda: station.spool_depth() == 0, what="spool drained")
            assert set(feed.expected.values()) == {"arcs", "colored"}
            assert retained_state(broker)["label"] == "colored", "a stale state was retained last"


def test_spool_bound_drops_oldest_and_says_so(tmp_path, toy_bundle):
    """A long outage overflows a bounded spool: the oldest messages go, logged and counted, never silently."""
    bound = 100
    with persistent_broker() as broker:
        with durable_collector(broker):
            pass
        broker.stop()
        feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
        config = {**FAST_RECONNECT, "spool": {"max_messages": bound}}
        with Station(tmp_path / "station", toy_bundle.root, broker.address, config) as station:
            names = [p.name for p in feed.write(150, colour=(0, 0, 0))]  # faint: 150 frames + 1 state message
            station.wait_until(lambda: station.processed() == 150, what="150 frames classified during the outage")
            broker.start()
            with durable_collector(broker) as collector:
                ledger = Ledger(collector)
                ledger.wait_for_frames(names[-bound:])
                station.wait_until(lambda: station.spool_depth() == 0, what="spool drained")
                assert sorted(ledger.seqs_by_frame()) == sorted(names[-bound:]), "exactly the newest 100 kept"
            assert station.metric("auroral_spool_dropped_total") == 51
            dropped = [int(line.split("count=")[1].split()[0]) for line in station.log().splitlines()
                       if "event=spool_dropped reason=overflow" in line]
            assert sum(dropped) == 51


def test_retained_messages_restored_after_broker_restart_without_persistence(tmp_path, broker, toy_bundle):
    """A broker without persistence forgets retained messages on restart; the daemon restores them on reconnect."""
    feed = FrameFeed(tmp_path / "station" / "incoming", toy_bundle.manifest.preprocess)
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path / "station", toy_bundle.root, broker.address, FAST_RECONNECT) as station:
        ledger = Ledger(collector)
        feed.write(3, colour=(0, 255, 0))  # arcs
        ledger.wait_for_frames(feed.expected)
        broker.restart()  # the fixture's broker keeps nothing across a restart
        station.wait_until(lambda: station.log().count("event=mqtt_connected") >= 2, what="reconnected")
        assert retained_state(broker)["label"] == "arcs", "a new subscriber must learn the sky at once"
