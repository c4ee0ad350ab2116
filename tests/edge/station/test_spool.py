"""The durable spool and the journal share one SQLite file: atomic, persistent, bounded with a logged policy."""
from __future__ import annotations

import logging
import time

import pytest

from auroral.edge.station.journal import Journal
from auroral.edge.station.spool import Spool
from auroral.edge.station.statedb import StateDB


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
    spool.delete(messages[0].id)
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
