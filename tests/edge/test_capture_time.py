"""Capture time from the frame itself: FITS DATE-OBS, EXIF, the name's conventions in the station's time zone,
then the file's modification time."""
from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

import numpy as np
import pytest
from astropy.io import fits
from PIL import ExifTags, Image

from auroral.edge.capture_time import CaptureTime

UTC = UTC


def exif_jpeg(path, original: str, offset: str | None = None, subsec: str | None = None):
    exif = Image.Exif()
    tags = exif.get_ifd(ExifTags.IFD.Exif)
    tags[ExifTags.Base.DateTimeOriginal] = original
    if offset is not None:
        tags[ExifTags.Base.OffsetTimeOriginal] = offset
    if subsec is not None:
        tags[ExifTags.Base.SubsecTimeOriginal] = subsec
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(path, exif=exif)
    return path


def test_exif_with_offset_wins_over_name_and_mtime(tmp_path):
    path = exif_jpeg(tmp_path / "KIR_20990101_000000.jpg", "2026:01:15 22:10:05", "+01:00")
    os.utime(path, (0, 0))
    captured = CaptureTime(tz="America/Anchorage")(path)  # the offset in the file beats the station's zone
    assert (captured.at, captured.source) == (datetime(2026, 1, 15, 21, 10, 5, tzinfo=UTC), "exif")


def test_exif_without_offset_is_station_local_time_with_subseconds(tmp_path):
    path = exif_jpeg(tmp_path / "image.jpg", "2026:01:15 22:10:05", subsec="25")
    captured = CaptureTime(tz="Europe/Stockholm")(path)
    assert (captured.at, captured.source) == (datetime(2026, 1, 15, 21, 10, 5, 250000, tzinfo=UTC), "exif")


def test_a_jpeg_without_exif_is_not_parsed_for_it(tmp_path, monkeypatch):
    with_exif = exif_jpeg(tmp_path / "with.jpg", "2026:01:15 22:10:05", "+00:00")
    without = tmp_path / "20260115_221005.jpg"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(without)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(fp) or real_open(fp, *a, **k))
    capture_time = CaptureTime()
    assert capture_time(without).source == "name"
    assert opened == []  # the header has no Exif segment: Pillow is never asked
    assert capture_time(with_exif).source == "exif"
    assert len(opened) == 1


def test_fits_date_obs_is_moved_to_mid_exposure(tmp_path):
    hdu = fits.PrimaryHDU(np.zeros((8, 8), np.float32))
    hdu.header["DATE-OBS"] = "2026-01-15T21:10:05"
    hdu.header["EXPTIME"] = 10.0
    hdu.writeto(tmp_path / "KIR_20990101_000000.fits")
    captured = CaptureTime(tz="Europe/Stockholm")(tmp_path / "KIR_20990101_000000.fits")
    assert (captured.at, captured.source) == (datetime(2026, 1, 15, 21, 10, 10, tzinfo=UTC), "fits")


@pytest.mark.parametrize("name, expected", [
    ("KIR_20261124_220100.jpg", datetime(2026, 11, 24, 21, 1, 0, tzinfo=UTC)),
    ("20140221193040.jpg", datetime(2014, 2, 21, 18, 30, 40, tzinfo=UTC)),
    ("LYR-Sony-150220_183648.jpg", datetime(2015, 2, 20, 17, 36, 48, tzinfo=UTC)),
    ("image-20261129223344.jpg", datetime(2026, 11, 29, 21, 33, 44, tzinfo=UTC)),
    ("ccd1_20261129_223344.jpg", datetime(2026, 11, 29, 21, 33, 44, tzinfo=UTC)),
    ("allsky_20260715T001500.png", datetime(2026, 7, 14, 22, 15, 0, tzinfo=UTC)),  # summer time: UTC+2
])
def test_names_in_the_station_time_zone(tmp_path, name, expected):
    path = tmp_path / name
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    captured = CaptureTime(tz="Europe/Stockholm")(path)
    assert (captured.at, captured.source) == (expected, "name")


def test_names_without_a_time_fall_back_to_mtime(tmp_path):
    path = tmp_path / "latest.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    os.utime(path, (1764450000, 1764450000))
    captured = CaptureTime()(path)
    assert (captured.at, captured.source) == (datetime.fromtimestamp(1764450000, UTC), "mtime")


def test_implausible_digits_are_not_a_time(tmp_path):
    assert CaptureTime().from_name("frame_00000000_000000.jpg") is None
    assert CaptureTime().from_name("IMG_99999999999999.jpg") is None


def test_a_fifo_never_blocks(tmp_path):
    fifo = tmp_path / "KIR_20261124_220100.jpg"
    os.mkfifo(fifo)
    result = []
    reader = threading.Thread(target=lambda: result.append(CaptureTime()(fifo)), daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive() and result[0].source == "name"


def test_an_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown time zone 'Europe/Kirunaa'"):
        CaptureTime(tz="Europe/Kirunaa")
