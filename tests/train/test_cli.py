"""``auroral train`` / ``auroral evaluate`` end to end on tiny synthetic data (32 px, 1-2 epochs)."""
from __future__ import annotations

import json
import shutil
import socket

import numpy as np
import pytest
import torch

from auroral.edge.classes import ALPHABETICAL
from auroral.edge.tools.synth import generate
from auroral.train.features import pixel_features
from auroral.train.runs import load_run
from support.trainsets import make_folder_dataset, make_image, run_cli, write_image

METRIC_KEYS = {"per_class", "macro", "weighted", "accuracy", "confusion", "classes", "split"}


def _train(*args: str) -> int:
    return run_cli(["--log-level", "WARNING", "train", *args])


def _cnn(data, out, *extra: str) -> int:
    return _train("--data", str(data), "--out", str(out), "--model", "resnet18", "--image-size", "32",
                  "--batch-size", "16", "--seed", "1", *extra)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate(root, per_class=6, size=32, seed=7)
    return root


@pytest.fixture(scope="module")
def cnn_run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cnn"
    assert _cnn(data, out, "--epochs", "1") == 0
    return out


def test_cnn_run_directory(cnn_run):
    for name in ("config.json", "split.json", "checkpoint.pt", "best.pt", "metrics.json", "report.md",
                 "confusion.png", "per_class.png"):
        assert (cnn_run / name).is_file(), name
    metrics = json.loads((cnn_run / "metrics.json").read_text())
    assert set(metrics) == METRIC_KEYS
    assert metrics["split"]["kind"] == "stratified" and metrics["macro"]["support"] == len(load_run(cnn_run).split.test)
    assert "split: **stratified**" in (cnn_run / "report.md").read_text()


def test_load_run_cnn_round_trip(cnn_run):
    run = load_run(cnn_run)
    assert run.kind == "cnn" and run.model_name == "resnet18" and run.preprocess.size == 32
    assert run.classes == list(json.loads((cnn_run / "config.json").read_text())["classes"])
    assert len(run.split.train) + len(run.split.val) + len(run.split.test) == 42
    batch = np.random.default_rng(0).normal(size=(3, 3, 32, 32)).astype(np.float32)
    probabilities = run.torch_model()(torch.from_numpy(batch)).detach().numpy()
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(run.predict_proba(batch), probabilities, rtol=1e-4, atol=1e-6)
    assert run.embedding_model()(torch.from_numpy(batch)).shape == (3, 512)


