"""Issue 2's end-to-end check: a real mosquitto, the daemon as a subprocess, frames replayed in like a
camera, and a subscriber that gets exactly one valid ``frames`` message per frame."""
import subprocess
import sys

import cv2
import numpy as np

from auroral.edge.contract import SCHEMAS, FrameMessage
from auroral.edge.tools.replay import replay
from support.mqttcollect import Collector
from support.toybundle import expected_label

STATION = "e2e"
COLOURS = [(255, 40, 40), (40, 255, 40), (40, 40, 255), (250, 250, 250), (10, 10, 10), (200, 120, 30)]


def _write_night(folder):
    folder.mkdir()
    images = {}
    for i, colour in enumerate(COLOURS * 2):
        image = np.zeros((96, 96, 3), np.uint8)
        cv2.circle(image, (48, 48), 46, colour[::-1], -1)  # BGR for OpenCV
        name = f"KIR_20261124_{20 + i // 60:02d}{i % 60:02d}00.png"
        cv2.imwrite(str(folder / name), image)
        images[name] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return images


def test_frames_flow_from_folder_to_subscriber(broker, toy_bundle, tmp_path):
    images = _write_night(tmp_path / "night")
    watch, state = tmp_path / "incoming", tmp_path / "state"
    watch.mkdir()
    command = [sys.executable, "-m", "auroral.edge.cli", "run", "--watch", str(watch), "--bundle", str(toy_bundle.root),
               "--broker", broker.address, "--station", STATION, "--state-dir", str(state), "--metrics-port", "0"]
    with Collector(broker, f"auroral/{STATION}/#") as collector:
        daemon = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            collector.wait_for(lambda ms: any(m.topic.endswith("/status") and m.json()["state"] == "online"
                                              for m in ms))
            replay(tmp_path / "night", watch, fps=20)
            collector.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/frames")]) >= len(images))
        finally:
            daemon.terminate()
            output = daemon.communicate(timeout=30)[0]
        assert daemon.returncode == 0, output
    frames = [FrameMessage.model_validate_json(m.payload) for m in collector.on("frames")]
    assert sorted(f.frame for f in frames) == sorted(images)
    assert sorted(f.seq for f in frames) == list(range(frames[0].seq, frames[0].seq + len(images)))
    spec = toy_bundle.manifest.preprocess
    for message in frames:
        assert message.label == expected_label(images[message.frame], spec)
        assert message.model.sha256 == toy_bundle.sha256()
        assert abs(sum(message.probabilities.values()) - 1.0) < 1e-3
    for received in collector.messages:
        SCHEMAS[received.topic.split(f"auroral/{STATION}/", 1)[1]].model_validate_json(received.payload)
    assert collector.on("status")[-1].json()["state"] == "stopped"
