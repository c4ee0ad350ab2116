"""The processed-frame journal: which exposures were classified (with their seq) or quarantined.

A frame is an exposure, not a path: each row holds the version of the file it was made from (size,
modification time and a digest of the bytes). A camera program that rewrites ``latest.jpg`` for every
exposure gives a new version each time, and each is classified; the same bytes touched or rewritten
again are recognised by their digest and are not. Size and modification time make the common check (a
rescan at start-up, a watch event) one ``stat`` per file; the digest is compared only once a file has
been read anyway. Rows written before versions were kept match any file not modified since.

It makes classification exactly-once across restarts: the start-up rescan skips every version it
knows, and the per-station ``seq`` counter is allocated in the same transaction that records the frame.
It also persists the decision state, so a restart in the middle of a breakup does not trigger twice.

Pruning keeps it bounded: a row older than ``keep_days`` is removed only once its file is gone from
that path, since forgetting it then cannot cause a second classification. The row of a file still
present is kept and stamped ``checked``, and looked at again only ``keep_days`` later, so a folder that
keeps years of frames costs one ``stat`` per file per ``keep_days``, not per run.

Paths are kept as their bytes on disk (``os.fsencode``, a BLOB key), so any file name round-trips: a
name that is not UTF-8 (a Latin-1 ``Tromsø``) reaches Python as a str with surrogate escapes, which
SQLite cannot store as TEXT. The API takes and returns such str paths.
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from auroral.edge.frames import FileVersion
from auroral.edge.station.history import History
from auroral.edge.station.statedb import StateDB
from auroral.edge.station.supervisor import Component, Context

log = logging.getLogger("auroral.journal")

_BEAT_S = 5.0  # the pruner's heartbeat while it waits for its next run
_PRUNE_DEADLINE_S = 120.0  # one batch of 1,000 stat() calls, even on a slow SD card

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (path TEXT PRIMARY KEY, seq INTEGER, state TEXT NOT NULL, at REAL NOT NULL,
                                   checked REAL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_PATHS_AS_BYTES = "journal_paths_bytes"  # meta key: every path is a BLOB (a database from before holds TEXT)
_DUE = "COALESCE(checked, at)"  # a row is looked at once this is older than keep_days (checked: file last seen)


def _gone(path: str) -> bool:
    """True only when the file's folder is there and the file is not. A missing folder (a disk not
    mounted, a folder rotated away: its frames may come back) or any other error keeps the row."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return os.path.isdir(os.path.dirname(path))
    except OSError:
        return False
    return False


