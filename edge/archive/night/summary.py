"""The products of one night on disk: the keogram, the onset catalogue (CSV and Parquet) and a one-page summary
(markdown and PNG) that a person reads the morning after.

Dark hours are given two ways when they can be: *observed*, the time covered by consecutive frames under a dark
sky (the sky each frame recorded, or from ``--site``; a gap longer than the keogram's blank-gap rule does not
count), and, with ``--site``, *astronomical*, the part of the noon-to-noon window with the sun at or below the
station's night threshold, sampled every :data:`DARK_STEP_MIN` minutes.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from auroral.edge.archive.night import keogram
from auroral.edge.archive.night.products import Night, catalogue
from auroral.edge.contract import printable

log = logging.getLogger(__name__)

DARK_STEP_MIN = 5
MAX_TABLE_ROWS = 12  # onsets listed on the PNG page (all of them are in the markdown and the catalogue)


def write_night(night: Night, out: Path) -> list[Path]:
    """Write every product of ``night`` into ``out``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    image = keogram.build(night.frames)
    onsets = catalogue(night)
    written = [out / "keogram.png", out / "onsets.csv", out / "onsets.parquet", out / "summary.md",
               out / "summary.png"]
    keogram.plot(night, image, written[0])
    csv_rows = onsets.assign(onset_at=_iso(onsets["onset_at"]), end_at=_iso(onsets["end_at"]))
    csv_rows.to_csv(written[1], index=False)
    onsets.to_parquet(written[2], index=False)
    facts = _facts(night, image)
    written[3].write_text(_markdown(night, facts, onsets), encoding="utf-8")
    _page(night, image, facts, onsets, written[4])
    log.info("event=night_written night=%s frames=%d drawn=%d missing=%d onsets=%d out=%s", night.window.evening,
             len(night.frames), len(image.times), image.missing, len(onsets), out)
    return written


def _iso(times: pd.Series) -> pd.Series:
    return times.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z"))


def counts(night: Night) -> pd.Series:
    """Frames per class (every class, zeros included), then frames without a label if there are any."""
    labels = pd.Series([f.label or "(no label)" for f in night.frames])
    table = labels.value_counts().reindex(night.classes, fill_value=0)
    unlabelled = int((labels == "(no label)").sum())
    return pd.concat([table, pd.Series({"(no label)": unlabelled})]) if unlabelled else table


def observed_dark_hours(night: Night) -> float | None:
    """Hours covered by consecutive frames both under a dark sky; None when no frame knows its sky."""
    if all(f.sky is None for f in night.frames):
        return None
    times = np.array([f.captured_at.timestamp() for f in night.frames])
    steps = np.diff(times)
    if not len(steps):
        return 0.0
    cadence = float(np.median(steps))
    dark = np.array([f.sky == "night" for f in night.frames])
    covered = steps[dark[:-1] & dark[1:] & (steps <= keogram.GAP_FACTOR * cadence)]
    return float(covered.sum()) / 3600.0


def astronomical_dark(night: Night) -> tuple[float, datetime, datetime] | None:
    """(hours, first, last dark sample) of the window with ``--site``; None without a site or a dark moment."""
    if night.site is None:
        return None
    step = timedelta(minutes=DARK_STEP_MIN)
    samples = int((night.window.end - night.window.start) / step)
    dark = [night.window.start + i * step for i in range(samples)
            if night.site.at(night.window.start + i * step).kind == "night"]
    return (len(dark) * DARK_STEP_MIN / 60.0, dark[0], dark[-1]) if dark else (0.0, night.window.start,
                                                                                night.window.start)


def _facts(night: Night, image: keogram.Keogram) -> list[str]:
    """The summary's lines of text, shared by the markdown and the PNG."""
    w = night.window
    first, last = night.frames[0].captured_at, night.frames[-1].captured_at
    lines = [f"Night of {w.evening} ({w.start:%Y-%m-%d %H:%M} to {w.end:%Y-%m-%d %H:%M} UTC, noon to noon "
             f"in {w.timezone})",
             f"Source: {printable(night.source)}",
             f"Frames: {len(night.frames)}, captured {first:%H:%M:%S} to {last:%H:%M:%S} UTC; "
             f"{len(image.times)} in the keogram, {image.missing} skipped (file gone or unreadable)"]
    observed = observed_dark_hours(night)
    if observed is not None:
        lines.append(f"Dark hours observed (frames under a dark sky): {observed:.2f} h")
    dark = astronomical_dark(night)
    if dark is not None and night.site is not None:
        hours, start, end = dark
        site = night.site.site
        lines.append(f"Dark hours at {site.latitude:.2f}, {site.longitude:.2f} (sun at or below "
                     f"{night.site.max_sun_elevation:g} deg): {hours:.2f} h"
                     + (f", {start:%H:%M} to {end:%H:%M} UTC" if hours else ""))
    lines.append(f"Breakup onsets: {len(night.onsets)}")
    return lines


