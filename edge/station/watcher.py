"""Finding frames: watchdog close-write and rename events, plus a rescan when each folder is attached.

Only finished files are taken: a close after writing (``FileClosedEvent``) or a rename within the folder
(cameras that write ``.tmp`` then rename); a file moved in from another folder shows up only as
"created", so that is taken after ``settle_s`` unless its close event comes first. Hidden and
temporary names are ignored. A folder that does not exist or cannot be read is reported (log + metric)
and retried with back-off; once it can be attached, its existing files are rescanned as backlog, so
frames that arrived while the daemon was down (or the folder unreadable) are classified too. A watched
folder that is replaced (deleted and recreated, renamed away by a nightly rotation, or mounted over) is
attached again the same way: a deletion is noticed at once, the others within ``_CHECK_S``. When the
kernel's inotify queue overflows (thousands of files at once), events are lost; watchdog only logs
that, so its log record triggers a rescan of every folder within ``_CHECK_S``.
"""
from __future__ import annotations

import fnmatch
import functools
import logging
import os
import sys
import threading
import time
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from auroral.edge.station.folderevents import FolderEvents
from auroral.edge.station.scheduler import Scheduler
from auroral.edge.station.supervisor import Component, Context

log = logging.getLogger("auroral.watch")

_TEMP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".swp", "~")
_CHECK_S = 2.0  # how often each attached folder's identity (and an inotify overflow) is checked
_INOTIFY_LOGGER = "watchdog.observers.inotify_c"  # where watchdog reports a kernel queue overflow
_READ_WAIT_S = 0.25  # the longest the flat folders' event thread waits for the kernel before it beats
# The events the handler acts on; the kernel is asked for these only. Left out: opens, reads, writes and
# attribute changes, i.e. every chunk a camera writes and every read of a frame by the daemon itself. Each
# event crosses three of watchdog's threads, so unfiltered they queue before a frame's own events and
# take the CPU from the model in a burst.
_EVENTS = [FileCreatedEvent, DirCreatedEvent, FileClosedEvent, FileMovedEvent, DirMovedEvent, DirDeletedEvent]


def is_candidate(path: Path, patterns: list[str]) -> bool:
    """Whether ``path`` is a finished frame: it matches a pattern and is neither hidden (``.name``, where camera
    programs and uploaders write before renaming) nor a temporary name (``*.part``, ``*.tmp``, ``name~``)."""
    name = path.name
    if name.startswith(".") or name.lower().endswith(_TEMP_SUFFIXES):
        return False
    return any(fnmatch.fnmatch(name.lower(), p.lower()) for p in patterns)


class _OverflowAlarm(logging.Handler):
    """Turns watchdog's "Inotify queue overflowed; filesystem events were lost" log record into a call."""

    def __init__(self, on_overflow):
        super().__init__(logging.WARNING)
        self.on_overflow = on_overflow

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.on_overflow()


class _Events(FileSystemEventHandler):
    def __init__(self, watcher: Watcher):
        self.watcher = watcher

    def dispatch(self, event: FileSystemEvent) -> None:
        """Runs on watchdog's observer thread: an exception here would end that thread, so none escapes."""
        self.watcher.supervisor.guard("watch-events", super().dispatch)(event)

    def on_closed(self, event: FileClosedEvent) -> None:
        self.watcher.found(Path(os.fsdecode(event.src_path)), live=True)

    def on_moved(self, event: DirMovedEvent | FileMovedEvent) -> None:
        self.watcher.found(Path(os.fsdecode(event.dest_path)), live=True)

    def on_created(self, event: DirCreatedEvent | FileCreatedEvent) -> None:
        # A file moved in from outside the watched folder only ever gives "created" (no close); one
        # being written gives "created" now and "closed" later. Both are taken after a settle delay
        # unless the close comes first.
        if not event.is_directory:
            self.watcher.found(Path(os.fsdecode(event.src_path)), live=True, settle_s=self.watcher.settle_s)

    def on_deleted(self, event: DirDeletedEvent | FileDeletedEvent) -> None:
        path = Path(os.fsdecode(event.src_path))
        if event.is_directory and path in self.watcher.dirs:  # the watched folder itself: remount, recreate
            self.watcher.lost(path)


