"""``auroral archive`` and ``auroral stats``: re-label an archive with a bundle, then plot its statistics.

Light to import: the Dask, pyarrow, pandas and matplotlib code is imported inside the commands, after
``require("archive", ...)`` has checked that the extra is installed.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from auroral.edge import progress
from auroral.edge.archive.engine import ENGINES
from auroral.edge.bundle import PRECISIONS
from auroral.edge.cli import RawDescriptionHelpFormatter, positive_int
from auroral.edge.errors import UserError
from auroral.edge.extras import require
from auroral.edge.sky import Site, SkyModel
from auroral.edge.station import presets

ARCHIVE_HELP = """\
Classify every frame of an archive with a model bundle, using the station's exact decoding,
preprocessing and inference, in parallel, and write a Parquet dataset (a directory of part files).
Columns: path, captured_at (UTC), time_source, label, confidence, p_<class> per class,
model_sha256. The capture time follows the station's rules: FITS DATE-OBS, EXIF DateTimeOriginal,
the file name (read in --timezone), else the file's mtime; time_source says which (fits, exif, name,
mtime). --preset reads a camera program's tree (indi-allsky, allsky) as the station does.
Re-running the same command resumes: frames already in OUT are skipped, so none is written twice.
Unreadable frames are listed in OUT.errors.csv and do not stop the run.
"""

STATS_HELP = """\
Auroral statistics from an archive run: class occurrence by hour of night, a nightly timeline
ribbon, monthly counts (PNG), and the counts behind them (CSV). Hours are UTC, or local solar time
(UTC + longitude/15 h) with --longitude; pass a magnetic longitude for an approximate MLT.
"""


def _longitude(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of degrees") from None
    if not -180.0 <= value <= 360.0:
        raise argparse.ArgumentTypeError(f"longitude {value} is outside -180..360 degrees")
    return value


def run_archive_command(args: argparse.Namespace) -> int:
    require("archive", "dask", "distributed", "pyarrow", "pandas", "tqdm")
    from auroral.edge.archive.discovery import discover, name_time, parse_when
    from auroral.edge.archive.engine import open_engine
    from auroral.edge.archive.relabel import run_archive

    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until, end=True) if args.until else None
    if since and until and since >= until:
        raise UserError(f"--since {args.since} is not before --until {args.until}")
    preset = presets.WATCH[args.preset]  # the camera program's names and folders; explicit options win
    capture = name_time(args.time_regex or preset.get("capture_time_regex"),
                        args.time_format or preset.get("capture_time_format"), args.timezone)
    patterns = tuple(args.pattern or preset.get("patterns", ()))
    paths = discover(args.sources, patterns, since, until, capture, tuple(preset.get("exclude_dirs", ())))
    if not paths:
        raise UserError("no frames found under " + ", ".join(args.sources) + " with the given patterns and dates")
    with open_engine(args.engine, args.workers, args.dask) as engine:
        summary = run_archive(paths, args.bundle, args.out, engine, precision=args.precision,
                              chunk_size=args.chunk_size, limit=args.limit, progress=not args.no_progress,
                              capture=capture, sky=SkyModel(args.site) if args.site else None)
    print(f"{summary.classified} frames classified, {summary.unreadable} unreadable, "
          f"{summary.already_done} already done; {summary.images_per_second:.1f} images/s -> {args.out}")
    return 0


def run_stats_command(args: argparse.Namespace) -> int:
    require("archive", "pyarrow", "pandas", "matplotlib")
    from auroral.edge.archive.stats import write_stats

    written = write_stats(args.results, args.out, args.longitude, args.moonless, args.site)
    for path in written:
        print(path)
    return 0


def _scheduler_address(text: str) -> str:
    """A Dask scheduler address: ``[scheme://]host:port`` (local workers need no address at all)."""
    rest = text.split("://", 1)[1] if "://" in text else text
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not a scheduler address such as tcp://host:8786 "
                                         "(for local workers, leave out --dask and use --workers)")
    return text


