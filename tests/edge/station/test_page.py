"""The station page as an observer sees it: a real daemon, frames written like a camera (one with a hostile name),
and the page loaded in headless Chromium (Debian's chromium and chromium-driver, installed by scripts/setup.sh).

The browser test also makes the README's screenshot: it writes docs/images/station-page.png when
AURORAL_UPDATE_SCREENSHOT=1 is set (so an ordinary run leaves the checkout as it was), else a temporary copy.
"""
from __future__ import annotations

import io
import itertools
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from auroral.edge.station.history import SeenFrame
from auroral.edge.station.page import MAX_SPAN, segments
from auroral.edge.tools.synth import render_frame
from support.faults import Station
from support.toybundle import expected_label

SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "images" / "station-page.png"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
BREAKUP, QUIET = (224, 224, 224), (0, 0, 0)  # the toy bundle gives these breakup / faint with confidence > 0.99
#: markup, quotes and a terminal escape: a name only a hostile uploader would choose (no "/", as in any file name)
HOSTILE = "_<img src=x onerror=alert(1)>\"'\x1b[31m<script>document.title='owned'<\\script>"


class Camera:
    """Writes PNG frames with Kiruna-style names one second apart, ending about now, and the label each must get."""

    def __init__(self, folder: Path, spec):
        self.folder, self.spec, self.names, self.labels = folder, spec, [], []
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)

    def shoot(self, image: np.ndarray, tail: str = "") -> str:
        name = f"KIR_{self.start + timedelta(seconds=len(self.names)):%Y%m%d_%H%M%S}{tail}.png"
        ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        assert ok
        (self.folder / name).write_bytes(data.tobytes())
        self.names.append(name)
        self.labels.append(expected_label(image, self.spec))
        return name


def flat(colour) -> np.ndarray:
    image = np.zeros((48, 48, 3), np.uint8)
    image[:] = colour
    return image


def chromium(profile: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 f"--user-data-dir={profile}", "--window-size=1000,1100", "--hide-scrollbars"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))


@pytest.mark.integration
def test_page_shows_the_latest_frame_the_ribbon_the_alert_and_health(tmp_path, broker, toy_bundle):
    config = {"trigger": {"n": 2, "m": 3, "threshold": 0.9, "cooldown_s": 0, "duration_s": 120}}
    with Station(tmp_path, toy_bundle.root, broker.address, config) as station:
        camera = Camera(station.watch, toy_bundle.manifest.preprocess)
        shots = [(flat(QUIET), ""), (flat(QUIET), ""), (flat(BREAKUP), HOSTILE), (flat(BREAKUP), ""),
                 (flat(BREAKUP), ""), (flat((255, 40, 40)), ""), (flat((40, 255, 40)), ""), (flat(QUIET), ""),
                 (render_frame("arcs", 256, np.random.default_rng(7)), "")]
        for i, (image, tail) in enumerate(shots):  # one at a time, as a camera does, so the order is the sky's
            camera.shoot(image, tail)
            station.wait_until(lambda n=i + 1: station.processed() >= n, what=f"frame {i + 1} recorded")
        station.wait_until(lambda: station.metric("auroral_alerts_total") >= 1, what="the breakup onset alert")
        browser = chromium(tmp_path / "chromium-profile")
        try:
            browser.get(f"http://127.0.0.1:{station.metrics_port}/")
            assert browser.title == "auroral · kiruna", "a script from a frame name ran"
            latest = browser.find_element(By.ID, "latest")
            assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", latest) == 256
            assert browser.find_element(By.ID, "label").text == camera.labels[-1]
            assert browser.find_element(By.ID, "frame").text == camera.names[-1]
            captured = camera.start + timedelta(seconds=len(shots) - 1)
            assert browser.find_element(By.ID, "captured").text == f"{captured:%Y-%m-%d %H:%M:%S} UTC"

            ribbon = browser.find_elements(By.CSS_SELECTOR, "#ribbon rect.segment")
            assert [r.get_attribute("data-label") for r in ribbon] == [k for k, _ in itertools.groupby(camera.labels)]
            assert all(r.rect["width"] > 0 for r in ribbon)

            onsets = browser.find_elements(By.CSS_SELECTOR, "#decisions tr[data-kind='breakup_onset']")
            assert len(onsets) == 1
            shown = camera.names[2].replace("\x1b", "\\x1b")  # the terminal escape is shown, not obeyed
            assert onsets[0].find_element(By.CSS_SELECTOR, "td.frame").text == shown
            assert [img.get_attribute("id") for img in browser.find_elements(By.TAG_NAME, "img")] == ["latest"]
            assert not browser.find_elements(By.TAG_NAME, "script")

            health = {row.get_attribute("data-component"): row.find_elements(By.TAG_NAME, "td")[1].text
                      for row in browser.find_elements(By.CSS_SELECTOR, "#health tr[data-component]")}
            assert {"http", "decode", "infer", "mqtt", f"watch:{station.watch}"} <= set(health)
            assert set(health.values()) == {"ok"}

            bottom = browser.execute_script("return document.querySelector('#decisions table')"
                                            ".getBoundingClientRect().bottom <= window.innerHeight")
            assert bottom, "the screenshot would not show the alerts"
            target = SCREENSHOT if os.environ.get("AURORAL_UPDATE_SCREENSHOT") == "1" else tmp_path / "page.png"
            with Image.open(io.BytesIO(browser.get_screenshot_as_png())) as shot:  # a 256-colour PNG: small
                shot.convert("RGB").quantize(256).save(target, optimize=True)
            with Image.open(target) as saved:
                assert saved.size[0] >= 800 and saved.size[1] >= 600
        finally:
            browser.quit()
        assert station.stop() == 0


def frame(seconds: float, label: str | None, uncertain: bool = False) -> SeenFrame:
    return SeenFrame(0, "f.png", "/f.png", datetime(2026, 11, 29, 20, tzinfo=UTC) + timedelta(seconds=seconds),
                     label, 0.9, "dark", uncertain)


def test_ribbon_segments_are_runs_of_a_label_and_a_gap_breaks_them():
    runs = segments([frame(0, "arcs"), frame(60, "arcs"), frame(120, "breakup"), frame(180, None),
                     frame(240, "arcs", uncertain=True), frame(3600, "arcs"), frame(3660, "arcs")])
    assert [(r.label, r.frames) for r in runs] == [("arcs", 2), ("breakup", 1), (None, 2), ("arcs", 2)]
    assert runs[2].end == runs[2].start + timedelta(seconds=60) + MAX_SPAN  # the camera stopped for 55 minutes
    assert runs[3].end - runs[3].start == timedelta(seconds=120)  # the last frame counts for the usual interval
