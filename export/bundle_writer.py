"""Writes a model bundle directory: ONNX variants under fixed names and a hashed ``manifest.json``.

:func:`staged_directory` gives ``auroral export`` its all-or-nothing placement: a bundle is written into a
hidden sibling of its final directory and renamed into place only once it is complete, so an export that
fails (parity, a full disk, Ctrl-C) never leaves a half-written bundle, nor half-overwrites an old one.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auroral.edge import __version__
from auroral.edge.bundle import (
    FORMAT_VERSION,
    MANIFEST,
    Bundle,
    FileEntry,
    Manifest,
    ModelInfo,
    TensorSpec,
    load_bundle,
    sha256_file,
)
from auroral.edge.classes import CLASSES, default_class_sets
from auroral.edge.errors import UserError
from auroral.edge.preprocess import PreprocessSpec

VARIANT_FILES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}


def check_target(out_dir: Path, replace: bool) -> None:
    """Refuse (:class:`UserError`) to write over anything at ``out_dir`` but an empty directory, unless ``replace``."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"{out_dir} exists and is not a directory: give another --out")
    if not replace and out_dir.is_dir() and any(out_dir.iterdir()):
        raise UserError(f"{out_dir} already exists and is not empty: give --force to replace it, or another --out")


@contextmanager
def staged_directory(out_dir: Path, replace: bool = False) -> Iterator[Path]:
    """``with staged_directory(out) as staging:`` write into ``staging``; on a normal exit it becomes ``out``.

    ``staging`` is a fresh sibling of ``out_dir`` (the same file system, so the final rename is atomic). An
    existing ``out_dir`` is refused as :func:`check_target` says; with ``replace`` it is moved aside, the new
    directory renamed in, and the old one deleted. On an exception ``staging`` is deleted and ``out_dir``
    left as it was.
    """
    check_target(out_dir, replace)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.partial-{secrets.token_hex(4)}")
    staging.mkdir()  # not tempfile.mkdtemp: the bundle gets the umask's permissions, not 0700
    try:
        yield staging
        check_target(out_dir, replace)  # something may have appeared there meanwhile
        if out_dir.is_dir() and any(out_dir.iterdir()):
            old = out_dir.with_name(f".{out_dir.name}.replaced-{secrets.token_hex(4)}")
            out_dir.rename(old)
            try:
                staging.rename(out_dir)
            except BaseException:
                old.rename(out_dir)
                raise
            shutil.rmtree(old)
        else:
            os.replace(staging, out_dir)  # onto nothing, or onto an empty directory
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _place(source: Path, target: Path) -> FileEntry:
    """Copy ``source`` to ``target`` (unless it is already there) and return its hash entry."""
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    return FileEntry(sha256=sha256_file(target), bytes=target.stat().st_size)


def write_bundle(
    out_dir: str | Path,
    variants: dict[str, Path],
    model: ModelInfo,
    preprocess: PreprocessSpec,
    classes: list[str] | tuple[str, ...] = CLASSES,
    training: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    extra_files: dict[str, Path] | None = None,
    auroral_classes: list[str] | None = None,
    onset_classes: list[str] | None = None,
) -> Bundle:
    """Copy each precision's ONNX file into ``out_dir`` and write the manifest last, atomically.

    The manifest is written after every model file, so a reader never sees a manifest whose files
    are still being copied. ``extra_files`` (bundle name -> source) are copied and hashed too, e.g. the
    parity reference that ``auroral export --verify`` re-checks. ``auroral_classes`` and ``onset_classes``
    default to :func:`~auroral.edge.classes.default_class_sets` for a known class list, else to none.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, FileEntry] = {}
    names: dict[str, str] = {}
    for precision, source in variants.items():
        name = VARIANT_FILES[precision]
        files[name] = _place(Path(source), out / name)
        names[precision] = name
    for name, source in (extra_files or {}).items():
        files[name] = _place(Path(source), out / name)
    size = preprocess.size
    default_auroral, default_onset = default_class_sets(classes) or ([], [])
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=model,
        classes=list(classes),
        auroral_classes=default_auroral if auroral_classes is None else list(auroral_classes),
        onset_classes=default_onset if onset_classes is None else list(onset_classes),
        input=TensorSpec(shape=["batch", 3, size, size]),
        preprocess=preprocess,
        variants=names,
        files=files,
        training=training or {},
        metrics=metrics or {},
        created=datetime.now(UTC),
        code_version=__version__,
    )
    temporary = out / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, out / MANIFEST)
    return load_bundle(out)
