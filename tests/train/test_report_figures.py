"""The results figures as matplotlib objects (bar heights, limits, legends, matrices) and as PNG files, and
``report.md`` listing exactly the figures written."""
from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from PIL import Image

from auroral.edge.preprocess import PreprocessSpec
from auroral.train.config import TrainConfig
from auroral.train.evaluate import write_results
from auroral.train.figures import (
    LEARNING_CURVE_PNG,
    confusion_figure,
    learning_curve_figure,
    normalised_confusion,
    per_class_figure,
    write_figures,
)
from auroral.train.metrics import classification_metrics
from auroral.train.runs import Run

CLASSES = ["breakup", "colored", "arcs", "discrete", "patchy", "edge", "faint"]
LONG = [f"{name}-with-a-long-descriptive-name" for name in CLASSES]
HISTORY = [{"epoch": e, "train_loss": 2.0 / e, "val_macro_f1": 0.5 + 0.05 * e if e < 5 else 0.8,
            "val_accuracy": 1 - 0.5 / e, "seconds": 1.0, "lr": 1e-3} for e in range(1, 8)]


def _metrics(classes: list[str]) -> dict:
    """300 predictions, 70 % right, class 5 absent from the truth, so its row of the matrix is empty."""
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, len(classes), 300)
    y_true[y_true == 5] = 6
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(0, len(classes), 300))
    return classification_metrics(y_true, y_pred, classes, {"part": "test"})


@pytest.fixture(params=[CLASSES, LONG], ids=["short-names", "long-names"])
def metrics(request) -> dict:
    return _metrics(request.param)


def _assert_text_inside(fig: Figure) -> None:
    """Everything drawn (ticks, labels, titles, legends, colour bars) lies inside the saved canvas."""
    fig.canvas.draw()
    drawn, canvas = fig.get_tightbbox(fig.canvas.get_renderer()), fig.bbox_inches
    tolerance = 0.02  # inches: under 3 pixels at the saved resolution
    assert drawn.x0 >= canvas.x0 - tolerance and drawn.x1 <= canvas.x1 + tolerance, (drawn, canvas)
    assert drawn.y0 >= canvas.y0 - tolerance and drawn.y1 <= canvas.y1 + tolerance, (drawn, canvas)


def test_normalised_rows_sum_to_one_and_empty_rows_are_nan():
    confusion = np.array([[3, 1, 0], [0, 0, 0], [1, 1, 2]])
    normalised = normalised_confusion(confusion)
    np.testing.assert_allclose(normalised[[0, 2]].sum(axis=1), 1.0)
    np.testing.assert_allclose(np.diag(normalised)[[0, 2]], [3 / 4, 2 / 4])
    assert np.isnan(normalised[1]).all()


def test_confusion_figure_shows_counts_and_recall(metrics):
    fig = confusion_figure(metrics, "model — test set")
    raw, normal = (ax for ax in fig.axes if ax.images)
    confusion = np.asarray(metrics["confusion"])
    np.testing.assert_array_equal(raw.images[0].get_array(), confusion)
    shown = np.ma.filled(normal.images[0].get_array(), np.nan)
    supported = confusion.sum(axis=1) > 0
    np.testing.assert_allclose(np.nansum(shown, axis=1)[supported], 1.0)
    assert np.isnan(shown[~supported]).all()
    recall = [metrics["per_class"][c]["recall"] for c in metrics["classes"]]
    np.testing.assert_allclose(np.diag(shown)[supported], np.asarray(recall)[supported])
    assert normal.images[0].get_clim() == (0, 1)
    for ax in (raw, normal):
        assert [t.get_text() for t in ax.get_xticklabels()] == metrics["classes"]
        rows = [t.get_text() for t in ax.get_yticklabels()]
        assert all(row.startswith(name) for row, name in zip(rows, metrics["classes"], strict=True))
        assert len(ax.texts) == confusion.size  # a value in every cell
    assert [t.get_text() for t in raw.texts][:len(metrics["classes"])] == [str(v) for v in confusion[0]]
    assert [t.get_text() for t in normal.get_yticklabels()][0] == f"{metrics['classes'][0]} (n={confusion[0].sum()})"
    assert len(fig.axes) == 4  # two matrices, two colour bars
    _assert_text_inside(fig)


