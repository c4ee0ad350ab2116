"""Helpers for the export tests (no tests here): tiny labelled frames on disk and runs built from real models.

The runs are real: a resnet18 trained for one epoch on 32-px frames, and KNN/SVM fitted on pixel or
CNN features. They implement :class:`auroral.export.source.ExportableRun` directly, so export is tested
against the documented run contract without depending on how the trainer stores run directories.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from auroral.edge.classes import CLASSES
from auroral.edge.preprocess import PreprocessSpec
from auroral.export.samples import labelled_batch

SIZE = 32
# a distinct mean colour per class, so even a one-epoch model and pixel baselines learn something
COLOURS = np.array([[250, 60, 60], [200, 40, 200], [40, 220, 60], [40, 120, 40], [90, 160, 90], [20, 40, 120], [15, 15, 15]])


def write_frames(root: Path, per_class: int, seed: int) -> list[tuple[Path, str]]:
    rng = np.random.default_rng(seed)
    items = []
    for index, name in enumerate(CLASSES):
        for k in range(per_class):
            noise = rng.integers(-40, 40, (48, 48, 3))
            image = np.clip(COLOURS[index] + noise, 0, 255).astype(np.uint8)
            path = root / name / f"{name}_{seed}_{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            items.append((path, name))
    return items


@dataclass
class Split:
    train: list[tuple[Path, Any]]
    val: list[tuple[Path, Any]]
    test: list[tuple[Path, Any]] = field(default_factory=list)


def make_split(root: Path) -> Split:
    return Split(train=write_frames(root / "train", 3, seed=1), val=write_frames(root / "val", 2, seed=2))


def train_resnet18(split: Split, spec: PreprocessSpec):
    """One epoch of resnet18 (7 classes) on the training frames; returns the classifier body (logits)."""
    import torch
    import torchvision

    torch.manual_seed(0)
    body = torchvision.models.resnet18(num_classes=len(CLASSES))
    batch, labels = labelled_batch(split.train, spec, list(CLASSES))
    optimiser = torch.optim.SGD(body.parameters(), lr=0.05)
    body.train()
    for start in range(0, len(batch), 8):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(body(torch.from_numpy(batch[start:start + 8])), torch.from_numpy(labels[start:start + 8]))
        loss.backward()
        optimiser.step()
    return body.eval()


@dataclass
class CnnRun:
    split: Split
    body: Any
    preprocess: PreprocessSpec
    model_name: str = "resnet18"
    kind: str = "cnn"
    classes: list[str] = field(default_factory=lambda: list(CLASSES))
    config: dict = field(default_factory=lambda: {"epochs": 1, "image_size": SIZE})

    def torch_model(self):
        import torch

        return torch.nn.Sequential(self.body, torch.nn.Softmax(dim=1)).eval()

    def embedding_model(self):
        import torch

        return torch.nn.Sequential(*list(self.body.children())[:-1], torch.nn.Flatten(1)).eval()


@dataclass
class BaselineRun:
    split: Split
    estimator: Any
    kind: str
    feature_spec: dict
    featurise: Any
    preprocess: PreprocessSpec
    classes: list[str] = field(default_factory=lambda: list(CLASSES))
    config: dict = field(default_factory=dict)

    @property
    def model_name(self) -> str:
        return self.kind

    def sklearn_model(self):
        return self.estimator

    def features(self) -> dict:
        return self.feature_spec

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        return self.estimator.predict_proba(self.featurise(batch))


def pixel_features(batch: np.ndarray, pool: int) -> np.ndarray:
    n, c, s, _ = batch.shape
    step = s // pool
    return batch.reshape(n, c, pool, step, pool, step).mean(axis=(3, 5)).reshape(n, -1)


def fit_baseline(split: Split, spec: PreprocessSpec, kind: str, featurise, feature_spec: dict) -> BaselineRun:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    batch, labels = labelled_batch(split.train, spec, list(CLASSES))
    estimator = KNeighborsClassifier(n_neighbors=3) if kind == "knn" else make_pipeline(StandardScaler(), SVC(probability=True, random_state=0))
    estimator.fit(featurise(batch), np.array(CLASSES)[labels])
    return BaselineRun(split, estimator, kind, feature_spec, featurise, spec)
