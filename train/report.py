"""Human-readable results: ``report.md`` in the layout of Kvammen et al. (2020) Table 2, the confusion
matrix and per-class precision/recall plots, and a side-by-side table of several runs.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import ConfusionMatrixDisplay  # noqa: E402

from auroral.train.config import TrainConfig  # noqa: E402

_ROW = "| {:<16} | {:>9} | {:>6} | {:>8} | {:>7} |"


def _row(name: str, scores: dict[str, Any]) -> str:
    return _ROW.format(name, f"{scores['precision']:.2f}", f"{scores['recall']:.2f}", f"{scores['f1']:.2f}",
                       str(scores["support"]))


def model_label(config: TrainConfig) -> str:
    if config.kind == "cnn":
        return f"{config.model}" + (" (ImageNet)" if config.pretrained else "")
    features = "pixels" if config.features == "pixels" else "CNN embedding"
    return f"{config.model.upper()} on {features}"


def results_table(metrics: dict[str, Any]) -> str:
    """Per-class precision, recall, F1 and support, then accuracy and the macro/weighted averages."""
    lines = [_ROW.format("Class", "Precision", "Recall", "F1-score", "Support"),
             "|:-----------------|----------:|-------:|---------:|--------:|"]
    lines += [_row(name, scores) for name, scores in metrics["per_class"].items()]
    total = metrics["macro"]["support"]
    lines.append(_ROW.format("**Accuracy**", "", "", f"{metrics['accuracy']:.2f}", str(total)))
    lines.append(_row("**Macro avg**", metrics["macro"]))
    lines.append(_row("**Weighted avg**", metrics["weighted"]))
    return "\n".join(lines)


def write_report(path: Path, metrics: dict[str, Any], config: TrainConfig, notes: dict[str, Any]) -> None:
    """``report.md``: what was trained on what split, then the results table."""
    split = metrics["split"]
    lines = [f"# {model_label(config)} — evaluation on the {split.get('part', 'test')} set", "",
             f"- data: `{split.get('data', config.data)}`",
             f"- split: **{split.get('kind')}** (train {split.get('train', '?')}, val {split.get('val', '?')}, "
             f"{split.get('part', 'test')} {metrics['macro']['support']} images)",
             f"- image size: {config.image_size} px, seed {config.seed}, code version {config.code_version}"]
    if config.kind == "cnn":
        lines.append(f"- training: {config.optimizer}, lr {config.lr}, {config.schedule} schedule, "
                     f"up to {config.epochs} epochs, class-weighted loss: {config.class_weights}, "
                     f"augmentation: {config.augment}")
    else:
        lines.append(f"- features: {config.features}" + (f" (pool {config.pixel_pool})" if config.pixel_pool else ""))
        lines.append(f"- hyper-parameters (5-fold CV on the training split): {config.chosen_params}")
    lines += [f"- {key}: {value}" for key, value in notes.items()]
    lines += ["", results_table(metrics), "", "Confusion matrix (rows: true, columns: predicted): `confusion.png`; "
              "per-class precision and recall: `per_class.png`.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def plot_confusion(path: Path, metrics: dict[str, Any], title: str) -> None:
    confusion = np.asarray(metrics["confusion"])
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ConfusionMatrixDisplay(confusion, display_labels=metrics["classes"]).plot(ax=ax, cmap="Blues",
                                                                             xticks_rotation=45, colorbar=False)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_class(path: Path, metrics: dict[str, Any], title: str) -> None:
    classes = metrics["classes"]
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(7, 4))
    for offset, key in ((-0.2, "precision"), (0.2, "recall")):
        ax.bar(x + offset, [metrics["per_class"][c][key] for c in classes], width=0.4, label=key)
    ax.set_xticks(x, classes, rotation=30)
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def compare_table(runs: list[tuple[str, dict[str, Any]]]) -> str:
    """One Markdown table, one column per run: accuracy, macro/weighted scores, then F1 per class."""
    names = [name for name, _ in runs]
    rows: list[tuple[str, list[str]]] = [
        ("accuracy", [f"{m['accuracy']:.3f}" for _, m in runs]),
        ("macro precision", [f"{m['macro']['precision']:.3f}" for _, m in runs]),
        ("macro recall", [f"{m['macro']['recall']:.3f}" for _, m in runs]),
        ("macro F1", [f"{m['macro']['f1']:.3f}" for _, m in runs]),
        ("weighted F1", [f"{m['weighted']['f1']:.3f}" for _, m in runs]),
    ]
    classes = list(dict.fromkeys(c for _, m in runs for c in m["classes"]))
    rows += [(f"F1 {c}", [f"{m['per_class'][c]['f1']:.3f}" if c in m["per_class"] else "—" for _, m in runs])
             for c in classes]
    rows.append(("test images", [str(m["macro"]["support"]) for _, m in runs]))
    lines = ["| metric | " + " | ".join(names) + " |", "|:--|" + "--:|" * len(names)]
    lines += [f"| {label} | " + " | ".join(values) + " |" for label, values in rows]
    return "\n".join(lines)