def test_per_class_bars_equal_the_metrics_and_the_legend_covers_none(metrics):
    fig = per_class_figure(metrics, "model — test set")
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    classes = metrics["classes"]
    assert len(bars) == 3 * len(classes)
    for group, key in enumerate(("precision", "recall", "f1")):
        heights = [b.get_height() for b in bars[group * len(classes):(group + 1) * len(classes)]]
        assert heights == pytest.approx([metrics["per_class"][c][key] for c in classes])
    assert ax.get_ylim() == (0, 1)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [f"{c}\n(n={metrics['per_class'][c]['support']})" for c in classes]
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()][:3] == ["precision", "recall", "F1"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend_box = legend.get_window_extent(renderer)
    assert not any(legend_box.overlaps(b.get_window_extent(renderer)) for b in bars)
    assert not legend_box.overlaps(ax.get_window_extent(renderer))  # outside the plotting area altogether
    _assert_text_inside(fig)


def test_learning_curve_plots_the_history():
    fig = learning_curve_figure(HISTORY, "resnet18 — training")
    loss, scores = fig.axes
    epochs = [h["epoch"] for h in HISTORY]
    (loss_line,) = [line for line in loss.get_lines() if line.get_label() == "training loss"]
    np.testing.assert_allclose(loss_line.get_xdata(), epochs)
    np.testing.assert_allclose(loss_line.get_ydata(), [h["train_loss"] for h in HISTORY])
    by_label = {line.get_label(): line for line in scores.get_lines()}
    np.testing.assert_allclose(by_label["validation macro-F1"].get_ydata(), [h["val_macro_f1"] for h in HISTORY])
    np.testing.assert_allclose(by_label["validation accuracy"].get_ydata(), [h["val_accuracy"] for h in HISTORY])
    assert "best epoch (5)" in by_label  # the first epoch with the highest val macro-F1, as training keeps it
    assert loss.get_ylim()[1] > max(h["train_loss"] for h in HISTORY) and loss.get_ylim()[0] == 0
    assert scores.get_ylim()[0] < 0 and scores.get_ylim()[1] > 1
    _assert_text_inside(fig)


def test_write_figures_writes_decodable_pngs(tmp_path):
    written = write_figures(tmp_path, _metrics(LONG), "resnet18", HISTORY)
    assert list(written) == ["confusion.png", "per_class.png", LEARNING_CURVE_PNG]
    for name in written:
        with Image.open(tmp_path / name) as image:
            image.load()
            assert image.format == "PNG" and 500 <= image.width <= 4000 and 400 <= image.height <= 2500, name
    assert list(write_figures(tmp_path / ".", _metrics(CLASSES), "svm")) == ["confusion.png", "per_class.png"]


def _run(tmp_path, model: str) -> Run:
    config = TrainConfig(model=model, features="pixels" if model == "svm" else None, classes=CLASSES,
                         image_size=32, preprocess=PreprocessSpec(size=32))
    tmp_path.mkdir()
    return Run(tmp_path, config)


def test_results_list_the_learning_curve_only_where_a_history_exists(tmp_path):
    rng = np.random.default_rng(1)
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), 40).astype(np.float32)
    y_true = rng.integers(0, len(CLASSES), 40)
    cnn = _run(tmp_path / "cnn", "resnet18")
    (cnn.path / "history.json").write_text(json.dumps(HISTORY), encoding="utf-8")
    write_results(cnn, cnn.path, probabilities, y_true, {"kind": "stratified", "part": "test"})
    write_results(cnn, cnn.path / "eval-val", probabilities, y_true, {"kind": "stratified", "part": "val"})
    svm = _run(tmp_path / "svm", "svm")
    write_results(svm, svm.path, probabilities, y_true, {"kind": "stratified", "part": "test"})
    for out in (cnn.path, cnn.path / "eval-val"):
        assert (out / LEARNING_CURVE_PNG).is_file()
        assert f"- `{LEARNING_CURVE_PNG}`: training loss" in (out / "report.md").read_text(encoding="utf-8")
    assert not (svm.path / LEARNING_CURVE_PNG).exists()
    report = (svm.path / "report.md").read_text(encoding="utf-8")
    assert "- `confusion.png`: confusion matrix" in report and "- `per_class.png`: precision, recall and F1" in report
    assert LEARNING_CURVE_PNG not in report
