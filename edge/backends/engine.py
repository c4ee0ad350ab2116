"""Builds TensorRT engines for a bundle on the station, cached per GPU model + TensorRT version.

FP32 and FP16 engines come from the FP32 ONNX (FP16 via the builder flag), INT8 from the QDQ model
(explicit quantisation: the scales are in the graph, no TensorRT calibrator). The network is
explicit-batch with one optimisation profile covering batch 1..max_batch. The same calls work on
TensorRT 8.5 and 10.x (``build_serialized_network``; EXPLICIT_BATCH is only set where it exists).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from types import ModuleType

from auroral.edge.backends.tensorrt import engine_path, gpu_name, import_cudart, import_tensorrt
from auroral.edge.bundle import Bundle
from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

WORKSPACE_BYTES = 1 << 30


def require_tensorrt() -> None:
    """Fail fast, before a long export, where TensorRT or the CUDA runtime bindings are missing."""
    import_tensorrt()
    import_cudart()


def network_flags(trt: ModuleType) -> int:
    flag = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)  # gone/ignored in TensorRT 10
    return 1 << int(flag) if flag is not None else 0


def build_engine(bundle: Bundle, precision: str, max_batch: int = 16) -> Path:
    """Build (or reuse) the engine for one precision; returns its cache path."""
    trt = import_tensorrt()
    target = engine_path(bundle, precision, gpu_name(), trt.__version__)
    if target.is_file():
        log.info("event=tensorrt_engine_cached path=%s", target)
        return target
    onnx_path = bundle.model_path("int8" if precision == "int8" else "fp32")
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise UserError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    name = bundle.manifest.input.input_name
    size = bundle.manifest.preprocess.size
    profile = builder.create_optimization_profile()
    profile.set_shape(name, (1, 3, size, size), (max(1, max_batch // 2), 3, size, size), (max_batch, 3, size, size))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise UserError(f"TensorRT failed to build the {precision} engine for {onnx_path.name} "
                        "(see the TensorRT log above)")
    target.parent.mkdir(exist_ok=True)
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(bytes(serialized))
    os.replace(temporary, target)
    log.info("event=tensorrt_engine_built path=%s bytes=%d", target, target.stat().st_size)
    return target
