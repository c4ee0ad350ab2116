"""The station's state database: one SQLite file (WAL) holding the frame journal and the outbound spool.

Both live in one file so that "frame classified" and "its messages queued for the broker" commit in
one transaction: a crash at any moment leaves either both or neither, so a frame is never classified
twice and never dropped. One connection, guarded by a lock, serves the pipeline and publisher threads.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from auroral.edge.errors import UserError


class StateDB:
    def __init__(self, state_dir: Path):
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            self.path = state_dir / "state.db"
            self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"cannot open the state database in {state_dir}: {exc}") from exc
        self.conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash rolls back whole transactions only
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with db.transaction() as conn:`` — everything inside commits together or not at all."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.conn.close()
