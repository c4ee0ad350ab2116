"""``auroral train`` on the published OATH layout: six or two classes, rotated or not, class sets, one-line errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from auroral.edge.classes import CLASSES, OATH2, OATH6
from auroral.edge.errors import UserError
from auroral.train.datasets import load_dataset
from auroral.train.runs import load_run
from support.oathsets import make_oath
from support.trainsets import make_folder_dataset, run_cli


def _train(data: Path, out: Path, *extra: str, model: str = "knn") -> int:
    return run_cli(["--log-level", "WARNING", "train", "--data", str(data), "--out", str(out), "--model", model,
                    "--image-size", "32", "--pixel-pool", "4", "--seed", "0", *extra])


@pytest.fixture(scope="module")
def oath_root(tmp_path_factory):
    return make_oath(tmp_path_factory.mktemp("oath"))


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def test_six_classes_by_default_with_their_class_sets(oath_root, tmp_path):
    assert _train(oath_root, tmp_path / "run") == 0
    run = load_run(tmp_path / "run")
    assert run.classes == list(OATH6)
    assert run.auroral_classes == ["arc", "diffuse", "discrete"] and run.onset_classes == ["discrete"]
    parts = run.split.train + run.split.val + run.split.test
    assert len(parts) == 36 and {label for _, label in parts} == set(OATH6)
    assert all(p.parent.name == "cropped_scaled" for p, _ in parts)
    labels = {int(line.split(",")[2]): line.split(",")[3]
              for line in (oath_root / "classifications/classifications.csv").read_text().splitlines()[18:]}
    assert all(labels[int(p.stem)] == label for p, label in parts)  # picType holds the class6 name in the test set
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["classes"] == list(OATH6)


def test_two_classes_from_the_rotated_images(oath_root, tmp_path):
    assert _train(oath_root, tmp_path / "run", "--oath-classes", "2", "--oath-rotated", model="svm") == 0
    run = load_run(tmp_path / "run")
    assert run.classes == list(OATH2) and run.auroral_classes == ["aurora"] and run.onset_classes == []
    parts = run.split.train + run.split.val + run.split.test
    assert all(p.parent.name == "cropped_scaled_rotated" for p, _ in parts)
    counts = {name: sum(label == name for _, label in parts) for name in OATH2}
    assert counts == {"aurora": 18, "no-aurora": 18}  # class6 0-2 are aurora, 3-5 are not


def test_class_sets_can_be_given(oath_root, tmp_path):
    assert _train(oath_root, tmp_path / "run", "--auroral-classes", "discrete,arc", "--onset-classes", "none") == 0
    run = load_run(tmp_path / "run")
    assert run.auroral_classes == ["arc", "discrete"] and run.onset_classes == []


def test_kvammen_runs_record_their_default_class_sets(tmp_path):
    data = make_folder_dataset(tmp_path / "data", per_class=5)
    assert _train(data, tmp_path / "run", "--onset-classes", "breakup,arcs") == 0
    run = load_run(tmp_path / "run")
    assert run.auroral_classes == [c for c in CLASSES if c != "faint"]
    assert run.onset_classes == ["breakup", "arcs"]


@pytest.mark.parametrize("extra, expected", [
    (("--onset-classes", "breakup"), "--onset-classes 'breakup': breakup not among the classes (arc, diffuse"),
    (("--classes", "arc,clear"), "--classes does not apply to an OATH data set"),
])
def test_bad_options_on_an_oath_set_are_one_line_errors(oath_root, tmp_path, capsys, extra, expected):
    assert _train(oath_root, tmp_path / "run", *extra) == 2
    assert expected in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_oath_options_on_another_layout_are_refused(tmp_path, capsys):
    data = make_folder_dataset(tmp_path / "data", per_class=5)
    assert _train(data, tmp_path / "run", "--oath-rotated") == 2
    assert "apply to an OATH data set only" in _one_line_error(capsys)


def test_every_offender_in_one_message(tmp_path, capsys):
    root = make_oath(tmp_path / "oath", per_class=5)
    csv = root / "classifications" / "classifications.csv"
    lines = csv.read_text().splitlines()
    lines[20] = "0,x,00003,arc,10"  # a class6 that is not a number
    lines[21] = "1,9,00004,arc,10"  # a class6 outside 0..5
    csv.write_text("\n".join(lines) + "\n")
    (root / "images" / "cropped_scaled" / "00007.png").unlink()
    assert _train(root, tmp_path / "run") == 2
    err = _one_line_error(capsys)
    for expected in ("bad row (1)", "'0,x,00003,arc,10' (classifications.csv:21)", "class6 outside 0..5 (1): 9",
                     "missing image (1)", "00007.png", "class with fewer than 5 images (2)"):
        assert expected in err, expected


def test_the_rotated_image_must_match_the_rows_angle(tmp_path):
    root = make_oath(tmp_path / "oath", per_class=5)
    first = sorted((root / "images" / "cropped_scaled_rotated").glob("00001_*.png"))[0]
    first.rename(first.with_name("00001_361.png"))
    with pytest.raises(UserError, match=r"missing image \(1\): .*cropped_scaled_rotated/00001_\d+\.png"):
        load_dataset(root, OATH6, oath_rotated=True)
    assert len(load_dataset(root, OATH6).samples) == 30  # the unrotated images are all there


def test_the_web_pages_file_name_and_padded_angles_are_read(tmp_path):
    root = make_oath(tmp_path / "oath", per_class=5)
    (root / "classifications").rename(root / "classification")
    (root / "classification" / "classifications.csv").rename(root / "classification" / "classification.csv")
    for path in (root / "images" / "cropped_scaled_rotated").glob("*.png"):
        number, angle = path.stem.split("_")
        path.rename(path.with_name(f"{number}_{int(angle):03d}.png"))
    dataset = load_dataset(root, OATH2, oath_rotated=True)
    assert len(dataset.samples) == 30 and dataset.classes == OATH2
