"""Export of a tiny trained CNN and both baselines: parity, reduced precisions, tampering, --verify."""
from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

from auroral.edge import cli
from auroral.edge.bundle import BundleError, load_bundle
from auroral.edge.classes import CLASSES
from auroral.edge.classifier import Classifier
from auroral.edge.errors import UserError
from auroral.edge.frames import read_frame
from auroral.edge.preprocess import PreprocessSpec
from auroral.export.build import export_run
from auroral.export.parity import FP32_TOLERANCE, ParityError, onnx_probabilities, torch_probabilities
from auroral.export.samples import labelled_batch
from test_export_support import SIZE, CnnRun, fit_baseline, make_split, pixel_features, train_resnet18

SPEC = PreprocessSpec(size=SIZE)


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    return make_split(tmp_path_factory.mktemp("frames"))


@pytest.fixture(scope="module")
def cnn_run(split):
    return CnnRun(split, train_resnet18(split, SPEC), SPEC)


@pytest.fixture(scope="module")
def cnn_bundle(cnn_run, tmp_path_factory):
    return export_run(cnn_run, tmp_path_factory.mktemp("cnn") / "bundle", ["fp32", "fp16", "int8"], latency_repeats=3)


@pytest.fixture
def bundle_copy(cnn_bundle, tmp_path):
    return shutil.copytree(cnn_bundle.root, tmp_path / "copy")


def run_cli(monkeypatch, *argv: str) -> int:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("auroral.export.cli",))
    return cli.main(list(argv))


def test_cnn_bundle_is_one_self_contained_file_per_precision(cnn_bundle):
    manifest = cnn_bundle.manifest
    assert manifest.variants == {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}
    assert sorted(p.name for p in cnn_bundle.root.iterdir()) == sorted([*manifest.files, "manifest.json"])
    model = onnx.load(str(cnn_bundle.model_path("fp32")))
    onnx.checker.check_model(model, full_check=True)
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, SIZE, SIZE]
    assert manifest.training["images"] == {"train": 21, "val": 14, "test": 0}
    assert manifest.training["train_class_counts"] == {name: 3 for name in CLASSES}


def test_fp32_matches_pytorch_at_any_batch_size(cnn_bundle, cnn_run, split):
    batch, _ = labelled_batch(split.val, SPEC, list(CLASSES))
    reference = torch_probabilities(cnn_run.torch_model(), batch)
    for n in (1, 3, len(batch)):
        got = onnx_probabilities(cnn_bundle.model_path("fp32"), batch[:n])
        assert got.shape == (n, len(CLASSES))
        assert np.max(np.abs(got - reference[:n])) < FP32_TOLERANCE
    recorded = cnn_bundle.manifest.metrics["export_validation"]
    assert recorded["fp32"]["max_abs_diff_vs_pytorch"] < FP32_TOLERANCE
    assert recorded["images"] == len(batch)


def test_reduced_precisions_are_measured_against_fp32(cnn_bundle, split):
    metrics = cnn_bundle.manifest.metrics["export_validation"]
    batch, labels = labelled_batch(split.val, SPEC, list(CLASSES))
    fp32 = onnx_probabilities(cnn_bundle.model_path("fp32"), batch).argmax(axis=1)
    for precision in ("fp16", "int8"):
        predicted = onnx_probabilities(cnn_bundle.model_path(precision), batch).argmax(axis=1)
        assert metrics[precision]["top1_agreement_with_fp32"] == pytest.approx(np.mean(predicted == fp32), abs=1e-6)
        assert metrics[precision]["accuracy"] == pytest.approx(np.mean(predicted == labels), abs=1e-6)
    assert metrics["fp16"]["top1_agreement_with_fp32"] >= 0.9
    quantization = metrics["int8_quantization"]
    assert quantization["format"] == "QDQ" and quantization["per_channel"] is True
    timings = quantization["cpu_latency_ms_batch1"]
    assert quantization["chosen"] == min(("U8S8", "S8S8"), key=timings.__getitem__)
    assert quantization["calibration_images"] == 21


