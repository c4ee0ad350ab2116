"""What the station saw, in capture time: every recorded frame's label and sky, and every decision.

Written in the ledger's transaction (so it never disagrees with what was published) and read by the
station page and ``auroral night``. It is kept for ``[journal] keep_days`` and pruned with the journal.
Times are stored as Unix seconds (UTC) so that a night is one index range. Frame names are kept as they
are published (escaped, :func:`~auroral.edge.contract.printable`), paths as their bytes.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auroral.edge.contract import printable
from auroral.edge.station.statedb import StateDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history_frames (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL, path BLOB NOT NULL,
                                           captured REAL NOT NULL, label TEXT, confidence REAL, sky TEXT,
                                           uncertain INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS history_frames_captured ON history_frames (captured);
CREATE TABLE IF NOT EXISTS history_events (id INTEGER PRIMARY KEY AUTOINCREMENT, decided REAL NOT NULL,
                                           captured REAL, kind TEXT NOT NULL, frame TEXT, live INTEGER NOT NULL,
                                           details TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS history_events_captured ON history_events (captured);
"""


@dataclass(frozen=True)
class SeenFrame:
    seq: int
    frame: str
    path: str
    captured_at: datetime
    label: str | None
    confidence: float | None
    sky: str | None
    uncertain: bool


@dataclass(frozen=True)
class Decision:
    decided_at: datetime
    captured_at: datetime | None
    kind: str  # an alert type, or "trigger"
    frame: str | None
    live: bool
    details: dict[str, Any]


class History:
    def __init__(self, db: StateDB):
        self.db = db
        with db.lock:
            db.conn.executescript(_SCHEMA)

    def add_frame(self, conn: sqlite3.Connection, frame: SeenFrame) -> None:
        conn.execute("INSERT OR REPLACE INTO history_frames VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     (frame.seq, printable(frame.frame), os.fsencode(frame.path), frame.captured_at.timestamp(),
                      frame.label, frame.confidence, frame.sky, int(frame.uncertain)))

    def add_decision(self, conn: sqlite3.Connection, decision: Decision) -> None:
        conn.execute("INSERT INTO history_events (decided, captured, kind, frame, live, details) VALUES "
                     "(?, ?, ?, ?, ?, ?)", (decision.decided_at.timestamp(),
                                            decision.captured_at.timestamp() if decision.captured_at else None,
                                            decision.kind, printable(decision.frame) if decision.frame else None,
                                            int(decision.live),
                                            json.dumps(decision.details, default=str)))

    def frames(self, start: datetime, end: datetime) -> list[SeenFrame]:
        """Frames captured in [start, end), in capture order."""
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT seq, frame, path, captured, label, confidence, sky, uncertain FROM history_frames "
                "WHERE captured >= ? AND captured < ? ORDER BY captured, seq",
                (start.timestamp(), end.timestamp())).fetchall()
        return [SeenFrame(r[0], r[1], os.fsdecode(bytes(r[2])), _utc(r[3]), r[4], r[5], r[6], bool(r[7]))
                for r in rows]

    def decisions(self, start: datetime, end: datetime) -> list[Decision]:
        """Decisions about frames captured in [start, end) (or, without a capture time, decided then)."""
        with self.db.lock:
            rows = self.db.conn.execute(
                "SELECT decided, captured, kind, frame, live, details FROM history_events "
                "WHERE COALESCE(captured, decided) >= ? AND COALESCE(captured, decided) < ? "
                "ORDER BY COALESCE(captured, decided), id", (start.timestamp(), end.timestamp())).fetchall()
        return [Decision(_utc(r[0]), _utc(r[1]) if r[1] is not None else None, r[2], r[3], bool(r[4]),
                         json.loads(r[5])) for r in rows]

    def latest(self) -> SeenFrame | None:
        """The newest capture recorded."""
        with self.db.lock:
            row = self.db.conn.execute("SELECT MAX(captured) FROM history_frames").fetchone()
        if row is None or row[0] is None:
            return None
        found = self.frames(_utc(row[0]), _utc(row[0] + 1e-3))
        return found[-1] if found else None

    def prune(self, keep_days: float, now: float | None = None) -> int:
        """Forget frames and decisions captured (or decided) more than ``keep_days`` ago; returns rows removed."""
        cutoff = (time.time() if now is None else now) - keep_days * 86400
        with self.db.transaction() as conn:
            removed = conn.execute("DELETE FROM history_frames WHERE captured < ?", (cutoff,)).rowcount
            removed += conn.execute("DELETE FROM history_events WHERE COALESCE(captured, decided) < ?",
                                    (cutoff,)).rowcount
        return removed


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
