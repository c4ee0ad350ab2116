"""``auroral replay``: drop archived frames into a watched folder in capture order, the way a camera does.

A camera (or its transfer software) writes each frame under a hidden temporary name in the watched
folder and renames it when complete, so a watcher never sees half a file. Replaying an archived night
through a station must look the same: copy to ``.NAME.part`` in the same folder (a rename is atomic
only within one file system), fsync, then ``os.replace`` to the final name, one frame per ``1/fps``.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic, sleep

from auroral.edge.capture_time import CaptureTime
from auroral.edge.errors import UserError
from auroral.edge.frames import FRAME_SUFFIXES, is_frame

log = logging.getLogger(__name__)

#: station frame names carry their UTC capture time: ``KIR_20190104_213000.jpg``
_NAME_TIME = CaptureTime()
_UNDATED = datetime.max.replace(tzinfo=UTC)


def capture_time_from_name(name: str) -> datetime | None:
    """The UTC capture time in a file name (``YYYYMMDD_HHMMSS``), or None when the name has none."""
    return _NAME_TIME.from_name(name)


def _capture_order(path: Path) -> tuple[datetime, str, str]:
    """Dated frames by capture time, then undated ones by file name."""
    return capture_time_from_name(path.name) or _UNDATED, path.name, str(path)


def frames_in_capture_order(src: Path) -> list[Path]:
    """The frames of a file or a folder tree, in capture order; refuses what would collide in a flat folder."""
    if not src.exists():
        raise UserError(f"{src} does not exist")
    if src.is_file():
        if not is_frame(src):
            raise UserError(f"{src} is not a frame (expected a visible {', '.join(FRAME_SUFFIXES)} file)")
        return [src]
    frames = sorted((p for p in src.rglob("*") if is_frame(p) and p.is_file()), key=_capture_order)
    if not frames:
        raise UserError(f"no frames ({', '.join(FRAME_SUFFIXES)}) under {src}")
    seen: dict[str, Path] = {}
    for path in frames:
        if path.name in seen:
            raise UserError(f"two frames are named {path.name} ({seen[path.name]} and {path}); "
                            "the watched folder is flat, so replay one of them at a time")
        seen[path.name] = path
    return frames


def _deliver(frame: Path, into: Path) -> Path:
    """Copy one frame into ``into`` under a hidden temporary name, fsync it, then rename it into place."""
    final, temporary = into / frame.name, into / f".{frame.name}.part"
    try:
        with open(frame, "rb") as reader, open(temporary, "wb") as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
            writer.flush()
            os.fsync(writer.fileno())
        os.replace(temporary, final)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise UserError(f"cannot copy {frame} into {into}: {exc.strerror or exc}") from None
    except BaseException:  # interrupted mid-copy: leave no temporary file behind
        temporary.unlink(missing_ok=True)
        raise
    return final


def replay(src: Path, into: Path, fps: float, limit: int | None = None,
           on_frame: Callable[[Path], None] | None = None) -> list[Path]:
    """Copy the frames of ``src`` into ``into`` in capture order at ``fps`` frames per second (0: at once).

    Frames are paced against a fixed schedule, so slow copies do not make the replay drift. Returns the
    final paths written; ``on_frame`` is called with each one as soon as it is in place.
    """
    if not fps >= 0:
        raise UserError(f"--fps must be 0 (as fast as possible) or positive, got {fps}")
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")
    frames = frames_in_capture_order(Path(src))[:limit]
    into = Path(into)
    try:
        into.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {into}: {exc.strerror or exc}") from None
    log.info("event=replay_start frames=%d fps=%s src=%s into=%s", len(frames), fps, src, into)
    started = monotonic()
    written: list[Path] = []
    for index, frame in enumerate(frames):
        if fps > 0:
            sleep(max(0.0, started + index / fps - monotonic()))
        final = _deliver(frame, into)
        written.append(final)
        log.debug("event=replay_frame seq=%d frame=%s", index, final.name)
        if on_frame is not None:
            on_frame(final)
    log.info("event=replay_done frames=%d seconds=%.2f", len(written), monotonic() - started)
    return written


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="copy archived frames into a watched folder in capture order, as a camera would",
        description="Replay frames through a station: copy them from SRC (a frame file, or a folder searched "
        f"recursively for {', '.join(FRAME_SUFFIXES)}) into WATCH_DIR in capture order (the YYYYMMDD_HHMMSS "
        "time in the file name, else the file name), each written to a hidden temporary name, fsynced and "
        "renamed into place, so a watcher never sees a partial file.",
    )
    parser.add_argument("src", type=Path, metavar="SRC", help="a frame file or a folder of frames")
    parser.add_argument("--into", type=Path, required=True, metavar="WATCH_DIR",
                        help="the folder the station watches (created if missing)")
    parser.add_argument("--fps", type=float, default=1.0,
                        help="frames per second; 0 copies as fast as possible")
    parser.add_argument("--limit", type=int, default=None, metavar="N", help="replay only the first N frames")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    started = monotonic()
    written = replay(args.src, args.into, args.fps, args.limit)
    print(f"replayed {len(written)} frames into {args.into} in {monotonic() - started:.1f} s")
    return 0
