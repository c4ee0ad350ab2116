"""The figures of a results directory: confusion matrices, per-class scores and the CNN learning curve.

Each figure is built by a ``*_figure`` function that returns the matplotlib Figure (so tests can check
bars, limits and legends as objects) and saved by :func:`write_figures`. Layouts are constrained, tick
labels rotate with long class names, and legends sit outside the axes, so nothing covers or clips data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from auroral.train import runs  # noqa: E402

LEARNING_CURVE_PNG = "learning_curve.png"
#: what each figure shows, as ``report.md`` lists it
DESCRIPTIONS = {
    runs.CONFUSION_PNG: "confusion matrix (rows: true, columns: predicted), counts and normalised per true class "
                        "(the diagonal is each class's recall)",
    runs.PER_CLASS_PNG: "precision, recall and F1 per class, with each class's number of evaluated images (n)",
    LEARNING_CURVE_PNG: "training loss and validation macro-F1 and accuracy per epoch",
}
_DPI = 120


def normalised_confusion(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its total (recall per true class); NaN for a class without images."""
    totals = confusion.sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, confusion / totals, np.nan)


def _matrix_panel(fig: Figure, ax: Axes, values: np.ndarray, rows: list[str], columns: list[str], vmax: float,
                  fmt: str, title: str, colour_label: str) -> None:
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="0.9")  # a class without images: grey row
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=vmax)
    for (row, column), value in np.ndenumerate(values):
        text = "—" if np.isnan(value) else format(value, fmt)
        dark = not np.isnan(value) and value > 0.55 * vmax
        ax.text(column, row, text, ha="center", va="center", color="white" if dark else "black", fontsize="small")
    ax.set_xticks(np.arange(len(columns)), columns, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(len(rows)), rows)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8, label=colour_label)


def confusion_figure(metrics: dict[str, Any], title: str) -> Figure:
    """Raw counts (left) and the row-normalised matrix (right), class names on both axes of both."""
    confusion = np.asarray(metrics["confusion"], dtype=np.float64)
    classes = list(metrics["classes"])
    supported = [f"{name} (n={int(n)})" for name, n in zip(classes, confusion.sum(axis=1), strict=True)]
    side = 1.6 + 0.6 * len(classes) + 0.07 * max(len(c) for c in supported)
    fig, (raw, normal) = plt.subplots(1, 2, figsize=(2 * side + 2.0, side + 0.8), layout="constrained")
    _matrix_panel(fig, raw, confusion, classes, classes, max(float(confusion.max()), 1.0), ".0f", "counts",
                  "images")
    _matrix_panel(fig, normal, normalised_confusion(confusion), supported, classes, 1.0, ".2f",
                  "normalised per true class (recall)", "fraction of the true class")
    fig.suptitle(title)
    return fig


def per_class_figure(metrics: dict[str, Any], title: str) -> Figure:
    """Grouped bars of precision, recall and F1 per class; support in the tick labels, legend above the axes."""
    classes = list(metrics["classes"])
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(2.5 + 1.1 * len(classes), 4.8), layout="constrained")
    width = 0.27
    for offset, key in ((-width, "precision"), (0.0, "recall"), (width, "f1")):
        ax.bar(x + offset, [metrics["per_class"][c][key] for c in classes], width=width,
               label="F1" if key == "f1" else key)
    ax.axhline(metrics["macro"]["f1"], color="0.3", linestyle="--", linewidth=1,
               label=f"macro F1 {metrics['macro']['f1']:.2f}")
    labels = [f"{c}\n(n={metrics['per_class'][c]['support']})" for c in classes]
    if max(map(len, classes)) > 9:
        ax.set_xticks(x, labels, rotation=30, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(x, labels)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.set_xlabel("class (n: images of the class in the evaluated set)")
    ax.set_title(f"{title}\naccuracy {metrics['accuracy']:.2f}, {metrics['macro']['support']} images")
    handles, names = ax.get_legend_handles_labels()  # the macro line comes first: list it after the bars
    ax.legend(handles[1:] + handles[:1], names[1:] + names[:1], loc="lower center", bbox_to_anchor=(0.5, 1.12),
              ncol=4, frameon=False)
    return fig


def learning_curve_figure(history: list[dict[str, Any]], title: str) -> Figure:
    """Training loss (top) and validation macro-F1 and accuracy (bottom) per epoch; the best epoch marked."""
    epochs = [h["epoch"] for h in history]
    best = max(history, key=lambda h: h["val_macro_f1"])
    fig, (loss, scores) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, layout="constrained")
    loss.plot(epochs, [h["train_loss"] for h in history], marker="o", color="tab:red", label="training loss")
    loss.set_ylabel("training loss (cross-entropy)")
    loss.set_ylim(bottom=0)
    scores.plot(epochs, [h["val_macro_f1"] for h in history], marker="o", label="validation macro-F1")
    scores.plot(epochs, [h["val_accuracy"] for h in history], marker="s", label="validation accuracy")
    scores.set_ylim(-0.03, 1.03)  # a score of 0 or 1 keeps its whole marker
    scores.set_ylabel("score")
    scores.set_xlabel("epoch")
    scores.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (loss, scores):
        ax.axvline(best["epoch"], color="0.5", linestyle=":", linewidth=1,
                   label=f"best epoch ({best['epoch']})" if ax is scores else None)
        ax.grid(alpha=0.3)
    loss.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    scores.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    fig.suptitle(title)
    return fig


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def write_figures(out_dir: Path, metrics: dict[str, Any], model: str,
                  history: list[dict[str, Any]] | None = None) -> dict[str, str]:
    """Write the figures into ``out_dir``, the learning curve only with a CNN's history; returns file: what it shows."""
    title = f"{model} — {metrics['split'].get('part', 'test')} set"
    _save(confusion_figure(metrics, title), out_dir / runs.CONFUSION_PNG)
    _save(per_class_figure(metrics, title), out_dir / runs.PER_CLASS_PNG)
    names = [runs.CONFUSION_PNG, runs.PER_CLASS_PNG]
    if history:
        _save(learning_curve_figure(history, f"{model} — training"), out_dir / LEARNING_CURVE_PNG)
        names.append(LEARNING_CURVE_PNG)
    return {name: DESCRIPTIONS[name] for name in names}
