"""Evaluate a run on its test split or on another labelled data set and write metrics, report and plots."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from auroral.edge.errors import UserError
from auroral.train import runs
from auroral.train.cache import preprocess_files
from auroral.train.datasets import load_dataset
from auroral.train.distributed import resolve_device
from auroral.train.figures import write_figures
from auroral.train.metrics import classification_metrics
from auroral.train.report import model_label, write_report
from auroral.train.runs import Run

log = logging.getLogger(__name__)


def label_indices(labels: list[str], classes: list[str]) -> np.ndarray:
    return np.asarray([classes.index(label) for label in labels], dtype=np.int64)


def write_results(run: Run, out_dir: Path, probabilities: np.ndarray, y_true: np.ndarray, split: dict[str, Any],
                  notes: dict[str, Any] | None = None) -> dict[str, Any]:
    """metrics.json, report.md and the figures (a learning curve where the run has a history) in ``out_dir``."""
    from auroral.train.training import HISTORY  # training imports this module: a top-level import would cycle

    out_dir.mkdir(parents=True, exist_ok=True)
    metrics = classification_metrics(y_true, probabilities.argmax(axis=1), run.classes, split)
    (out_dir / runs.METRICS).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    history_path = run.path / HISTORY
    history = json.loads(history_path.read_text(encoding="utf-8")) if history_path.is_file() else None
    figures = write_figures(out_dir, metrics, model_label(run.config), history)
    write_report(out_dir / runs.REPORT, metrics, run.config, notes or {}, figures)
    log.info("event=evaluated run=%s out=%s accuracy=%.4f macro_f1=%.4f n=%d", run.path, out_dir,
             metrics["accuracy"], metrics["macro"]["f1"], len(y_true))
    return metrics


def split_summary(run: Run, part: str) -> dict[str, Any]:
    split = run.split
    return {"kind": split.kind, "part": part, "data": run.config.data, "train": len(split.train),
            "val": len(split.val), "test": len(split.test)}


def evaluate_run(run: Run, out_dir: Path, data: Path | None = None, class_order: str | None = None,
                 part: str = "test", device: str = "cpu") -> dict[str, Any]:
    """Evaluate on ``part`` of the run's saved split, or on every image of ``data`` (its test set if given)."""
    if data is None:
        items = run.split.part(part)
        summary = split_summary(run, part)
    else:
        dataset = load_dataset(data, classes=tuple(run.classes), class_order=class_order, min_per_class=0)
        chosen = dataset.given_test if dataset.given_test is not None else dataset.samples
        items = [(s.path, s.label) for s in chosen]
        summary = {"kind": "external", "part": "given test" if dataset.given_test is not None else "all",
                   "data": str(Path(data).resolve())}
    if not items:
        raise UserError(f"nothing to evaluate: the {part} set of {run.path} is empty")
    resolve_device(device)
    batch = preprocess_files([p for p, _ in items], run.preprocess, desc=f"decode {part}")
    probabilities = run.predict_proba(batch, device=device)
    return write_results(run, out_dir, probabilities, label_indices([lbl for _, lbl in items], run.classes), summary)
