"""What export needs from a training run, written as a protocol so export does not depend on how runs are stored.

:func:`open_run` reads a run directory through :func:`auroral.train.runs.load_run`; tests and other
callers may hand :func:`auroral.export.build.export_run` any object with the same attributes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from auroral.edge.errors import UserError
from auroral.edge.preprocess import PreprocessSpec


class Split(Protocol):
    train: list[tuple[Path, Any]]
    val: list[tuple[Path, Any]]
    test: list[tuple[Path, Any]]


class ExportableRun(Protocol):
    config: Any
    classes: list[str]
    auroral_classes: list[str]  # subsets of classes, copied into the manifest
    onset_classes: list[str]
    preprocess: PreprocessSpec
    kind: str  # "cnn" | "knn" | "svm"
    model_name: str
    split: Split

    def torch_model(self) -> Any: ...

    def embedding_model(self) -> Any: ...

    def sklearn_model(self) -> Any: ...

    def features(self) -> dict[str, Any]: ...

    def predict_proba(self, batch: np.ndarray) -> np.ndarray: ...


def open_run(run_dir: str | Path) -> ExportableRun:
    """Load a training run directory, turning a missing or unreadable run into a one-line UserError."""
    path = Path(run_dir)
    if not path.is_dir():
        raise UserError(f"training run {path} does not exist or is not a directory")
    from auroral.train.runs import load_run

    return load_run(path)


def label_index(label: Any, classes: list[str]) -> int:
    """Split labels may be class indices or names; export compares them as indices into ``classes``."""
    if isinstance(label, (int, np.integer)):
        return int(label)
    from auroral.edge.classes import canonical_label

    return classes.index(canonical_label(str(label), tuple(classes)))
