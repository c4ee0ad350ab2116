"""Single odd inputs written into a running daemon: each is handled (classified, quarantined or rejected),
the good frames that follow are classified and delivered, and /healthz stays honest throughout. A
component made to fail on purpose is restarted, counted and shown in /healthz."""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from astropy.io import fits

from support.faults import STATION, FrameFeed, Ledger, Station, connected_client
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration

QUIET = (0, 0, 0)  # the toy bundle calls it faint: no local onset gets in the way of the alert checks
CONFIG = {"frames": {"retries": 0, "quarantine": "list"}, "external": {"topics": ["auroral/+/alerts"]}}


def _png(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", image)  # (cv2.imwrite crashes on a name that is not UTF-8)
    assert ok
    path.write_bytes(data.tobytes())


def _fits(path: Path, data: np.ndarray) -> None:
    fits.PrimaryHDU(data).writeto(path)


def _alert(client, payload: dict, retain: bool = False) -> None:
    client.publish("auroral/tromso/alerts", json.dumps(payload).encode(), qos=1, retain=retain).wait_for_publish(10)


def hostile_files(folder: Path) -> dict[str, callable]:
    """Each writes one odd but plausible input into the watch folder."""
    def fifo() -> None:
        os.mkfifo(folder / "KIR_20261124_010000_fifo.jpg")

    def dev_zero() -> None:
        (folder / "KIR_20261124_010001_zero.jpg").symlink_to("/dev/zero")

    def sparse() -> None:
        with open(folder / "KIR_20261124_010002_sparse.jpg", "wb") as handle:
            handle.truncate(6 * 2**30)  # 6 GiB of nothing, no disk used

    def huge_png() -> None:
        _png(folder / "KIR_20261124_010003_huge.png", np.zeros((13000, 13000), np.uint16))

    def thin_png() -> None:
        _png(folder / "KIR_20261124_010004_thin.png", np.full((1, 100), 128, np.uint8))

    def fits_planes() -> None:
        _fits(folder / "KIR_20261124_010005_two.fits", np.ones((2, 16, 16), np.float32))
        _fits(folder / "KIR_20261124_010006_line.fits", np.ones(64, np.float32))

    def latin1_name() -> None:
        name = os.fsdecode(b"KIR_20261124_010007_Troms\xf8.png")
        _png(folder / name, np.full((32, 32, 3), 200, np.uint8))

    def text_file() -> None:
        (folder / "KIR_20261124_010008_notes.jpg").write_text("not an image\n")

    return {f.__name__: f for f in (fifo, dev_zero, sparse, huge_png, thin_png, fits_planes, latin1_name, text_file)}


def test_each_odd_input_is_handled_and_the_station_goes_on(tmp_path, broker, toy_bundle):
    with Collector(broker, "auroral/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, CONFIG) as station:
        station.wait_watching()
        feed = FrameFeed(station.watch, toy_bundle.manifest.preprocess)
        ledger = Ledger(collector)
        client = connected_client(broker)
        try:
            naive = {"type": "breakup_onset", "at": datetime.now().replace(microsecond=0).isoformat(),
                     "confidence": 0.95}
            _alert(client, naive, retain=True)  # retained: met again on every reconnect
            for name, write in hostile_files(station.watch).items():
                write()
                good = feed.write(3, colour=QUIET)
                ledger.wait_for_frames([p.name for p in good], timeout=60)
                status, report = station.healthz()
                assert status == 200, f"after {name}: {report}"
                assert station.alive, f"the daemon died on {name}"
            fresh = {"type": "breakup_onset", "at": datetime.now(UTC).isoformat(), "confidence": 0.95}
            _alert(client, fresh)
            station.wait_until(lambda: station.triggers() == 1, what="a valid alert still acted on")
            late = datetime.now(UTC) - timedelta(days=1)
            _alert(client, {"type": "breakup_onset", "at": late.isoformat(), "confidence": "0.9"})
        finally:
            client.publish("auroral/tromso/alerts", b"", qos=1, retain=True).wait_for_publish(10)
            client.loop_stop()
        seqs = ledger.seqs_by_frame()
        labels = {f["frame"]: f["label"] for f in ledger.frames()}
        assert all(len(seqs[name]) == 1 and labels[name] == label for name, label in feed.expected.items())
        handled = len(seqs) - len(feed.expected) + station.quarantined()  # classified or quarantined
        assert handled == 9, f"{sorted(seqs)}\n{station.log()[-3000:]}"  # the 8 odd files (2 FITS) and nothing else
        assert station.metric("auroral_component_failures_total") == 0, station.log()[-3000:]
        assert station.stop() == 0


def test_a_component_that_fails_is_restarted_counted_and_shown(tmp_path, broker, toy_bundle):
    env = {"AURORAL_INJECT_FAULT": "decode:1,infer:2,mqtt:1"}
    with Collector(broker, f"auroral/{STATION}/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, env=env) as station:
        feed = FrameFeed(station.watch, toy_bundle.manifest.preprocess)
        ledger = Ledger(collector)
        station.wait_watching()
        ledger.wait_for_frames([p.name for p in feed.write(3)], timeout=60)
        failures = {k: v for k, v in station.metrics().items() if k.startswith("auroral_component_failures_total")}
        assert failures == {'auroral_component_failures_total{component="decode"}': 1,
                            'auroral_component_failures_total{component="infer"}': 2,
                            'auroral_component_failures_total{component="mqtt"}': 1}
        status, report = station.healthz()
        assert status == 200 and report["healthy"]
        assert {name: c["failures"] for name, c in report["components"].items()
                if name in ("decode", "infer", "mqtt")} == {"decode": 1, "infer": 2, "mqtt": 1}
        assert "event=component_failed component=infer" in station.log()
        ledger.assert_exactly_once(feed.expected)
        assert station.stop() == 0


def test_a_component_that_keeps_failing_gets_the_daemon_restarted(tmp_path, broker, toy_bundle):
    with Station(tmp_path, toy_bundle.root, broker.address, env={"AURORAL_INJECT_FAULT": "infer:50"}) as station:
        assert station.process.wait(timeout=120) == 1  # systemd's Restart=on-failure takes it from here
        assert "event=component_gave_up component=infer" in station.log()
