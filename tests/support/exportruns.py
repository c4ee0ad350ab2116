"""Helpers for the export tests (no tests here): real training runs made with ``auroral synth`` + ``auroral train``.

Only the subcommands export needs are registered, so these tests exercise the real CLI entry point
(:func:`auroral.edge.cli.main`, with its UserError → exit 2 handling) independently of the others.
"""
from __future__ import annotations

from pathlib import Path

from auroral.edge import cli

SIZE = 32


def auroral(*argv: str | Path) -> int:
    """Run ``auroral ARGV`` in-process; returns the exit status."""
    return cli.main(["--log-level", "WARNING", *map(str, argv)])


def make_runs(root: Path) -> dict[str, Path]:
    """Synthetic frames, then a 1-epoch resnet18 at 32 px and pixel / CNN-embedding baselines."""
    data = root / "data"
    assert auroral("synth", "--out", data, "--per-class", 7, "--size", 48, "--format", "png", "--seed", 3) == 0
    runs = {name: root / name for name in ("resnet18", "knn", "svm", "knn-cnn")}
    common = ("--data", data, "--image-size", SIZE, "--seed", 0, "--min-per-class", 3)
    assert auroral("train", *common, "--model", "resnet18", "--out", runs["resnet18"], "--epochs", 1,
                   "--batch-size", 16) == 0
    for kind in ("knn", "svm"):
        assert auroral("train", *common, "--model", kind, "--out", runs[kind], "--pixel-pool", 4) == 0
    assert auroral("train", *common, "--model", "knn", "--out", runs["knn-cnn"],
                   "--features", f"cnn:{runs['resnet18']}") == 0
    return runs
