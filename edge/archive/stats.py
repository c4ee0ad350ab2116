"""Auroral statistics from archive results: count tables (CSV) and the figures a paper would show (PNG).

Times are grouped by *hour of night*: the hour axis runs from local noon to the next noon, so a whole
night is one contiguous stretch, and a night is named by the date of its evening. Hours are UTC, or
local solar time UTC + longitude/15 h when a longitude is given. That is a fixed offset, not a
geomagnetic model: with a geographic longitude it is mean solar time; with a magnetic longitude
(e.g. AACGM) it approximates magnetic local time to within about an hour at auroral latitudes.

pandas and pyarrow are imported by the caller's extra; matplotlib only inside the plotting functions,
so importing :mod:`auroral.edge` never pulls it in.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from auroral.edge.errors import UserError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

#: the hour axis of a night: noon to noon
NIGHT_HOURS = list(range(12, 24)) + list(range(12))
#: width of one timeline-ribbon cell
RIBBON_MINUTES = 10


def load_results(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """The archive rows that have a capture time (rows of runs older than ``time_source`` may have none), and
    the class list (from the ``p_<class>`` columns).

    Only ``captured_at`` and ``label`` are read, so decades of frames fit in memory.
    """
    import pyarrow
    import pyarrow.dataset

    if not path.exists():
        raise UserError(f"{path} does not exist (write it with: auroral archive ... --out {path})")
    try:
        dataset = pyarrow.dataset.dataset(path, format="parquet")
        names = dataset.schema.names
        classes = [c[2:] for c in names if c.startswith("p_")]
        missing = {"captured_at", "label"} - set(names)
        if missing or not classes:
            raise UserError(f"{path} lacks the columns of an archive run ({', '.join(sorted(missing)) or 'p_<class>'})")
        frame = dataset.to_table(columns=["captured_at", "label"]).to_pandas()
    except (OSError, pyarrow.ArrowException) as exc:
        raise UserError(f"{path} is not a Parquet dataset from auroral archive ({exc})") from exc
    undated = int(frame["captured_at"].isna().sum())
    if undated:
        log.warning("event=stats_undated_skipped count=%d reason=no_capture_time", undated)
    frame = frame.dropna(subset=["captured_at"])
    if frame.empty:
        raise UserError(f"{path} has no frames with a capture time: nothing to plot")
    return frame.reset_index(drop=True), classes


def local_time(captured_at: pd.Series, longitude: float | None) -> pd.Series:
    """UTC times shifted to local solar time (naive), or plain UTC (naive) without a longitude.

    Naive input times are taken as UTC, as every time in an archive run is.
    """
    times = captured_at if captured_at.dt.tz is None else captured_at.dt.tz_convert("UTC").dt.tz_localize(None)
    return times + pd.to_timedelta((longitude or 0.0) / 15.0, unit="h")


def add_night_columns(frame: pd.DataFrame, longitude: float | None) -> pd.DataFrame:
    """Adds ``hour`` (0-23), ``night`` (date of the evening), ``month`` (YYYY-MM) and ``night_minute``."""
    local = local_time(frame["captured_at"], longitude)
    shifted = local - pd.Timedelta(hours=12)  # a night starts at local noon
    return frame.assign(
        hour=local.dt.hour,
        night=shifted.dt.strftime("%Y-%m-%d"),
        month=local.dt.strftime("%Y-%m"),
        night_minute=shifted.dt.hour * 60 + shifted.dt.minute,
    )


def count_table(frame: pd.DataFrame, by: str, classes: list[str], order: list | None = None) -> pd.DataFrame:
    """Frames per ``by`` bin and class (every class a column, plus ``total``)."""
    table = pd.crosstab(frame[by], pd.Categorical(frame["label"], categories=classes), dropna=False)
    table = table.reindex(columns=classes, fill_value=0)
    if order is not None:
        table = table.reindex(order, fill_value=0)
    table.columns = list(classes)
    table.index.name = by
    table["total"] = table.sum(axis=1)
    return table


def ribbon_matrix(frame: pd.DataFrame, classes: list[str]) -> tuple[np.ndarray, list[str]]:
    """nights × 10-minute cells holding the index of the most frequent class (NaN where no frame)."""
    nights = sorted(frame["night"].unique())
    cells = frame.assign(cell=frame["night_minute"] // RIBBON_MINUTES,
                         code=pd.Categorical(frame["label"], categories=classes).codes)
    counts = cells.groupby(["night", "cell", "code"]).size().reset_index(name="n")
    winners = counts.sort_values(["n", "code"], ascending=[True, False]).drop_duplicates(["night", "cell"], keep="last")
    matrix = np.full((len(nights), 24 * 60 // RIBBON_MINUTES), np.nan)
    rows = pd.Index(nights).get_indexer(winners["night"])
    matrix[rows, winners["cell"].to_numpy()] = winners["code"].to_numpy()
    return matrix, nights


def _class_colours(classes: list[str]) -> list:
    import matplotlib

    return [matplotlib.colormaps["tab10"](i % 10) for i in range(len(classes))]


def _hour_label(longitude: float | None) -> str:
    if longitude is None:
        return "hour (UTC)"
    return f"hour (local solar time, UTC {longitude / 15.0:+.2f} h)"


def hourly_figure(table: pd.DataFrame, classes: list[str], longitude: float | None) -> Figure:
    """Frames per hour stacked by class (top), each class's share of the hour (bottom); the Figure, unsaved.

    Both y limits leave headroom above the data, so the tallest stack and markers at 0 or 1 are never cut.
    """
    import matplotlib.pyplot as plt

    colours = _class_colours(classes)
    x = np.arange(len(table))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, constrained_layout=True)
    base = np.zeros(len(table))
    for name, colour in zip(classes, colours, strict=True):
        top.bar(x, table[name], bottom=base, color=colour, label=name, width=0.9)
        base += table[name].to_numpy()
    share = table[classes].div(table["total"].replace(0, np.nan), axis=0)
    for name, colour in zip(classes, colours, strict=True):
        bottom.plot(x, share[name], marker="o", color=colour, label=name)
    top.set_ylim(0, max(float(table["total"].max()), 1.0) * 1.1)
    top.set_ylabel("frames per hour (count)")
    top.set_title(f"Class occurrence by hour of night {_hour_label(longitude).removeprefix('hour ')}")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="class")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_ylabel("share of the hour's frames")
    bottom.set_xticks(x, [f"{h:02d}" for h in table.index])
    bottom.set_xlabel(_hour_label(longitude))
    return fig


def plot_hourly(table: pd.DataFrame, classes: list[str], longitude: float | None, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = hourly_figure(table, classes, longitude)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_ribbon(matrix: np.ndarray, nights: list[str], classes: list[str], longitude: float | None, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    colours = _class_colours(classes)
    height = min(2.0 + 0.22 * len(nights), 24.0)
    fig, ax = plt.subplots(figsize=(10, height), constrained_layout=True)
    cmap = ListedColormap(colours).with_extremes(bad="white")
    ax.imshow(np.ma.masked_invalid(matrix), aspect="auto", interpolation="nearest", cmap=cmap,
              vmin=-0.5, vmax=len(classes) - 0.5, extent=(12, 36, len(nights) - 0.5, -0.5))
    ax.set_xticks(range(12, 37, 2), [f"{h % 24:02d}" for h in range(12, 37, 2)])
    ax.set_xlabel(_hour_label(longitude))
    step = max(1, len(nights) // 30)
    ax.set_yticks(range(0, len(nights), step), nights[::step])
    ax.set_ylabel("night (date of evening)")
    ax.set_title(f"Nightly timeline of classes (most frequent class per {RIBBON_MINUTES} min)")
    ax.legend(handles=[Patch(color=c, label=n) for n, c in zip(classes, colours, strict=True)],
              ncol=len(classes), loc="upper center", bbox_to_anchor=(0.5, -0.08 - 0.3 / height), fontsize="small")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_monthly(table: pd.DataFrame, classes: list[str], path: Path) -> None:
    import matplotlib.pyplot as plt

    colours = _class_colours(classes)
    x = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(table) + 3), 4.5), constrained_layout=True)
    base = np.zeros(len(table))
    for name, colour in zip(classes, colours, strict=True):
        ax.bar(x, table[name], bottom=base, color=colour, label=name, width=0.85)
        base += table[name].to_numpy()
    step = max(1, len(table) // 36)
    ax.set_xticks(x[::step], list(table.index[::step]), rotation=60, ha="right")
    ax.set_ylabel("frames")
    ax.set_xlabel("month")
    ax.set_title("Monthly counts by class")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.savefig(path, dpi=150)
    plt.close(fig)


def write_stats(results: Path, out: Path, longitude: float | None = None) -> list[Path]:
    """Write the count CSVs and the three figures into ``out``; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    frame, classes = load_results(results)
    frame = add_night_columns(frame, longitude)
    out.mkdir(parents=True, exist_ok=True)
    hourly = count_table(frame, "hour", classes, NIGHT_HOURS)
    months = pd.period_range(frame["month"].min(), frame["month"].max(), freq="M").strftime("%Y-%m")
    monthly = count_table(frame, "month", classes, list(months))  # empty months (summer) stay visible
    nightly = count_table(frame, "night", classes)
    written = []
    for name, table in (("counts_by_hour.csv", hourly), ("counts_by_month.csv", monthly),
                        ("counts_by_night.csv", nightly)):
        table.to_csv(out / name)
        written.append(out / name)
    plot_hourly(hourly, classes, longitude, out / "occurrence_by_hour.png")
    matrix, nights = ribbon_matrix(frame, classes)
    plot_ribbon(matrix, nights, classes, longitude, out / "nightly_timeline.png")
    plot_monthly(monthly, classes, out / "monthly_counts.png")
    written += [out / "occurrence_by_hour.png", out / "nightly_timeline.png", out / "monthly_counts.png"]
    log.info("event=stats_written frames=%d nights=%d months=%d out=%s", len(frame), len(nights), len(monthly), out)
    return written
