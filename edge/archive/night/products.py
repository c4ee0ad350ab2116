"""One night in capture time, from the station's history or an archive run: its frames and its breakup onsets.

A night is named by the date of its evening and runs from local noon to the next local noon, as in
``auroral stats``, so that one observing night is one stretch. Both sources end in the same :class:`Night`:

- ``--state-dir``: the frames and the ``breakup_onset`` decisions the station recorded (its history), read
  without the daemon's lock, so a running station can be reported on;
- ``--archive``: the rows of ``auroral archive``, with the onsets found by running the station's own
  :class:`~auroral.edge.station.decide.Decider` (default ``[trigger]``) over them in capture order, so the same
  labels give the same onsets whichever source they come from.

The extent of an onset is measured the same way for both: from its first frame to its last breakup frame, the
last frame with the trigger's label and threshold before ``m`` counted frames in a row without one (when the
station re-arms), the next onset, or the end of the night.
"""
from __future__ import annotations

import logging
import math
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import get_args

import pandas as pd

from auroral.edge.capture_time import zone
from auroral.edge.classes import CLASSES, OATH2, OATH6, default_class_sets
from auroral.edge.contract import utc_now
from auroral.edge.errors import UserError
from auroral.edge.sky import Sky, SkyKind, SkyModel
from auroral.edge.station.config import AuroraConfig, ExternalConfig, ModelConfig, TriggerConfig
from auroral.edge.station.decide import Alert, Decider, Observation
from auroral.edge.station.history import History
from auroral.edge.station.statedb import StateDB

log = logging.getLogger(__name__)

CATALOGUE_COLUMNS = ("station", "onset_at", "first_frame", "peak_confidence", "duration_s", "end_at", "live")


@dataclass(frozen=True)
class Window:
    """The night of ``evening``: [start, end) in UTC, local noon to local noon in ``timezone``."""

    evening: date
    timezone: str
    start: datetime
    end: datetime


def night_window(evening: date, timezone: str) -> Window:
    try:
        local = zone(timezone)
    except ValueError as exc:
        raise UserError(f"--timezone: {exc}") from None
    start = datetime.combine(evening, time(12), local)
    end = datetime.combine(evening + timedelta(days=1), time(12), local)
    return Window(evening, timezone, start.astimezone(UTC), end.astimezone(UTC))


@dataclass(frozen=True)
class NightFrame:
    path: str
    captured_at: datetime
    label: str | None  # None: the model did not run (day or twilight)
    confidence: float | None
    sky: str | None = None  # night, twilight, day; None: unknown (counts as night, as on a station without a site)
    uncertain: bool = False

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class Onset:
    captured_at: datetime  # of the first frame of the window that fired
    frame: str
    live: bool


@dataclass
class Night:
    window: Window
    station: str
    source: str  # what the frames were read from, for the summary
    frames: list[NightFrame]  # in capture order
    onsets: list[Onset]  # in capture order
    classes: list[str]
    site: SkyModel | None = None

    @property
    def trigger(self) -> TriggerConfig:
        """The station's default ``[trigger]`` for these classes: the onset classes a bundle of them names."""
        return TriggerConfig(labels=(default_class_sets(self.classes) or ([], []))[1])

    @property
    def aurora(self) -> AuroraConfig:
        return AuroraConfig(labels=(default_class_sets(self.classes) or ([], []))[0])


class _StateReader(StateDB):
    """The station's state database, read-only and without the daemon's lock: the history of a running station
    can be read while the daemon writes (SQLite's WAL gives this reader a consistent snapshot)."""

    def __init__(self, state_dir: Path):  # the daemon's lock and repairs are for the writer: not called here
        path = state_dir / "state.db"
        if not path.is_file():
            raise UserError(f"{state_dir} holds no station state (no state.db): give the --state-dir of auroral run")
        self.path = path
        try:
            self.conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True, check_same_thread=False,
                                        isolation_level=None)
        except sqlite3.Error as exc:
            raise UserError(f"cannot read the state database {path}: {exc}") from exc
        self.lock = threading.RLock()

    def close(self) -> None:
        self.conn.close()


def from_state(state_dir: Path, window: Window, station: str, site: SkyModel | None = None) -> Night:
    """The night as the station recorded it: its history's frames and ``breakup_onset`` decisions."""
    if not state_dir.is_dir():
        raise UserError(f"--state-dir {state_dir} does not exist")
    db = _StateReader(state_dir)
    try:
        try:
            history = History(db)
            seen = history.frames(window.start, window.end)
            decisions = history.decisions(window.start, window.end)
        except sqlite3.Error as exc:
            raise UserError(f"{db.path} holds no readable station history ({exc})") from exc
    finally:
        db.close()
    frames = [NightFrame(f.path, f.captured_at, f.label, f.confidence, f.sky, f.uncertain) for f in seen]
    onsets = [Onset(d.captured_at or d.decided_at, d.frame or "", d.live) for d in decisions
              if d.kind == "breakup_onset"]
    labels = {f.label for f in frames if f.label}
    classes = next((list(known) for known in (CLASSES, OATH6, OATH2) if labels <= set(known)), sorted(labels))
    return _checked(Night(window, station, f"station history in {state_dir}", _with_sky(frames, site), onsets,
                          classes, site))


