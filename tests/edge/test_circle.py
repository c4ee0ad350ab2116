"""The camera's fisheye circle: found from frames with borders, text strips and logos; applied in preprocessing,
in the station and in training, so only the sky reaches the model."""
import json

import cv2
import numpy as np
import pytest

from auroral.edge.circle import CircleError, find_circle, find_circle_in_files
from auroral.edge.classifier import Classifier
from auroral.edge.cli import main
from auroral.edge.framebatch import FrameLoader
from auroral.edge.frames import load_frame
from auroral.edge.preprocess import Preprocessor, PreprocessSpec
from auroral.edge.station.camera import STATE_FILE, camera_circle
from auroral.edge.tools.synth import render_frame
from auroral.train.config import circle_fov
from support.stationctx import make_context


def sky_frame(width, height, cx, cy, r, level, seed=0, text="", logo=True):
    """A noisy, vignetted disc of sky on black, with a bright text strip along the top and bottom edges
    (``text``) and a logo in one corner, as a camera program burns them in."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    distance = ((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r)
    sky = level * (1 - 0.4 * distance) + 0.02 * rng.standard_normal((height, width))
    grey = np.clip(sky * (distance <= 1), 0, 1)
    image = np.ascontiguousarray((grey[..., None] * np.array([0.5, 1.0, 0.6]) * 255).astype(np.uint8))
    if text:
        for baseline in (22, height - 8):
            cv2.putText(image, text, (10, baseline), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    if logo:
        cv2.rectangle(image, (width - 60, height - 60), (width - 10, height - 10), (250, 240, 0), -1)
    return image


def write(path, image):
    assert cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return path


@pytest.mark.parametrize("width, height, cx, cy, r, level", [
    (720, 480, 360, 240, 200, 0.5),    # a small sensor's frame, circle inside it
    (720, 480, 360, 240, 200, 0.04),   # the same on a dark night: low signal
    (720, 480, 350, 245, 260, 0.5),    # circle cut off at the top and bottom by the sensor
    (1024, 1024, 512, 500, 470, 0.3),
    (1024, 1024, 512, 512, 470, 0.03),
])
def test_finds_the_circle_past_text_strips_and_a_logo(width, height, cx, cy, r, level):
    frames = [sky_frame(width, height, cx, cy, r, level, seed=i, text=f"2024-01-0{i} 22:00:00 KIRUNA")
              for i in range(4)]
    circle = find_circle(frames)
    assert (circle.width, circle.height) == (width, height)
    assert abs(circle.cx - cx) <= 2 and abs(circle.cy - cy) <= 2 and abs(circle.r - r) <= 2


def test_a_reduced_decode_gives_the_circle_in_full_frame_pixels(tmp_path):
    paths = [write(tmp_path / f"f{i}.jpg", sky_frame(1440, 960, 720, 480, 420, 0.4, seed=i)) for i in range(3)]
    assert load_frame(paths[0], min_side=200).image.shape[:2] == (240, 360)  # the decode is reduced
    circle = find_circle_in_files(paths)
    assert (circle.width, circle.height) == (1440, 960)
    assert abs(circle.cx - 720) <= 4 and abs(circle.cy - 480) <= 4 and abs(circle.r - 420) <= 4


@pytest.mark.parametrize("frame", [
    np.full((480, 720, 3), 90, np.uint8),                                       # all sky, nothing else
    render_frame("arcs", 256, np.random.default_rng(1))[48:208, 48:208],        # cropped inside the circle
    sky_frame(720, 480, 360, 240, 60, 0.5, logo=False),                         # far too small for a fisheye
    np.zeros((480, 720, 3), np.uint8),                                          # black
])
def test_frames_without_a_plausible_circle_are_an_error_not_a_guess(frame):
    with pytest.raises(CircleError):
        find_circle([frame])


def test_loader_applies_the_circle_in_full_frame_pixels_to_reduced_decodes(tmp_path):
    image = sky_frame(1440, 960, 700, 470, 400, 0.5, text="KIRUNA")
    path = write(tmp_path / "frame.png", image)
    jpeg = tmp_path / "frame.jpg"
    assert cv2.imwrite(str(jpeg), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 100])
    spec = PreprocessSpec(size=32)
    loader = FrameLoader(spec, circle=(700, 470, 400))
    assert load_frame(jpeg, min_side=loader.min_side).image.shape[:2] == (120, 180)  # 1/8: 100 px still ≥ 32
    reference = Preprocessor(spec.for_circle(700, 470, 400, 1440, 960))(image)
    np.testing.assert_array_equal(loader.load([path]).batch[0], reference)
    reduced = loader.load([jpeg])
    assert not reduced.failed and np.abs(reduced.batch[0] - reference).mean() < 0.03  # only rounding at the edge


def test_a_circle_cut_off_by_the_frame_stays_round_under_the_mask():
    spec = PreprocessSpec(size=16).for_circle(360, 240, 300, 720, 480)
    out = Preprocessor(spec)(np.full((480, 720, 3), 255, np.uint8))
    white = (1 - np.array(spec.mean)) / np.array(spec.std)
    np.testing.assert_allclose(out[:, 8, 8], white, rtol=1e-5)           # the sky in the middle
    assert np.all(out[:, 0, 8] < white)  # above the frame: padded with black, not the frame stretched


def test_a_burned_in_text_strip_does_not_change_the_label(tmp_path, toy_bundle):
    """Issue 15: a 720×480 frame with a burned-in text strip gives the same label whatever the text says."""
    frames = tmp_path / "frames"
    frames.mkdir()
    texts = ["2024-01-05 22:00:00 UTC  KIRUNA ALL-SKY", "#" * 60]
    paths = [write(frames / f"f{i}.png", sky_frame(720, 480, 360, 240, 200, 0.35, seed=0, text=text))
             for i, text in enumerate(texts)]
    plain = Classifier(toy_bundle)
    assert not np.array_equal(*plain.load(paths).batch)  # the bundle's own crop lets the text in
    circle = find_circle_in_files(paths)
    classifier = Classifier(toy_bundle, circle=circle.pixels)
    batch = classifier.load(paths).batch
    np.testing.assert_array_equal(batch[0], batch[1])
    first, second = classifier.predict(batch)
    assert first.label == second.label and first.probabilities == second.probabilities


def test_station_finds_the_circle_once_and_keeps_it(tmp_path):
    watch = tmp_path / "watch"
    watch.mkdir()
    for i in range(3):
        write(watch / f"f{i}.png", sky_frame(720, 480, 360, 240, 200, 0.4, seed=i, text="STATION"))
    context = make_context(tmp_path / "state", watch={"dirs": [str(watch)]})
    cx, cy, r = camera_circle(context.config, PreprocessSpec(size=32))
    assert abs(cx - 360) <= 2 and abs(cy - 240) <= 2 and abs(r - 200) <= 2
    stored = json.loads((tmp_path / "state" / STATE_FILE).read_text())
    assert (stored["width"], stored["height"]) == (720, 480)
    (tmp_path / "state" / STATE_FILE).write_text(json.dumps(stored | {"r": 150.0}))
    assert camera_circle(context.config, PreprocessSpec(size=32))[2] == 150.0  # kept, not found again
    write(watch / "new.png", sky_frame(1024, 1024, 512, 512, 400, 0.4))       # the camera changed its size
    assert abs(camera_circle(context.config, PreprocessSpec(size=32))[2] - 400) <= 3


def test_station_keeps_the_bundles_view_for_cropped_frames_or_none_and_takes_a_given_circle(tmp_path):
    watch = tmp_path / "watch"
    watch.mkdir()
    context = make_context(tmp_path / "state", watch={"dirs": [str(watch)]})
    assert camera_circle(context.config, PreprocessSpec(size=32)) is None  # no frames yet
    rng = np.random.default_rng(3)
    for i in range(3):  # frames already cropped to the circle, like the training frames
        write(watch / f"f{i}.png", render_frame("arcs", 64, rng))
    assert camera_circle(context.config, PreprocessSpec(size=32)) is None
    given = make_context(tmp_path / "state2", watch={"dirs": [str(watch)]}, camera={"circle": [30, 31, 25]})
    assert camera_circle(given.config, PreprocessSpec(size=32)) == (30, 31, 25)


def test_circle_command_prints_it_and_refuses_a_folder_without_one(tmp_path, capsys):
    write(tmp_path / "a.png", sky_frame(720, 480, 360, 240, 200, 0.4, text="X"))
    assert main(["circle", str(tmp_path)]) == 0
    cx, cy, r = (float(v) for v in capsys.readouterr().out.split("[")[1].split("]")[0].split(","))
    assert abs(cx - 360) <= 2 and abs(cy - 240) <= 2 and abs(r - 200) <= 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["circle", str(empty)]) == 2
    assert "no frames" in capsys.readouterr().err


def test_training_records_the_circle_as_fractions_of_its_frames(tmp_path):
    for i in range(2):
        write(tmp_path / f"f{i}.png", sky_frame(720, 480, 360, 240, 200, 0.4, seed=i, text="X"))
    auto = circle_fov("auto", tmp_path)
    assert np.allclose(auto["fov_center"], (0.5, 0.5), atol=0.005) and abs(auto["fov_radius"] - 200 / 480) < 0.005
    given = circle_fov("360,240,240", tmp_path / "labels.csv")
    assert given == {"fov_center": (0.5, 0.5), "fov_radius": 0.5}
