"""The state database: one daemon per state directory, a corrupt file set aside, durable commits, failed commits."""
from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from auroral.edge.errors import UserError
from auroral.edge.station.journal import Journal
from auroral.edge.station.spool import Spool
from auroral.edge.station.statedb import StateDB

HOLD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from auroral.edge.station.statedb import StateDB
    db = StateDB(Path(sys.argv[1]))
    print("holding", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    db.close()
""")


def test_a_second_open_of_one_state_dir_is_refused_until_the_first_closes(tmp_path):
    first = StateDB(tmp_path)
    with pytest.raises(UserError, match=rf"in use by another station daemon \(pid {os.getpid()}\)"):
        StateDB(tmp_path)
    first.conn.execute("SELECT 1")  # the refused open left the holder's database alone
    first.close()
    StateDB(tmp_path).close()


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path / "state"`` open, as a running daemon does."""
    state = tmp_path / "state"
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(state)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline() == "holding\n"
        yield state, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_auroral_run_on_a_state_dir_in_use_exits_2_naming_the_holder(holder, toy_bundle, tmp_path):
    state, process = holder
    second = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "run", "--watch", str(tmp_path),
                             "--bundle", str(toy_bundle.root), "--broker", "127.0.0.1:1", "--station", "kiruna",
                             "--state-dir", str(state), "--metrics-port", "0"],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("auroral run: error: ")
    assert f"(pid {process.pid})" in lines[0] and str(state) in lines[0]


def test_the_lock_goes_with_the_process_however_it_ends(holder):
    state, process = holder
    with pytest.raises(UserError, match=f"pid {process.pid}"):
        StateDB(state)
    process.kill()  # kill -9: no close, no clean-up
    process.wait()
    StateDB(state).close()


def populated(state_dir) -> None:
    """A real state.db with journal rows and three spooled messages, closed (its WAL checkpointed)."""
    db = StateDB(state_dir)
    journal, spool = Journal(db), Spool(db, 100, 3600)
    with db.transaction() as conn:
        for i in range(5):
            journal.record(conn, f"/in/KIR_{i:04d}.jpg", "done", journal.next_seq(conn))
        for i in range(3):
            spool.put(conn, "auroral/kiruna/frames", b"x" * 300 + bytes([i]))
    db.close()


def overwrite_page(path, table: str) -> None:
    """Write garbage over the page that holds ``table`` (its root page): a real corrupted page."""
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    with open(path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(bytes(range(7, 256, 3)) * (page_size // 83 + 1))


@pytest.mark.parametrize("damage, lost", [("frames page", "3"), ("not a database", "unknown")])
def test_a_corrupt_database_is_set_aside_and_a_fresh_one_started(tmp_path, caplog, damage, lost):
    populated(tmp_path)
    path = tmp_path / "state.db"
    if damage == "frames page":
        overwrite_page(path, "frames")
    else:
        path.write_bytes(os.urandom(3 * 4096))
    damaged = path.read_bytes()
    with caplog.at_level(logging.ERROR, "auroral.statedb"):
        db = StateDB(tmp_path)
    try:
        journal, spool = Journal(db), Spool(db, 100, 3600)
        assert not journal.known("/in/KIR_0000.jpg") and journal.count("done") == 0 and spool.depth == 0
        with db.transaction() as conn:  # and it takes new frames
            journal.record(conn, "/in/KIR_0005.jpg", "done", journal.next_seq(conn))
        assert journal.known("/in/KIR_0005.jpg")
    finally:
        db.close()
    [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert line.startswith("event=state_db_corrupt ") and f"spooled_messages_lost={lost} " in line
    [aside] = tmp_path.glob("state.db.corrupt-*")
    assert f"moved_to={aside} " in line and aside.read_bytes() == damaged  # kept as it was, for a post-mortem


def test_a_sound_database_is_kept(tmp_path, caplog):
    populated(tmp_path)
    with caplog.at_level(logging.ERROR, "auroral.statedb"):
        db = StateDB(tmp_path)
    assert Journal(db).known("/in/KIR_0004.jpg") and Spool(db, 100, 3600).depth == 3
    db.close()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert list(tmp_path.glob("state.db.corrupt-*")) == []


def test_a_commit_is_durable_when_it_returns(tmp_path):
    """WAL with synchronous=FULL: the WAL is synced at every COMMIT, before any message can leave."""
    db = StateDB(tmp_path)
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db.close()


def test_a_failed_commit_leaves_the_database_usable(tmp_path):
    """A COMMIT that fails with the transaction left open (as SQLite may on a full disk or a deferred
    constraint) is rolled back: the next transaction can begin and nothing of the failed one remains."""
    db = StateDB(tmp_path)
    db.conn.execute("PRAGMA foreign_keys = ON")
    db.conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.conn.execute("CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO child VALUES (1)")  # checked only at COMMIT
    with db.transaction() as conn:
        conn.execute("INSERT INTO parent VALUES (2)")
    assert db.conn.execute("SELECT COUNT(*) FROM child").fetchone()[0] == 0
    assert db.conn.execute("SELECT COUNT(*) FROM parent").fetchone()[0] == 1
    db.close()