class Journal:
    def __init__(self, db: StateDB):
        self.db = db
        with db.lock:
            db.conn.executescript(_SCHEMA)
            if "checked" not in {row[1] for row in db.conn.execute("PRAGMA table_info(frames)")}:
                db.conn.execute("ALTER TABLE frames ADD COLUMN checked REAL")  # a database from before pruning
            columns = {row[1] for row in db.conn.execute("PRAGMA table_info(frames)")}
            for column, kind in (("size", "INTEGER"), ("mtime_ns", "INTEGER"), ("digest", "TEXT")):
                if column not in columns:  # a database from before versions: its rows match unmodified files
                    db.conn.execute(f"ALTER TABLE frames ADD COLUMN {column} {kind}")
            db.conn.execute(f"CREATE INDEX IF NOT EXISTS frames_due ON frames ({_DUE})")
            self._paths_to_bytes()

    def _paths_to_bytes(self) -> None:
        """Turn a database's TEXT paths into BLOBs once: a TEXT key never equals the BLOB the journal looks up.
        A TEXT path is valid UTF-8, so its BLOB is exactly what ``os.fsencode`` gives for that name."""
        if self.db.conn.execute("SELECT 1 FROM meta WHERE key = ?", (_PATHS_AS_BYTES,)).fetchone():
            return
        with self.db.transaction() as conn:
            conn.execute("UPDATE frames SET path = CAST(path AS BLOB) WHERE typeof(path) = 'text'")
            conn.execute("INSERT INTO meta VALUES (?, '1')", (_PATHS_AS_BYTES,))

    def known(self, path: str) -> bool:
        """Whether the file now at ``path`` is the version already journalled (classified or quarantined)."""
        with self.db.lock:
            row = self.db.conn.execute("SELECT size, mtime_ns, at FROM frames WHERE path = ?",
                                       (os.fsencode(path),)).fetchone()
        if row is None:
            return False
        try:
            info = os.stat(path)
        except OSError:
            return True  # gone or unreadable: nothing new to take
        size, mtime_ns, at = row
        if size is None:  # journalled before versions were kept: the same file if not modified since
            return info.st_mtime <= at
        return (info.st_size, info.st_mtime_ns) == (size, mtime_ns)

    def same_bytes(self, path: str, version: FileVersion) -> bool:
        """Whether ``version``'s bytes are those of the version journalled for ``path`` (a file touched, or
        rewritten with the same exposure): then it is no new frame."""
        with self.db.lock:
            row = self.db.conn.execute("SELECT digest FROM frames WHERE path = ?", (os.fsencode(path),)).fetchone()
        return row is not None and row[0] == version.digest

    def touch(self, path: str, version: FileVersion) -> None:
        """Note that ``path`` now has ``version``'s size and time with the same bytes, so rescans skip it."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE frames SET size = ?, mtime_ns = ? WHERE path = ?",
                         (version.size, version.mtime_ns, os.fsencode(path)))

    def next_seq(self, conn: sqlite3.Connection) -> int:
        """Allocate the next seq; call inside :meth:`StateDB.transaction` together with :meth:`record`."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        seq = int(row[0]) if row else 0
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('next_seq', ?)", (str(seq + 1),))
        return seq

    def record(self, conn: sqlite3.Connection, path: str, state: str, seq: int | None = None,
               version: FileVersion | None = None) -> None:
        """Journal ``path`` (in its ``version``, when known) as ``done`` with its seq, or ``quarantined``."""
        size, mtime_ns, digest = (version.size, version.mtime_ns, version.digest) if version else (None, None, None)
        if version is None:  # quarantined without being read: its version is what the disk says now
            try:
                info = os.stat(path)
                size, mtime_ns = info.st_size, info.st_mtime_ns
            except OSError:
                pass
        conn.execute("INSERT OR REPLACE INTO frames (path, seq, state, at, size, mtime_ns, digest) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", (os.fsencode(path), seq, state, time.time(), size, mtime_ns,
                                                      digest))

    def count(self, state: str) -> int:
        with self.db.lock:
            return self.db.conn.execute("SELECT COUNT(*) FROM frames WHERE state = ?", (state,)).fetchone()[0]

    def load_state(self, key: str) -> dict[str, Any] | None:
        with self.db.lock:
            row = self.db.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_state(self, conn: sqlite3.Connection, key: str, value: dict[str, Any]) -> None:
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def prune(self, keep_days: float, batch: int = 1000, now: float | None = None,
              stop: threading.Event | None = None, on_batch: Callable[[], None] | None = None) -> tuple[int, int]:
        """Forget rows older than ``keep_days`` whose file is gone; stamp the others ``checked``.

        Works ``batch`` rows at a time: the files are stat'ed with no lock held, then one short
        transaction applies the batch, so the pipeline's commits wait at most that long. Stops early
        when ``stop`` is set; ``on_batch`` is called after each batch (a heartbeat). Returns (rows removed,
        rows kept because their file is still there).
        """
        now = time.time() if now is None else now
        cutoff = now - keep_days * 86400
        removed = kept = 0
        while not (stop and stop.is_set()):
            paths = self._due(cutoff, batch)
            if not paths:
                break
            gone = {path for path in paths if _gone(path)}  # no lock held while the disk is asked
            present = [path for path in paths if path not in gone]
            self._apply(gone, present, cutoff, now)
            removed, kept = removed + len(gone), kept + len(present)
            if on_batch is not None:
                on_batch()
        log.info("event=journal_pruned removed=%d kept_present=%d", removed, kept)
        return removed, kept

    def _due(self, cutoff: float, batch: int) -> list[str]:
        with self.db.lock:
            rows = self.db.conn.execute(f"SELECT path FROM frames WHERE {_DUE} < ? ORDER BY {_DUE} LIMIT ?",
                                        (cutoff, batch)).fetchall()
        return [os.fsdecode(row[0]) for row in rows]

    def _apply(self, gone: set[str], present: list[str], cutoff: float, now: float) -> None:
        with self.db.transaction() as conn:
            # `_DUE < cutoff` again: a row recorded afresh since the stat (a new file there) stays
            conn.executemany(f"DELETE FROM frames WHERE path = ? AND {_DUE} < ?",
                             [(os.fsencode(p), cutoff) for p in gone])
            conn.executemany("UPDATE frames SET checked = ? WHERE path = ?", [(now, os.fsencode(p)) for p in present])


class Pruner(Component):
    """Runs :meth:`Journal.prune` once at start-up and then every ``[journal] prune_every_s``. A failure
    (e.g. a SQLite error) is logged and counted by the supervisor and tried again; it never stops the
    classification of frames."""

    def __init__(self, context: Context, journal: Journal, history: History | None = None):
        super().__init__(context)
        self.journal = journal
        self.history = history  # what the station saw: kept as long as the journal
        self.keep_days = context.config.journal.keep_days
        self.every_s = context.config.journal.prune_every_s

    def start(self) -> None:
        self.spawn("pruner", self._loop, deadline_s=_PRUNE_DEADLINE_S)

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.journal.prune(self.keep_days, stop=self.stopping, on_batch=lambda: self.supervisor.beat("pruner"))
            if self.history is not None:
                log.info("event=history_pruned removed=%d", self.history.prune(self.keep_days))
            deadline = time.monotonic() + self.every_s
            while not self.stopping.wait(min(_BEAT_S, max(0.0, deadline - time.monotonic()))):
                self.supervisor.beat("pruner")
                if time.monotonic() >= deadline:
                    break