def _site(text: str) -> Site:
    """``LAT,LON`` or ``LAT,LON,ELEVATION_M`` in degrees (north, east) and metres."""
    try:
        return Site(*(float(part) for part in text.split(",")))
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LAT,LON[,ELEVATION_M], e.g. 67.84,20.41,400 "
                                         f"({exc})") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    archive = subparsers.add_parser("archive", help="re-label an archive of frames into Parquet (parallel, resumable)",
                                    description=ARCHIVE_HELP, formatter_class=RawDescriptionHelpFormatter)
    archive.add_argument("sources", nargs="+", metavar="SRC",
                         help="frame files, folders (searched recursively) or quoted glob patterns "
                              "('2019/**/KIR_*.jpg')")
    archive.add_argument("--bundle", required=True, type=Path, help="model bundle directory (as used by the station)")
    archive.add_argument("--out", required=True, type=Path, help="results dataset directory, e.g. results.parquet")
    archive.add_argument("--pattern", action="append", default=[], metavar="GLOB",
                         help="only file names matching GLOB (repeatable; unset: every frame suffix)")
    archive.add_argument("--since", metavar="DATE", help="first capture time to include (UTC unless it names a zone)")
    archive.add_argument("--until", metavar="DATE", help="last capture time to include; a bare date includes that day")
    archive.add_argument("--time-regex", metavar="REGEX",
                         help="regex whose first group is the capture time in a file name "
                              "(unset: the preset's, else the station's, matching YYYYMMDD_HHMMSS)")
    archive.add_argument("--time-format", metavar="FORMAT",
                         help="strptime format of that group, read in --timezone "
                              "(unset: the preset's, else the station's, %%Y%%m%%d_%%H%%M%%S)")
    archive.add_argument("--timezone", default="UTC", metavar="ZONE",
                         help="IANA zone of times in names and of EXIF without an offset: the camera host's")
    archive.add_argument("--site", type=_site, metavar="LAT,LON[,ELEVATION_M]",
                         help="where the camera stood: adds sky, sun and moon columns to every row")
    archive.add_argument("--preset", choices=presets.PRESETS, default="plain",
                         help="the camera program that wrote the archive: its name patterns, name times and "
                              "skipped folders (thumbnails), as [watch] preset on the station")
    archive.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                         help="local worker processes (one per CPU core here)")
    archive.add_argument("--engine", choices=ENGINES, default="dask",
                         help="dask: a Dask LocalCluster; pool: a plain local process pool")
    archive.add_argument("--dask", metavar="ADDRESS", type=_scheduler_address,
                         help="use a running Dask scheduler (tcp://host:8786) instead of local workers")
    archive.add_argument("--chunk-size", type=positive_int, default=512,
                         help="frames per task and per part file (small runs use smaller chunks)")
    archive.add_argument("--limit", type=positive_int, help="classify at most this many new frames, then stop")
    archive.add_argument("--precision", default="fp32", choices=PRECISIONS, help="bundle variant")
    progress.add_option(archive)
    archive.set_defaults(func=run_archive_command)

    stats = subparsers.add_parser("stats", help="plots and counts of auroral classes from archive results",
                                  description=STATS_HELP, formatter_class=RawDescriptionHelpFormatter)
    stats.add_argument("results", type=Path, help="results dataset written by auroral archive")
    stats.add_argument("--out", required=True, type=Path, help="folder for the PNG and CSV files")
    stats.add_argument("--longitude", type=_longitude, metavar="DEG",
                       help="station longitude (east positive): hours become local solar time instead of UTC")
    stats.add_argument("--site", type=_site, metavar="LAT,LON[,ELEVATION_M]",
                       help="the station: hours become magnetic local time (AACGM-v2, with auroral[mlt]; else "
                            "local solar time at its longitude)")
    stats.add_argument("--moonless", action="store_true",
                       help="occurrence rates over dark frames without a bright moon only (needs archive --site)")
    stats.set_defaults(func=run_stats_command)
