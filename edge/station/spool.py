"""The durable outbound spool: every message is stored before it is published and deleted on PUBACK.

Each message is marked live (about a frame that arrived while the daemon watched, or an external
alert) or not (about a frame found by the start-up rescan). The publisher sends fresh live messages
(spooled in the last seconds) first, so a live frame overtakes any backlog; the rest leaves oldest first,
and after a reconnect everything not yet acknowledged is sent again.
The spool is bounded: past ``max_messages`` the oldest are dropped, and messages older than
``max_age_s`` expire; both are logged with the count (never silent) and counted in metrics.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

from auroral.edge.station.metrics import StationMetrics
from auroral.edge.station.statedb import StateDB

log = logging.getLogger("auroral.spool")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL,
                                  payload BLOB NOT NULL, retain INTEGER NOT NULL, created REAL NOT NULL,
                                  live INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS spool_fresh ON spool (live, created);
CREATE INDEX IF NOT EXISTS spool_retained ON spool (topic) WHERE retain = 1;
"""
# fresh_live and expiry find their rows through spool_fresh, a superseded retained message through
# spool_retained, oldest through the id order: O(log n) however long the backlog, so a 200k-message spool
# never holds the database lock for a scan


@dataclass(frozen=True)
class Outbound:
    id: int
    topic: str
    payload: bytes
    retain: bool


class Spool:
    def __init__(self, db: StateDB, max_messages: int, max_age_s: float, metrics: StationMetrics | None = None):
        self.db = db
        self.max_messages = max_messages
        self.max_age_s = max_age_s
        self.metrics = metrics
        with db.lock:
            db.conn.executescript(_SCHEMA)
            self._depth = db.conn.execute("SELECT COUNT(*) FROM spool").fetchone()[0]
        self._gauge()
        log.info("event=spool_opened depth=%d max_messages=%d max_age_s=%g policy=drop_oldest",
                 self._depth, max_messages, max_age_s)

    def _gauge(self) -> None:
        if self.metrics is not None:
            self.metrics.spool_depth.set(self._depth)

    @property
    def depth(self) -> int:
        return self._depth

    def put(self, conn: sqlite3.Connection, topic: str, payload: bytes, retain: bool = False,
            live: bool = True) -> None:
        """Queue one message; call inside :meth:`StateDB.transaction` (with the journal entry it belongs to).

        A retained message is the topic's last value: it supersedes any older one still spooled for that
        topic, so a backlog can never overwrite the current retained ``state`` with a stale one.
        """
        if retain:
            self._depth -= conn.execute("DELETE FROM spool WHERE topic = ? AND retain = 1", (topic,)).rowcount
            conn.execute("INSERT OR REPLACE INTO retained VALUES (?, ?)", (topic, payload))
        conn.execute("INSERT INTO spool (topic, payload, retain, created, live) VALUES (?, ?, ?, ?, ?)",
                     (topic, payload, int(retain), time.time(), int(live)))
        self._depth += 1
        self._gauge()

    def retained(self) -> list[tuple[str, bytes]]:
        """The latest retained message of each topic, to publish again on every (re)connect: a broker
        without persistence forgets them when it restarts."""
        with self.db.lock:
            return [(r[0], bytes(r[1])) for r in self.db.conn.execute("SELECT topic, payload FROM retained")]

    def oldest(self, limit: int, skip: set[int]) -> list[Outbound]:
        """The ``limit`` oldest messages whose ids are not in ``skip`` (those in flight)."""
        return self._select("1", (), limit, skip)

    def fresh_live(self, younger_than_s: float, limit: int, skip: set[int]) -> list[Outbound]:
        """Messages about live frames spooled in the last ``younger_than_s`` seconds, oldest first."""
        return self._select("live = 1 AND created > ?", (time.time() - younger_than_s,), limit, skip)

    def _select(self, where: str, params: tuple, limit: int, skip: set[int]) -> list[Outbound]:
        """Up to ``limit`` messages matching ``where``, oldest first, leaving out the ids in ``skip``."""
        with self.db.lock:
            rows = self.db.conn.execute(
                f"SELECT id, topic, payload, retain FROM spool WHERE {where} ORDER BY id LIMIT ?",
                (*params, limit + len(skip))).fetchall()
        return [Outbound(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows if r[0] not in skip][:limit]

    def delete(self, message_ids: Sequence[int]) -> None:
        """Forget acknowledged messages, in one transaction. If this raises (disk full), they stay spooled and
        the depth unchanged: they are sent again, and the subscriber drops the duplicates by their ``seq``."""
        with self.db.transaction() as conn:
            deleted = conn.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in message_ids]).rowcount
        self._depth -= deleted
        self._gauge()

    def enforce_bounds(self) -> None:
        """Drop expired and excess messages, oldest first, and say so in the log."""
        with self.db.transaction() as conn:
            expired = conn.execute("DELETE FROM spool WHERE live IN (0, 1) AND created < ?",  # via spool_fresh
                                   (time.time() - self.max_age_s,)).rowcount
            excess = conn.execute(
                "DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT "
                "max(0, (SELECT COUNT(*) FROM spool) - ?))", (self.max_messages,)).rowcount
            self._depth = conn.execute("SELECT COUNT(*) FROM spool").fetchone()[0]
        for reason, count in (("expired", expired), ("overflow", excess)):
            if count:
                log.warning("event=spool_dropped reason=%s count=%d policy=drop_oldest", reason, count)
                if self.metrics is not None:
                    self.metrics.spool_dropped.labels(reason).inc(count)
        self._gauge()