def test_resume_continues_from_checkpoint(data, cnn_run, tmp_path):
    resumed, straight = tmp_path / "resumed", tmp_path / "straight"
    assert _cnn(data, resumed, "--epochs", "1", "--schedule", "none") == 0
    first = json.loads((resumed / "history.json").read_text())
    split_before = (resumed / "split.json").read_text()
    assert _train("--out", str(resumed), "--resume", "--epochs", "2") == 0
    history = json.loads((resumed / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and history[0] == first[0]
    assert torch.load(resumed / "checkpoint.pt", weights_only=True)["state"]["epoch"] == 2
    assert (resumed / "split.json").read_text() == split_before
    # the same two epochs without interruption give the same losses: resume restored everything
    assert _cnn(data, straight, "--epochs", "2", "--schedule", "none") == 0
    uninterrupted = json.loads((straight / "history.json").read_text())
    assert history[1]["train_loss"] == pytest.approx(uninterrupted[1]["train_loss"], rel=1e-4)


def test_existing_run_needs_resume(data, cnn_run, capsys):
    assert _cnn(data, cnn_run, "--epochs", "1") == 2
    assert "--resume" in capsys.readouterr().err


def test_baselines_reuse_split_and_round_trip(data, cnn_run, tmp_path):
    svm, knn = tmp_path / "svm", tmp_path / "knn"
    assert _train("--data", str(data), "--model", "svm", "--features", "pixels", "--image-size", "32",
                  "--pixel-pool", "8", "--split-file", str(cnn_run / "split.json"), "--out", str(svm)) == 0
    assert _train("--data", str(data), "--model", "knn", "--features", f"cnn:{cnn_run}",
                  "--out", str(knn)) == 0
    assert json.loads((svm / "split.json").read_text()) == json.loads((cnn_run / "split.json").read_text())
    batch = np.random.default_rng(1).normal(size=(4, 3, 32, 32)).astype(np.float32)
    run = load_run(svm)
    assert run.kind == "svm" and run.features() == {"type": "pixels", "pool": 8}
    assert set(run.config.chosen_params) >= {"C", "gamma", "cv_folds"}
    np.testing.assert_allclose(run.predict_proba(batch), run.sklearn_model().predict_proba(pixel_features(batch, 8)),
                               rtol=1e-5)
    run = load_run(knn)
    assert run.kind == "knn" and run.features() == {"type": "cnn", "run": str(cnn_run.resolve())}
    embedding = load_run(cnn_run).embedding_model()(torch.from_numpy(batch)).detach().numpy()
    np.testing.assert_allclose(run.predict_proba(batch), run.sklearn_model().predict_proba(embedding), rtol=1e-5)
    assert "n_neighbors" in run.config.chosen_params
    for r in (svm, knn):
        assert set(json.loads((r / "metrics.json").read_text())) == METRIC_KEYS


def test_evaluate_and_compare(data, cnn_run, tmp_path, capsys):
    copy = tmp_path / "again"
    shutil.copytree(cnn_run, copy)
    (copy / "metrics.json").unlink()
    assert run_cli(["--log-level", "WARNING", "evaluate", "--compare", str(cnn_run),
                    str(copy)]) == 2
    assert "no metrics.json" in capsys.readouterr().err
    assert run_cli(["--log-level", "WARNING", "evaluate", str(copy)]) == 0
    assert json.loads((copy / "metrics.json").read_text()) == json.loads((cnn_run / "metrics.json").read_text())
    capsys.readouterr()
    assert run_cli(["--log-level", "WARNING", "evaluate", "--compare", str(cnn_run), str(copy)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "| metric | resnet18 (cnn) | resnet18 (again) |"
    assert any(line.startswith("| macro F1 |") for line in table)
    assert run_cli(["--log-level", "WARNING", "evaluate", str(copy), "--data", str(data)]) == 0
    external = json.loads((copy / f"eval-{data.name}" / "metrics.json").read_text())
    assert external["split"]["kind"] == "external" and external["macro"]["support"] == 42


def test_night_split_from_file_names(tmp_path):
    data = make_folder_dataset(tmp_path / "data", per_class=6)  # one night per image index
    assert _train("--data", str(data), "--model", "knn", "--image-size", "32", "--pixel-pool", "4",
                  "--split", "night", "--out", str(tmp_path / "run")) == 0
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["kind"] == "night"
    nights = {part: {p.rsplit("_", 2)[1] for p, _ in split[part]} for part in ("train", "val", "test")}
    assert not (nights["train"] & nights["val"]) and not (nights["train"] & nights["test"])
    assert not (nights["val"] & nights["test"])


def test_given_layout_keeps_test_set(tmp_path):
    rng = np.random.default_rng(5)
    for part, count in (("TrainingImages", 5), ("TestImages", 2)):
        for k, name in enumerate(ALPHABETICAL):
            for n in range(count):
                write_image(tmp_path / "d" / part / f"i{n}_class_{k}.png", make_image(name, rng))
    assert _train("--data", str(tmp_path / "d"), "--model", "knn", "--image-size", "32",
                  "--pixel-pool", "4", "--class-order", "alphabetical", "--out", str(tmp_path / "run")) == 0
    split = json.loads((tmp_path / "run" / "split.json").read_text())
    assert split["kind"] == "given"
    test_images = (tmp_path / "d" / "TestImages").glob("*")
    assert sorted(p for p, _ in split["test"]) == sorted(str(p.resolve()) for p in test_images)
    assert all("/TrainingImages/" in p for part in ("train", "val") for p, _ in split[part])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ddp_path_under_torchrun_env(data, tmp_path, monkeypatch, capsys):
    for key, value in {"LOCAL_RANK": "0", "RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": str(_free_port())}.items():
        monkeypatch.setenv(key, value)
    assert run_cli(["train", "--data", str(data), "--out", str(tmp_path / "ddp"), "--model", "resnet18",
                    "--image-size", "32", "--batch-size", "16", "--epochs", "1"]) == 0
    assert "event=ddp_init rank=0 world_size=1 device=cpu backend=gloo" in capsys.readouterr().err
    assert not torch.distributed.is_initialized()
    assert (tmp_path / "ddp" / "best.pt").is_file() and (tmp_path / "ddp" / "metrics.json").is_file()


def test_early_stopping_on_val_macro_f1(data, tmp_path):
    assert _cnn(data, tmp_path / "run", "--epochs", "5", "--patience", "1", "--lr", "0.02") == 0
    scores = [h["val_macro_f1"] for h in json.loads((tmp_path / "run" / "history.json").read_text())]
    # training stops right after the first epoch that does not beat the best so far
    first_miss = next((i for i in range(1, len(scores)) if scores[i] <= max(scores[:i])), None)
    assert len(scores) == (first_miss + 1 if first_miss is not None else 5)
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert best["val_macro_f1"] == max(scores) and best["epoch"] == scores.index(max(scores)) + 1
