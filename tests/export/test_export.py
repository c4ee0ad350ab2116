"""Export of real (tiny) training runs: a 1-epoch resnet18 and KNN/SVM baselines.

Covers parity at export time, fp16/int8 variants, refusal of a model that fails parity, tampered or
foreign bundles refused by the station's loader, and ``auroral export --verify``.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

from auroral.edge.bundle import BundleError, load_bundle, read_manifest
from auroral.edge.classes import CLASSES
from auroral.edge.classifier import Classifier
from auroral.edge.errors import UserError
from auroral.edge.frames import read_frame
from auroral.export import bundle_writer
from auroral.export.build import export_run
from auroral.export.bundle_writer import write_bundle
from auroral.export.parity import FP32_TOLERANCE, ParityError, onnx_probabilities
from auroral.export.samples import frames_under, labelled_batch
from auroral.export.sklearn_onnx import class_map, classifier_graph, final_estimator
from auroral.export.source import open_run
from auroral.train.runs import load_run
from support.exportruns import SIZE, auroral, make_runs
from support.oathsets import make_oath


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def cnn_bundle(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("cnn") / "bundle"
    assert auroral("export", runs["resnet18"], "--out", out, "--precision", "fp32,fp16,int8") == 0
    return load_bundle(out)


@pytest.fixture
def bundle_copy(cnn_bundle, tmp_path):
    return shutil.copytree(cnn_bundle.root, tmp_path / "copy")


def validation(run):
    return labelled_batch(run.split.val, run.preprocess, run.classes)


def test_cnn_bundle_is_one_self_contained_file_per_precision(cnn_bundle, runs):
    manifest = cnn_bundle.manifest
    assert manifest.variants == {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}
    assert sorted(p.name for p in cnn_bundle.root.iterdir()) == sorted([*manifest.files, "manifest.json"])
    model = onnx.load(str(cnn_bundle.model_path("fp32")))
    onnx.checker.check_model(model, full_check=True)
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, SIZE, SIZE]
    run = load_run(runs["resnet18"])
    assert manifest.training["images"] == {"train": len(run.split.train), "val": len(run.split.val),
                                           "test": len(run.split.test)}
    assert sum(manifest.training["train_class_counts"].values()) == len(run.split.train)
    assert manifest.metrics["run"] == run.metrics()
    assert manifest.model.name == "resnet18" and manifest.preprocess == run.preprocess


def test_fp32_matches_pytorch_at_any_batch_size(cnn_bundle, runs):
    run = load_run(runs["resnet18"])
    batch, _ = validation(run)
    reference = run.predict_proba(batch)
    for n in (1, 3, len(batch)):
        got = onnx_probabilities(cnn_bundle.model_path("fp32"), batch[:n])
        assert got.shape == (n, len(CLASSES))
        assert np.max(np.abs(got - reference[:n])) < FP32_TOLERANCE
    recorded = cnn_bundle.manifest.metrics["export_validation"]
    assert recorded["fp32"]["max_abs_diff_vs_pytorch"] < FP32_TOLERANCE and recorded["images"] == len(batch)


def test_reduced_precisions_are_measured_against_fp32(cnn_bundle, runs):
    metrics = cnn_bundle.manifest.metrics["export_validation"]
    batch, labels = validation(load_run(runs["resnet18"]))
    fp32 = onnx_probabilities(cnn_bundle.model_path("fp32"), batch).argmax(axis=1)
    assert metrics["fp32"]["accuracy"] == pytest.approx(np.mean(fp32 == labels), abs=1e-6)
    for precision in ("fp16", "int8"):
        predicted = onnx_probabilities(cnn_bundle.model_path(precision), batch).argmax(axis=1)
        assert metrics[precision]["top1_agreement_with_fp32"] == pytest.approx(np.mean(predicted == fp32), abs=1e-6)
        assert metrics[precision]["accuracy"] == pytest.approx(np.mean(predicted == labels), abs=1e-6)
    assert metrics["fp16"]["top1_agreement_with_fp32"] == 1.0
    quantization = metrics["int8_quantization"]
    assert quantization["format"] == "QDQ" and quantization["per_channel"] is True
    timings = quantization["cpu_latency_ms_batch1"]
    assert quantization["chosen"] == min(("U8S8", "S8S8"), key=timings.__getitem__)
    assert quantization["activations"] == {"U8S8": "uint8", "S8S8": "int8"}[quantization["chosen"]]
    assert quantization["calibration_images"] == cnn_bundle.manifest.training["images"]["train"]


def test_int8_model_is_quantized_qdq_per_channel(cnn_bundle):
    model = onnx.load(str(cnn_bundle.model_path("int8")))
    ops = {node.op_type for node in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    scales = {t.name: t for t in model.graph.initializer}
    per_channel = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[1] in scales
                   and len(scales[n.input[1]].dims) == 1 and scales[n.input[1]].dims[0] > 1]
    assert per_channel


def test_int8_bundle_loads_and_classifies(cnn_bundle, runs):
    run = load_run(runs["resnet18"])
    images = [read_frame(path) for path, _ in run.split.val]
    predictions = Classifier(cnn_bundle.root, precision="int8").classify(images)
    assert len(predictions) == len(images)
    assert all(p.label in CLASSES and abs(sum(p.probabilities.values()) - 1.0) < 1e-4 for p in predictions)
    fp32 = Classifier(cnn_bundle.root).classify(images)
    agreement = np.mean([a.label == b.label for a, b in zip(predictions, fp32, strict=True)])
    measured = cnn_bundle.manifest.metrics["export_validation"]["int8"]["top1_agreement_with_fp32"]
    assert agreement == pytest.approx(measured)


class DriftingRun:
    """A real run whose model adds 0.01 to every probability only while being exported to ONNX."""

    def __init__(self, run):
        self._run = run

    def __getattr__(self, name):
        return getattr(self._run, name)

    def torch_model(self):
        import torch

        inner = self._run.torch_model()

        class Drift(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, x):
                return self.inner(x) + (0.01 if torch.onnx.is_in_onnx_export() else 0.0)

        return Drift().eval()


def test_export_refuses_a_model_that_fails_parity(runs, tmp_path):
    with pytest.raises(ParityError, match=r"differ from PyTorch by up to 0\.01 .*bundle not written"):
        export_run(DriftingRun(load_run(runs["resnet18"])), tmp_path / "bad", ["fp32"])
    assert not (tmp_path / "bad" / "manifest.json").exists()


def test_tampered_model_is_refused(bundle_copy):
    model = bundle_copy / "model.int8.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="model.int8.onnx fails its hash check"):
        load_bundle(bundle_copy)


def test_other_format_version_is_refused(bundle_copy):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 99
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format_version 99 is not supported"):
        load_bundle(bundle_copy)


def test_verify_passes_a_good_bundle(cnn_bundle, capsys):
    assert auroral("export", "--verify", cnn_bundle.root) == 0
    out = capsys.readouterr().out
    assert all(f"{precision}:" in out for precision in ("fp32", "fp16", "int8"))


def test_verify_fails_a_tampered_bundle(bundle_copy, capsys):
    model = bundle_copy / "model.onnx"
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    assert auroral("export", "--verify", bundle_copy) == 2
    assert "model.onnx fails its hash check" in capsys.readouterr().err


def test_verify_catches_a_swapped_and_rehashed_model(bundle_copy, capsys):
    """Re-hashing after changing the weights passes the hash check; the stored parity reference still fails it."""
    model = onnx.load(str(bundle_copy / "model.onnx"))
    weights = next(t for t in model.graph.initializer if len(t.dims) == 2)
    weights.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(weights) * -3.0, weights.name))
    onnx.save(model, str(bundle_copy / "model.onnx"))
    manifest = read_manifest(bundle_copy)
    write_bundle(bundle_copy, {p: bundle_copy / n for p, n in manifest.variants.items()}, manifest.model,
                 manifest.preprocess, manifest.classes, manifest.training, manifest.metrics,
                 extra_files={"parity.npz": bundle_copy / "parity.npz"})
    assert auroral("export", "--verify", bundle_copy) == 2
    assert "fp32 ONNX probabilities differ from PyTorch" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["knn", "svm", "knn-cnn"])
def test_baselines_give_scikit_learn_labels(name, runs, tmp_path):
    out = tmp_path / name
    assert auroral("export", runs[name], "--out", out) == 0
    bundle = load_bundle(out)
    run = load_run(runs[name])
    assert bundle.manifest.variants == {"fp32": "model.onnx"} and bundle.manifest.model.kind == run.kind
    assert bundle.manifest.model.features == ("pixels" if name != "knn-cnn" else f"cnn:{run.features()['run']}")
    batch, labels = validation(run)
    reference = run.predict_proba(batch) @ class_map(final_estimator(run.sklearn_model()).classes_, run.classes)
    got = Classifier(bundle.root).predict(batch)
    assert [p.label for p in got] == [run.classes[i] for i in reference.argmax(axis=1)]
    np.testing.assert_allclose([list(p.probabilities.values()) for p in got], reference, atol=1e-4)
    assert bundle.manifest.metrics["export_validation"]["fp32"]["accuracy"] == pytest.approx(
        np.mean(reference.argmax(axis=1) == labels), abs=1e-6)


def test_distance_weighted_knn_keeps_its_weights():
    """skl2onnx negates TopK distances; without export's fix a distance-weighted KNN votes uniformly."""
    import onnxruntime as ort
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 12)).astype(np.float32)
    knn = KNeighborsClassifier(n_neighbors=5, weights="distance").fit(features, rng.integers(0, 7, 60))
    session = ort.InferenceSession(classifier_graph(knn, 12, "knn").SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    queries = features[:10] + rng.normal(scale=0.3, size=(10, 12)).astype(np.float32)
    probabilities = session.run(None, {"features": queries})[1]
    np.testing.assert_allclose(probabilities, knn.predict_proba(queries), atol=1e-5)


def test_baselines_have_no_reduced_precisions(runs, tmp_path, capsys):
    assert auroral("export", runs["knn"], "--out", tmp_path / "knn", "--precision", "fp32,int8") == 2
    assert "--precision for a knn model must include fp32 and may use fp32" in capsys.readouterr().err
    assert not (tmp_path / "knn").exists()


def test_cli_explains_missing_arguments(tmp_path, capsys):
    assert auroral("export") == 2
    assert "give RUN_DIR and --out BUNDLE_DIR" in capsys.readouterr().err
    assert auroral("export", tmp_path / "nope", "--out", tmp_path / "b") == 2
    assert "does not exist" in capsys.readouterr().err
    assert auroral("export", "--verify", tmp_path) == 2
    assert "manifest.json is missing" in capsys.readouterr().err
    with pytest.raises(UserError, match="calibration data .* does not exist"):
        frames_under(tmp_path / "missing")


def test_int8_calibrates_on_a_given_folder(runs, tmp_path):
    frames = runs["resnet18"].parent / "data" / "arcs"
    out = tmp_path / "int8"
    assert auroral("export", runs["resnet18"], "--out", out, "--precision", "fp32,int8",
                   "--calibration", frames, "--calibration-images", 4) == 0
    manifest = load_bundle(out).manifest
    assert manifest.variants == {"fp32": "model.onnx", "int8": "model.int8.onnx"}
    assert manifest.metrics["export_validation"]["int8_quantization"]["calibration_images"] == 4


def test_export_refuses_an_existing_bundle_directory_unless_forced(runs, tmp_path, capsys):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert auroral("export", runs["knn"], "--out", out) == 2
    error = capsys.readouterr().err.strip()
    assert "already exists and is not empty: give --force" in error and "\n" not in error
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert auroral("export", runs["knn"], "--out", out, "--force") == 0
    assert not (out / "notes.txt").exists() and load_bundle(out).manifest.variants == {"fp32": "model.onnx"}
    assert list(tmp_path.iterdir()) == [out]  # no staging or replaced directory left beside it


def test_a_failed_forced_export_leaves_the_old_directory_as_it_was(runs, tmp_path, monkeypatch):
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    placed = []
    place = bundle_writer._place

    def place_then_fail(source, target):  # the disk fills up after the first file
        if placed:
            raise OSError(28, "No space left on device")
        placed.append(target)
        return place(source, target)

    monkeypatch.setattr(bundle_writer, "_place", place_then_fail)
    with pytest.raises(OSError, match="No space left"):
        export_run(open_run(runs["knn"]), out, ["fp32"], run_dir=runs["knn"], replace=True)
    assert placed and [p.name for p in out.iterdir()] == ["notes.txt"]
    assert list(tmp_path.iterdir()) == [out]


def test_the_bundle_carries_the_runs_class_sets(runs, tmp_path):
    assert auroral("export", runs["knn"], "--out", tmp_path / "kvammen") == 0
    kvammen = load_bundle(tmp_path / "kvammen")
    assert kvammen.auroral_classes == [c for c in CLASSES if c != "faint"] and kvammen.onset_classes == ["breakup"]
    oath, run = make_oath(tmp_path / "oath", per_class=5), tmp_path / "oath-run"
    assert auroral("train", "--data", oath, "--model", "knn", "--out", run, "--image-size", SIZE, "--pixel-pool", 4,
                   "--onset-classes", "discrete,arc") == 0
    assert auroral("export", run, "--out", tmp_path / "oath-bundle") == 0
    bundle = load_bundle(tmp_path / "oath-bundle")
    assert bundle.classes == ["arc", "diffuse", "discrete", "cloudy", "moon", "clear"]
    assert bundle.auroral_classes == ["arc", "diffuse", "discrete"] and bundle.onset_classes == ["arc", "discrete"]
    assert bundle.manifest.training["train_class_counts"]["arc"] > 0
