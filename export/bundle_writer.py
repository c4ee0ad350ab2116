"""Writes a model bundle directory: ONNX variants under fixed names and a hashed ``manifest.json``."""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
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
from auroral.edge.classes import CLASSES
from auroral.edge.preprocess import PreprocessSpec

VARIANT_FILES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}


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
) -> Bundle:
    """Copy each precision's ONNX file into ``out_dir`` and write the manifest last, atomically.

    The manifest is written after every model file, so a reader never sees a manifest whose files
    are still being copied. ``extra_files`` (bundle name -> source) are copied and hashed too, e.g. the
    parity reference that ``auroral export --verify`` re-checks.
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
    manifest = Manifest(
        format_version=FORMAT_VERSION,
        model=model,
        classes=list(classes),
        input=TensorSpec(shape=["batch", 3, size, size]),
        preprocess=preprocess,
        variants=names,
        files=files,
        training=training or {},
        metrics=metrics or {},
        created=datetime.now(timezone.utc),
        code_version=__version__,
    )
    temporary = out / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, out / MANIFEST)
    return load_bundle(out)
