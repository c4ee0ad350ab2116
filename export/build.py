"""Training run → verified model bundle: export, reduced precisions, parity at export time, manifest.

Nothing is written to the bundle directory until every requested variant has passed its parity check,
and the bundle is written beside it and renamed into place when complete: a failed export leaves no
half-written bundle. An existing bundle directory is replaced only when asked (``replace``, ``--force``).
"""
from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from auroral.edge.bundle import Bundle, ModelInfo
from auroral.edge.errors import UserError
from auroral.export.bundle_writer import check_target, staged_directory, write_bundle
from auroral.export.fp16 import convert_fp16
from auroral.export.int8 import quantize
from auroral.export.parity import (
    ParityError,
    check_fp32,
    check_labels,
    onnx_probabilities,
    torch_probabilities,
    variant_metrics,
)
from auroral.export.reference import REFERENCE_FILE, save_reference
from auroral.export.samples import frames_under, labelled_batch
from auroral.export.sklearn_onnx import baseline_model, class_map, final_estimator, pixel_feature_graph, save_baseline
from auroral.export.source import ExportableRun, open_run
from auroral.export.summary import run_metrics, training_summary
from auroral.export.torch_onnx import export_torch

log = logging.getLogger(__name__)

CNN_PRECISIONS = ("fp32", "fp16", "int8")
BASELINE_PRECISIONS = ("fp32",)
REFERENCE_IMAGES = 4


def check_precisions(kind: str, precisions: Sequence[str]) -> list[str]:
    allowed = CNN_PRECISIONS if kind == "cnn" else BASELINE_PRECISIONS
    wanted = list(dict.fromkeys(precisions))
    bad = [p for p in wanted if p not in allowed]
    if bad or "fp32" not in wanted:
        raise UserError(f"--precision for a {kind} model must include fp32 and may use {', '.join(allowed)} "
                        f"(got {','.join(precisions)})")
    return wanted


def export_run(run: ExportableRun, out_dir: Path, precisions: Sequence[str] = ("fp32",), run_dir: Path | None = None,
               calibration: Path | None = None, max_calibration: int = 64, val_limit: int | None = None,
               latency_repeats: int = 20, resolve_run: Callable[[Path], ExportableRun] = open_run,
               replace: bool = False) -> Bundle:
    """Export ``run`` into ``out_dir``; raises :class:`ParityError` (nothing written) if a model fails parity,
    and :class:`UserError` if ``out_dir`` is not empty and ``replace`` is not given."""
    check_target(out_dir, replace)  # before the slow part, not only at the end
    wanted = check_precisions(run.kind, precisions)
    batch, labels = labelled_batch(run.split.val, run.preprocess, run.classes, val_limit)
    log.info("event=export_start model=%s kind=%s precisions=%s val_images=%d", run.model_name, run.kind,
             ",".join(wanted), len(batch))
    with tempfile.TemporaryDirectory(prefix="auroral-export-") as scratch_dir:
        scratch = Path(scratch_dir)
        try:
            if run.kind == "cnn":
                variants, metrics, reference, probs = _export_cnn(run, scratch, wanted, batch, labels, calibration,
                                                                   max_calibration, latency_repeats)
                model = ModelInfo(name=run.model_name, architecture=f"torchvision.{run.model_name}", kind="cnn")
            else:
                variants, metrics, reference, probs, model = _export_baseline(run, scratch, batch, labels, resolve_run)
        except ParityError as exc:
            raise ParityError(f"{exc}; bundle not written") from exc
        keep = slice(0, REFERENCE_IMAGES)
        parity = save_reference(scratch / REFERENCE_FILE, batch[keep], reference[keep],
                                {k: v[keep] for k, v in probs.items()})
        with staged_directory(out_dir, replace) as staging:
            written = write_bundle(staging, variants, model, run.preprocess, run.classes,
                                   training=training_summary(run, run_dir),
                                   metrics={"export_validation": metrics, "run": run_metrics(run_dir)},
                                   extra_files={REFERENCE_FILE: parity},
                                   auroral_classes=run.auroral_classes, onset_classes=run.onset_classes)
    log.info("event=bundle_written path=%s variants=%s", out_dir, ",".join(variants))
    return Bundle(out_dir, written.manifest)


