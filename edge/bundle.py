"""The model bundle: a directory with ``manifest.json`` and ONNX files, written by export, loaded by edge.

Every bundle model takes the output of :class:`~auroral.edge.preprocess.Preprocessor` (float32 NCHW,
input ``input``) and returns class probabilities (float32 N×C, output ``probabilities``), whether it
is a CNN or a KNN/SVM baseline with its feature step inside the graph. Loading checks the format
version and the SHA-256 of every file, so a corrupted or tampered bundle is refused, never run.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from auroral.edge.classes import CLASSES, default_class_sets
from auroral.edge.errors import UserError
from auroral.edge.preprocess import PreprocessSpec

log = logging.getLogger(__name__)

#: the version written; format 2 added ``auroral_classes`` and ``onset_classes``
FORMAT_VERSION = 2
#: the versions read (format 1 gets its class sets from :func:`_class_sets_for_format_1`)
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
Precision = Literal["fp32", "fp16", "int8"]
#: every precision a bundle variant can have; config, CLI choices, export and backends derive from it
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
#: a precision, or "auto": the one :meth:`Bundle.choose_precision` picks for the bundle
PrecisionChoice = Literal["auto", Precision]
PRECISION_CHOICES: tuple[PrecisionChoice, ...] = get_args(PrecisionChoice)


class BundleError(UserError):
    """A bundle is missing, malformed, of another format version, or fails its hash check."""


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="short model name used in MQTT messages, e.g. resnet50")
    architecture: str = Field(description="e.g. torchvision.resnet50, sklearn.KNeighborsClassifier")
    kind: Literal["cnn", "knn", "svm"]
    features: str | None = Field(None, description="baselines: 'pixels' or 'cnn:<run>'")


class TensorSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input_name: str = "input"
    output_name: str = "probabilities"
    dtype: Literal["float32"] = "float32"
    shape: list[int | str] = Field(description="e.g. ['batch', 3, 224, 224]")


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sha256: str
    bytes: int


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format_version: int
    model: ModelInfo
    classes: list[str] = Field(default_factory=lambda: list(CLASSES))
    auroral_classes: list[str] = Field(description="the classes that are aurora (they count towards activity)")
    onset_classes: list[str] = Field(description="the classes that may start a breakup onset")
    input: TensorSpec
    preprocess: PreprocessSpec
    variants: dict[Precision, str] = Field(description="precision -> ONNX file name in the bundle")
    files: dict[str, FileEntry]
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    created: datetime
    code_version: str

    @model_validator(mode="after")
    def _class_sets_within_classes(self) -> Manifest:
        for name in ("auroral_classes", "onset_classes"):
            unknown = [c for c in getattr(self, name) if c not in self.classes]
            if unknown:
                raise ValueError(f"{name} names {', '.join(unknown)}, "
                                 f"not among the classes ({', '.join(self.classes)})")
        return self


def _class_sets_for_format_1(raw: dict[str, Any], path: Path) -> None:
    """Fill in the class sets a format 1 manifest lacks: the defaults for the seven classes, else none."""
    classes = raw.get("classes", list(CLASSES))
    defaults = default_class_sets(classes) if isinstance(classes, list) and sorted(classes) == sorted(CLASSES) \
        else None
    if defaults is None:
        log.warning("event=bundle_without_class_sets path=%s note=format 1 bundle with its own classes: none counts "
                    "as auroral or starts an onset; export the run again to record them", path)
    auroral, onset = defaults or ([], [])
    raw.setdefault("auroral_classes", auroral)
    raw.setdefault("onset_classes", onset)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Bundle:
    """A verified bundle on disk."""

    def __init__(self, root: Path, manifest: Manifest):
        self.root = root
        self.manifest = manifest

    @property
    def classes(self) -> list[str]:
        return self.manifest.classes

    @property
    def auroral_classes(self) -> list[str]:
        """The classes that are aurora, in class order."""
        return [c for c in self.manifest.classes if c in self.manifest.auroral_classes]

    @property
    def onset_classes(self) -> list[str]:
        """The classes that may start a breakup onset, in class order."""
        return [c for c in self.manifest.classes if c in self.manifest.onset_classes]

    def model_path(self, precision: str = "fp32") -> Path:
        if precision not in self.manifest.variants:
            have = ", ".join(self.manifest.variants)
            raise BundleError(f"bundle {self.root} has no {precision} model (it has: {have})")
        return self.root / self.manifest.variants[precision]

    def choose_precision(self, max_accuracy_drop: float = 0.005) -> str:
        """int8 when export measured its validation accuracy within ``max_accuracy_drop`` of fp32, else fp32."""
        validation = self.manifest.metrics.get("export_validation", {})
        fp32, int8 = validation.get("fp32", {}), validation.get("int8", {})
        if "int8" in self.manifest.variants and "accuracy" in fp32 and "accuracy" in int8:
            if fp32["accuracy"] - int8["accuracy"] <= max_accuracy_drop:
                return "int8"
        return "fp32"

    def sha256(self, precision: str = "fp32") -> str:
        if precision not in self.manifest.variants:  # narrows str to Precision, the key type of variants
            raise KeyError(precision)
        return self.manifest.files[self.manifest.variants[precision]].sha256


def read_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not path.is_file():
        raise BundleError(f"{root} is not a model bundle: {MANIFEST} is missing")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path} is not valid JSON: {exc}") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version not in READABLE_VERSIONS:
        readable = ", ".join(map(str, READABLE_VERSIONS))
        raise BundleError(f"{path}: format_version {version!r} is not supported (this auroral reads {readable})")
    if version == 1:
        _class_sets_for_format_1(raw, path)
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BundleError(f"{path}: {where}: {first['msg']}") from exc


def verify_files(root: Path, manifest: Manifest) -> None:
    """Check that every listed file exists with its recorded SHA-256 and that every variant is listed."""
    for name in manifest.variants.values():
        if name not in manifest.files:
            raise BundleError(f"bundle {root}: variant file {name} has no hash in {MANIFEST}")
    for name, entry in manifest.files.items():
        path = root / name
        if not path.is_file():
            raise BundleError(f"bundle {root}: {name} is missing")
        actual = sha256_file(path)
        if actual != entry.sha256:
            raise BundleError(
                f"bundle {root}: {name} fails its hash check (sha256 {actual[:12]}…, manifest says "
                f"{entry.sha256[:12]}…): the file is corrupted or was modified"
            )


def load_bundle(root: str | Path) -> Bundle:
    """Load and verify a bundle; raises :class:`BundleError` with a one-line reason."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"model bundle {root} does not exist or is not a directory")
    manifest = read_manifest(root)
    verify_files(root, manifest)
    return Bundle(root, manifest)
