"""Classification metrics with scikit-learn, in the ``metrics.json`` layout.

Keys: ``per_class`` {class: {precision, recall, f1, support}}, ``macro``, ``weighted``, ``accuracy``,
``confusion`` (rows = true class, columns = predicted), ``classes``, ``split``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def _scores(p: float, r: float, f: float, support: int) -> dict[str, float | int]:
    return {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(support)}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str],
                           split: dict[str, Any]) -> dict[str, Any]:
    """Metrics for integer labels (indices into ``classes``)."""
    labels = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    averages = {}
    for average in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average,
                                                        zero_division=0)
        averages[average] = _scores(ap, ar, af, int(np.sum(s)))
    return {
        "per_class": {name: _scores(p[i], r[i], f[i], s[i]) for i, name in enumerate(classes)},
        "macro": averages["macro"],
        "weighted": averages["weighted"],
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "classes": list(classes),
        "split": split,
    }


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> float:
    """Validation score for early stopping and model selection."""
    return float(f1_score(y_true, y_pred, labels=list(range(num_classes)), average="macro", zero_division=0))
