"""Thumbnails: the size cap and its fall-backs, and on a real broker the retained JPEG of the newest live frame
(never of a backlog) and of the frame that started a breakup onset."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from auroral.edge.contract import utc_now
from auroral.edge.station.thumbnails import RecentThumbnails, thumbnail
from support.faults import STATION, Station, connected_client, settle
from support.mqttcollect import Collector

BREAKUP = [(224, 224, 224), (235, 235, 235), (210, 210, 210)]  # the toy bundle calls each breakup
QUIET = (0, 0, 0)


def noisy(path, width: int = 900, height: int = 600) -> None:
    """A frame that compresses badly (noise), so a thumbnail of it needs the size cap."""
    image = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 95])


def decoded(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image


def test_a_thumbnail_over_the_cap_is_encoded_again_until_it_fits(tmp_path):
    noisy(tmp_path / "f.jpg")
    plain = thumbnail(tmp_path / "f.jpg", 320, 10 * 1024 * 1024)
    capped = thumbnail(tmp_path / "f.jpg", 320, 16 * 1024)
    assert plain is not None and capped is not None
    assert len(plain) > 16 * 1024 >= len(capped)
    assert max(decoded(plain).shape[:2]) == 320 and max(decoded(capped).shape[:2]) <= 320


def test_a_thumbnail_that_never_fits_or_cannot_be_read_is_skipped_with_a_log_line(tmp_path, caplog):
    noisy(tmp_path / "f.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with caplog.at_level(logging.WARNING, logger="auroral.thumbnails"):
        assert thumbnail(tmp_path / "f.jpg", 320, 100) is None
        assert thumbnail(tmp_path / "broken.jpg", 320, 64 * 1024) is None
    assert "reason=over_cap" in caplog.text and "frame='broken.jpg'" in caplog.text


def test_recent_thumbnails_keep_the_last_few():
    recent = RecentThumbnails(2)
    for name in ("a", "b", "c"):
        recent.add(name, name.encode())
    assert (recent.get("a"), recent.get("b"), recent.get("c"), recent.get(None)) == (None, b"b", b"c", None)


def shoot(folder, index: int, colour, size=(150, 200)) -> str:
    name = f"KIR_{utc_now():%Y%m%d_%H%M%S}_{index:03d}.png"
    image = np.zeros((*size, 3), np.uint8)
    image[:] = colour
    cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return name


@pytest.mark.integration
def test_live_frames_get_a_retained_thumbnail_a_backlog_none_and_an_onset_its_first_frame(tmp_path, broker,
                                                                                         toy_bundle):
    config = {"mqtt": {"thumbnails": True, "thumbnail_max_side": 64, "thumbnail_max_bytes": 4096}}
    station = Station(tmp_path, toy_bundle.root, broker.address, config=config)
    for index in range(3):  # there before the daemon starts: a backlog
        shoot(station.watch, index, (40, 40, 255))
    with Collector(broker, "auroral/#") as collector, station:  # the settle marker is outside the station
        collector.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/frames")]) >= 3)
        settle(collector, station, connected_client(broker))
        assert not collector.on("thumbnail"), "a backlog frame got a thumbnail"
        station.wait_watching()
        names = []
        for index, colour in enumerate([QUIET, *BREAKUP], start=3):  # live, one at a time
            names.append(shoot(station.watch, index, colour))
            wanted = len(names)
            collector.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/thumbnail")]) >= wanted)  # noqa: B023
        collector.wait_for(lambda ms: any(m.topic.endswith("/thumbnail/onset") for m in ms))
        (onset,) = [m.json() for m in collector.on("alerts") if m.json()["type"] == "breakup_onset"]
    by_frame = dict(zip(names, [m.payload for m in collector.on("thumbnail")], strict=True))
    assert onset["frame"] == names[1]  # the first breakup frame
    (onset_thumbnail,) = collector.on("thumbnail/onset")
    assert onset_thumbnail.payload == by_frame[names[1]]

    newest = Collector(broker, f"auroral/{STATION}/thumbnail")  # a new subscriber gets the retained one
    with newest:
        (retained,) = newest.wait_for(lambda ms: bool(ms), timeout=10)
    assert retained.retain and len(retained.payload) <= 4096
    image = decoded(retained.payload)
    assert max(image.shape[:2]) == 64  # 200×150 shrunk to a longer side of 64
    assert np.allclose(image.reshape(-1, 3).mean(axis=0), BREAKUP[-1][::-1], atol=4)  # BGR of the newest frame
