"""The synthetic all-sky generator: deterministic, fisheye-shaped, classes that differ, files that decode."""
import csv
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from auroral.edge.capture_time import CaptureTime
from auroral.edge.classes import CLASSES
from auroral.edge.errors import UserError
from auroral.edge.frames import read_frame
from auroral.edge.tools.replay import capture_time_from_name
from auroral.edge.tools.synth import generate, night_sequence, render_frame

START = datetime(2026, 1, 4, 20, 0, tzinfo=UTC)


def auroral(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", *args], capture_output=True, text=True)


def frames_of(label: str, count: int = 12, size: int = 48) -> np.ndarray:
    frames = [render_frame(label, size, np.random.default_rng([99, i])) for i in range(count)]
    return np.stack(frames).astype(np.float32)


def inner_disc(size: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    centre = (size - 1) / 2
    return np.hypot(xx - centre, yy - centre) <= radius * size / 2


@pytest.mark.parametrize("label", CLASSES)
@pytest.mark.parametrize("size", [16, 33, 64])
def test_every_class_renders_an_rgb_frame_black_outside_the_circle(label, size):
    image = render_frame(label, size, np.random.default_rng(3))
    assert image.shape == (size, size, 3) and image.dtype == np.uint8
    outside = ~inner_disc(size, 1.0)
    assert not image[outside].any()
    assert image[0, 0].tolist() == image[-1, -1].tolist() == [0, 0, 0]
    assert image[inner_disc(size, 0.9)].mean() > 1.0  # sky, stars and noise inside the circle


def test_same_seed_gives_the_same_frame_and_another_seed_does_not():
    first = render_frame("discrete", 64, np.random.default_rng(7))
    np.testing.assert_array_equal(first, render_frame("discrete", 64, np.random.default_rng(7)))
    assert not np.array_equal(first, render_frame("discrete", 64, np.random.default_rng(8)))


def test_generate_is_byte_for_byte_deterministic(tmp_path):
    one = generate(tmp_path / "a", per_class=2, size=32, seed=5)
    two = generate(tmp_path / "b", per_class=2, size=32, seed=5)
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two]
    other = generate(tmp_path / "c", per_class=2, size=32, seed=6)
    assert [p.read_bytes() for p in one] != [p.read_bytes() for p in other]


def test_breakup_is_brighter_than_faint_and_arcs():
    breakup, arcs, faint = (frames_of(label).mean() for label in ("breakup", "arcs", "faint"))
    assert breakup > 2 * faint and breakup > arcs > faint


def test_breakup_saturates_often():
    saturated = [(image.max(axis=2) == 255).mean() for image in frames_of("breakup")]
    assert np.median(saturated) > 0.01
    assert max((image.max(axis=2) == 255).mean() for image in frames_of("faint")) < 0.01


def test_colored_is_red_and_the_others_are_green():
    def red_over_green(label):
        images = frames_of(label)
        return images[..., 0].mean() / images[..., 1].mean()

    colored = red_over_green("colored")
    assert colored > 1.2
    for label in ("arcs", "discrete", "patchy", "breakup"):
        assert red_over_green(label) < 1.0 and colored > 1.5 * red_over_green(label), label


def test_edge_aurora_stays_near_the_horizon():
    size = 48
    zenith = inner_disc(size, 0.45)
    ring = inner_disc(size, 0.95) & ~inner_disc(size, 0.75)

    def ring_over_zenith(label):
        images = frames_of(label, size=size)[..., 1]
        return images[:, ring].mean() / images[:, zenith].mean()

    assert ring_over_zenith("edge") > 1.3 * ring_over_zenith("faint")
    assert ring_over_zenith("edge") > ring_over_zenith("arcs")


def test_intensity_scales_the_aurora():
    dim = render_frame("arcs", 48, np.random.default_rng(1), intensity=0.3).astype(float).mean()
    bright = render_frame("arcs", 48, np.random.default_rng(1), intensity=1.5).astype(float).mean()
    assert bright > dim + 5


@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_generate_writes_one_folder_per_class_of_decodable_frames(tmp_path, fmt):
    written = generate(tmp_path / "data", per_class=3, size=40, seed=1, fmt=fmt)
    assert len(written) == 3 * len(CLASSES)
    for label in CLASSES:
        names = sorted(p.name for p in (tmp_path / "data" / label).iterdir())
        assert names == [f"{label}_{i:05d}.{fmt}" for i in range(3)]
    for path in written:
        image = read_frame(path)
        assert image.shape == (40, 40, 3) and image.dtype == np.uint8
        assert image[0, 0].max() <= 8  # the corner stays black (JPEG may ring by a few levels)


def test_jpeg_and_png_hold_the_same_distinct_frames(tmp_path):
    png = [read_frame(p) for p in generate(tmp_path / "png", per_class=1, size=32, seed=1, fmt="png")]
    jpg = [read_frame(p) for p in generate(tmp_path / "jpg", per_class=1, size=32, seed=1)]
    assert len({image.tobytes() for image in png}) == len(CLASSES)
    for lossless, lossy in zip(png, jpg, strict=True):
        assert np.abs(lossless.astype(int) - lossy.astype(int)).mean() < 6  # only JPEG's loss apart


def chroma_sampling(path) -> tuple[int, int]:
    """(horizontal, vertical) luma sampling factors of a baseline JPEG: (1, 1) is 4:4:4, (2, 2) is 4:2:0."""
    data = path.read_bytes()
    at = data.index(b"\xff\xc0")  # SOF0: length(2) precision(1) height(2) width(2) components(1), then id, factors
    factors = data[at + 11]
    return factors >> 4, factors & 15


def test_camera_sized_frames_use_4_2_0_chroma_and_small_ones_full_chroma(tmp_path):
    camera = night_sequence(tmp_path / "camera", n_frames=1, size=512, seed=1, breakup_len=0)[0]
    small = night_sequence(tmp_path / "small", n_frames=1, size=64, seed=1, breakup_len=0)[0]
    assert chroma_sampling(camera) == (2, 2)
    assert chroma_sampling(small) == (1, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"per_class": 0, "size": 32}, "--per-class must be at least 1"),
        ({"per_class": 1, "size": 8}, "--size must be between 16 and 2048"),
        ({"per_class": 1, "size": 4096}, "--size must be between 16 and 2048"),
        ({"per_class": 1, "size": 32, "fmt": "gif"}, "--format must be one of jpg, png"),
    ],
)
def test_bad_arguments_are_user_errors(tmp_path, kwargs, message):
    with pytest.raises(UserError, match=message):
        generate(tmp_path / "out", seed=0, **kwargs)