def _export_cnn(run: ExportableRun, scratch: Path, wanted: list[str], batch: np.ndarray, labels: np.ndarray,
                calibration: Path | None, max_calibration: int, latency_repeats: int):
    module = run.torch_model()
    fp32 = export_torch(module, scratch / "model.onnx", run.preprocess.size)
    reference = torch_probabilities(module, batch)
    probs = {"fp32": onnx_probabilities(fp32, batch)}
    diff = check_fp32(probs["fp32"], reference, run.model_name)
    metrics: dict[str, Any] = {"images": len(batch), "fp32": {**variant_metrics(probs["fp32"], probs["fp32"], labels),
                                                               "max_abs_diff_vs_pytorch": float(f"{diff:.3g}")}}
    variants = {"fp32": fp32}
    if "fp16" in wanted:
        variants["fp16"] = convert_fp16(fp32, scratch / "model.fp16.onnx")
    if "int8" in wanted:
        paths = frames_under(calibration) if calibration else [Path(p) for p, _ in run.split.train]
        if not paths:
            raise UserError("int8 needs calibration images: the run has no training images; pass --calibration DIR")
        variants["int8"] = scratch / "model.int8.onnx"
        metrics["int8_quantization"] = quantize(fp32, variants["int8"], paths[:max_calibration], run.preprocess,
                                                batch, repeats=latency_repeats)
    for precision in (p for p in wanted if p != "fp32"):
        probs[precision] = onnx_probabilities(variants[precision], batch)
        metrics[precision] = variant_metrics(probs[precision], probs["fp32"], labels)
        log.info("event=variant_checked precision=%s accuracy=%.4f agreement=%.4f", precision,
                 metrics[precision]["accuracy"], metrics[precision]["top1_agreement_with_fp32"])
    return variants, metrics, reference, probs


def _export_baseline(run: ExportableRun, scratch: Path, batch: np.ndarray, labels: np.ndarray,
                     resolve_run: Callable[[Path], ExportableRun]):
    estimator = run.sklearn_model()
    spec = run.features()
    if spec["type"] == "pixels":
        features = pixel_feature_graph(run.preprocess.size, int(spec["pool"]))
        described = "pixels"
    elif spec["type"] == "cnn":
        embedding = resolve_run(Path(spec["run"])).embedding_model()
        features_path = export_torch(embedding, scratch / "features.onnx", run.preprocess.size, output_name="features")
        features = onnx.load(str(features_path))
        described = f"cnn:{spec['run']}"
    else:
        raise UserError(f"unknown baseline feature type {spec['type']!r} in the run (expected pixels or cnn)")
    fp32 = save_baseline(baseline_model(estimator, features, run.classes, run.kind), scratch / "model.onnx")
    final = final_estimator(estimator)
    # scikit-learn orders columns by classes_ (sorted names or indices); place them in bundle class order
    reference = run.predict_proba(batch).astype(np.float32) @ class_map(final.classes_, run.classes)
    probs = {"fp32": onnx_probabilities(fp32, batch)}
    check_labels(probs["fp32"], reference, run.model_name)
    max_diff = float(f"{np.max(np.abs(probs['fp32'] - reference)):.3g}")
    metrics = {"images": len(batch), "fp32": {**variant_metrics(probs["fp32"], probs["fp32"], labels),
                                              "labels_identical_to_sklearn": True, "max_abs_diff_vs_sklearn": max_diff}}
    model = ModelInfo(name=run.model_name, architecture=f"sklearn.{type(final).__name__}", kind=run.kind,
                      features=described)
    return {"fp32": fp32}, metrics, reference, probs, model
