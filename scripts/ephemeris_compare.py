"""Compare ephemeris libraries against astropy for the station's sky gate (docs/SKY.md).

The station needs, for every frame, the sun's elevation, the moon's elevation and the moon's illuminated
fraction. This script computes them with each candidate library at the same instants and sites as astropy and
prints a markdown table of the errors and the cost of one frame's worth of calls (docs/SKY.md holds the result).

Every elevation is topocentric and geometric (no atmospheric refraction: astropy's AltAz with pressure=0, PyEphem
with pressure=0, skyfield's altaz() without weather, astral with_refraction=False) so that the libraries answer
the same question; the station adds no refraction either. astropy reads its bundled IERS tables only
(auto_download off, auto_max_age None), so the script needs no network.

Needs the dev install plus the candidates:
    .venv/bin/pip install ephem skyfield skyfield-data astral suncalc
    .venv/bin/python scripts/ephemeris_compare.py
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

SITES = {"Kiruna": (67.84, 20.41, 400.0), "Longyearbyen": (78.22, 15.65, 0.0)}
SAMPLES = 50
TIMING_CALLS = 200


@dataclass(frozen=True)
class Answer:
    sun_elevation: float
    moon_elevation: float
    moon_illumination: float


Compute = Callable[[float, float, float, datetime], Answer]


def instants() -> list[datetime]:
    """50 instants spread over 2026, each at a different time of day (an irrational-ish step of 7 h 17 min)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / SAMPLES
    return [start + i * step + timedelta(minutes=(i * 437) % 1440) for i in range(SAMPLES)]


def astropy_reference() -> Compute:
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, get_body
    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None  # offline, the bundled predictions are "too old" after 30 days and astropy refuses

    def compute(lat: float, lon: float, elevation_m: float, when: datetime) -> Answer:
        t = Time(when)
        site = EarthLocation(lat=lat * u.deg, lon=lon * u.deg, height=elevation_m * u.m)
        frame = AltAz(obstime=t, location=site, pressure=0 * u.hPa)
        sun_alt = get_body("sun", t, site).transform_to(frame).alt.deg
        moon_alt = get_body("moon", t, site).transform_to(frame).alt.deg
        sun, moon = get_body("sun", t), get_body("moon", t)
        elongation = sun.separation(moon).rad
        phase_angle = math.atan2(
            sun.distance.km * math.sin(elongation), moon.distance.km - sun.distance.km * math.cos(elongation)
        )
        return Answer(float(sun_alt), float(moon_alt), (1 + math.cos(phase_angle)) / 2)

    return compute


def pyephem() -> Compute:
    import ephem

    def compute(lat: float, lon: float, elevation_m: float, when: datetime) -> Answer:
        observer = ephem.Observer()
        observer.lat, observer.lon = math.radians(lat), math.radians(lon)
        observer.elevation = elevation_m
        observer.pressure = 0
        observer.date = ephem.Date(when.replace(tzinfo=None))
        sun, moon = ephem.Sun(observer), ephem.Moon(observer)
        return Answer(math.degrees(sun.alt), math.degrees(moon.alt), float(moon.moon_phase))

    return compute


def skyfield() -> Compute:
    from skyfield import almanac
    from skyfield.api import load, load_file, wgs84
    from skyfield_data import get_skyfield_data_path

    timescale = load.timescale(builtin=True)
    planets = load_file(f"{get_skyfield_data_path()}/de421.bsp")
    earth, sun, moon = planets["earth"], planets["sun"], planets["moon"]

    def compute(lat: float, lon: float, elevation_m: float, when: datetime) -> Answer:
        t = timescale.from_datetime(when)
        here = (earth + wgs84.latlon(lat, lon, elevation_m)).at(t)
        sun_alt = here.observe(sun).apparent().altaz()[0].degrees
        moon_alt = here.observe(moon).apparent().altaz()[0].degrees
        return Answer(float(sun_alt), float(moon_alt), float(almanac.fraction_illuminated(planets, "moon", t)))

    return compute


