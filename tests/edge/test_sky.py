"""The sky gate's astronomy: sun and moon against astropy, the night/twilight/day split, moonlight, next_dark.

astropy is the reference (dev install). It reads only its bundled IERS tables here: no download, and no refusal
of predictions older than 30 days, so the tests run offline.
"""
from __future__ import annotations

import math
import sys
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import AltAz, EarthLocation, get_body
from astropy.time import Time
from astropy.utils import data, iers

from auroral.edge.sky import Site, SkyModel

KIRUNA = Site(67.84, 20.41, 400.0)
LONGYEARBYEN = Site(78.22, 15.65, 0.0)
POKER_FLAT = Site(65.12, -147.43, 500.0)
STOCKHOLM_TIME = ZoneInfo("Europe/Stockholm")


class Reference:
    """astropy's geometric (pressure 0) topocentric elevations and the moon's illuminated fraction."""

    def elevations(self, site: Site, times: list[datetime]) -> tuple[np.ndarray, np.ndarray]:
        t = Time(times)
        location = EarthLocation(lat=site.latitude * u.deg, lon=site.longitude * u.deg, height=site.elevation_m * u.m)
        frame = AltAz(obstime=t, location=location, pressure=0 * u.hPa)
        sun = get_body("sun", t, location).transform_to(frame).alt.deg
        moon = get_body("moon", t, location).transform_to(frame).alt.deg
        return np.atleast_1d(sun), np.atleast_1d(moon)

    def moon_illumination(self, when: datetime) -> float:
        t = Time(when)
        sun, moon = get_body("sun", t), get_body("moon", t)
        elongation = sun.separation(moon).rad
        phase_angle = math.atan2(
            sun.distance.km * math.sin(elongation), moon.distance.km - sun.distance.km * math.cos(elongation)
        )
        return (1 + math.cos(phase_angle)) / 2


@pytest.fixture(scope="module")
def reference():
    with (
        iers.conf.set_temp("auto_download", False),
        iers.conf.set_temp("auto_max_age", None),
        data.conf.set_temp("allow_internet", False),
    ):
        yield Reference()


def first_dark_by_scan(model: SkyModel, start: datetime, span: timedelta, step: timedelta) -> datetime | None:
    when = start
    while when <= start + span:
        if model.at(when).kind == "night":
            return when
        when += step
    return None


def test_noon_in_june_at_kiruna_is_day_with_astropys_sun(reference):
    when = datetime(2026, 6, 21, 12, 0, tzinfo=STOCKHOLM_TIME)
    sky = SkyModel(KIRUNA).at(when)
    sun, moon = reference.elevations(KIRUNA, [when])
    assert sky.kind == "day"
    assert abs(sky.sun_elevation - sun[0]) < 0.1
    assert sky.sun_elevation > 40


def test_midnight_in_december_at_kiruna_is_night(reference):
    when = datetime(2026, 12, 21, 0, 0, tzinfo=STOCKHOLM_TIME)
    sky = SkyModel(KIRUNA).at(when)
    sun, _ = reference.elevations(KIRUNA, [when])
    assert sky.kind == "night"
    assert abs(sky.sun_elevation - sun[0]) < 0.1


@pytest.mark.parametrize("site", [KIRUNA, LONGYEARBYEN], ids=["kiruna", "longyearbyen"])
def test_sun_and_moon_follow_astropy_through_a_year(reference, site):
    times = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=7.3 * i, hours=5.1 * i) for i in range(50)]
    sun, moon = reference.elevations(site, times)
    skies = [SkyModel(site).at(when) for when in times]
    assert max(abs(sky.sun_elevation - s) for sky, s in zip(skies, sun, strict=True)) < 0.01
    assert max(abs(sky.moon_elevation - m) for sky, m in zip(skies, moon, strict=True)) < 0.02
    for when, sky in zip(times[::10], skies[::10], strict=True):
        assert sky.moon_illumination == pytest.approx(reference.moon_illumination(when), abs=0.005)


def test_a_day_in_october_splits_into_night_twilight_and_day_at_astropys_elevations(reference):
    times = [datetime(2026, 10, 15, tzinfo=UTC) + timedelta(minutes=10 * i) for i in range(144)]
    sun, _ = reference.elevations(KIRUNA, times)
    model = SkyModel(KIRUNA)
    kinds = [model.at(when).kind for when in times]
    for kind, elevation in zip(kinds, sun, strict=True):
        if abs(elevation + 12) > 0.05 and abs(elevation) > 0.05:
            assert kind == ("night" if elevation < -12 else "twilight" if elevation < 0 else "day")
    assert set(kinds) == {"night", "twilight", "day"}


def test_the_thresholds_belong_to_the_darker_kind():
    when = datetime(2026, 10, 15, 15, 0, tzinfo=UTC)
    elevation = SkyModel(KIRUNA).at(when).sun_elevation
    assert -12 < elevation < 0
    assert SkyModel(KIRUNA, max_sun_elevation=elevation).at(when).kind == "night"
    assert SkyModel(KIRUNA, max_sun_elevation=elevation - 0.01).at(when).kind == "twilight"
    assert SkyModel(KIRUNA, max_sun_elevation=-18).at(when).kind == "twilight"