def from_archive(results: Path, window: Window, station: str, site: SkyModel | None = None) -> Night:
    """The night from ``auroral archive`` rows, its onsets found by the station's decider."""
    import pyarrow
    import pyarrow.dataset

    if not results.exists():
        raise UserError(f"--archive {results} does not exist (write it with: auroral archive ... --out {results})")
    try:
        dataset = pyarrow.dataset.dataset(results, format="parquet")
        names = dataset.schema.names
        classes = [c[2:] for c in names if c.startswith("p_")]
        if {"path", "captured_at", "label"} - set(names) or not classes:
            raise UserError(f"{results} lacks the columns of an auroral archive run (path, captured_at, label, p_*)")
        when = pyarrow.dataset.field("captured_at")
        wanted = [c for c in ("path", "captured_at", "label", "confidence", "sky") if c in names]
        table = dataset.to_table(columns=wanted, filter=(when >= pd.Timestamp(window.start))
                                 & (when < pd.Timestamp(window.end)))
    except (OSError, pyarrow.ArrowException) as exc:
        raise UserError(f"{results} is not a Parquet dataset from auroral archive ({exc})") from exc
    rows = table.to_pandas().sort_values(["captured_at", "path"], kind="stable")
    frames = [NightFrame(row.path, row.captured_at.to_pydatetime(), row.label, _number(row.confidence),
                         _text(getattr(row, "sky", None)))
              for row in rows.itertuples(index=False)]
    frames = _with_sky(frames, site)
    night = _checked(Night(window, station, f"archive {results}", frames, [], classes, site))
    night.onsets = decided_onsets(night)
    return night


def _number(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)  # type: ignore[arg-type]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _with_sky(frames: list[NightFrame], site: SkyModel | None) -> list[NightFrame]:
    """Frames without a recorded sky get it from ``--site``, as the station with a ``[site]`` would have."""
    if site is None:
        return frames
    return [f if f.sky else NightFrame(f.path, f.captured_at, f.label, f.confidence, site.at(f.captured_at).kind,
                                       f.uncertain) for f in frames]


def _checked(night: Night) -> Night:
    if not night.frames:
        w = night.window
        raise UserError(f"no frames captured in the night of {w.evening} ({w.start:%Y-%m-%d %H:%M} to "
                        f"{w.end:%Y-%m-%d %H:%M} UTC) in the {night.source}")
    return night


def decided_onsets(night: Night) -> list[Onset]:
    """The onsets the station's decider (default settings) finds in the night's frames, in capture order.

    Nothing an archive finds was live: every onset says ``live: false``.
    """
    minimum = ModelConfig.model_fields["min_confidence"].default
    decider = Decider(night.trigger, night.aurora, ExternalConfig())
    frames = night.frames
    now = max(utc_now(), frames[-1].captured_at) if frames else utc_now()
    onsets = []
    for frame in frames:
        uncertain = frame.uncertain or (frame.confidence is not None and frame.confidence < minimum)
        seen = Observation(frame.name, frame.path, frame.captured_at, frame.label, frame.confidence, uncertain,
                           _sky(frame.sky))
        for event in decider.observe(seen, now):
            if isinstance(event, Alert) and event.type == "breakup_onset":
                onsets.append(Onset(event.captured_at or frame.captured_at, event.frame or frame.name, False))
    return onsets


def _sky(kind: str | None) -> Sky | None:
    """The sky as the decider reads it: only its kind is known from a record (moonlight only gates triggers)."""
    for known in get_args(SkyKind):
        if kind == known:
            return Sky(math.nan, math.nan, math.nan, known, False)
    return None


def _hit(frame: NightFrame, trigger: TriggerConfig) -> bool:
    return frame.label in (trigger.labels or ()) and (frame.confidence or 0.0) >= trigger.threshold


def _counts(frame: NightFrame) -> bool:
    """As :attr:`Observation.counts`: a dark (or unknown) sky and a sure label."""
    return frame.sky in (None, "night") and not frame.uncertain and frame.label is not None


def catalogue(night: Night) -> pd.DataFrame:
    """One row per onset: station, onset_at (its first frame's capture time), first_frame, peak_confidence and
    duration_s / end_at (to its last breakup frame, see the module docstring), live."""
    trigger = night.trigger
    times = [f.captured_at for f in night.frames]
    rows = []
    for number, onset in enumerate(night.onsets):
        following = night.onsets[number + 1].captured_at if number + 1 < len(night.onsets) else night.window.end
        start = next((i for i, t in enumerate(times) if t >= onset.captured_at), len(times))
        last, peak, misses = None, None, 0
        for frame in night.frames[start:]:
            if frame.captured_at >= following or misses >= trigger.m:
                break
            if not _counts(frame):
                continue
            if _hit(frame, trigger):
                last, misses = frame, 0
                peak = max(peak or 0.0, frame.confidence or 0.0)
            else:
                misses += 1
        end = last.captured_at if last else onset.captured_at
        rows.append({"station": night.station, "onset_at": onset.captured_at, "first_frame": onset.frame,
                     "peak_confidence": peak, "duration_s": (end - onset.captured_at).total_seconds(),
                     "end_at": end, "live": onset.live})
    table = pd.DataFrame(rows, columns=list(CATALOGUE_COLUMNS))
    for column in ("onset_at", "end_at"):
        table[column] = pd.to_datetime(table[column], utc=True)
    return table.astype({"peak_confidence": "float64", "duration_s": "float64", "live": "bool"})