def astral() -> Compute:
    import astral.moon
    import astral.sun

    def compute(lat: float, lon: float, elevation_m: float, when: datetime) -> Answer:
        observer = astral.Observer(latitude=lat, longitude=lon, elevation=elevation_m)
        sun_alt = astral.sun.elevation(observer, when, with_refraction=False)
        moon_alt = astral.moon.elevation(observer, when)
        # astral gives the phase by day on a 0..28 scale, not the illuminated fraction
        age = astral.moon.phase(when.date())
        return Answer(sun_alt, moon_alt, (1 - math.cos(2 * math.pi * age / 28)) / 2)

    return compute


def suncalc() -> Compute:
    from suncalc import suncalc as sc

    def compute(lat: float, lon: float, elevation_m: float, when: datetime) -> Answer:
        sun_alt = sc.get_position(when, lon, lat)["altitude"]
        # getMoonPosition adds refraction; the geometric altitude comes from the same pieces without it
        days = sc.to_days(when)
        coords = sc.moon_coords(days)
        hour_angle = sc.sidereal_time(days, math.radians(-lon)) - coords["ra"]
        moon_alt = sc.altitude(hour_angle, math.radians(lat), coords["dec"])
        # getMoonIllumination raises TypeError in suncalc 0.1.3 (a stray comma makes a tuple): same formula here
        sun = sc.sun_coords(days)
        elongation = math.acos(
            math.sin(sun["dec"]) * math.sin(coords["dec"])
            + math.cos(sun["dec"]) * math.cos(coords["dec"]) * math.cos(sun["ra"] - coords["ra"])
        )
        sun_km = 149598000
        phase_angle = math.atan2(sun_km * math.sin(elongation), coords["dist"] - sun_km * math.cos(elongation))
        return Answer(math.degrees(float(sun_alt)), math.degrees(float(moon_alt)), (1 + math.cos(phase_angle)) / 2)

    return compute


CANDIDATES: dict[str, tuple[str, Callable[[], Compute]]] = {
    "PyEphem": ("ephem", pyephem),
    "skyfield + skyfield-data (DE421)": ("skyfield", skyfield),
    "astral": ("astral", astral),
    "suncalc": ("suncalc", suncalc),
}


def microseconds_per_frame(compute: Compute, calls: int = TIMING_CALLS) -> float:
    lat, lon, elevation_m = SITES["Kiruna"]
    when = instants()[0]
    compute(lat, lon, elevation_m, when)
    start = time.perf_counter()
    for i in range(calls):
        compute(lat, lon, elevation_m, when + timedelta(seconds=i))
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    reference = astropy_reference()
    cases = [(site, when) for site in SITES.values() for when in instants()]
    truth = [reference(*site, when) for site, when in cases]
    print(f"{len(cases)} instants (50 over 2026 at each of {', '.join(SITES)}); reference astropy {version('astropy')}")
    print()
    print("| library | version | sun elevation error max / mean (°) | moon elevation error max / mean (°) "
          "| moon illuminated fraction error max / mean | µs per frame |")
    print("|---|---|---|---|---|---|")
    for name, (package, factory) in CANDIDATES.items():
        compute = factory()
        answers = [compute(*site, when) for site, when in cases]
        sun = [abs(a.sun_elevation - r.sun_elevation) for a, r in zip(answers, truth, strict=True)]
        moon = [abs(a.moon_elevation - r.moon_elevation) for a, r in zip(answers, truth, strict=True)]
        lit = [abs(a.moon_illumination - r.moon_illumination) for a, r in zip(answers, truth, strict=True)]
        print(f"| {name} | {version(package)} | {max(sun):.4f} / {statistics.mean(sun):.4f} "
              f"| {max(moon):.4f} / {statistics.mean(moon):.4f} | {max(lit):.4f} / {statistics.mean(lit):.4f} "
              f"| {microseconds_per_frame(compute):.0f} |")
    print(f"| astropy (reference) | {version('astropy')} | 0 | 0 | 0 "
          f"| {microseconds_per_frame(reference, calls=10):.0f} |")


if __name__ == "__main__":
    main()
