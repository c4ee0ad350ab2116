"""``auroral train`` and ``auroral evaluate``: argument parsing only (light imports); the work is lazy."""
from __future__ import annotations

import argparse
from pathlib import Path

from auroral.edge import progress
from auroral.edge.extras import require
from auroral.train.config import BASELINE_MODELS, CNN_MODELS

MODELS = CNN_MODELS + BASELINE_MODELS


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train a CNN (ResNet-50, ...) or a KNN/SVM baseline and evaluate it",
        description="Train on a labelled all-sky data set (folder per class, a CSV/JSON label list, a "
        "TrainingImages/TestImages layout or the OATH layout) and write a run directory with config, split, "
        "checkpoints, metrics.json, report.md and plots. Reproduces Kvammen et al. (2020): ResNet-50, KNN and SVM.")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path,
                        help="data set folder or .csv/.json label list (path,label[,timestamp]); "
                             "required unless --resume")
    source.add_argument("--resume", action="store_true", help="continue the CNN run in --out from its last checkpoint")
    train.add_argument("--model", choices=MODELS, default="resnet50",
                       help="architecture or baseline")
    train.add_argument("--out", type=Path, required=True, help="run directory to create (or continue with --resume)")
    train.add_argument("--epochs", type=int, help="maximum epochs (unset: 30, or the run's own with --resume)")
    train.add_argument("--image-size", type=int, default=224, help="model input side in pixels")
    train.add_argument("--device", default="cpu", help="cpu or cuda")
    train.add_argument("--seed", type=int, default=0, help="seed for split, initialisation and augmentation")
    train.add_argument("--batch-size", type=int, default=32, help="training batch size")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    train.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw", help="optimiser")
    train.add_argument("--schedule", choices=("cosine", "step", "none"), default="cosine",
                       help="learning-rate schedule")
    train.add_argument("--patience", type=int, default=10, help="early stopping: epochs without better val macro-F1")
    train.add_argument("--pretrained", choices=("imagenet",), help="start from torchvision's ImageNet weights")
    train.add_argument("--weights", type=Path, help="start from a local state dict (.pt)")
    train.add_argument("--no-augment", action="store_true", help="no rotation/flip/gain augmentation")
    train.add_argument("--no-class-weights", action="store_true", help="plain (unweighted) cross-entropy")
    train.add_argument("--features", help="knn/svm: 'pixels' or 'cnn:RUN_DIR', a CNN run's embedding (unset: pixels)")
    train.add_argument("--pixel-pool", type=int, default=16, help="pixel features: average-pool to PxP")
    train.add_argument("--split", choices=("stratified", "night"), default="stratified",
                       help="stratified by class, or by observing night (needs timestamps)")
    train.add_argument("--split-file", type=Path, help="reuse a saved split.json instead of drawing a new split")
    train.add_argument("--val-fraction", type=float, default=0.15, help="share of the images for validation")
    train.add_argument("--test-fraction", type=float, default=0.15, help="share of the images for the test")
    train.add_argument("--class-order", help="TrainingImages layout: alphabetical, canonical or a comma list")
    train.add_argument("--classes", help="own class list (comma-separated) instead of the seven of Kvammen et al.")
    train.add_argument("--oath-classes", type=int, choices=(6, 2),
                       help="OATH data set: six classes (arc, diffuse, discrete, cloudy, moon, clear; the default) "
                            "or two (aurora, no-aurora)")
    train.add_argument("--oath-rotated", action="store_true",
                       help="OATH data set: train on images/cropped_scaled_rotated instead of images/cropped_scaled")
    train.add_argument("--auroral-classes",
                       help="comma list of the classes that are aurora, or none (unset: the class list's default)")
    train.add_argument("--onset-classes",
                       help="comma list of the classes that may start a breakup onset, or none (unset: the class "
                            "list's default)")
    train.add_argument("--min-per-class", type=int, default=5, help="refuse classes with fewer images")
    train.add_argument("--circle", metavar="auto|CX,CY,R",
                       help="crop the frames to this fisheye circle (pixels of the full-size frames; auto: found from "
                            "the newest frames, see auroral circle) and record it in the run's preprocessing (unset: "
                            "the circle inscribed in the frame)")
    progress.add_option(train)
    train.set_defaults(func=run_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="evaluate training runs, or compare several side by side",
        description="Evaluate a run on the test part of its saved split (or on another labelled data set with "
        "--data) and write metrics.json, report.md, confusion.png and per_class.png; with --compare, print one "
        "table of several runs' saved metrics.")
    evaluate.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR")
    evaluate.add_argument("--data", type=Path, help="evaluate on this data set instead of the run's test split")
    evaluate.add_argument("--class-order", help="TrainingImages layout: alphabetical, canonical or a comma list")
    evaluate.add_argument("--part", choices=("test", "val", "train"), default="test", help="part of the saved split")
    evaluate.add_argument("--out", type=Path, help="where to write results (unset: the run directory for the test "
                          "part, else RUN_DIR/eval-<part> or RUN_DIR/eval-<data name> with --data)")
    evaluate.add_argument("--device", default="cpu", help="cpu or cuda (CNN runs)")
    evaluate.add_argument("--compare", action="store_true", help="print a side-by-side table of the runs' metrics")
    progress.add_option(evaluate)
    evaluate.set_defaults(func=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    require("train", "torch", "torchvision", "sklearn")
    from auroral.train.report import results_table
    from auroral.train.training import train_from_args

    metrics = train_from_args(args)
    if metrics is not None:
        print(results_table(metrics))
        print(f"run directory: {args.out.resolve()}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    require("train", "torch", "torchvision", "sklearn")
    from auroral.edge.errors import UserError
    from auroral.train.report import compare_table, model_label, results_table
    from auroral.train.runs import load_run

    if args.compare:
        loaded = [load_run(path) for path in args.runs]
        missing = [str(r.path) for r in loaded if r.metrics() is None]
        if missing:
            raise UserError(f"no metrics.json in: {', '.join(missing)} (run 'auroral evaluate RUN_DIR' first)")
        print(compare_table([(f"{model_label(r.config)} ({r.path.name})", r.metrics()) for r in loaded]))
        return 0
    if len(args.runs) != 1:
        raise UserError("give one RUN_DIR to evaluate, or --compare for several")
    from auroral.train.evaluate import evaluate_run

    run = load_run(args.runs[0])
    default = run.path / f"eval-{args.data.stem}" if args.data else \
        run.path if args.part == "test" else run.path / f"eval-{args.part}"
    out = args.out or default
    metrics = evaluate_run(run, Path(out), args.data, args.class_order, args.part, args.device)
    print(results_table(metrics))
    print(f"results in {Path(out).resolve()}")
    return 0