def test_a_bright_moon_above_the_horizon_is_moonlit(reference):
    winter_full_moon = datetime(2026, 12, 24, 0, 0, tzinfo=UTC)  # high in the Kiruna sky, almost full
    sky = SkyModel(KIRUNA).at(winter_full_moon)
    _, moon = reference.elevations(KIRUNA, [winter_full_moon])
    assert sky.moon_elevation == pytest.approx(moon[0], abs=0.02) and sky.moon_elevation > 20
    assert sky.moon_illumination == pytest.approx(reference.moon_illumination(winter_full_moon), abs=0.005)
    assert sky.moon_illumination > 0.9
    assert sky.moon_up and sky.moonlit
    assert not SkyModel(KIRUNA, max_moon_illumination=1.0).at(winter_full_moon).moonlit


def test_a_full_moon_below_the_horizon_is_not_moonlit(reference):
    summer_full_moon = datetime(2026, 6, 29, 23, 0, tzinfo=UTC)  # never rises at Kiruna in midsummer
    sky = SkyModel(KIRUNA).at(summer_full_moon)
    _, moon = reference.elevations(KIRUNA, [summer_full_moon])
    assert sky.moon_illumination > 0.9
    assert sky.moon_elevation == pytest.approx(moon[0], abs=0.02) and sky.moon_elevation < 0
    assert not sky.moon_up and not sky.moonlit


def test_a_thin_moon_above_the_horizon_is_not_moonlit():
    new_moon = datetime(2026, 3, 19, 12, 0, tzinfo=UTC)  # up by day, a day after new
    sky = SkyModel(KIRUNA).at(new_moon)
    assert sky.moon_up and sky.moon_illumination < 0.05
    assert not sky.moonlit
    assert SkyModel(KIRUNA, max_moon_illumination=0.0).at(new_moon).moonlit


def test_next_dark_in_winter_is_the_same_afternoon():
    model = SkyModel(KIRUNA)
    noon = datetime(2026, 12, 21, 11, 0, tzinfo=UTC)
    assert model.at(noon).kind == "twilight"
    dark = model.next_dark(noon)
    assert dark is not None and dark.tzinfo == UTC
    assert model.at(dark).sun_elevation == pytest.approx(-12, abs=0.01)
    scanned = first_dark_by_scan(model, noon, timedelta(hours=12), timedelta(minutes=1))
    assert scanned is not None and abs(dark - scanned) <= timedelta(minutes=1)


def test_next_dark_when_already_dark_is_now():
    midnight = datetime(2026, 12, 21, 0, 0, tzinfo=STOCKHOLM_TIME)
    assert SkyModel(KIRUNA).next_dark(midnight) == midnight.astimezone(UTC)


def test_next_dark_across_midnight():
    model = SkyModel(POKER_FLAT)
    evening = datetime(2026, 12, 21, 23, 0, tzinfo=UTC)  # early afternoon in Alaska
    dark = model.next_dark(evening)
    assert dark is not None and dark.date() == datetime(2026, 12, 22).date()
    scanned = first_dark_by_scan(model, evening, timedelta(hours=12), timedelta(minutes=1))
    assert scanned is not None and abs(dark - scanned) <= timedelta(minutes=1)


def test_next_dark_after_a_polar_summer_is_in_september():
    model = SkyModel(LONGYEARBYEN)
    midsummer = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
    dark = model.next_dark(midsummer)
    assert dark is not None and dark.month == 9
    assert model.at(dark).sun_elevation == pytest.approx(-12, abs=0.01)
    step = timedelta(minutes=20)
    samples = (midsummer + i * step for i in range(int((dark - midsummer) / step)))
    assert all(model.at(when).kind != "night" for when in samples)


def test_next_dark_is_none_beyond_the_horizon():
    midsummer = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)
    assert SkyModel(LONGYEARBYEN).next_dark(midsummer, within=timedelta(days=60)) is None
    assert SkyModel(LONGYEARBYEN, max_sun_elevation=-18).next_dark(midsummer, within=timedelta(days=100)) is None


def test_concurrent_callers_get_the_answers_of_serial_ones():
    model = SkyModel(KIRUNA)
    times = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i) for i in range(500)]
    serial = [model.at(when) for when in times]
    results: dict[int, list] = {}

    def work(worker: int) -> None:
        results[worker] = [model.at(when) for when in times]

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads between nearly every bytecode, inside each call too
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert all(answers == serial for answers in results.values())


@pytest.mark.parametrize(
    ("latitude", "longitude", "message"),
    [(91, 0, "latitude 91"), (-90.5, 0, "latitude -90.5"), (0, 181, "longitude 181"), (math.nan, 0, "latitude nan")],
)
def test_a_site_off_the_globe_is_refused(latitude, longitude, message):
    with pytest.raises(ValueError, match=message):
        Site(latitude, longitude)


def test_bad_thresholds_and_naive_times_are_refused():
    with pytest.raises(ValueError, match="max_sun_elevation 5"):
        SkyModel(KIRUNA, max_sun_elevation=5)
    with pytest.raises(ValueError, match="max_moon_illumination 1.5"):
        SkyModel(KIRUNA, max_moon_illumination=1.5)
    with pytest.raises(ValueError, match="no time zone"):
        SkyModel(KIRUNA).at(datetime(2026, 6, 21, 12, 0))