def _cell(text: object) -> str:
    """A markdown table cell: names come from outside, so no control characters and no column breaks."""
    return printable(str(text)).replace("|", "\\|")


def _onset_rows(onsets: pd.DataFrame) -> list[list[str]]:
    return [[f"{row.onset_at:%H:%M:%S}", str(row.first_frame),
             "" if pd.isna(row.peak_confidence) else f"{row.peak_confidence:.2f}", f"{row.duration_s:.0f}",
             "yes" if row.live else "no"] for row in onsets.itertuples(index=False)]


ONSET_HEADER = ["onset (UTC)", "first frame", "peak confidence", "duration (s)", "live"]


def _markdown(night: Night, facts: list[str], onsets: pd.DataFrame) -> str:
    lines = [f"# {_cell(night.station)}: night of {night.window.evening}", ""]
    lines += [f"- {_cell(line)}" for line in facts]
    lines += ["", "![keogram](keogram.png)", "", "## Frames per class", "", "| class | frames |", "|---|---:|"]
    lines += [f"| {_cell(name)} | {count} |" for name, count in counts(night).items()]
    lines += ["", "## Breakup onsets", ""]
    if onsets.empty:
        lines.append("None.")
    else:
        lines += ["| " + " | ".join(ONSET_HEADER) + " |", "|---|---|---:|---:|---|"]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in _onset_rows(onsets)]
    lines += ["", "Catalogue: `onsets.csv`, `onsets.parquet`.", ""]
    return "\n".join(lines)


def _page(night: Night, image: keogram.Keogram, facts: list[str], onsets: pd.DataFrame, path: Path) -> None:
    """The one-page PNG: the facts, the keogram with its band, frames per class and the onsets table."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(12, 11), constrained_layout=True)
    rows = fig.add_gridspec(4, 2, height_ratios=[1.1, 4.0, 0.5, 3.2], width_ratios=[1, 1.4])
    text = fig.add_subplot(rows[0, :])
    text.axis("off")
    text.text(0, 1, f"{printable(night.station)}: night of {night.window.evening}", fontsize=15, weight="bold",
              va="top")
    text.text(0, 0.72, "\n".join(printable(line) for line in facts), fontsize=9, va="top", family="monospace")
    image_ax = fig.add_subplot(rows[1, :])
    band_ax = fig.add_subplot(rows[2, :], sharex=image_ax)
    keogram.draw(night, image, image_ax, band_ax)

    bars = fig.add_subplot(rows[3, 0])
    table = counts(night)
    colours = keogram.class_colours(night.classes) + [keogram.UNLABELLED_COLOUR]
    y = np.arange(len(table))
    bars.barh(y, table.to_numpy(), color=[colours[night.classes.index(n)] if n in night.classes else colours[-1]
                                          for n in table.index])
    bars.set_yticks(y, [printable(str(n)) for n in table.index])
    bars.invert_yaxis()
    bars.set_xlim(0, max(int(table.max()), 1) * 1.15)
    bars.set_xlabel("frames")
    bars.set_title("Frames per class")

    listing = fig.add_subplot(rows[3, 1])
    listing.axis("off")
    listing.set_title("Breakup onsets")
    cells = [[printable(c) for c in row] for row in _onset_rows(onsets)]
    if len(cells) > MAX_TABLE_ROWS:
        cells = cells[:MAX_TABLE_ROWS] + [["…", f"{len(cells) - MAX_TABLE_ROWS} more in onsets.csv", "", "", ""]]
    if cells:
        shown = listing.table(cellText=cells, colLabels=ONSET_HEADER, loc="upper center", cellLoc="left")
        shown.auto_set_font_size(False)
        shown.set_fontsize(8)
        shown.auto_set_column_width(list(range(len(ONSET_HEADER))))
    else:
        listing.text(0.5, 0.8, "none", ha="center")
    fig.savefig(path, dpi=110)
    plt.close(fig)
