"""The durable spool and the journal share one SQLite file: atomic, persistent, bounded with a logged policy."""
from __future__ import annotations

import logging
import sqlite3
import time
from types import SimpleNamespace

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from auroral.edge.station.journal import Journal
from auroral.edge.station.publisher import Publisher
from auroral.edge.station.spool import Spool
from auroral.edge.station.statedb import StateDB
from auroral.edge.station.wakeup import Wakeup
from support.stationctx import failures, make_context


def open_state(path, **bounds):
    db = StateDB(path)
    return db, Journal(db), Spool(db, bounds.get("max_messages", 100), bounds.get("max_age_s", 3600))


def test_messages_survive_a_reopen_and_leave_only_when_deleted(tmp_path):
    db, _, spool = open_state(tmp_path)
    with db.transaction() as conn:
        for i in range(3):
            spool.put(conn, "auroral/k/frames", f"m{i}".encode(), live=i != 0)
    db.close()
    db, _, spool = open_state(tmp_path)
    assert spool.depth == 3
    messages = spool.oldest(10, skip=set())
    assert [m.payload for m in messages] == [b"m0", b"m1", b"m2"]
    spool.delete([messages[0].id])
    assert [m.payload for m in spool.oldest(10, skip={messages[1].id})] == [b"m2"]
    assert [m.payload for m in spool.fresh_live(60, 5, skip={messages[1].id})] == [b"m2"]
    assert spool.depth == 2


def test_journal_and_spool_commit_together_or_not_at_all(tmp_path):
    db, journal, spool = open_state(tmp_path)
    with db.transaction() as conn:
        seq = journal.next_seq(conn)
        spool.put(conn, "t", b"frame 0")
        journal.record(conn, "/in/a.jpg", "done", seq)
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            seq = journal.next_seq(conn)
            journal.record(conn, "/in/b.jpg", "done", seq)
            raise RuntimeError("crash between classify and commit")
    db.close()
    db, journal, spool = open_state(tmp_path)
    assert journal.known("/in/a.jpg") and not journal.known("/in/b.jpg")
    with db.transaction() as conn:
        assert journal.next_seq(conn) == 1, "the rolled-back seq is reused: no gap"
    assert len(spool.oldest(10, set())) == 1


def test_bounds_drop_oldest_and_expired_with_a_log_line(tmp_path, caplog):
    db, _, spool = open_state(tmp_path, max_messages=100, max_age_s=3600)
    with db.transaction() as conn:
        for i in range(105):
            spool.put(conn, "t", str(i).encode())
        conn.execute("UPDATE spool SET created = ? WHERE payload = ?", (time.time() - 7200, b"50"))
    with caplog.at_level(logging.WARNING, logger="auroral.spool"):
        spool.enforce_bounds()
    left = [int(m.payload) for m in spool.oldest(200, set())]
    assert left == [i for i in range(4, 105) if i != 50] and spool.depth == 100
    assert "reason=expired count=1" in caplog.text and "reason=overflow count=4" in caplog.text


def test_a_retained_message_supersedes_older_ones_on_its_topic(tmp_path):
    db, _, spool = open_state(tmp_path)
    with db.transaction() as conn:
        spool.put(conn, "auroral/k/state", b"arcs", retain=True)
        spool.put(conn, "auroral/k/frames", b"f1")
        spool.put(conn, "auroral/k/state", b"breakup", retain=True)
    assert [(m.topic, m.payload) for m in spool.oldest(10, set())] == [
        ("auroral/k/frames", b"f1"), ("auroral/k/state", b"breakup")]
    assert spool.depth == 2


