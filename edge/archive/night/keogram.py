"""The keogram of a night: the north–south meridian slice of every frame over capture time, with the labels as a
coloured band under it and the breakup onsets marked.

The slice is the column through the image centre, resampled to :data:`HEIGHT` pixels, so frames of any size line
up; it is the meridian when the camera has north (or south) at the top of the image, as all-sky cameras are
usually set up. Each frame is one column, as wide as the time to its neighbours; a gap longer than
:data:`GAP_FACTOR` cadences stays blank, so missing hours are not smeared over. The night is stretched between
its 1st and 99.5th brightness percentiles, as keograms are shown. Frames whose files are gone (or no longer
decode) are left out and counted.

matplotlib is imported inside the drawing functions; pandas and pyarrow are not needed here.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from auroral.edge.frames import FrameError, read_frame

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes

    from auroral.edge.archive.night.products import Night, NightFrame

log = logging.getLogger(__name__)

HEIGHT = 256  # pixels of each meridian slice
GAP_FACTOR = 3.0  # a gap longer than this many median cadences is left blank
ONSET_COLOUR = "#ff00ff"
UNLABELLED_COLOUR = "#d0d0d0"


@dataclass
class Keogram:
    image: np.ndarray  # HEIGHT × drawn frames × 3, float32 in [0, 1] (stretched)
    times: list[datetime]  # capture time of each column
    missing: int  # frames whose files are gone or unreadable


def meridian(image: np.ndarray) -> np.ndarray:
    """The central column of a decoded frame as HEIGHT × 3 float32 in [0, 1] (grey frames repeated in RGB)."""
    scale = 255.0 if image.dtype == np.uint8 else 65535.0 if image.dtype == np.uint16 else 1.0
    column = image[:, image.shape[1] // 2].astype(np.float32) / scale
    column = np.repeat(column[:, None], 3, axis=1) if column.ndim == 1 else column[:, :3]
    return cv2.resize(column[:, None, :], (1, HEIGHT), interpolation=cv2.INTER_AREA)[:, 0, :]


def build(frames: list[NightFrame]) -> Keogram:
    columns, times, missing = [], [], 0
    for frame in frames:
        try:
            image = read_frame(frame.path, min_side=HEIGHT)
        except FrameError as exc:
            missing += 1
            log.info("event=keogram_frame_skipped frame=%r reason=%r", frame.path, str(exc))
            continue
        columns.append(meridian(image))
        times.append(frame.captured_at)
    if not columns:
        return Keogram(np.zeros((HEIGHT, 0, 3), np.float32), [], missing)
    raw = np.stack(columns, axis=1)
    low, high = np.percentile(raw, [1.0, 99.5])
    stretched = np.clip((raw - low) / max(float(high - low), 1e-6), 0.0, 1.0).astype(np.float32)
    return Keogram(stretched, times, missing)


def edges(times: list[datetime]) -> np.ndarray:
    """Column edges (matplotlib date numbers) of frames at ``times``: 2 per column, so gaps can stay blank."""
    from matplotlib import dates

    centres = dates.date2num(times)
    steps = np.diff(centres)
    cadence = float(np.median(steps)) if len(steps) else 60.0 / 86400.0
    cadence = cadence if cadence > 0 else 1.0 / 86400.0
    half = np.full(len(centres) + 1, cadence / 2.0)
    if len(steps):
        half[1:-1] = np.where(steps <= GAP_FACTOR * cadence, steps / 2.0, cadence / 2.0)
    left, right = centres - half[:-1], centres + half[1:]
    return np.stack([left, right], axis=1)


def _mesh(ax: Axes, times: list[datetime], values: np.ndarray, **kwargs: Any) -> None:
    """One cell per frame (``values``: rows × frames[, 3]); blank columns between frames that are far apart."""
    bounds = edges(times)
    x = bounds.reshape(-1)  # left0, right0, left1, right1, ...: every other cell is a gap (masked)
    if values.ndim == 3:  # RGB: gaps are transparent
        cells = np.zeros((values.shape[0], 2 * values.shape[1] - 1, 4), np.float32)
        cells[:, ::2, :3], cells[:, ::2, 3] = values, 1.0
        ax.pcolormesh(x, np.arange(values.shape[0] + 1), cells, shading="flat", **kwargs)
        return
    codes = np.full((values.shape[0], 2 * values.shape[1] - 1), np.nan, np.float32)
    codes[:, ::2] = values
    ax.pcolormesh(x, np.arange(values.shape[0] + 1), np.ma.masked_invalid(codes), shading="flat", **kwargs)


def class_colours(classes: list[str]) -> list:
    import matplotlib

    return [matplotlib.colormaps["tab10"](i % 10) for i in range(len(classes))]


def draw(night: Night, keogram: Keogram, image_ax: Axes, band_ax: Axes) -> None:
    """The keogram into ``image_ax``, the label band into ``band_ax`` (below it, sharing its time axis)."""
    from matplotlib import dates
    from matplotlib.colors import ListedColormap
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from auroral.edge.capture_time import zone

    image_ax.set_facecolor("black")
    if keogram.times:
        _mesh(image_ax, keogram.times, keogram.image[::-1])  # row 0 (top of the image) drawn at the top
    image_ax.set_ylim(0, HEIGHT)
    image_ax.set_yticks([0, HEIGHT / 2, HEIGHT], ["bottom (S)", "zenith", "top (N)"])
    image_ax.set_ylabel("meridian (image column)")
    image_ax.tick_params(labelbottom=False)

    colours = class_colours(night.classes) + [UNLABELLED_COLOUR]
    codes = np.array([[night.classes.index(f.label) if f.label in night.classes else len(night.classes)
                       for f in night.frames]], np.float32)
    _mesh(band_ax, [f.captured_at for f in night.frames], codes, cmap=ListedColormap(colours),
          vmin=-0.5, vmax=len(colours) - 0.5)
    band_ax.set_yticks([])
    band_ax.set_ylabel("label", rotation=0, ha="right", va="center")

    for onset in night.onsets:
        for ax in (image_ax, band_ax):
            ax.axvline(dates.date2num(onset.captured_at), color=ONSET_COLOUR, linewidth=1.5)
    first, last = edges([f.captured_at for f in night.frames])[[0, -1], [0, 1]]
    band_ax.set_xlim(first, last)
    utc = dates.AutoDateLocator(tz="UTC")
    band_ax.xaxis.set_major_locator(utc)
    band_ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(utc, tz="UTC", show_offset=False))
    band_ax.set_xlabel("capture time (UTC)")
    if night.window.timezone != "UTC":
        local = zone(night.window.timezone)
        top = image_ax.secondary_xaxis("top")
        ticks = dates.AutoDateLocator(tz=local)
        top.xaxis.set_major_locator(ticks)
        top.xaxis.set_major_formatter(dates.ConciseDateFormatter(ticks, tz=local, show_offset=False))
        top.set_xlabel(f"local time ({night.window.timezone})")
    shown = [name for name in night.classes if any(f.label == name for f in night.frames)]
    handles: list[Artist] = [Patch(color=colours[night.classes.index(name)], label=name) for name in shown]
    if any(f.label is None for f in night.frames):
        handles.append(Patch(color=UNLABELLED_COLOUR, label="no label (day/twilight)"))
    handles.append(Line2D([], [], color=ONSET_COLOUR, linewidth=1.5, label="breakup onset"))
    image_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small",
                    title="label band")


def plot(night: Night, keogram: Keogram, path: Path) -> None:
    """The keogram PNG: the image over the label band, legend to the right of both."""
    import matplotlib.pyplot as plt

    fig, (image_ax, band_ax) = plt.subplots(2, 1, figsize=(12, 5.5), sharex=True, constrained_layout=True,
                                            gridspec_kw={"height_ratios": [8, 1]})
    draw(night, keogram, image_ax, band_ax)
    image_ax.set_title(f"{night.station}: keogram of the night of {night.window.evening} "
                       f"({len(keogram.times)} frames, {len(night.onsets)} onset(s))")
    fig.savefig(path, dpi=120)
    plt.close(fig)
