"""The replayer: capture order, camera-like atomic delivery, pacing, and clear errors."""
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

import auroral.edge.tools.replay as replay_module
from auroral.edge.errors import UserError
from auroral.edge.frames import read_frame
from auroral.edge.tools.replay import capture_time_from_name, frames_in_capture_order, replay
from auroral.edge.tools.synth import generate, night_sequence

START = datetime(2026, 1, 4, 22, 0, tzinfo=UTC)


def auroral(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", *args], capture_output=True, text=True)


def test_capture_time_from_name():
    assert capture_time_from_name("KIR_20190104_213005.jpg") == datetime(2019, 1, 4, 21, 30, 5, tzinfo=UTC)
    assert capture_time_from_name("ABK-20200229_000000_cam2.png") == datetime(2020, 2, 29, tzinfo=UTC)
    assert capture_time_from_name("frame_0001.jpg") is None
    assert capture_time_from_name("KIR_20190231_213000.jpg") is None  # no 31 February


def test_frames_are_replayed_in_capture_order_not_name_order(tmp_path):
    source = tmp_path / "archive"
    (source / "2019-01-05").mkdir(parents=True)
    names = {
        "zz_20190104_210000.jpg": source,            # earliest capture, last by name
        "aa_20190104_220000.png": source,
        "KIR_20190105_000100.jpg": source / "2019-01-05",
        "undated_b.jpg": source,                     # undated frames follow, by name
        "undated_a.jpg": source / "2019-01-05",
    }
    for name, folder in names.items():
        (folder / name).write_bytes(name.encode())
    (source / ".hidden_20190101_000000.jpg").write_bytes(b"x")
    (source / "notes.txt").write_text("not a frame")
    seen: list[str] = []
    written = replay(source, tmp_path / "watch", fps=0, on_frame=lambda p: seen.append(p.name))
    expected = ["zz_20190104_210000.jpg", "aa_20190104_220000.png", "KIR_20190105_000100.jpg",
                "undated_a.jpg", "undated_b.jpg"]
    assert seen == [p.name for p in written] == expected
    assert sorted(p.name for p in (tmp_path / "watch").iterdir()) == sorted(expected)  # nothing else, no .part
    for path in written:
        assert path.parent == tmp_path / "watch" and path.read_bytes() == path.name.encode()


def test_limit_and_single_file(tmp_path):
    night = night_sequence(tmp_path / "night", n_frames=6, size=24, seed=1, start=START)
    assert [p.name for p in replay(tmp_path / "night", tmp_path / "a", fps=0, limit=2)] == [p.name for p in night[:2]]
    assert [p.name for p in replay(night[3], tmp_path / "b", fps=0)] == [night[3].name]
    assert np.array_equal(read_frame(tmp_path / "b" / night[3].name), read_frame(night[3]))


class _FinalNameEvents(FileSystemEventHandler):
    """Records how visible frame names appear in the watched folder, and what a reader finds there."""

    def __init__(self, expected: dict[str, bytes]):
        self.expected = expected
        self.moves: list[tuple[str, str]] = []
        self.created_or_modified: list[str] = []
        self.contents: dict[str, bytes] = {}
        self.all_arrived = threading.Event()

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        if event.event_type == "moved":
            source, final = Path(event.src_path), Path(event.dest_path)
            self.moves.append((source.name, final.name))
            self.contents[final.name] = final.read_bytes()  # what a watcher would read the moment it appears
        elif event.event_type in ("created", "modified") and not Path(event.src_path).name.startswith("."):
            self.created_or_modified.append(Path(event.src_path).name)
        if set(self.contents) == set(self.expected):
            self.all_arrived.set()


def test_a_watcher_only_ever_sees_complete_files_under_their_final_name(tmp_path):
    frames = generate(tmp_path / "data", per_class=1, size=256, seed=0, fmt="png")
    expected = {p.name: p.read_bytes() for p in frames}
    watch = tmp_path / "watch"
    watch.mkdir()
    handler = _FinalNameEvents(expected)
    observer = Observer()
    observer.schedule(handler, str(watch))
    observer.start()
    try:
        replay(tmp_path / "data", watch, fps=0)
        assert handler.all_arrived.wait(timeout=60), f"watcher saw only {sorted(handler.contents)}"
    finally:
        observer.stop()
        observer.join()
    assert handler.created_or_modified == []  # no final name is ever written in place
    assert sorted(handler.moves) == sorted((f".{name}.part", name) for name in expected)  # renamed in the same folder
    assert handler.contents == expected


def test_a_reader_looking_mid_copy_never_sees_a_partial_file(tmp_path, monkeypatch):
    frames = generate(tmp_path / "data", per_class=1, size=64, seed=1, fmt="png")
    expected = {p.name: p.read_bytes() for p in frames}
    watch = tmp_path / "watch"
    watch.mkdir()
    visible_mid_copy: list[dict[str, bytes]] = []

    def copy_with_a_look_halfway(reader, writer, length=0):  # a watcher rescanning while a frame is written
        data = reader.read()
        writer.write(data[: len(data) // 2])
        writer.flush()
        visible_mid_copy.append({p.name: p.read_bytes() for p in watch.iterdir() if not p.name.startswith(".")})
        writer.write(data[len(data) // 2:])

    monkeypatch.setattr(replay_module.shutil, "copyfileobj", copy_with_a_look_halfway)
    written = replay(tmp_path / "data", watch, fps=0)
    assert len(visible_mid_copy) == len(frames)
    for count, visible in enumerate(visible_mid_copy):
        assert visible == {p.name: expected[p.name] for p in written[:count]}  # only the finished frames
    assert {p.name: p.read_bytes() for p in watch.iterdir()} == expected


def test_frames_are_paced_on_a_fixed_schedule(tmp_path, monkeypatch):
    night_sequence(tmp_path / "night", n_frames=4, size=16, seed=1, start=START, breakup_len=1)
    clock = {"now": 100.0}
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock["now"] += seconds + 0.1  # the copy itself takes a while; the schedule must absorb it

    monkeypatch.setattr(replay_module, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(replay_module, "sleep", fake_sleep)
    replay(tmp_path / "night", tmp_path / "watch", fps=2.0)
    assert sleeps == pytest.approx([0.0, 0.4, 0.4, 0.4])


def test_fps_zero_never_sleeps(tmp_path, monkeypatch):
    night_sequence(tmp_path / "night", n_frames=3, size=16, seed=1, start=START, breakup_len=1)
    monkeypatch.setattr(replay_module, "sleep", lambda seconds: pytest.fail("fps 0 must not sleep"))
    assert len(replay(tmp_path / "night", tmp_path / "watch", fps=0)) == 3


def test_duplicate_names_in_a_tree_are_refused(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / "src" / folder).mkdir(parents=True)
        (tmp_path / "src" / folder / "KIR_20190104_210000.jpg").write_bytes(b"x")
    with pytest.raises(UserError, match="two frames are named KIR_20190104_210000.jpg"):
        frames_in_capture_order(tmp_path / "src")


@pytest.mark.parametrize(
    "make_source, fps, message",
    [
        (lambda root: root / "missing", 1.0, "does not exist"),
        (lambda root: root, 1.0, "no frames"),
        (lambda root: (root / "notes.txt").write_text("x") and root / "notes.txt", 1.0, "is not a frame"),
        (lambda root: root, -1.0, "--fps must be 0"),
        (lambda root: root, float("nan"), "--fps must be 0"),
    ],
)
def test_bad_sources_and_rates_are_user_errors(tmp_path, make_source, fps, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match=message):
        replay(make_source(empty), tmp_path / "watch", fps=fps)


def test_cli_help_explains_the_command():
    result = auroral("replay", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: auroral replay" in result.stdout and "--into" in result.stdout


def test_cli_replays_a_night(tmp_path):
    night = night_sequence(tmp_path / "night", n_frames=3, size=16, seed=1, start=START, breakup_len=1)
    result = auroral("replay", str(tmp_path / "night"), "--into", str(tmp_path / "watch"), "--fps", "0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"replayed 3 frames into {tmp_path / 'watch'}")
    assert sorted(p.name for p in (tmp_path / "watch").iterdir()) == [p.name for p in night]


@pytest.mark.parametrize("args, message", [
    (["--fps", "-1"], "auroral replay: error: --fps must be 0 (as fast as possible) or positive, got -1.0"),
    (["--limit", "0"], "auroral replay: error: --limit must be at least 1, got 0"),
])
def test_cli_bad_argument_is_a_one_line_error(tmp_path, args, message):
    night_sequence(tmp_path / "night", n_frames=2, size=16, seed=1, start=START, breakup_len=1)
    result = auroral("replay", str(tmp_path / "night"), "--into", str(tmp_path / "watch"), *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [message]


def test_cli_missing_source_is_a_one_line_error(tmp_path):
    result = auroral("replay", str(tmp_path / "nothing"), "--into", str(tmp_path / "watch"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"auroral replay: error: {tmp_path / 'nothing'} does not exist"]
