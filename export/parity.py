"""Parity of exported models against their reference (PyTorch / scikit-learn) on real validation images.

FP32 CNNs must reproduce PyTorch's probabilities within :data:`FP32_TOLERANCE`; baselines must give
identical labels to scikit-learn; FP16/INT8 are reduced precisions, so their top-1 agreement with the
FP32 model and their accuracy are measured and recorded rather than enforced.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from sklearn.metrics import accuracy_score

from auroral.edge.backends.ort import session_options
from auroral.edge.errors import UserError

FP32_TOLERANCE = 1e-4
_CHUNK = 32


class ParityError(UserError):
    """An exported model does not reproduce its reference: the bundle is not written (or fails --verify)."""


def onnx_probabilities(model_path: Path, batch: np.ndarray) -> np.ndarray:
    """Run a bundle model on ONNX Runtime CPU in chunks (bounded memory for big validation splits)."""
    session = ort.InferenceSession(str(model_path), session_options(None), providers=["CPUExecutionProvider"])
    outputs = [session.run(["probabilities"], {"input": batch[i:i + _CHUNK]})[0] for i in range(0, len(batch), _CHUNK)]
    return np.concatenate(outputs).astype(np.float32)


def torch_probabilities(module, batch: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        outputs = [module(torch.from_numpy(batch[i:i + _CHUNK])).numpy() for i in range(0, len(batch), _CHUNK)]
    return np.concatenate(outputs).astype(np.float32)


def check_fp32(onnx_probs: np.ndarray, reference: np.ndarray, what: str) -> float:
    """Max |Δp| between ONNX and PyTorch; raises :class:`ParityError` above the tolerance."""
    diff = float(np.max(np.abs(onnx_probs - reference)))
    if not diff < FP32_TOLERANCE:
        raise ParityError(f"{what}: fp32 ONNX probabilities differ from PyTorch by up to {diff:.3g} "
                          f"(limit {FP32_TOLERANCE:g}) on {len(reference)} images")
    return diff


def check_labels(onnx_probs: np.ndarray, reference: np.ndarray, what: str) -> None:
    """Baselines: every label must equal scikit-learn's; raises :class:`ParityError` naming how many differ."""
    differ = int(np.sum(onnx_probs.argmax(axis=1) != reference.argmax(axis=1)))
    if differ:
        raise ParityError(f"{what}: ONNX labels differ from scikit-learn on {differ} of {len(reference)} images")


def variant_metrics(probs: np.ndarray, fp32_probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    predicted = probs.argmax(axis=1)
    return {
        "accuracy": round(float(accuracy_score(labels, predicted)), 6),
        "top1_agreement_with_fp32": round(float(accuracy_score(fp32_probs.argmax(axis=1), predicted)), 6),
    }
