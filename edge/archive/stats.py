"""Auroral statistics from archive results: count tables (CSV) and the figures a paper would show (PNG).

Occurrence is a rate over dark time: with the sky columns of ``auroral archive --site``, each class's
share of the frames taken under a dark sky (``sky == night``; with ``moonless``, also without a bright
moon) in each hour of night, next to how many such frames there are. Raw frame counts follow the
camera's cadence and the length of the night, so they are kept in the count tables only. Without sky
columns every frame counts as dark, and the figure says so.

Times are grouped by *hour of night*: the hour axis runs from local noon to the next noon, so a whole
night is one contiguous stretch, and a night is named by the date of its evening. Hours are UTC; local
solar time UTC + longitude/15 h when a longitude is given; or, with the station's site, magnetic local
time from AACGM-v2 (the maintained ``aacgmv2`` package, ``auroral[mlt]``), falling back to local solar
time at the site's longitude, with a log line, where aacgmv2 is not installed.

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
from auroral.edge.sky import Site

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
        sky = [c for c in ("sky", "moonlit") if c in names]  # from archive --site
        frame = dataset.to_table(columns=["captured_at", "label", *sky]).to_pandas()
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


def magnetic_offset_hours(captured_at: pd.Series, site: Site) -> pd.Series | None:
    """Magnetic local time minus UTC, in hours, for each frame of a station at ``site``: AACGM-v2 (the
    ``aacgmv2`` package, ``auroral[mlt]``), evaluated every 5 minutes. None where aacgmv2 is not installed."""
    try:
        import aacgmv2
    except ImportError:
        return None
    times = captured_at if captured_at.dt.tz is None else captured_at.dt.tz_convert("UTC").dt.tz_localize(None)
    keys = times.dt.floor("5min")
    offsets: dict[pd.Timestamp, float] = {}
    magnetic_longitude: dict[int, float] = {}  # the station's AACGM longitude drifts slowly: once per year
    for key in keys.drop_duplicates():
        when = key.to_pydatetime()
        if when.year not in magnetic_longitude:
            magnetic_longitude[when.year] = float(aacgmv2.convert_latlon(site.latitude, site.longitude,
                                                                         site.elevation_m / 1000.0, when)[1])
        mlt = float(np.asarray(aacgmv2.convert_mlt(magnetic_longitude[when.year], when)).ravel()[0])
        offsets[key] = (mlt - (key.hour + key.minute / 60.0) + 12.0) % 24.0 - 12.0
    return keys.map(offsets)


def add_night_columns(frame: pd.DataFrame, longitude: float | None,
                      offset_hours: pd.Series | None = None) -> pd.DataFrame:
    """Adds ``hour`` (0-23), ``night`` (date of the evening), ``month`` (YYYY-MM) and ``night_minute``, in
    UTC, local solar time (``longitude``) or, given ``offset_hours`` (from :func:`magnetic_offset_hours`),
    magnetic local time."""
    local = local_time(frame["captured_at"], longitude)
    if offset_hours is not None:
        local = local_time(frame["captured_at"], None) + pd.to_timedelta(offset_hours.to_numpy(), unit="h")
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


def dark_frames(frame: pd.DataFrame, moonless: bool = False) -> tuple[pd.DataFrame, str]:
    """The frames of a dark sky (and without a bright moon, when ``moonless``), and what "dark" meant."""
    if "sky" not in frame or frame["sky"].isna().all():
        return frame, "every frame (no sky columns: run auroral archive with --site)"
    dark = frame[frame["sky"] == "night"]
    if not moonless:
        return dark, "frames of a dark sky (sun below the night threshold)"
    moonlit = dark["moonlit"].fillna(False).astype(bool) if "moonlit" in dark else False
    return dark[~moonlit], "frames of a dark, moonless sky"


def rate_table(frame: pd.DataFrame, classes: list[str], order: list) -> pd.DataFrame:
    """Per hour of night: ``dark_frames`` and each class's share of them (0–1; NaN where none)."""
    counts = count_table(frame, "hour", classes, order)
    rates = counts[classes].div(counts["total"].replace(0, np.nan), axis=0)
    rates.insert(0, "dark_frames", counts["total"])
    return rates


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


def _hour_label(longitude: float | None, magnetic: bool = False) -> str:
    if magnetic:
        return "hour (magnetic local time, AACGM-v2)"
    if longitude is None:
        return "hour (UTC)"
    return f"hour (local solar time, UTC {longitude / 15.0:+.2f} h)"