def test_an_output_path_that_is_a_file_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot create output folder"):
        generate(blocker / "out", per_class=1, size=32, seed=0)


def test_unknown_class_is_a_user_error():
    with pytest.raises(UserError, match="unknown class 'clouds'"):
        render_frame("clouds", 32, np.random.default_rng(0))


def read_labels(folder):
    with open(folder / "labels.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_night_sequence_names_labels_and_breakup_run(tmp_path):
    written = night_sequence(tmp_path / "night", n_frames=20, size=32, seed=3, start=START, cadence_s=90,
                             breakup_at=11, breakup_len=4)
    times = [START + timedelta(seconds=90 * i) for i in range(20)]
    assert [p.name for p in written] == [f"KIR_{t:%Y%m%d_%H%M%S}.jpg" for t in times]
    assert [capture_time_from_name(p.name) for p in written] == times
    rows = read_labels(tmp_path / "night")
    assert [r["path"] for r in rows] == [p.name for p in written]
    assert [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r in rows] == times
    labels = [r["label"] for r in rows]
    assert [i for i, label in enumerate(labels) if label == "breakup"] == [11, 12, 13, 14]
    assert labels[0] == "faint" and "arcs" in labels[:11] and labels[-1] in ("patchy", "faint")
    assert set(labels[:11]) <= {"faint", "arcs"} and set(labels[15:]) <= {"patchy", "faint"}
    for path in written:
        assert read_frame(path).shape == (32, 32, 3)


def test_night_sequence_default_breakup_is_about_sixty_percent_in_and_ends_now(tmp_path):
    before = datetime.now(UTC).replace(microsecond=0)
    written = night_sequence(tmp_path / "night", n_frames=40, size=24, seed=1)
    labels = [r["label"] for r in read_labels(tmp_path / "night")]
    onset = labels.index("breakup")
    assert 20 <= onset <= 28 and labels[onset:onset + 5] == ["breakup"] * 5 and labels.count("breakup") == 5
    last = capture_time_from_name(written[-1].name)
    assert before <= last <= datetime.now(UTC)


def test_night_sequence_arcs_brighten_before_the_breakup(tmp_path):
    night_sequence(tmp_path / "night", n_frames=30, size=48, seed=2, start=START)
    rows = read_labels(tmp_path / "night")
    arcs = [read_frame(tmp_path / "night" / r["path"]).mean() for r in rows if r["label"] == "arcs"]
    half = len(arcs) // 2
    assert np.mean(arcs[half:]) > np.mean(arcs[:half])


def test_night_sequence_is_deterministic(tmp_path):
    one = night_sequence(tmp_path / "a", n_frames=8, size=32, seed=4, start=START)
    two = night_sequence(tmp_path / "b", n_frames=8, size=32, seed=4, start=START)
    assert [p.read_bytes() for p in one] == [p.read_bytes() for p in two]
    assert (tmp_path / "a" / "labels.csv").read_bytes() == (tmp_path / "b" / "labels.csv").read_bytes()


def test_a_breakup_that_does_not_fit_the_night_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not fit"):
        night_sequence(tmp_path / "night", n_frames=10, size=32, seed=0, breakup_at=8, breakup_len=5)


def test_cli_help_explains_the_command():
    result = auroral("synth", "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: auroral synth" in result.stdout and "--per-class" in result.stdout


def test_cli_writes_frames(tmp_path):
    result = auroral("synth", "--out", str(tmp_path / "data"), "--per-class", "1", "--size", "32", "--seed", "2",
                     "--format", "png")
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(tmp_path / "data").as_posix() for p in (tmp_path / "data").rglob("*.png")) == sorted(
        f"{label}/{label}_00000.png" for label in CLASSES)


def test_cli_bad_argument_is_a_one_line_error(tmp_path):
    result = auroral("synth", "--out", str(tmp_path / "data"), "--per-class", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["auroral synth: error: --per-class must be at least 1, got 0"]


NIGHT_TREES = {  # as each program files 2026-01-14 23:59 and 2026-01-15 00:00 Stockholm time
    "plain": ["KIR_20260114_235900.jpg", "KIR_20260115_000000.jpg"],
    "indi-allsky": ["ccd_{uuid}/exposures/20260114/night/14_23/ccd1_20260114_235900.jpg",
                    "ccd_{uuid}/exposures/20260114/night/15_00/ccd1_20260115_000000.jpg"],
    "allsky": ["20260114/image-20260114235900.jpg", "20260114/image-20260115000000.jpg"],
}


@pytest.mark.parametrize("layout", sorted(NIGHT_TREES))
def test_cli_night_writes_the_camera_programs_tree_in_its_time_zone(tmp_path, layout):
    out = tmp_path / "camera"
    result = auroral("synth", "--night", "--layout", layout, "--start", "2026-01-14T23:59", "--timezone",
                     "Europe/Stockholm", "--frames", "2", "--size", "32", "--out", str(out))
    assert result.returncode == 0, result.stderr
    rows = read_labels(out)
    camera = next((p.name[4:] for p in out.glob("ccd_*")), "")
    assert [r["path"] for r in rows] == [p.format(uuid=camera) for p in NIGHT_TREES[layout]]
    utc = [datetime(2026, 1, 14, 22, 59, tzinfo=UTC), datetime(2026, 1, 14, 23, 0, tzinfo=UTC)]
    assert [datetime.fromisoformat(r["timestamp"]) for r in rows] == utc
    frames = [out / r["path"] for r in rows]
    assert [datetime.fromtimestamp(p.stat().st_mtime, UTC) for p in frames] == utc
    captured = [CaptureTime(tz="Europe/Stockholm")(p) for p in frames]
    assert [c.at for c in captured] == utc
    assert {c.source for c in captured} == {"exif" if layout == "indi-allsky" else "name"}
    extras = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg") if p not in frames)
    if layout == "indi-allsky":  # the newest exposure again, and thumbnails named by uuid
        assert (out / "latest.jpg").read_bytes() == frames[-1].read_bytes()
        assert len(extras) == 3 and all("/thumbnails/" in e for e in extras if e != "latest.jpg")
    elif layout == "allsky":  # a thumbnail of the same name beside each
        assert extras == sorted(f"20260114/thumbnails/{p.name}" for p in frames)
    else:
        assert extras == []


@pytest.mark.parametrize(("args", "message"), [
    (["--start", "2026-11-31T18:00"], "--start '2026-11-31T18:00' is not a date-time (use e.g. 2026-11-29T18:00)"),
    (["--timezone", "Mars/Olympus"], "--timezone: unknown time zone 'Mars/Olympus'"),
])
def test_cli_night_bad_start_or_zone_is_a_one_line_error(tmp_path, args, message):
    result = auroral("synth", "--night", "--out", str(tmp_path / "night"), *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"auroral synth: error: {message}")


def test_cli_night_options_without_night_are_a_one_line_error(tmp_path):
    result = auroral("synth", "--out", str(tmp_path / "data"), "--layout", "allsky")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "auroral synth: error: --layout, --start and --timezone describe a night: add --night"]
