"""The station camera's fisheye circle (``[camera] circle``): given, or found once and kept in the state folder.

With ``circle = "auto"`` the circle is found at start from the newest frames in the watch folders and
stored in ``<state_dir>/camera.json`` with the frame size it was found on; later starts reuse it while
the newest frame has that size, and find it again when the size changes (or when the file is deleted).
A station whose frames show no circle (already cropped to the sky), or that has no frames yet, keeps
the bundle's own field of view, and says so in one log line; so does one whose circle is the bundle's,
within a few pixels (frames cropped the way the training frames were).
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from auroral.edge.circle import DEFAULT_FRAMES, Circle, CircleError, find_circle_in_files
from auroral.edge.frames import MIN_SIDE, FrameError, load_frame
from auroral.edge.preprocess import PreprocessSpec
from auroral.edge.station.config import StationConfig
from auroral.edge.station.watcher import is_candidate

log = logging.getLogger("auroral.camera")

STATE_FILE = "camera.json"
#: a found circle this close to the bundle's (as a fraction of the frame's short side) is the bundle's
SAME_AS_BUNDLE = 0.05


def camera_circle(config: StationConfig, spec: PreprocessSpec) -> tuple[float, float, float] | None:
    """(cx, cy, r) in full-frame pixels for :class:`~auroral.edge.framebatch.FrameLoader`, or None for the
    bundle's own field of view."""
    if config.camera.circle != "auto":
        cx, cy, r = config.camera.circle
        log.info("event=camera_circle source=config cx=%.1f cy=%.1f r=%.1f", cx, cy, r)
        return cx, cy, r
    frames = newest_frames(config)
    if not frames:
        log.info("event=camera_circle source=bundle reason=%r", "no frames yet to find the circle in")
        return None
    state = config.state_dir / STATE_FILE
    try:
        circle = _stored(state, frames[0]) or _found(state, frames)
    except CircleError as exc:
        log.warning("event=camera_circle source=bundle reason=%r", str(exc))
        return None
    if _same_as_bundle(circle, spec):
        log.info("event=camera_circle source=bundle reason=%r circle=%r", "the frames' circle is the bundle's",
                 str(circle))
        return None
    log.info("event=camera_circle source=auto cx=%.1f cy=%.1f r=%.1f width=%d height=%d", circle.cx, circle.cy,
             circle.r, circle.width, circle.height)
    return circle.pixels


def newest_frames(config: StationConfig, count: int = DEFAULT_FRAMES) -> list[Path]:
    """The ``count`` newest frames in the watch folders (the station's patterns and sub-folder rules)."""
    watch = config.watch
    found: list[tuple[float, Path]] = []
    for folder in watch.dirs:
        walker = os.walk(folder) if watch.recursive else [(str(folder), [], _names(folder))]
        for root, folders, names in walker:
            folders[:] = [name for name in folders if name not in watch.exclude_dirs]
            for name in names:
                path = Path(root) / name
                if is_candidate(path, watch.patterns):
                    try:
                        found.append((path.stat().st_mtime, path))
                    except OSError:
                        continue  # gone meanwhile
    return [path for _, path in sorted(found, reverse=True)[:count]]


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []  # the watcher reports and retries an unreadable folder


def _stored(state: Path, newest: Path) -> Circle | None:
    """The stored circle, if there is one and the newest frame still has the size it was found on."""
    try:
        circle = Circle(**json.loads(state.read_text()))
        size = load_frame(newest, min_side=MIN_SIDE).full_size
    except (OSError, ValueError, TypeError, FrameError):
        return None
    return circle if size == (circle.width, circle.height) else None


def _found(state: Path, frames: list[Path]) -> Circle:
    circle = find_circle_in_files(frames)
    state.parent.mkdir(parents=True, exist_ok=True)
    temporary = state.with_suffix(".tmp")
    temporary.write_text(json.dumps({"cx": circle.cx, "cy": circle.cy, "r": circle.r, "width": circle.width,
                                     "height": circle.height}) + "\n")
    temporary.replace(state)
    log.info("event=camera_circle_found circle=%r frames=%d state=%r", str(circle), len(frames), str(state))
    return circle


def _same_as_bundle(circle: Circle, spec: PreprocessSpec) -> bool:
    short = min(circle.width, circle.height)
    bundle_cx, bundle_cy = spec.fov_center[0] * circle.width, spec.fov_center[1] * circle.height
    differences = (circle.cx - bundle_cx, circle.cy - bundle_cy, circle.r - spec.fov_radius * short)
    return max(abs(d) for d in differences) <= SAME_AS_BUNDLE * short
