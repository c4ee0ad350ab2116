import json
import shutil

import numpy as np
import pytest

from auroral.edge.bundle import BundleError, FileEntry, load_bundle, sha256_file
from auroral.edge.classes import CLASSES
from auroral.edge.classifier import Classifier
from support.toybundle import expected_label, expected_probabilities


@pytest.fixture
def bundle_copy(toy_bundle, tmp_path):
    return shutil.copytree(toy_bundle.root, tmp_path / "copy")


def test_toy_bundle_loads_and_lists_its_files(toy_bundle):
    manifest = load_bundle(toy_bundle.root).manifest
    assert manifest.classes == list(CLASSES)
    assert set(manifest.files) == {"model.onnx"} and manifest.variants == {"fp32": "model.onnx"}


def test_classifier_matches_the_reference_computation(toy_bundle):
    classifier = Classifier(toy_bundle)
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(6)]
    images += [np.full((48, 48, 3), colour, np.uint8) for colour in ([255, 0, 0], [0, 255, 0], [0, 0, 0])]
    spec = toy_bundle.manifest.preprocess
    for image, prediction in zip(images, classifier.classify(images), strict=True):
        assert prediction.label == expected_label(image, spec)
        np.testing.assert_allclose(list(prediction.probabilities.values()), expected_probabilities(image, spec),
                                   atol=1e-5)
    assert len({p.label for p in classifier.classify(images)}) >= 3


def test_tampered_model_is_refused(bundle_copy):
    model = bundle_copy / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="fails its hash check"):
        load_bundle(bundle_copy)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(format_version=99), "format_version 99 is not supported"),
        (lambda m: m["files"].pop("model.onnx"), "has no hash"),
        (lambda m: m["model"].update(kind="forest"), "model.kind"),
    ],
)
def test_bad_manifest_is_refused_with_the_reason(bundle_copy, change, message):
    path = bundle_copy / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_copy)


def test_missing_bundle_and_missing_file(tmp_path, bundle_copy):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nope")
    (bundle_copy / "model.onnx").unlink()
    with pytest.raises(BundleError, match="model.onnx is missing"):
        load_bundle(bundle_copy)
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(tmp_path)


def test_unknown_precision_is_a_clear_error(toy_bundle):
    with pytest.raises(BundleError, match="has no int8 model"):
        Classifier(toy_bundle, precision="int8")


def test_auto_precision_takes_int8_only_within_half_a_point(bundle_copy):
    manifest_path = bundle_copy / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    shutil.copyfile(bundle_copy / "model.onnx", bundle_copy / "model.int8.onnx")  # stands in for a quantised model
    manifest["variants"]["int8"] = "model.int8.onnx"
    int8 = bundle_copy / "model.int8.onnx"
    manifest["files"][int8.name] = FileEntry(sha256=sha256_file(int8), bytes=int8.stat().st_size).model_dump()

    def choose(fp32_accuracy, int8_accuracy):
        manifest["metrics"] = {"export_validation": {"fp32": {"accuracy": fp32_accuracy},
                                                     "int8": {"accuracy": int8_accuracy}}}
        manifest_path.write_text(json.dumps(manifest))
        return Classifier(bundle_copy, precision="auto").precision

    assert choose(0.900, 0.896) == "int8"
    assert choose(0.900, 0.890) == "fp32"


def test_auto_precision_without_int8_is_fp32(toy_bundle):
    assert Classifier(toy_bundle, precision="auto").precision == "fp32"


def _rewrite(bundle_dir, change):
    path = bundle_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_class_sets_are_exposed_in_class_order(toy_bundle):
    bundle = load_bundle(toy_bundle.root)
    assert bundle.manifest.format_version == 2
    assert bundle.auroral_classes == [c for c in CLASSES if c != "faint"] and bundle.onset_classes == ["breakup"]


def _format_1(manifest, classes=None):
    manifest.update(format_version=1)
    del manifest["auroral_classes"], manifest["onset_classes"]
    if classes:
        manifest["classes"] = classes


def test_a_format_1_bundle_of_the_seven_classes_gets_their_class_sets(bundle_copy, caplog):
    _rewrite(bundle_copy, _format_1)
    bundle = load_bundle(bundle_copy)
    assert bundle.auroral_classes == [c for c in CLASSES if c != "faint"] and bundle.onset_classes == ["breakup"]
    assert "bundle_without_class_sets" not in caplog.text


def test_a_format_1_bundle_of_other_classes_gets_none_and_a_note(bundle_copy, caplog):
    _rewrite(bundle_copy, lambda m: _format_1(m, ["arc", "diffuse", "discrete", "cloudy", "moon", "clear", "x"]))
    bundle = load_bundle(bundle_copy)
    assert bundle.auroral_classes == [] and bundle.onset_classes == []
    assert "event=bundle_without_class_sets" in caplog.text and "export the run again" in caplog.text


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(onset_classes=["breakup", "cloudy"]), "onset_classes names cloudy, not among the classes"),
    (lambda m: m.pop("auroral_classes"), "auroral_classes: Field required"),
])
def test_bad_class_sets_are_refused(bundle_copy, change, message):
    _rewrite(bundle_copy, change)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle_copy)
