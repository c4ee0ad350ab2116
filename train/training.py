"""``auroral train`` end to end: data set → split → preprocessed cache → CNN or baseline → evaluation.

Everything lands in the run directory (see :mod:`auroral.train.runs`); ``--resume`` continues a CNN run
from its config, split and last checkpoint.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from pydantic import ValidationError

from auroral.edge.errors import UserError
from auroral.edge.preprocess import PreprocessSpec
from auroral.train import runs
from auroral.train.cache import preprocess_files
from auroral.train.classlists import class_set, run_classes
from auroral.train.config import TrainConfig, circle_fov
from auroral.train.datasets import load_dataset
from auroral.train.distributed import setup
from auroral.train.evaluate import label_indices, split_summary, write_results
from auroral.train.features import check_pool, extract_features
from auroral.train.metrics import macro_f1
from auroral.train.splits import PARTS, Split, by_night, given, stratified

log = logging.getLogger(__name__)
HISTORY = "history.json"


def _make_split(args: argparse.Namespace, classes: tuple[str, ...]) -> Split:
    dataset = load_dataset(args.data, classes, args.class_order, args.min_per_class, args.oath_rotated)
    if args.split_file:
        split = Split.load(args.split_file)
        unknown = sorted({lbl for p in PARTS for _, lbl in split.part(p)} - set(classes))
        if unknown:
            raise UserError(f"split file {args.split_file} has labels not in the class list: {', '.join(unknown)}")
        return split
    if dataset.given_test is not None:
        return given(dataset.samples, dataset.given_test, args.val_fraction, args.seed)
    if args.split == "night":
        return by_night(dataset.samples, args.val_fraction, args.test_fraction, args.seed)
    return stratified(dataset.samples, args.val_fraction, args.test_fraction, args.seed)


def _new_config(args: argparse.Namespace, classes: tuple[str, ...], split: Split) -> TrainConfig:
    fov = circle_fov(args.circle, Path(args.data)) if getattr(args, "circle", None) else {}
    features, pool, spec = args.features, None, PreprocessSpec(size=args.image_size, **fov)
    if args.model in ("knn", "svm"):
        features = features or "pixels"
        if features == "pixels":
            pool = args.pixel_pool
            check_pool(args.image_size, pool)
        elif features.startswith("cnn:"):
            cnn = runs.load_run(features[4:])
            if cnn.kind != "cnn":
                raise UserError(f"--features {features}: that run is a {cnn.kind} run, not a CNN")
            features, spec = f"cnn:{cnn.path}", cnn.preprocess
        else:
            raise UserError(f"--features {features!r}: expected 'pixels' or 'cnn:RUN_DIR'")
    elif features:
        raise UserError("--features applies to knn and svm only")
    try:
        return TrainConfig(
            model=args.model, features=features, pixel_pool=pool, image_size=spec.size, epochs=args.epochs or 30,
            batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer, schedule=args.schedule,
            patience=args.patience, class_weights=not args.no_class_weights, augment=not args.no_augment,
            pretrained=args.pretrained, weights=str(Path(args.weights).resolve()) if args.weights else None,
            seed=args.seed, device=args.device, data=str(Path(args.data).resolve()), classes=list(classes),
            auroral_classes=class_set("--auroral-classes", args.auroral_classes, classes),
            onset_classes=class_set("--onset-classes", args.onset_classes, classes), preprocess=spec,
            split_kind=split.kind, val_fraction=args.val_fraction,
            test_fraction=args.test_fraction)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise UserError(f"invalid option {'.'.join(map(str, error['loc'])) or ''}: {error['msg']}") from exc


def _is_main_process() -> bool:
    """Rank 0 (or a plain single process) owns the run directory; torchrun sets RANK for the others."""
    return os.environ.get("RANK", "0") == "0"


def _prepare(args: argparse.Namespace, out: Path) -> tuple[TrainConfig, Split]:
    if args.resume:
        config, split = runs.read_config(out), Split.load(out / runs.SPLIT)
        if config.kind != "cnn":
            raise UserError("--resume applies to CNN runs; a baseline is simply trained again")
        updates = {"device": args.device} | ({"epochs": args.epochs} if args.epochs else {})
        return config.model_copy(update=updates), split
    started = [name for name in (runs.CHECKPOINT, runs.SKLEARN_MODEL, runs.METRICS) if (out / name).exists()]
    if _is_main_process() and started:  # a run that failed before its first epoch is simply started again
        raise UserError(f"{out} already holds a run; use --resume to continue it or choose another --out")
    classes = run_classes(args)
    split = _make_split(args, classes)
    config = _new_config(args, classes, split)
    return config, split


def _arrays(config: TrainConfig, split: Split) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {part: (preprocess_files([p for p, _ in split.part(part)], config.preprocess, desc=f"decode {part}"),
                   label_indices([lbl for _, lbl in split.part(part)], config.classes)) for part in PARTS}


def train_from_args(args: argparse.Namespace) -> dict[str, Any] | None:
    """Run ``auroral train``; returns the test metrics (None on non-zero DDP ranks)."""
    out = Path(args.out).resolve()
    config, split = _prepare(args, out)
    data = _arrays(config, split)  # before the run directory exists: an unreadable image leaves nothing behind
    if _is_main_process():
        out.mkdir(parents=True, exist_ok=True)
        runs.write_config(out, config)
        split.save(out / runs.SPLIT)
    log.info("event=train_start run=%s model=%s split=%s train=%d val=%d test=%d", out, config.model, split.kind,
             len(split.train), len(split.val), len(split.test))
    notes: dict[str, Any] = {}
    if config.kind == "cnn":
        from auroral.train.loop import train_cnn

        ctx = setup(config.device)
        try:
            history = train_cnn(config, out, data, ctx, resume=args.resume)
        finally:
            ctx.close()
        if not ctx.is_main:
            return None
        (out / HISTORY).write_text(json.dumps(history, indent=1) + "\n", encoding="utf-8")
        best = max(history, key=lambda h: h["val_macro_f1"])
        notes["epochs trained"] = (f"{len(history)} (best val macro-F1 {best['val_macro_f1']:.3f} "
                                   f"at epoch {best['epoch']})")
        notes[f"time per epoch on {config.device}"] = f"{np.mean([h['seconds'] for h in history]):.1f} s"
    else:
        from auroral.train.baselines import fit_baseline

        run = runs.Run(out, config)
        model, chosen = fit_baseline(config.model, extract_features(data["train"][0], run.features()),
                                     data["train"][1], len(config.classes), config.seed)
        joblib.dump(model, out / runs.SKLEARN_MODEL)
        val_pred = model.predict(extract_features(data["val"][0], run.features()))
        notes["val macro-F1"] = f"{macro_f1(data['val'][1], val_pred, len(config.classes)):.3f}"
        config = config.model_copy(update={"chosen_params": chosen})
        runs.write_config(out, config)
    run = runs.load_run(out)
    probabilities = run.predict_proba(data["test"][0], device=config.device)
    return write_results(run, out, probabilities, data["test"][1], split_summary(run, "test"), notes)
