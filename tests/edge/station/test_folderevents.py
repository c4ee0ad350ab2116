"""Flat folders' kernel events, read on one thread: what a camera does to a folder becomes exactly the calls
the watcher acts on, including the kernel's own overflow and the folder going away."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from auroral.edge.station.folderevents import FolderEvents


class Calls:
    """What the events called back."""

    def __init__(self):
        self.found: list[tuple[str, bool]] = []
        self.lost: list[Path] = []
        self.overflows = 0

    def overflowed(self) -> None:
        self.overflows += 1


@contextlib.contextmanager
def watching(*folders: Path) -> Iterator[tuple[Calls, FolderEvents]]:
    """``folders`` made and watched; every event is read when the block ends."""
    calls = Calls()
    events = FolderEvents(lambda path, created: calls.found.append((path.name, created)), calls.lost.append,
                          calls.overflowed)
    try:
        for folder in folders:
            folder.mkdir()
            events.add(folder)
        yield calls, events
        for _ in range(20):
            events.read(0.05)
    finally:
        events.close()


def test_created_closed_and_moved_in_files_are_found_and_reads_are_not(tmp_path):
    folder, elsewhere = tmp_path / "incoming", tmp_path / "staging"
    elsewhere.mkdir()
    with watching(folder) as (calls, _):
        with open(folder / "a.jpg", "wb") as handle:
            for _ in range(4):
                handle.write(b"x" * 1000)
                handle.flush()
        (elsewhere / "b.jpg").write_bytes(b"y")
        os.rename(elsewhere / "b.jpg", folder / "b.jpg")  # an atomic move in: complete, no settle needed
        (folder / "sub").mkdir()  # a flat folder's sub-folders are not frames
        (folder / "a.jpg").read_bytes()
    assert calls.found == [("a.jpg", True), ("a.jpg", False), ("b.jpg", False)]
    assert calls.lost == [] and calls.overflows == 0


def test_the_folder_going_away_is_reported_once_and_a_removed_folder_is_silent(tmp_path):
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    with watching(kept, gone) as (calls, events):
        events.remove(kept)  # on purpose: its end is not a loss, and its files are not found
        events.remove(kept)  # twice: nothing happens
        (kept / "a.jpg").write_bytes(b"x")
        gone.rmdir()
    assert calls.lost == [gone] and calls.found == []


def test_a_kernel_queue_overflow_is_reported(tmp_path):
    folder = tmp_path / "incoming"
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    with watching(folder) as (calls, _):
        for i in range(limit // 2 + 10):  # two events each (created, closed), none read meanwhile
            (folder / f"f{i}.jpg").touch()
    assert calls.overflows == 1
    assert 0 < len(calls.found) <= limit  # what the kernel kept before it overflowed
