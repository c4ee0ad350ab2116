"""Journal pruning: old rows go once their file is gone, never while it is there; bounded work; old databases."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from auroral.edge.errors import UserError
from auroral.edge.frames import FileVersion, load_frame
from auroral.edge.station import journal as journal_module
from auroral.edge.station.config import load_config
from auroral.edge.station.journal import Journal, Pruner
from auroral.edge.station.scheduler import Scheduler
from auroral.edge.station.statedb import StateDB
from support.faults import Station
from support.stationctx import failures, make_context, wait_for

DAY = 86400.0


@pytest.fixture
def db(tmp_path):
    db = StateDB(tmp_path / "state")
    yield db
    db.close()


def frame(folder: Path, name: str) -> str:
    path = folder / name
    path.write_bytes(b"jpeg")
    return str(path)


def record(journal: Journal, *paths: str, state: str = "done") -> None:
    with journal.db.transaction() as conn:
        for path in paths:
            journal.record(conn, path, state, journal.next_seq(conn))


def checked(db: StateDB, path: str) -> float | None:
    return db.conn.execute("SELECT checked FROM frames WHERE path = ?", (os.fsencode(path),)).fetchone()[0]


@pytest.fixture
def stats(monkeypatch):
    """Every path the journal asks the disk about."""
    asked: list[str] = []
    real = journal_module._gone

    def counting(path: str) -> bool:
        asked.append(path)
        return real(path)

    monkeypatch.setattr(journal_module, "_gone", counting)
    return asked


def test_old_rows_of_gone_files_are_removed_and_present_ones_kept(db, tmp_path, caplog):
    journal = Journal(db)
    present, deleted, moved = (frame(tmp_path, n) for n in ("a.jpg", "b.jpg", "c.jpg"))
    record(journal, present, deleted)
    record(journal, moved, state="quarantined")
    Path(deleted).unlink()
    Path(moved).rename(tmp_path / "c.quarantined")
    with caplog.at_level(logging.INFO, "auroral.journal"):
        assert journal.prune(keep_days=30, now=time.time() + 31 * DAY) == (2, 1)
    assert "event=journal_pruned removed=2 kept_present=1" in caplog.text
    assert journal.known(present) and not journal.known(deleted) and not journal.known(moved)
    scheduler = Scheduler(journal.known)  # what a restart's rescan does: the present frame is not taken again
    scheduler.offer(Path(present), live=False)
    assert scheduler.depth() == 0


def test_recent_rows_are_kept_even_when_their_file_is_gone(db, tmp_path, stats):
    journal = Journal(db)
    gone = frame(tmp_path, "a.jpg")
    record(journal, gone)
    Path(gone).unlink()
    assert journal.prune(keep_days=30, now=time.time() + 29 * DAY) == (0, 0)
    assert journal.known(gone) and stats == []


def test_only_a_missing_file_counts_as_gone(db, tmp_path):
    journal = Journal(db)
    looping = tmp_path / "a.jpg"
    looping.symlink_to(looping)  # stat fails, but not with "no such file" (as with EACCES, EIO, a stale mount)
    record(journal, str(looping))
    assert journal.prune(keep_days=30, now=time.time() + 31 * DAY) == (0, 1)
    assert journal.known(str(looping))


def test_a_missing_folder_keeps_its_rows(db, tmp_path):
    """A disk not mounted or a night folder rotated away may come back: forgetting its frames would reclassify them."""
    journal = Journal(db)
    record(journal, str(tmp_path / "unmounted" / "KIR_20260101_000000.jpg"))
    assert journal.prune(keep_days=30, now=time.time() + 31 * DAY) == (0, 1)
    assert journal.known(str(tmp_path / "unmounted" / "KIR_20260101_000000.jpg"))


def test_a_present_file_is_looked_at_again_only_after_keep_days(db, tmp_path, stats):
    journal = Journal(db)
    path = frame(tmp_path, "a.jpg")
    record(journal, path)
    start = time.time()
    assert journal.prune(keep_days=30, now=start + 31 * DAY) == (0, 1)
    assert stats == [path] and checked(db, path) == start + 31 * DAY
    for later in (31 * DAY + 3600, 45 * DAY, 60 * DAY):  # hourly prunes, and up to keep_days after the check
        assert journal.prune(keep_days=30, now=start + later) == (0, 0)
    assert stats == [path]
    assert journal.prune(keep_days=30, now=start + 62 * DAY) == (0, 1)
    assert stats == [path, path] and checked(db, path) == start + 62 * DAY


def test_works_in_small_batches_with_no_lock_held_while_it_stats(db, tmp_path, monkeypatch):
    journal = Journal(db)
    paths = [frame(tmp_path, f"{i:02d}.jpg") for i in range(25)]
    record(journal, *paths)
    for path in paths[::2]:
        Path(path).unlink()
    free: list[bool] = []
    real = journal_module._gone

    def try_lock(taken: list[bool]) -> None:
        taken.append(db.lock.acquire(timeout=1))
        if taken[0]:
            db.lock.release()

    def probing(path: str) -> bool:  # could the pipeline commit while this file is stat'ed?
        taken: list[bool] = []
        other = threading.Thread(target=try_lock, args=(taken,))
        other.start()
        other.join()
        free.append(taken == [True] and not db.conn.in_transaction)
        return real(path)

    transactions = []
    real_transaction = db.transaction

    def counting_transaction():
        transactions.append(1)
        return real_transaction()

    monkeypatch.setattr(journal_module, "_gone", probing)
    monkeypatch.setattr(db, "transaction", counting_transaction)
    assert journal.prune(keep_days=30, batch=10, now=time.time() + 31 * DAY) == (13, 12)
    assert len(free) == 25 and all(free)
    assert len(transactions) == 3  # 10 + 10 + 5 rows
    assert [journal.known(p) for p in paths] == [i % 2 == 1 for i in range(25)]


def test_stop_ends_pruning_between_batches(db, tmp_path, monkeypatch):
    journal = Journal(db)
    paths = [frame(tmp_path, f"{i}.jpg") for i in range(6)]
    record(journal, *paths)
    for path in paths:
        Path(path).unlink()
    stop = threading.Event()
    real = journal_module._gone
    monkeypatch.setattr(journal_module, "_gone", lambda path: stop.set() or real(path))  # SIGTERM mid-batch
    assert journal.prune(keep_days=30, batch=2, now=time.time() + 31 * DAY, stop=stop) == (2, 0)
    assert sum(journal.known(p) for p in paths) == 4


def test_a_file_name_that_is_not_utf8_is_journalled_counted_and_pruned(db, tmp_path):
    """A Latin-1 ``Tromsø`` (b'Troms\\xf8.jpg') reaches Python as a str with a surrogate escape, as a rescan
    lists it."""
    (tmp_path / "incoming").mkdir()
    with open(os.fsencode(tmp_path / "incoming") + b"/Troms\xf8.jpg", "wb") as file:
        file.write(b"jpeg")
    [name] = os.listdir(tmp_path / "incoming")
    latin1 = str(tmp_path / "incoming" / name)
    utf8 = frame(tmp_path / "incoming", "Tromsø.jpg")  # the same name in UTF-8 is another file
    journal = Journal(db)
    assert not journal.known(latin1)
    record(journal, latin1, utf8)
    assert journal.known(latin1) and journal.known(utf8) and journal.count("done") == 2
    assert journal.prune(keep_days=30, now=time.time() + 31 * DAY) == (0, 2)  # both still there
    assert checked(db, latin1) is not None
    os.unlink(latin1)
    assert journal.prune(keep_days=30, now=time.time() + 62 * DAY) == (1, 1)
    assert not journal.known(latin1) and journal.known(utf8) and journal.count("done") == 1


def test_an_old_schema_database_is_migrated_and_keeps_working(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    old = sqlite3.connect(state / "state.db")
    present, gone = frame(tmp_path, "a.jpg"), str(tmp_path / "gone.jpg")
    os.utime(present, (time.time() - 41 * DAY,) * 2)  # written before it was journalled, as in real life
    with old:
        old.execute("CREATE TABLE frames (path TEXT PRIMARY KEY, seq INTEGER, state TEXT NOT NULL, at REAL NOT NULL)")
        old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        old.executemany("INSERT INTO frames VALUES (?, ?, 'done', ?)",
                        [(present, 0, time.time() - 40 * DAY), (gone, 1, time.time() - 40 * DAY)])
        old.execute("INSERT INTO meta VALUES ('next_seq', '2')")
    old.close()
    db = StateDB(state)
    journal = Journal(db)
    assert "checked" in {row[1] for row in db.conn.execute("PRAGMA table_info(frames)")}
    assert journal.known(present) and journal.known(gone) and journal.count("done") == 2
    record(journal, frame(tmp_path, "b.jpg"))  # the pipeline's insert still works on the migrated table
    assert journal.prune(keep_days=30) == (1, 1)
    assert journal.known(present) and not journal.known(gone) and journal.count("done") == 2
    db.close()
    db = StateDB(state)  # and opening it again (already migrated) is fine
    assert Journal(db).known(present) and checked(db, present) is not None
    db.close()


class _Broken:
    def prune(self, keep_days, stop=None, on_batch=None):
        raise sqlite3.OperationalError("database is locked")


def test_pruner_failure_is_logged_counted_and_tried_again(tmp_path, caplog):
    context = make_context(tmp_path)
    pruner = Pruner(context, _Broken())
    with caplog.at_level(logging.ERROR, "auroral.supervisor"):
        pruner.start()
        try:
            wait_for(lambda: failures(context, "pruner") >= 2, "a second try")
        finally:
            pruner.stop(5)
    assert "event=component_failed component=pruner" in caplog.text
    assert "OperationalError('database is locked')" in caplog.text
    assert context.supervisor.fatal is None  # two failures are not enough to give up


def test_pruner_runs_at_once_then_every_prune_every_s(db, tmp_path, caplog):
    context = make_context(tmp_path, journal={"prune_every_s": 0.2})
    pruner = Pruner(context, Journal(db))
    with caplog.at_level(logging.INFO, "auroral.journal"):
        pruner.start()
        try:
            wait_for(lambda: "event=journal_pruned" in caplog.text, "the first run")
            wait_for(lambda: caplog.text.count("event=journal_pruned") >= 3, "later runs")
        finally:
            pruner.stop(5)
    assert failures(context, "pruner") == 0


@pytest.mark.parametrize("text, message", [
    ("[journal]\nkeep_days = 0\n", "journal.keep_days: Input should be greater than 0"),
    ("[journal]\nprune_every_s = -1\n", "journal.prune_every_s: Input should be greater than 0"),
    ("[journal]\nkeep = 3\n", "journal.keep: unknown key"),
])
def test_bad_journal_config_names_the_key(tmp_path, text, message):
    path = tmp_path / "station.toml"
    path.write_text("[watch]\ndirs=['/x']\n[model]\nbundle='/b'\n" + text)
    with pytest.raises(UserError, match=message):
        load_config(path)


def test_journal_config_defaults_and_values(tmp_path):
    base = {"watch": {"dirs": ["/x"]}, "model": {"bundle": "/b"}}
    default = load_config(None, base).journal
    assert (default.keep_days, default.prune_every_s) == (30.0, 3600.0)
    assert load_config(None, {**base, "journal": {"keep_days": 7}}).journal.keep_days == 7.0


@pytest.mark.integration
def test_daemon_prunes_at_start_and_never_reclassifies_a_kept_frame(tmp_path, broker, toy_bundle):
    station = Station(tmp_path, toy_bundle.root, broker.address, config={"journal": {"keep_days": 30}})
    present = station.watch / "KIR_20250101_000000.png"
    cv2.imwrite(str(present), np.full((32, 32, 3), 200, np.uint8))
    db = StateDB(station.state)
    journal = Journal(db)
    record(journal, str(present), str(station.watch / "KIR_20250101_000100.png"))  # the second one is gone
    db.conn.execute("UPDATE frames SET at = ?", (time.time() - 40 * DAY,))
    db.close()
    with station:
        station.wait_until(lambda: "event=journal_pruned removed=1 kept_present=1" in station.log(), what="prune")
        station.wait_watching()  # the rescan has offered whatever it would classify
        station.wait_until(lambda: station.metric("auroral_queue_depth") == 0, what="queue empty")
        assert station.stop() == 0
    db = StateDB(station.state)
    journal = Journal(db)
    assert journal.known(str(present)) and journal.count("done") == 1
    assert journal.load_state("next_seq") == 2  # nothing classified again
    db.close()



def _version(path: Path) -> FileVersion:

    return load_frame(path).version


def _jpeg(path: Path, value: int) -> Path:
    ok, data = cv2.imencode(".jpg", np.full((16, 16, 3), value, np.uint8))
    assert ok
    path.write_bytes(data.tobytes())
    return path


def test_a_rewritten_file_is_a_new_exposure_and_the_same_bytes_are_not(db, tmp_path):
    journal = Journal(db)
    latest = _jpeg(tmp_path / "latest.jpg", 10)
    with db.transaction() as conn:
        journal.record(conn, str(latest), "done", 0, _version(latest))
    assert journal.known(str(latest))
    first = latest.read_bytes()
    _jpeg(latest.with_name("next.tmp"), 200).replace(latest)  # the camera's next exposure, renamed into place
    assert not journal.known(str(latest)) and not journal.same_bytes(str(latest), _version(latest))
    latest.write_bytes(first)  # the first exposure's bytes written again
    os.utime(latest, ns=(time.time_ns() + 10**9,) * 2)
    assert not journal.known(str(latest))  # new size/time: it has to be looked at
    assert journal.same_bytes(str(latest), _version(latest))  # ... but its bytes are known: no new frame
    journal.touch(str(latest), _version(latest))
    assert journal.known(str(latest))  # and the next rescan skips it with a stat


def test_rows_from_before_versions_match_files_not_modified_since(db, tmp_path):
    journal = Journal(db)
    old = _jpeg(tmp_path / "KIR_20261124_220100.jpg", 10)
    with db.transaction() as conn:  # what an older daemon wrote: no size, time or digest
        conn.execute("INSERT INTO frames (path, seq, state, at) VALUES (?, 0, 'done', ?)",
                     (os.fsencode(str(old)), time.time() + 1))
    assert journal.known(str(old))
    os.utime(old, ns=(time.time_ns() + 10**10,) * 2)  # modified after it was journalled
    assert not journal.known(str(old))
