"""Where and when the sky is dark: the sun's and moon's elevations and the moon's light at a site and instant.

The classes were learnt from clean night-time frames, so a frame taken by day, in twilight or under a bright moon
must never count towards an alert. The station (per frame, from its decode thread), the archive and the
statistics ask this module what the sky was like when a frame was taken.

The positions come from PyEphem: a small C library that needs no data file and no download at run time, costs
about 0.1 ms per frame and agrees with astropy to under 0.001° for the sun (docs/SKY.md has the comparison and
`scripts/ephemeris_compare.py` repeats it). Elevations are topocentric and geometric, of the centre of the disc,
without atmospheric refraction: the twilight thresholds are defined that way and refraction near the horizon
depends on weather the station does not know.

PyEphem's Observer and body objects are mutable and not safe to share between threads, so every call builds its
own; a `SkyModel` holds only immutable settings and is safe to call from any thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import ephem

SkyKind = Literal["night", "twilight", "day"]

DEFAULT_MAX_SUN_ELEVATION = -12.0
"""The end of nautical twilight: a colour frame at a sun elevation of -11.4° still shows a blue sky."""

DEFAULT_MAX_MOON_ILLUMINATION = 0.33
"""A moon up and more than a third lit washes out faint diffuse aurora (indi-allsky's moon mode uses 33 %)."""

DEFAULT_DARK_HORIZON = timedelta(days=200)
"""How far `next_dark` looks ahead: longer than any polar summer, in which the sky is never dark for months."""


@dataclass(frozen=True)
class Site:
    """Where the camera stands: geodetic latitude and longitude in degrees (north and east positive)."""

    latitude: float
    longitude: float
    elevation_m: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90.0 <= self.latitude <= 90.0):
            raise ValueError(f"latitude {self.latitude} is not between -90 and 90 degrees")
        if not (math.isfinite(self.longitude) and -180.0 <= self.longitude <= 180.0):
            raise ValueError(f"longitude {self.longitude} is not between -180 and 180 degrees")
        if not math.isfinite(self.elevation_m):
            raise ValueError(f"elevation_m {self.elevation_m} is not a finite number of metres")


@dataclass(frozen=True)
class Sky:
    """The sky over a site at one instant."""

    sun_elevation: float
    """Degrees above the horizon (negative below), geometric, centre of the disc."""
    moon_elevation: float
    """Degrees above the horizon (negative below), geometric and topocentric, centre of the disc."""
    moon_illumination: float
    """The illuminated fraction of the moon's disc, 0 (new) to 1 (full)."""
    kind: SkyKind
    """`night` with the sun at or below the model's max_sun_elevation, `twilight` up to 0°, else `day`."""
    moonlit: bool
    """The moon is above the horizon and lit more than the model's max_moon_illumination."""

    @property
    def moon_up(self) -> bool:
        return self.moon_elevation > 0.0


@dataclass(frozen=True)
class _Positions:
    sun_elevation: float
    moon_elevation: float
    moon_illumination: float


class SkyModel:
    """Classifies the sky at a site: `at(when)` for one instant, `next_dark(after)` for the end of a bright spell."""

    def __init__(
        self,
        site: Site,
        max_sun_elevation: float = DEFAULT_MAX_SUN_ELEVATION,
        max_moon_illumination: float = DEFAULT_MAX_MOON_ILLUMINATION,
    ) -> None:
        if not (math.isfinite(max_sun_elevation) and -90.0 <= max_sun_elevation <= 0.0):
            raise ValueError(f"max_sun_elevation {max_sun_elevation} is not between -90 and 0 degrees")
        if not (math.isfinite(max_moon_illumination) and 0.0 <= max_moon_illumination <= 1.0):
            raise ValueError(f"max_moon_illumination {max_moon_illumination} is not between 0 and 1")
        self.site = site
        self.max_sun_elevation = max_sun_elevation
        self.max_moon_illumination = max_moon_illumination

    def at(self, when: datetime) -> Sky:
        """The sky at `when` (an aware datetime, any zone)."""
        positions = _positions(self.site, _utc(when))
        return Sky(
            sun_elevation=positions.sun_elevation,
            moon_elevation=positions.moon_elevation,
            moon_illumination=positions.moon_illumination,
            kind=self._kind(positions.sun_elevation),
            moonlit=positions.moon_elevation > 0.0 and positions.moon_illumination > self.max_moon_illumination,
        )

    def next_dark(self, after: datetime, within: timedelta = DEFAULT_DARK_HORIZON) -> datetime | None:
        """When the sun next goes down to max_sun_elevation (aware UTC), `after` itself if the sky is dark then.

        None if it stays above that within `within` (a polar summer, or a threshold the sun never reaches).
        PyEphem finds a setting in the day after its start or says the sun stays up that day, so the search
        walks day by day through a polar summer: at most a few hundred calls of ~0.1 ms.
        """
        start = _utc(after)
        if self._kind(_positions(self.site, start).sun_elevation) == "night":
            return start
        end = start + within
        day = start
        while day < end:
            setting = _next_setting(self.site, day, self.max_sun_elevation)
            if setting is not None:
                return setting if setting <= end else None
            day += timedelta(days=1)
        return None

    def _kind(self, sun_elevation: float) -> SkyKind:
        if sun_elevation <= self.max_sun_elevation:
            return "night"
        return "twilight" if sun_elevation <= 0.0 else "day"


def _utc(when: datetime) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{when.isoformat()} has no time zone: give an aware datetime (UTC)")
    return when.astimezone(UTC)


def _observer(site: Site, when: datetime) -> ephem.Observer:
    """A fresh observer (PyEphem's are not thread-safe) without refraction (pressure 0)."""
    observer = ephem.Observer()
    observer.lat = math.radians(site.latitude)
    observer.lon = math.radians(site.longitude)
    observer.elevation = site.elevation_m
    observer.pressure = 0.0
    observer.date = ephem.Date(when.replace(tzinfo=None))
    return observer


def _positions(site: Site, when: datetime) -> _Positions:
    observer = _observer(site, when)
    sun, moon = ephem.Sun(observer), ephem.Moon(observer)
    return _Positions(
        sun_elevation=math.degrees(float(sun.alt)),
        moon_elevation=math.degrees(float(moon.alt)),
        moon_illumination=float(moon.moon_phase),
    )


def _next_setting(site: Site, start: datetime, horizon_deg: float) -> datetime | None:
    """The first time after `start` within about a day that the sun's centre sinks to `horizon_deg`, else None."""
    observer = _observer(site, start)
    observer.horizon = math.radians(horizon_deg)
    try:
        setting = observer.next_setting(ephem.Sun(), use_center=True)
    except (ephem.AlwaysUpError, ephem.NeverUpError):
        return None
    found: datetime = ephem.Date(setting).datetime().replace(tzinfo=UTC)
    return found
