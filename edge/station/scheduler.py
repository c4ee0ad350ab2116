"""Which frame to work on next: pending *paths* (never decoded images), live frames first, retries later.

Live frames (a watch event) go before backlog (the start-up rescan), newest first, so after an outage
or a flood the current sky is classified at once while the backlog drains behind it. A frame that
failed to decode waits for its retry time; a new close/rename event for it makes it due immediately.
Every path is held once, from the first offer until :meth:`finish`, so events and rescans never
queue a frame twice. A new event for a path that is being decoded or classified (a camera program that
rewrites ``latest.jpg`` faster than it is classified) is kept: at :meth:`finish` the path is offered
again, and the journal tells whether the file now holds a new exposure.

A waiting frame has one due time, its latest: an entry left in the delay heap by an earlier wait (a
settle time, then a retry) is recognised by its time and skipped, so it neither brings the frame back
early nor counts as waiting.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from auroral.edge.station.metrics import StationMetrics


@dataclass(eq=False)
class Item:
    path: Path
    live: bool
    seen: float = field(default_factory=time.time)  # wall clock: when the daemon first saw the file
    attempts: int = 0
    due: float | None = None  # while it waits: the clock time it is due at (None: ready, being decoded)
    taken: bool = False  # handed to the pipeline by take()
    again: bool = False  # an event came while it was taken: offer the path again when it is finished
    version: tuple[int, int] | None = None  # (size, mtime_ns) when it last failed to load: is it still growing?


class Scheduler:
    def __init__(self, known: Callable[[str], bool], metrics: StationMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._known = known
        self.metrics = metrics
        self._clock = clock
        self._cond = threading.Condition()
        self._ready: list[tuple[tuple[int, int], Item]] = []
        self._delayed: list[tuple[float, int, Item]] = []  # may hold stale entries: see Item.due
        self._waiting = 0  # items whose due is set
        self._members: dict[str, Item] = {}
        self._order = itertools.count()

    def offer(self, path: Path, live: bool, settle_s: float = 0.0) -> None:
        """A frame file appeared (watch event) or was found (rescan).

        ``settle_s`` > 0 (a bare "created" event, which may be a file still being written or one moved
        in from elsewhere) makes it due only after that delay, or at once when a close/rename event for
        it follows.
        """
        key = str(path)
        with self._cond:
            item = self._members.get(key)
            if item is not None:
                if item.due is not None and not settle_s:  # closed/rewritten while waiting: try it now
                    self._undelay(item)
                    self._push(item)
                elif item.taken:
                    item.again = True
                return
            if self._known(key):
                return
            item = Item(path, live)
            self._members[key] = item
            if settle_s:
                self._delay(item, settle_s)
            else:
                self._push(item)

    def retry(self, item: Item, delay_s: float) -> None:
        with self._cond:
            item.taken = False
            self._delay(item, delay_s)

    def _delay(self, item: Item, delay_s: float) -> None:
        if item.due is None:
            self._waiting += 1
        item.due = self._clock() + delay_s
        heapq.heappush(self._delayed, (item.due, next(self._order), item))
        self._changed()
        self._cond.notify()

    def _undelay(self, item: Item) -> None:
        item.due = None
        self._waiting -= 1

    def finish(self, item: Item) -> None:
        with self._cond:
            self._members.pop(str(item.path), None)
            self._changed()
        if item.again:
            self.offer(item.path, item.live)

    def take(self, max_items: int, timeout: float) -> list[Item]:
        """Up to ``max_items`` due frames, best first; waits at most ``timeout`` for the first one."""
        deadline = self._clock() + timeout
        with self._cond:
            while True:
                self._promote_due()
                if self._ready:
                    taken = [heapq.heappop(self._ready)[1] for _ in range(min(max_items, len(self._ready)))]
                    for item in taken:
                        item.taken = True
                    self._changed()
                    return taken
                now = self._clock()
                wait = deadline - now
                if self._delayed:
                    wait = min(wait, self._delayed[0][0] - now)
                if deadline - now <= 0:
                    return []
                self._cond.wait(max(wait, 0.001))

    def depth(self) -> int:
        with self._cond:
            return len(self._members)

    def _push(self, item: Item) -> None:
        order = next(self._order)
        rank = (0, -order) if item.live else (1, order)
        heapq.heappush(self._ready, (rank, item))
        self._changed()
        self._cond.notify()

    def _promote_due(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            due, _, item = heapq.heappop(self._delayed)
            if item.due == due:  # else stale: made due by a new event, or waiting again until a later time
                self._undelay(item)
                self._push(item)

    def _changed(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels("ready").set(len(self._ready))
            self.metrics.queue_depth.labels("retry").set(self._waiting)