def _identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of ``folder``, None while it is missing: it changes when the folder is replaced."""
    try:
        stat = os.stat(folder)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class Watcher(Component):
    def __init__(self, context: Context, scheduler: Scheduler):
        super().__init__(context)
        watch = context.config.watch
        self.dirs = dirs = watch.dirs
        self.patterns = watch.patterns
        self.recursive = watch.recursive
        self.exclude_dirs = set(watch.exclude_dirs)  # a camera program's thumbnails: never frames
        self.scheduler = scheduler
        self.retry_max_s = watch.folder_retry_max_s
        self.settle_s = watch.settle_s
        # never taken as frames, even when it lies inside a watched folder
        self.quarantine = context.config.quarantine_dir.absolute()
        guard = self.supervisor.guard
        # flat folders on Linux: the kernel's events read on one thread (FolderEvents); trees: watchdog
        self.events = (FolderEvents(guard("watch-events", self._kernel_found), guard("watch-events", self.lost),
                                    guard("watch-events", self.overflowed))
                       if not self.recursive and sys.platform.startswith("linux") else None)
        self.observer = Observer()
        self.handler = _Events(self)
        self.watches: dict[Path, ObservedWatch | None] = {}  # None: watched through self.events
        self._lost = {folder: threading.Event() for folder in dirs}
        self._overflowed = {folder: threading.Event() for folder in dirs}
        self._alarm = _OverflowAlarm(self.overflowed)

    def start(self) -> None:
        inotify_log = logging.getLogger(_INOTIFY_LOGGER)
        inotify_log.setLevel(min(inotify_log.getEffectiveLevel(), logging.WARNING))  # never filtered out
        inotify_log.addHandler(self._alarm)
        if self.events is not None:
            self.spawn("watch-events", self._read_events, deadline_s=_READ_WAIT_S * 4 + 30.0)
        else:
            self.observer.start()
        for folder in self.dirs:
            self.spawn(f"watch:{folder}", functools.partial(self._attach, folder), deadline_s=_CHECK_S * 5 + 30.0)

    def lost(self, folder: Path) -> None:
        """The watched folder itself was deleted: its watcher thread attaches it again once it is back."""
        self._lost[folder].set()

    def overflowed(self) -> None:
        """Events were lost in the kernel: every folder is rescanned (known frames are skipped)."""
        for event in self._overflowed.values():
            event.set()

    def stop(self, timeout: float) -> None:
        super().stop(timeout)
        logging.getLogger(_INOTIFY_LOGGER).removeHandler(self._alarm)
        if self.events is not None:
            self.events.close()
        elif self.observer.is_alive():
            self.observer.stop()
            self.observer.join(timeout=timeout)

    def _read_events(self) -> None:
        assert self.events is not None
        while not self.stopping.is_set():
            self.supervisor.beat("watch-events")
            self.events.read(_READ_WAIT_S)

    def _kernel_found(self, path: Path, created: bool) -> None:
        """A file in a flat folder was created (it may still be written: taken after ``settle_s`` unless its close
        comes first), or closed after writing, or moved in (complete: taken at once)."""
        self.found(path, live=True, settle_s=self.settle_s if created else 0.0)

    def found(self, path: Path, live: bool, settle_s: float = 0.0) -> None:
        if is_candidate(path, self.patterns) and self.quarantine not in path.parents and not self._excluded(path):
            self.scheduler.offer(path, live, settle_s)

    def _excluded(self, path: Path) -> bool:
        """Whether ``path`` lies in a sub-folder named in ``exclude_dirs`` below the watched folder it is in."""
        for folder in self.dirs:
            if folder in path.parents:
                return not self.exclude_dirs.isdisjoint(path.relative_to(folder).parts[:-1])
        return False

    def _attach(self, folder: Path) -> None:
        """Keep ``folder`` watched. Its watch goes deaf when the folder is deleted, renamed away (a nightly
        rotation) or mounted over, so then it is attached again, with a rescan that picks up what was
        written meanwhile."""
        lost, overflowed = self._lost[folder], self._overflowed[folder]
        self._unschedule(folder)  # restarted after a failure: the old watch may still be there
        while not self.stopping.is_set():
            lost.clear()  # a deletion reported by the previous watch is dealt with by attaching afresh
            identity = self._attach_once(folder)
            while not self.stopping.is_set():
                self.supervisor.beat(f"watch:{folder}")
                if self.events is None and not self.observer.is_alive():
                    raise RuntimeError("watchdog's observer thread has stopped")
                if overflowed.is_set():
                    overflowed.clear()  # before the rescan: an overflow during it brings another one
                    self._rescan_after_overflow(folder)
                # a delete event says so at once; a rename away or a mount over only shows in the identity
                # (and a folder recreated at once may get its old inode number back, hence both)
                if lost.wait(_CHECK_S) or _identity(folder) != identity:
                    log.warning("event=watch_folder_lost folder=%r action=reattach", str(folder))
                    self.metrics.watch_errors.inc()
                    self._unschedule(folder)
                    break

    def _attach_once(self, folder: Path) -> tuple[int, int] | None:
        """Watch ``folder`` and rescan it; retry with back-off while it is missing or unreadable."""
        delay = 0.5
        while not self.stopping.is_set():
            try:
                identity = _identity(folder)
                os.listdir(folder)  # fails early and clearly for a missing or unreadable folder
                self.watches[folder] = self._schedule(folder)
                count = self._rescan(folder)
                log.info("event=watching folder=%r backlog=%d", str(folder), count)
                return identity
            except OSError as exc:
                self.metrics.watch_errors.inc()
                log.error("event=watch_folder_error folder=%r error=%r retry_in_s=%.1f",
                          str(folder), exc.strerror or str(exc), delay)
                self._wait(folder, delay)
                delay = min(delay * 2, self.retry_max_s)
        return None

    def _wait(self, folder: Path, seconds: float) -> None:
        """Wait between tries of an unreadable folder, beating, until ``seconds`` pass or the daemon stops."""
        deadline = time.monotonic() + seconds
        while not self.stopping.wait(min(_CHECK_S, max(0.0, deadline - time.monotonic()))):
            self.supervisor.beat(f"watch:{folder}")
            if time.monotonic() >= deadline:
                return

    def _schedule(self, folder: Path) -> ObservedWatch | None:
        if self.events is not None:
            self.events.add(folder)
            return None
        return self.observer.schedule(self.handler, str(folder), recursive=self.recursive, event_filter=_EVENTS)

    def _unschedule(self, folder: Path) -> None:
        watch = self.watches.pop(folder, None)
        if self.events is not None:
            self.events.remove(folder)  # nothing happens where it is not watched
        elif watch is not None:
            try:
                self.observer.unschedule(watch)
            except KeyError:
                pass  # the emitter already ended with the folder

    def _rescan_after_overflow(self, folder: Path) -> None:
        self.metrics.watch_errors.inc()
        try:
            count = self._rescan(folder)
        except OSError as exc:  # the folder went away meanwhile: the identity check reattaches it
            log.error("event=watch_overflow_rescan_failed folder=%r error=%r", str(folder), exc.strerror or str(exc))
            return
        log.warning("event=watch_overflow folder=%r action=rescanned candidates=%d", str(folder), count)

    def _rescan(self, folder: Path) -> int:
        count = 0
        walker = os.walk(folder) if self.recursive else [(str(folder), [], os.listdir(folder))]
        for root, folders, names in walker:
            folders[:] = [name for name in folders if name not in self.exclude_dirs]
            for index, name in enumerate(sorted(names)):
                if index % 1000 == 0:  # a folder of a million frames takes a while
                    self.supervisor.beat(f"watch:{folder}")
                path = Path(root) / name
                if is_candidate(path, self.patterns) and self.quarantine not in path.parents and path.is_file():
                    self.scheduler.offer(path, live=False)
                    count += 1
        return count
