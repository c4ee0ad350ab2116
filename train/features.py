"""Feature steps for the KNN/SVM baselines: downsampled raw pixels, or a trained CNN's embedding.

``pixel_features`` is defined exactly as an ONNX AveragePool (kernel = stride = S/P) followed by a
channel-major flatten, so export can put the same step into the graph.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from auroral.edge.errors import UserError


def check_pool(size: int, pool: int) -> None:
    if pool < 1 or size % pool:
        raise UserError(f"--pixel-pool {pool} must divide --image-size {size} (e.g. {size // 4 or 1})")


def pixel_features(batch: np.ndarray, pool: int) -> np.ndarray:
    """(N, 3, S, S) → average pooling with kernel = stride = S/P → (N, 3*P*P), channel-major."""
    n, c, size, _ = batch.shape
    check_pool(size, pool)
    k = size // pool
    pooled = batch.reshape(n, c, pool, k, pool, k).mean(axis=(3, 5), dtype=np.float64)
    return pooled.reshape(n, c * pool * pool).astype(np.float32)


def cnn_features(batch: np.ndarray, run_dir: str, batch_size: int = 64) -> np.ndarray:
    """(N, 3, S, S) → (N, D) penultimate activations of the CNN run at ``run_dir``."""
    import torch

    from auroral.train.runs import load_run

    model = load_run(run_dir).embedding_model()
    with torch.inference_mode():
        parts = [model(torch.from_numpy(np.ascontiguousarray(batch[i:i + batch_size]))).numpy()
                 for i in range(0, len(batch), batch_size)]
    return np.concatenate(parts).astype(np.float32)


def extract_features(batch: np.ndarray, features: dict[str, Any]) -> np.ndarray:
    """Apply a run's feature step (:meth:`auroral.train.runs.Run.features`)."""
    if features["type"] == "pixels":
        return pixel_features(batch, int(features["pool"]))
    return cnn_features(batch, features["run"])
