"""A few preprocessed validation inputs and their expected outputs, stored in the bundle for ``--verify``.

The bundle then re-checks itself without the training run: FP32 must still reproduce the reference
probabilities (PyTorch / scikit-learn), and each reduced precision the labels it gave at export time.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from auroral.edge.bundle import Bundle
from auroral.export.parity import ParityError, check_fp32, check_labels, onnx_probabilities

REFERENCE_FILE = "parity.npz"


def save_reference(path: Path, inputs: np.ndarray, reference: np.ndarray, variant_probs: dict[str, np.ndarray]) -> Path:
    labels = {f"labels_{name}": probs.argmax(axis=1) for name, probs in variant_probs.items()}
    np.savez_compressed(path, inputs=inputs, reference=reference, **labels)
    return path


def verify_reference(bundle: Bundle) -> dict[str, str]:
    """Re-run every variant on the stored inputs; raises :class:`ParityError` on any mismatch."""
    path = bundle.root / REFERENCE_FILE
    if REFERENCE_FILE not in bundle.manifest.files:
        raise ParityError(f"bundle {bundle.root} has no {REFERENCE_FILE}: it was not written by auroral export")
    with np.load(path) as stored:
        inputs, reference = stored["inputs"], stored["reference"]
        expected = {name: stored[f"labels_{name}"] for name in bundle.manifest.variants if f"labels_{name}" in stored}
    results = {}
    for precision in bundle.manifest.variants:
        probs = onnx_probabilities(bundle.model_path(precision), inputs)
        what = f"bundle {bundle.root} {precision}"
        if precision == "fp32" and bundle.manifest.model.kind == "cnn":
            results[precision] = f"max_abs_diff={check_fp32(probs, reference, what):.2e}"
        elif precision == "fp32":
            check_labels(probs, reference, what)
            results[precision] = "labels identical"
        else:
            differ = int(np.sum(probs.argmax(axis=1) != expected[precision]))
            if differ:
                raise ParityError(f"{what}: labels differ from export time on {differ} of {len(inputs)} images")
            results[precision] = "labels as at export"
    return results
