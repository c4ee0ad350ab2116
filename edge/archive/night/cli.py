"""``auroral night``: the science products of one night, from a station's state or an archive run.

Light to import: pandas, pyarrow and matplotlib are imported inside the command, after ``require("archive", ...)``.
"""
from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from auroral.edge.archive.cli import _site
from auroral.edge.cli import RawDescriptionHelpFormatter
from auroral.edge.extras import require
from auroral.edge.sky import SkyModel

NIGHT_HELP = """\
Write the science products of the night that begins in the evening of DATE (local noon to the next
local noon in --timezone) into OUT: keogram.png (the north-south meridian slice of every frame over
capture time, the labels as a coloured band under it, the breakup onsets marked), onsets.csv and
onsets.parquet (station, onset_at, first_frame, peak_confidence, duration_s, end_at, live), and
summary.md + summary.png (counts per class, dark hours, the onsets, the keogram).
--state-dir reads what the station recorded (its frames and its breakup_onset decisions; a running
station can be read). --archive reads an auroral archive run and finds the onsets with the station's
own decider and default [trigger] settings, so the same labels give the same onsets.
"""


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2026-11-29 (the night's evening)") from None


def run_night_command(args: argparse.Namespace) -> int:
    require("archive", "pyarrow", "pandas", "matplotlib")
    from auroral.edge.archive.night.products import from_archive, from_state, night_window
    from auroral.edge.archive.night.summary import write_night

    window = night_window(args.date, args.timezone)
    site = SkyModel(args.site) if args.site else None
    if args.state_dir is not None:
        night = from_state(args.state_dir, window, args.station, site)
    else:
        night = from_archive(args.archive, window, args.station, site)
    for path in write_night(night, args.out):
        print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    night = subparsers.add_parser("night", help="keogram, onset catalogue and summary of one night",
                                  description=NIGHT_HELP, formatter_class=RawDescriptionHelpFormatter)
    night.add_argument("date", type=_date, metavar="DATE", help="the night's evening, e.g. 2026-11-29")
    source = night.add_mutually_exclusive_group(required=True)
    source.add_argument("--state-dir", type=Path, metavar="DIR", help="the station's state directory (auroral run)")
    source.add_argument("--archive", type=Path, metavar="RESULTS", help="a results dataset of auroral archive")
    night.add_argument("--out", required=True, type=Path, help="folder for the products")
    night.add_argument("--station", default="station", help="station name in the catalogue and titles")
    night.add_argument("--site", type=_site, metavar="LAT,LON[,ELEVATION_M]",
                       help="where the camera stood: the sky of frames that lack it, and the night's dark hours")
    night.add_argument("--timezone", default="UTC", metavar="ZONE",
                       help="IANA zone whose noon starts and ends the night (times are shown in UTC and this zone)")
    night.set_defaults(func=run_night_command)