def test_int8_model_is_quantized_qdq(cnn_bundle):
    ops = {node.op_type for node in onnx.load(str(cnn_bundle.model_path("int8"))).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_int8_bundle_loads_and_classifies(cnn_bundle, split):
    classifier = Classifier(cnn_bundle.root, precision="int8")
    images = [read_frame(path) for path, _ in split.val]
    predictions = classifier.classify(images)
    assert len(predictions) == len(images)
    assert all(p.label in CLASSES and abs(sum(p.probabilities.values()) - 1.0) < 1e-3 for p in predictions)
    fp32 = Classifier(cnn_bundle.root).classify(images)
    agreement = np.mean([a.label == b.label for a, b in zip(predictions, fp32)])
    assert agreement == pytest.approx(cnn_bundle.manifest.metrics["export_validation"]["int8"]["top1_agreement_with_fp32"])


def test_export_refuses_a_model_that_fails_parity(cnn_run, tmp_path):
    import torch

    class DriftsInOnnx(torch.nn.Module):
        """Adds 0.01 to every probability only while being exported: ONNX and PyTorch then disagree."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            drift = 0.01 if torch.onnx.is_in_onnx_export() else 0.0
            return self.inner(x) + drift

    class DriftingRun(CnnRun):
        def torch_model(self):
            return DriftsInOnnx(super().torch_model())

    run = DriftingRun(cnn_run.split, cnn_run.body, SPEC)
    with pytest.raises(ParityError, match=r"differ from PyTorch by up to 0\.01 .*bundle not written"):
        export_run(run, tmp_path / "bad", ["fp32"])
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


def test_verify_passes_a_good_bundle(cnn_bundle, monkeypatch, capsys):
    assert run_cli(monkeypatch, "export", "--verify", str(cnn_bundle.root)) == 0
    out = capsys.readouterr().out
    assert all(f"{precision}:" in out for precision in ("fp32", "fp16", "int8"))


def test_verify_fails_a_tampered_bundle(bundle_copy, monkeypatch, capsys):
    model = bundle_copy / "model.onnx"
    model.write_bytes(model.read_bytes()[:-1] + b"\x00")
    assert run_cli(monkeypatch, "export", "--verify", str(bundle_copy)) != 0
    assert "model.onnx fails its hash check" in capsys.readouterr().err


def test_verify_fails_when_the_parity_reference_disagrees(bundle_copy, monkeypatch, capsys):
    """A consistent re-hash after swapping the model for another one is still caught by the parity step."""
    from auroral.export.bundle_writer import write_bundle
    from test_export_support import train_resnet18 as _  # noqa: F401 - same data, different model below

    other = onnx.load(str(bundle_copy / "model.onnx"))
    weights = next(t for t in other.graph.initializer if len(t.dims) == 2)
    array = onnx.numpy_helper.to_array(weights) * -3.0
    weights.CopyFrom(onnx.numpy_helper.from_array(array, weights.name))
    onnx.save(other, str(bundle_copy / "model.onnx"))
    manifest = load_bundle.__globals__["read_manifest"](bundle_copy)
    write_bundle(bundle_copy, {p: bundle_copy / n for p, n in manifest.variants.items()}, manifest.model,
                 manifest.preprocess, manifest.classes, manifest.training, manifest.metrics,
                 extra_files={"parity.npz": bundle_copy / "parity.npz"})
    assert run_cli(monkeypatch, "export", "--verify", str(bundle_copy)) == 2
    assert "fp32 ONNX probabilities differ from PyTorch" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["knn", "svm"])
def test_pixel_baselines_give_scikit_learn_labels(kind, split, tmp_path):
    pool = 4
    run = fit_baseline(split, SPEC, kind, lambda b: pixel_features(b, pool), {"type": "pixels", "pool": pool})
    bundle = export_run(run, tmp_path / kind, ["fp32"])
    assert bundle.manifest.model.kind == kind and bundle.manifest.model.features == "pixels"
    batch, labels = labelled_batch(split.val, SPEC, list(CLASSES))
    got = Classifier(bundle.root).predict(batch)
    expected = run.estimator.predict(pixel_features(batch, pool)) if kind == "knn" else \
        run.estimator.classes_[run.predict_proba(batch).argmax(axis=1)]
    assert [p.label for p in got] == list(expected)
    assert bundle.manifest.metrics["export_validation"]["fp32"]["accuracy"] == pytest.approx(np.mean(
        [CLASSES.index(p.label) for p in got] == labels))


def test_cnn_feature_baseline_has_the_embedding_in_its_graph(cnn_run, split, tmp_path):
    embed = cnn_run.embedding_model()

    def featurise(batch):
        return torch_probabilities(embed, batch)

    run = fit_baseline(split, SPEC, "knn", featurise, {"type": "cnn", "run": "runs/cnn"})
    bundle = export_run(run, tmp_path / "knn-cnn", ["fp32"], resolve_run=lambda path: cnn_run)
    assert bundle.manifest.model.features == "cnn:runs/cnn"
    batch, _ = labelled_batch(split.val, SPEC, list(CLASSES))
    assert [p.label for p in Classifier(bundle.root).predict(batch)] == list(run.estimator.predict(featurise(batch)))


def test_baselines_have_no_reduced_precisions(split, tmp_path):
    run = fit_baseline(split, SPEC, "knn", lambda b: pixel_features(b, 4), {"type": "pixels", "pool": 4})
    with pytest.raises(UserError, match="--precision for a knn model must include fp32 and may use fp32"):
        export_run(run, tmp_path / "knn", ["fp32", "int8"])


def test_cli_explains_missing_arguments_and_runs(monkeypatch, capsys, tmp_path):
    assert run_cli(monkeypatch, "export") == 2
    assert "give RUN_DIR and --out BUNDLE_DIR" in capsys.readouterr().err
    assert run_cli(monkeypatch, "export", str(tmp_path / "nope"), "--out", str(tmp_path / "b")) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run_cli(monkeypatch, "export", "--verify", str(tmp_path)) == 2
    assert "manifest.json is missing" in capsys.readouterr().err
