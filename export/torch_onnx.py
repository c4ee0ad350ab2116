"""PyTorch module → one self-contained ONNX file with a dynamic batch axis (the bundle's model contract).

We use the ``torch.export``-based exporter (``dynamo=True``): it is the exporter PyTorch maintains
(the TorchScript one is deprecated and warns on every call in torch ≥ 2.9), it exported every
torchvision classifier we ship at opset 18 without graph breaks, and its output passes
``onnx.checker`` with ``full_check``. ``external_data=False`` keeps weights inside the one file.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import onnx

from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

OPSET = 18
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"


def export_torch(module: Any, out_path: Path, size: int, output_name: str = OUTPUT_NAME, max_batch: int = 1024) -> Path:
    """Export ``module`` (NCHW float32 → one tensor) to ``out_path``; checks the result before returning."""
    import torch

    for noisy in ("onnxscript", "onnx_ir"):  # their optimiser logs every pass at INFO
        logging.getLogger(noisy).setLevel(logging.WARNING)
    module = module.eval()
    example = torch.zeros(2, 3, size, size, dtype=torch.float32)
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            module, (example,), str(out_path), input_names=[INPUT_NAME], output_names=[output_name],
            opset_version=OPSET, dynamo=True, external_data=False, dynamic_shapes=({0: batch},),
            verbose=False, report=False,
        )
    check_self_contained(out_path)
    log.info("event=onnx_exported path=%s bytes=%d opset=%d", out_path, out_path.stat().st_size, OPSET)
    return out_path


def check_self_contained(path: Path) -> onnx.ModelProto:
    """Run ``onnx.checker`` and refuse models that keep weights in side files (a bundle is hashed file by file)."""
    model = onnx.load(str(path), load_external_data=False)
    external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise UserError(f"{path.name} keeps {len(external)} tensors in external data files; "
                        "a bundle model must be one file")
    onnx.checker.check_model(str(path), full_check=True)
    stray = list(path.parent.glob(path.name + ".data"))
    if stray:
        raise UserError(f"unexpected external data file {stray[0]} next to {path.name}")
    return model
