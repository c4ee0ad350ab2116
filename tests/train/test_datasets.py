"""Data set loading and validation: every layout, and bad sets fail with one clear message (exit 2)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from auroral.edge.classes import ALPHABETICAL, CLASSES
from auroral.edge.errors import UserError
from auroral.edge.preprocess import PreprocessSpec
from auroral.train.cache import preprocess_files
from auroral.train.datasets import load_dataset
from support.trainsets import make_folder_dataset, make_image, run_cli, write_image


def test_folder_layout_accepts_case_and_aliases(tmp_path):
    rng = np.random.default_rng(0)
    for folder, label in (("Arcs-Bands", "arcs"), ("clear-faint", "faint"), ("BREAKUP", "breakup")):
        for n in range(5):
            write_image(tmp_path / folder / f"{n}.png", make_image(label, rng))
    dataset = load_dataset(tmp_path, classes=("breakup", "arcs", "faint"))
    assert sorted({s.label for s in dataset.samples}) == ["arcs", "breakup", "faint"]
    assert len(dataset.samples) == 15 and dataset.given_test is None


def test_csv_and_json_label_lists(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for i, label in enumerate(("arcs", "patchy") * 5):
        write_image(tmp_path / "img" / f"{i}.png", make_image(label, rng))
        rows.append({"path": f"img/{i}.png", "label": label.upper(), "timestamp": f"2014-12-{10 + i:02d}T22:00:00Z"})
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text("path,label,timestamp\n"
                        + "".join(f"{r['path']},{r['label']},{r['timestamp']}\n" for r in rows))
    (tmp_path / "labels.json").write_text(json.dumps(rows))
    for source in (csv_path, tmp_path / "labels.json"):
        dataset = load_dataset(source, classes=("arcs", "patchy"))
        assert [s.label for s in dataset.samples] == [r["label"].lower() for r in rows]
        assert dataset.samples[3].path == (tmp_path / "img" / "3.png").resolve()
        assert dataset.samples[3].timestamp.isoformat() == "2014-12-13T22:00:00+00:00"


def test_given_layout_keeps_split_and_class_order(tmp_path):
    rng = np.random.default_rng(2)
    for part, count in (("TrainingImages", 4), ("TestImages", 2)):
        for k, name in enumerate(ALPHABETICAL):
            for n in range(count):
                write_image(tmp_path / part / f"img{n}_class_{k}.png", make_image(name, rng))
    dataset = load_dataset(tmp_path, class_order="alphabetical", min_per_class=4)
    assert len(dataset.samples) == 28 and len(dataset.given_test) == 14
    assert {s.label for s in dataset.samples if s.path.name.endswith("_class_0.png")} == {"arcs"}
    with pytest.raises(UserError, match="--class-order"):
        load_dataset(tmp_path)


def test_all_offenders_in_one_message(tmp_path):
    root = make_folder_dataset(tmp_path / "data", per_class=5)
    write_image(root / "sunrise" / "x.png", make_image("arcs", np.random.default_rng(3)))   # unknown class
    (root / "faint" / "copy.png").write_bytes((root / "arcs").glob("*.png").__next__().read_bytes())  # duplicate
    for path in list((root / "edge").glob("*.png"))[:3]:                                       # too few
        path.unlink()
    with pytest.raises(UserError) as caught:
        load_dataset(root)
    message = str(caught.value)
    assert "unknown class" in message and "'sunrise'" in message
    assert "duplicate image" in message and "copy.png" in message
    assert "fewer than 5 images" in message and "edge (2)" in message
    assert "\n" not in message


def test_missing_file_and_duplicate_path_in_list(tmp_path):
    make_folder_dataset(tmp_path / "d", per_class=5, classes=("arcs", "faint"))
    files = sorted((tmp_path / "d").rglob("*.png"))
    lines = [f"{f},{f.parent.name}" for f in files] + [f"{files[0]},arcs", "nowhere.png,faint", "x.png,aurora-x"]
    (tmp_path / "l.csv").write_text("path,label\n" + "\n".join(lines) + "\n")
    with pytest.raises(UserError) as caught:
        load_dataset(tmp_path / "l.csv", classes=("arcs", "faint"))
    message = str(caught.value)
    for expected in ("duplicate path", "missing file", "nowhere.png", "unknown class", "aurora-x"):
        assert expected in message


def test_unreadable_images_listed_together(tmp_path):
    good = write_image(tmp_path / "good.png", make_image("arcs", np.random.default_rng(4)))
    bad1, bad2 = tmp_path / "bad1.jpg", tmp_path / "bad2.png"
    bad1.write_bytes(b"\xff\xd8 not really a jpeg \xff\xd9")
    bad2.write_bytes(good.read_bytes()[:40])
    with pytest.raises(UserError, match=r"unreadable images \(2\).*bad1\.jpg.*bad2\.png"):
        preprocess_files([good, bad1, bad2], PreprocessSpec(size=32))
    assert preprocess_files([good], PreprocessSpec(size=32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("breakage", ["unknown", "missing", "unreadable", "duplicate", "few"])
def test_cli_bad_data_set_exit_2(tmp_path, capsys, breakage):
    root = make_folder_dataset(tmp_path / "data", per_class=5)
    first = sorted((root / "arcs").glob("*.png"))[0]
    if breakage == "unknown":
        write_image(root / "clouds" / "c.png", make_image("arcs", np.random.default_rng(5)))
    elif breakage == "unreadable":
        first.write_bytes(b"garbage")
    elif breakage == "duplicate":
        (root / "arcs" / "again.png").write_bytes(first.read_bytes())
    elif breakage == "few":
        first.unlink()
    source = root
    if breakage == "missing":
        files = sorted(root.rglob("*.png"))
        source = tmp_path / "list.csv"
        source.write_text("path,label\n" + "".join(f"{f},{f.parent.name}\n" for f in files) + "gone.png,arcs\n")
    code = run_cli(["--log-level", "WARNING", "train", "--data", str(source), "--model", "knn", "--image-size", "32",
                    "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    expected = {"unknown": "clouds", "missing": "gone.png", "unreadable": first.name, "duplicate": "again.png",
                "few": "arcs (4)"}[breakage]
    assert expected in err
    assert err.startswith("auroral train: error: ")
    assert not (tmp_path / "run").exists()


def test_no_images_at_all(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(UserError, match="not found"):
        load_dataset(tmp_path / "absent")


def test_every_default_class_is_required(tmp_path):
    make_folder_dataset(tmp_path, per_class=5, classes=CLASSES[:6])
    with pytest.raises(UserError, match=r"faint \(0\)"):
        load_dataset(tmp_path)
