"""Metrics on a hand-made confusion, the paper-style table and the side-by-side comparison."""
from __future__ import annotations

import numpy as np
import pytest

from auroral.train.metrics import classification_metrics, macro_f1
from auroral.train.report import compare_table, results_table

CLASSES = ["arcs", "faint", "breakup"]
# hand-made confusion (rows true, columns predicted):
#            arcs faint breakup
# arcs         3    1      0
# faint        0    2      0
# breakup      1    1      2
CONFUSION = [[3, 1, 0], [0, 2, 0], [1, 1, 2]]


def _labels() -> tuple[np.ndarray, np.ndarray]:
    true, pred = [], []
    for t, row in enumerate(CONFUSION):
        for p, count in enumerate(row):
            true += [t] * count
            pred += [p] * count
    return np.array(true), np.array(pred)


@pytest.fixture
def metrics():
    y_true, y_pred = _labels()
    return classification_metrics(y_true, y_pred, CLASSES, {"kind": "stratified", "part": "test"})


def test_keys_exactly_as_specified(metrics):
    assert set(metrics) == {"per_class", "macro", "weighted", "accuracy", "confusion", "classes", "split"}
    assert metrics["classes"] == CLASSES and metrics["split"]["kind"] == "stratified"
    assert metrics["confusion"] == CONFUSION


def test_values_by_hand(metrics):
    arcs, faint, breakup = (metrics["per_class"][c] for c in CLASSES)
    assert arcs == pytest.approx({"precision": 3 / 4, "recall": 3 / 4, "f1": 3 / 4, "support": 4})
    assert faint == pytest.approx({"precision": 2 / 4, "recall": 1.0, "f1": 2 / 3, "support": 2})
    assert breakup == pytest.approx({"precision": 1.0, "recall": 2 / 4, "f1": 2 / 3, "support": 4})
    assert metrics["accuracy"] == pytest.approx(7 / 10)
    assert metrics["macro"]["precision"] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    assert metrics["macro"]["f1"] == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    assert metrics["weighted"]["recall"] == pytest.approx((4 * 3 / 4 + 2 * 1 + 4 * 1 / 2) / 10)
    assert metrics["weighted"]["support"] == metrics["macro"]["support"] == 10
    assert macro_f1(*_labels(), 3) == pytest.approx(metrics["macro"]["f1"])


def test_absent_class_scores_zero_not_error():
    m = classification_metrics(np.array([0, 0]), np.array([0, 1]), CLASSES, {"kind": "given"})
    assert m["per_class"]["breakup"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m["confusion"][2] == [0, 0, 0]


def test_table_layout(metrics):
    lines = results_table(metrics).splitlines()
    assert lines[0].split("|")[1:6] == [" Class            ", " Precision ", " Recall ", " F1-score ", " Support "]
    assert [line.split("|")[1].strip() for line in lines[2:5]] == CLASSES
    assert lines[3].split("|")[2:6] == ["      0.50 ", "   1.00 ", "     0.67 ", "       2 "]
    assert "0.70" in lines[5] and "Accuracy" in lines[5]
    assert lines[6].split("|")[1].strip() == "**Macro avg**" and lines[7].split("|")[1].strip() == "**Weighted avg**"


def test_compare_table_side_by_side(metrics):
    other = classification_metrics(*(2 * [_labels()[0]]), CLASSES, {"kind": "stratified"})
    table = compare_table([("A", metrics), ("B", other)]).splitlines()
    assert table[0] == "| metric | A | B |"
    assert "| accuracy | 0.700 | 1.000 |" in table
    assert "| F1 faint | 0.667 | 1.000 |" in table
