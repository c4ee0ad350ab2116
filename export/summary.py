"""The training-data summary and the run's own evaluation metrics that a bundle's manifest carries."""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

from auroral.export.source import ExportableRun, label_index


def _jsonable(config: Any) -> Any:
    if hasattr(config, "model_dump"):
        return config.model_dump(mode="json")
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return json.loads(json.dumps(dataclasses.asdict(config), default=str))
    return json.loads(json.dumps(config, default=str))


def training_summary(run: ExportableRun, run_dir: Path | None) -> dict[str, Any]:
    """Split sizes, per-class training counts and the training configuration."""
    counts = Counter(run.classes[label_index(label, run.classes)] for _, label in run.split.train)
    return {
        "run": str(run_dir.resolve()) if run_dir else None,
        "model": run.model_name,
        "images": {"train": len(run.split.train), "val": len(run.split.val), "test": len(run.split.test)},
        "train_class_counts": {name: counts.get(name, 0) for name in run.classes},
        "config": _jsonable(run.config),
    }


def run_metrics(run_dir: Path | None) -> dict[str, Any]:
    """Evaluation metrics the trainer stored in the run directory (empty when there are none)."""
    from auroral.train.runs import METRICS

    path = run_dir / METRICS if run_dir else None
    return json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else {}