def hourly_figure(table: pd.DataFrame, classes: list[str], longitude: float | None,
                  magnetic: bool = False) -> Figure:
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
    top.set_title(f"Class occurrence by hour of night {_hour_label(longitude, magnetic).removeprefix('hour ')}")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="class")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_ylabel("share of the hour's frames")
    bottom.set_xticks(x, [f"{h:02d}" for h in table.index])
    bottom.set_xlabel(_hour_label(longitude, magnetic))
    return fig


def rate_figure(rates: pd.DataFrame, classes: list[str], longitude: float | None, dark: str,
                magnetic: bool = False) -> Figure:
    """Each class's occurrence rate by hour of night (top) and the dark frames behind it (bottom)."""
    import matplotlib.pyplot as plt

    colours = _class_colours(classes)
    x = np.arange(len(rates))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True, constrained_layout=True,
                                      gridspec_kw={"height_ratios": (3, 1)})
    for name, colour in zip(classes, colours, strict=True):
        top.plot(x, rates[name], marker="o", color=colour, label=name)
    top.set_ylim(-0.05, 1.05)
    top.set_ylabel("occurrence rate (share of dark frames)")
    top.set_title(f"Occurrence by hour of night, over {dark}")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", title="class")
    bottom.bar(x, rates["dark_frames"], color="0.5", width=0.9)
    bottom.set_ylim(0, max(float(rates["dark_frames"].max()), 1.0) * 1.1)
    bottom.set_ylabel("dark frames")
    bottom.set_xticks(x, [f"{h:02d}" for h in rates.index])
    bottom.set_xlabel(_hour_label(longitude, magnetic))
    return fig


def plot_hourly(table: pd.DataFrame, classes: list[str], longitude: float | None, path: Path,
                magnetic: bool = False) -> None:
    import matplotlib.pyplot as plt

    fig = hourly_figure(table, classes, longitude, magnetic)
    fig.savefig(path, dpi=150)
    plt.close(fig)


def plot_ribbon(matrix: np.ndarray, nights: list[str], classes: list[str], longitude: float | None, path: Path,
                magnetic: bool = False) -> None:
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
    ax.set_xlabel(_hour_label(longitude, magnetic))
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


def write_stats(results: Path, out: Path, longitude: float | None = None, moonless: bool = False,
                site: Site | None = None) -> list[Path]:
    """Write the count and rate CSVs and the four figures into ``out``; returns the files written.

    With a ``site``, hours are magnetic local time where aacgmv2 is installed, else (said in the log and on
    the axes) local solar time at the site's longitude."""
    import matplotlib

    matplotlib.use("Agg")
    frame, classes = load_results(results)
    offsets = magnetic_offset_hours(frame["captured_at"], site) if site is not None else None
    if site is not None and offsets is None:
        log.warning("event=stats_mlt_unavailable fallback=local_solar_time hint=%r",
                    "pip install 'auroral[mlt]' (aacgmv2) for magnetic local time")
        longitude = site.longitude
    magnetic = offsets is not None
    frame = add_night_columns(frame, longitude, offsets)
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
    dark, meaning = dark_frames(frame, moonless)
    rates = rate_table(dark, classes, NIGHT_HOURS)
    rates.to_csv(out / "occurrence_rate_by_hour.csv")
    written.append(out / "occurrence_rate_by_hour.csv")
    import matplotlib.pyplot as plt

    figure = rate_figure(rates, classes, longitude, meaning, magnetic)
    figure.savefig(out / "occurrence_rate_by_hour.png", dpi=150)
    plt.close(figure)
    written.append(out / "occurrence_rate_by_hour.png")
    plot_hourly(hourly, classes, longitude, out / "occurrence_by_hour.png", magnetic)
    matrix, nights = ribbon_matrix(frame, classes)
    plot_ribbon(matrix, nights, classes, longitude, out / "nightly_timeline.png", magnetic)
    plot_monthly(monthly, classes, out / "monthly_counts.png")
    written += [out / "occurrence_by_hour.png", out / "nightly_timeline.png", out / "monthly_counts.png"]
    log.info("event=stats_written frames=%d nights=%d months=%d out=%s", len(frame), len(nights), len(monthly), out)
    return written
