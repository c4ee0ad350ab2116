"""Human-readable results: ``report.md`` in the layout of Kvammen et al. (2020) Table 2 and a side-by-side
table of several runs (the figures are :mod:`auroral.train.figures`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from auroral.train.config import TrainConfig

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


def write_report(path: Path, metrics: dict[str, Any], config: TrainConfig, notes: dict[str, Any],
                 figures: dict[str, str]) -> None:
    """``report.md``: what was trained on what split, the results table, then the figures (file: what it shows)."""
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
    lines += ["", results_table(metrics), "", "Figures:", ""]
    lines += [f"- `{name}`: {what}" for name, what in figures.items()]
    lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


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
