"""The kernel's file events for flat watched folders, read and acted on by one thread (Linux inotify).

watchdog hands each inotify event across three threads (its kernel reader, the folder's emitter and the
observer's dispatcher) before a handler sees it. On a station that is idle between frames every hand-off
wakes a sleeping CPU: from a camera closing a frame to the watcher seeing it took 0.9–1.4 ms (median)
and 3.4–4.0 ms (p95) through watchdog, against at most 0.4 ms read here on one thread
(docs/PERFORMANCE.md). The watcher uses this for folders watched without ``recursive``; a recursive tree
keeps watchdog, which also watches the sub-folders created later.

Only the events the watcher acts on are asked for: a file created (it may still be written), closed
after writing, or moved in; the folder itself deleted, moved away or unmounted; and the kernel's queue
overflowing (events lost).
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from inotify_simple import INotify, flags

log = logging.getLogger("auroral.watch")

_MASK = (flags.CREATE | flags.CLOSE_WRITE | flags.MOVED_TO | flags.DELETE_SELF | flags.MOVE_SELF | flags.ONLYDIR
         | flags.EXCL_UNLINK)
_GONE = flags.DELETE_SELF | flags.MOVE_SELF | flags.UNMOUNT | flags.IGNORED


class FolderEvents:
    """One inotify descriptor for several folders; :meth:`read` waits for events and calls back on its thread.

    ``found(path, created)``: a file was created (True: it may still be written) or closed after writing
    or moved in (False). ``lost(folder)``: a watched folder went away. ``overflowed()``: the kernel
    dropped events.
    """

    def __init__(self, found: Callable[[Path, bool], None], lost: Callable[[Path], None],
                 overflowed: Callable[[], None]):
        self._found, self._lost, self._overflowed = found, lost, overflowed
        self._inotify = INotify()
        self._folders: dict[int, Path] = {}
        self._lock = threading.Lock()

    def add(self, folder: Path) -> None:
        """Watch ``folder`` (a directory; raises :class:`OSError` where it is missing or unreadable)."""
        wd = self._inotify.add_watch(folder, _MASK)
        with self._lock:
            self._folders[wd] = folder

    def remove(self, folder: Path) -> None:
        """Stop watching ``folder``; nothing happens where it is not watched or its watch already ended."""
        with self._lock:
            found = [wd for wd, watched in self._folders.items() if watched == folder]
            for wd in found:
                del self._folders[wd]  # first: the kernel's IGNORED event for it is then not taken as a loss
        for wd in found:
            self._forget(wd)

    def _forget(self, wd: int) -> None:
        try:
            self._inotify.rm_watch(wd)
        except OSError:
            pass  # the kernel already ended it (the folder was deleted)

    def read(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for events and act on every one read."""
        for event in self._inotify.read(timeout=int(timeout_s * 1000)):
            if event.mask & flags.Q_OVERFLOW:
                log.warning("event=inotify_overflow")
                self._overflowed()
                continue
            with self._lock:
                folder = self._folders.get(event.wd)
                if folder is not None and event.mask & _GONE:
                    del self._folders[event.wd]
            if folder is None:
                continue  # a watch removed on purpose, or its last events after it went
            if event.mask & _GONE:
                if not event.mask & flags.IGNORED:  # moved away or unmounted: the kernel keeps the watch
                    self._forget(event.wd)
                self._lost(folder)
            elif event.name and not event.mask & flags.ISDIR:
                self._found(folder / os.fsdecode(event.name), bool(event.mask & flags.CREATE))

    def close(self) -> None:
        self._inotify.close()
