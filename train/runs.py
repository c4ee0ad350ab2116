"""The run directory contract: what training writes and what export, evaluation and parity checks read.

``RUN_DIR`` holds ``config.json`` (:class:`TrainConfig`), ``split.json``, ``checkpoint.pt`` (last epoch,
for ``--resume``) and ``best.pt`` (CNN) or ``model.joblib`` (KNN/SVM), ``metrics.json``, ``report.md``,
``confusion.png`` and ``per_class.png``. :func:`load_run` gives export a model without knowing how it
was trained.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from auroral.edge.errors import UserError
from auroral.edge.preprocess import PreprocessSpec
from auroral.train.config import ModelKind, TrainConfig
from auroral.train.splits import Split

CONFIG = "config.json"
SPLIT = "split.json"
CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
SKLEARN_MODEL = "model.joblib"
METRICS = "metrics.json"
REPORT = "report.md"
CONFUSION_PNG = "confusion.png"
PER_CLASS_PNG = "per_class.png"


def write_config(run_dir: Path, config: TrainConfig) -> None:
    """Atomic (write, then rename), so another process never reads half a config."""
    temporary = run_dir / f".{CONFIG}.tmp"
    temporary.write_text(config.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, run_dir / CONFIG)


def read_config(run_dir: Path) -> TrainConfig:
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise UserError(f"{run_dir} is not a training run (no {CONFIG})")
    try:
        return TrainConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise UserError(f"{path} is not a valid training config: {exc.errors()[0]['msg']}") from exc


@dataclass
class Run:
    """A finished (or resumable) training run, loaded from its directory."""

    path: Path
    config: TrainConfig

    @property
    def classes(self) -> list[str]:
        return list(self.config.classes)

    @property
    def auroral_classes(self) -> list[str]:
        return list(self.config.auroral_classes or [])

    @property
    def onset_classes(self) -> list[str]:
        return list(self.config.onset_classes or [])

    @property
    def preprocess(self) -> PreprocessSpec:
        return self.config.preprocess

    @property
    def kind(self) -> ModelKind:
        return self.config.kind

    @property
    def model_name(self) -> str:
        return self.config.model if self.kind == "cnn" else f"{self.config.model}-{self.features()['type']}"

    @cached_property
    def split(self) -> Split:
        return Split.load(self.path / SPLIT)

    def metrics(self) -> dict[str, Any] | None:
        path = self.path / METRICS
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def _require(self, kind: str) -> None:
        if (kind == "cnn") != (self.kind == "cnn"):
            raise UserError(f"run {self.path} is a {self.kind} run, not a {kind} run")

    def _classifier(self):
        """The CNN with its best weights, returning logits, in eval mode."""
        import torch

        from auroral.train.models import build_model

        self._require("cnn")
        path = self.path / BEST
        if not path.is_file():
            raise UserError(f"run {self.path} has no {BEST} (training did not finish an epoch)")
        model = build_model(self.config.model, len(self.classes), pretrained=None, weights=None)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        return model.eval()

    def torch_model(self):
        """CNN: preprocessed NCHW float32 → class probabilities (softmax included), eval mode."""
        import torch

        return torch.nn.Sequential(self._classifier(), torch.nn.Softmax(dim=1)).eval()

    def embedding_model(self):
        """CNN: preprocessed NCHW float32 → (N, D) penultimate features, eval mode."""
        from auroral.train.models import embedding_network

        return embedding_network(self._classifier(), self.config.model).eval()

    def sklearn_model(self):
        """KNN/SVM: the fitted scikit-learn Pipeline on features (see :meth:`features`)."""
        import joblib

        if self.kind == "cnn":
            raise UserError(f"run {self.path} is a CNN run; it has no scikit-learn model")
        path = self.path / SKLEARN_MODEL
        if not path.is_file():
            raise UserError(f"run {self.path} has no {SKLEARN_MODEL}")
        return joblib.load(path)

    def features(self) -> dict[str, Any]:
        """The baseline's feature step: ``{"type": "pixels", "pool": P}`` or ``{"type": "cnn", "run": path}``."""
        features = self.config.features or ""
        if features == "pixels":
            return {"type": "pixels", "pool": self.config.pixel_pool}
        if features.startswith("cnn:"):
            return {"type": "cnn", "run": str(Path(features[4:]).resolve())}
        raise UserError(f"run {self.path} has no baseline feature step (features={features!r})")

    def predict_proba(self, batch: np.ndarray, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
        """Reference probabilities (N, C) for preprocessed NCHW float32 input, for any kind of run."""
        import torch

        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.kind == "cnn":
            model = self.torch_model().to(device)
            with torch.inference_mode():
                parts = [model(torch.from_numpy(batch[i:i + batch_size]).to(device)).float().cpu().numpy()
                         for i in range(0, len(batch), batch_size)]
            return np.concatenate(parts).astype(np.float32)
        from auroral.train.features import extract_features

        return self.sklearn_model().predict_proba(extract_features(batch, self.features())).astype(np.float32)


def load_run(run_dir: str | Path) -> Run:
    """Open a run directory (raises :class:`UserError` when it is not one)."""
    path = Path(run_dir).resolve()
    if not path.is_dir():
        raise UserError(f"run directory {run_dir} does not exist")
    return Run(path=path, config=read_config(path))
