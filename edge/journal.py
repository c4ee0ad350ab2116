"""The processed-frame journal: which files were classified (with their seq) or quarantined.

It makes classification exactly-once across restarts: the start-up rescan skips every path it
knows, and the per-station ``seq`` counter is allocated in the same transaction that records the frame.
It also persists the decision state, so a restart in the middle of a breakup does not trigger twice.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .statedb import StateDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frames (path TEXT PRIMARY KEY, seq INTEGER, state TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Journal:
    def __init__(self, db: StateDB):
        self.db = db
        with db.lock:
            db.conn.executescript(_SCHEMA)

    def known(self, path: str) -> bool:
        with self.db.lock:
            return self.db.conn.execute("SELECT 1 FROM frames WHERE path = ?", (path,)).fetchone() is not None

    def next_seq(self, conn: sqlite3.Connection) -> int:
        """Allocate the next seq; call inside :meth:`StateDB.transaction` together with :meth:`record`."""
        row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        seq = int(row[0]) if row else 0
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('next_seq', ?)", (str(seq + 1),))
        return seq

    def record(self, conn: sqlite3.Connection, path: str, state: str, seq: int | None = None) -> None:
        conn.execute("INSERT OR REPLACE INTO frames VALUES (?, ?, ?, ?)", (path, seq, state, time.time()))

    def count(self, state: str) -> int:
        with self.db.lock:
            return self.db.conn.execute("SELECT COUNT(*) FROM frames WHERE state = ?", (state,)).fetchone()[0]

    def load_state(self, key: str) -> dict[str, Any] | None:
        with self.db.lock:
            row = self.db.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def save_state(self, conn: sqlite3.Connection, key: str, value: dict[str, Any]) -> None:
        conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