def test_a_large_backlog_is_read_through_indexes_not_scans(tmp_path):
    """With 200k messages spooled, fresh_live and oldest each cost a few thousand SQLite steps, not a scan
    (200k rows are about 2M steps). The backlog sits in a database made before the index existed."""
    old = sqlite3.connect(tmp_path / "state.db")
    with old:
        old.execute("CREATE TABLE spool (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, payload BLOB "
                    "NOT NULL, retain INTEGER NOT NULL, created REAL NOT NULL, live INTEGER NOT NULL DEFAULT 1)")
        old.executemany("INSERT INTO spool (topic, payload, retain, created, live) VALUES ('t', x'00', 0, ?, ?)",
                        ((time.time() - 3600 + i / 100, i % 2) for i in range(200_000)))
    old.close()
    db, _, spool = open_state(tmp_path, max_messages=1_000_000)
    with db.transaction() as conn:
        for i in range(5):
            spool.put(conn, "auroral/k/frames", f"fresh {i}".encode())
    in_flight = {m.id for m in spool.oldest(20, set())}
    statements: list[str] = []
    steps = [0]
    db.conn.set_trace_callback(statements.append)
    db.conn.set_progress_handler(lambda: steps.__setitem__(0, steps[0] + 1), 100)  # one call per 100 VM steps
    fresh = spool.fresh_live(2.0, 20, in_flight)
    backlog = spool.oldest(20, in_flight)
    db.conn.set_progress_handler(None, 100)
    db.conn.set_trace_callback(None)
    assert [m.payload for m in fresh] == [f"fresh {i}".encode() for i in range(5)]
    assert [m.id for m in backlog] == list(range(21, 41))
    assert steps[0] * 100 < 20_000
    plans = {sql: " / ".join(row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + sql)) for sql in statements}
    [fresh_plan] = [plan for sql, plan in plans.items() if "live = 1" in sql]
    assert "USING INDEX spool_fresh" in fresh_plan and "SCAN" not in fresh_plan
    [oldest_plan] = [plan for sql, plan in plans.items() if "live = 1" not in sql]
    assert "TEMP B-TREE" not in oldest_plan  # read in id order, stopping at the limit
    db.close()


class _FullDiskOnce:
    """The state connection, except that the next COMMIT fails as on a full disk, leaving the transaction open."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.armed = False

    def execute(self, sql: str, *args):
        if sql == "COMMIT" and self.armed:
            self.armed = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.conn, name)


class _Client:
    """Stands in for paho's client: records what is published and hands out message ids."""

    def __init__(self):
        self.sent: list[tuple[int, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> SimpleNamespace:
        self.sent.append((len(self.sent) + 1, payload))
        return SimpleNamespace(rc=mqtt.MQTT_ERR_SUCCESS, mid=len(self.sent))


def test_a_failed_delete_on_puback_sends_the_message_again_and_keeps_the_books(tmp_path, caplog):
    context = make_context(tmp_path)
    db, _, spool = open_state(tmp_path)
    with db.transaction() as conn:
        spool.put(conn, "auroral/k/frames", b"f0")
        spool.put(conn, "auroral/k/frames", b"f1")
    publisher = Publisher(context, spool, "toy", lambda topic, payload: None, Wakeup())
    on_publish = publisher._client(mqtt.MQTTv5).on_publish  # the callback as paho calls it: guarded
    client, puback = _Client(), ReasonCode(PacketTypes.PUBACK, "Success")
    publisher._pump(client)
    assert [payload for _, payload in client.sent] == [b"f0", b"f1"]
    db.conn = _FullDiskOnce(db.conn)
    db.conn.armed = True
    with caplog.at_level(logging.ERROR, "auroral.supervisor"):
        on_publish(client, None, 1, puback, None)
        publisher._forget_acked()  # the delete of f0 fails
    assert "event=component_failed component=mqtt" in caplog.text and failures(context, "mqtt") == 1
    assert spool.depth == 2 and publisher._inflight == {2: spool.oldest(2, set())[1].id}
    publisher._pump(client)  # f0 goes again; f1 is still in flight and is not sent twice
    assert [payload for _, payload in client.sent] == [b"f0", b"f1", b"f0"]
    on_publish(client, None, 2, puback, None)
    on_publish(client, None, 3, puback, None)
    publisher._forget_acked()
    assert spool.depth == 0 and spool.oldest(10, set()) == [] and publisher._inflight == {}
    assert failures(context, "mqtt") == 1
    db.close()


def test_pubacks_read_in_one_pass_are_deleted_in_one_commit(tmp_path):
    context = make_context(tmp_path)
    db, _, spool = open_state(tmp_path)
    with db.transaction() as conn:
        for i in range(8):
            spool.put(conn, "auroral/k/frames", f"f{i}".encode())
    publisher = Publisher(context, spool, "toy", lambda topic, payload: None, Wakeup())
    on_publish = publisher._client(mqtt.MQTTv5).on_publish
    client, puback = _Client(), ReasonCode(PacketTypes.PUBACK, "Success")
    publisher._pump(client)
    commits: list[str] = []
    db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    for mid in range(1, 9):
        on_publish(client, None, mid, puback, None)
    assert spool.depth == 8  # acknowledged, not yet forgotten: nothing is pumped before the delete
    publisher._forget_acked()
    db.conn.set_trace_callback(None)
    assert commits == ["COMMIT"] and spool.depth == 0 and spool.oldest(10, set()) == []
    db.close()
