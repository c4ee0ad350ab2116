"""The training configuration, validated by pydantic and stored as ``RUN_DIR/config.json``.

Everything needed to reproduce a run (and to export it) lives here: model, features, preprocessing,
seed, schedule and the code version that produced it.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auroral.edge import __version__
from auroral.edge.preprocess import PreprocessSpec

#: --model name → (torchvision architecture, dotted path of its final Linear layer)
ARCHITECTURES: dict[str, tuple[str, str]] = {
    "resnet50": ("resnet50", "fc"),
    "resnet18": ("resnet18", "fc"),
    "resnet34": ("resnet34", "fc"),
    "resnet101": ("resnet101", "fc"),
    "mobilenet": ("mobilenet_v3_small", "classifier.3"),
    "densenet121": ("densenet121", "classifier"),
    "efficientnet_b0": ("efficientnet_b0", "classifier.1"),
    "vgg16": ("vgg16", "classifier.6"),
}
CNN_MODELS: tuple[str, ...] = tuple(ARCHITECTURES)
BASELINE_MODELS: tuple[str, ...] = ("knn", "svm")
ModelKind = Literal["cnn", "knn", "svm"]


def code_version() -> str:
    """Package version plus the git commit of the source tree when there is one (``0.1.0+g1a2b3c4``)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent,
                                capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return __version__
    return f"{__version__}+g{commit}" if commit else __version__


class TrainConfig(BaseModel):
    """One training run; dumped to ``config.json`` and read back by :func:`auroral.train.runs.load_run`."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="resnet50, resnet18, mobilenet, ..., knn or svm")
    features: str | None = Field(None, description="baselines: 'pixels' or 'cnn:<abs run dir>'")
    pixel_pool: int | None = Field(None, ge=1, description="pixel features: pooled side P (3*P*P features)")
    image_size: int = Field(224, ge=8)
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(32, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    optimizer: Literal["adamw", "sgd"] = "adamw"
    schedule: Literal["cosine", "step", "none"] = "cosine"
    patience: int = Field(10, ge=1, description="early stopping: epochs without a better val macro-F1")
    class_weights: bool = True
    augment: bool = True
    pretrained: Literal["imagenet"] | None = None
    weights: str | None = None
    seed: int = 0
    device: str = "cpu"
    data: str = ""
    classes: list[str]
    preprocess: PreprocessSpec
    split_kind: Literal["stratified", "night", "given"] = "stratified"
    val_fraction: float = Field(0.15, gt=0, lt=1)
    test_fraction: float = Field(0.15, gt=0, lt=1)
    chosen_params: dict[str, Any] | None = Field(None, description="baselines: hyper-parameters picked by CV")
    code_version: str = Field(default_factory=code_version)

    @property
    def kind(self) -> ModelKind:
        return self.model if self.model in BASELINE_MODELS else "cnn"  # type: ignore[return-value]

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.model not in CNN_MODELS + BASELINE_MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {', '.join(CNN_MODELS + BASELINE_MODELS)}")
        if self.kind != "cnn" and not self.features:
            raise ValueError(f"model {self.model} needs features ('pixels' or 'cnn:RUN_DIR')")
        if self.preprocess.size != self.image_size:
            raise ValueError("preprocess.size must equal image_size")
        return self
