"""The training configuration, validated by pydantic and stored as ``RUN_DIR/config.json``.

Everything needed to reproduce a run (and to export it) lives here: model, features, preprocessing,
seed, schedule, the class list with its auroral and onset classes (copied into the bundle manifest), and
the code version that produced it.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auroral.edge import __version__
from auroral.edge.classes import default_class_sets
from auroral.edge.errors import UserError
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


def circle_fov(circle: str, data: Path) -> dict[str, Any]:
    """``--circle auto|CX,CY,R`` → the :class:`PreprocessSpec` fields (``fov_center``, ``fov_radius``) that crop
    the data set's frames to that circle: fractions of its frame size, so the bundle records the sky it saw."""
    from auroral.edge.circle import CircleError, find_circle_in_files
    from auroral.edge.frames import MIN_SIDE, FrameError, is_frame, load_frame

    folder = data if data.is_dir() else data.parent  # a label list: its images lie below its folder
    paths = [path for path in folder.rglob("*") if is_frame(path) and path.is_file()]
    try:
        if circle == "auto":
            found = find_circle_in_files(paths)
            (cx, cy, r), (width, height) = found.pixels, (found.width, found.height)
        else:
            cx, cy, r = circle_pixels(circle)
            newest = max(paths, key=lambda path: path.stat().st_mtime, default=None)
            if newest is None:
                raise UserError(f"--circle: no frames under {folder} to take the frame size from")
            width, height = load_frame(newest, min_side=MIN_SIDE).full_size
    except (CircleError, FrameError) as exc:
        raise UserError(f"--circle {circle}: {exc}") from exc
    spec = PreprocessSpec().for_circle(cx, cy, r, width, height)
    return {"fov_center": spec.fov_center, "fov_radius": spec.fov_radius}


def circle_pixels(text: str) -> tuple[float, float, float]:
    """``CX,CY,R`` in pixels; a :class:`UserError` names what is wrong."""
    try:
        cx, cy, r = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise UserError(f"--circle {text!r}: expected auto or CX,CY,R in pixels, e.g. 360,240,230") from exc
    if r <= 0 or cx < 0 or cy < 0:
        raise UserError(f"--circle {text!r}: the radius must be positive and the centre in the frame")
    return cx, cy, r


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
    auroral_classes: list[str] | None = Field(None, description="unset: the default for a known class list, else none")
    onset_classes: list[str] | None = Field(None, description="unset: the default for a known class list, else none")
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
        default_auroral, default_onset = default_class_sets(self.classes) or ([], [])
        self.auroral_classes = default_auroral if self.auroral_classes is None else self.auroral_classes
        self.onset_classes = default_onset if self.onset_classes is None else self.onset_classes
        for name in ("auroral_classes", "onset_classes"):
            unknown = [c for c in getattr(self, name) if c not in self.classes]
            if unknown:
                raise ValueError(f"{name}: {', '.join(unknown)} not among the classes ({', '.join(self.classes)})")
        return self
