"""Native TensorRT backend: runs an engine built by ``auroral engine`` on this GPU.

Engines are specific to a GPU model and TensorRT version, so each one is cached under the bundle's
``tensorrt/`` folder with both in its file name (plus the ONNX file's hash); a stale engine is never
found, let alone loaded. One code path serves TensorRT 8.5 and 10.x: named I/O tensors,
``set_input_shape``, ``set_tensor_address`` and ``execute_async_v3``. Device memory and streams come
from NVIDIA's cuda-python (``cuda.bindings.runtime``, or ``cuda.cudart`` in older releases).
"""
from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from auroral.edge.bundle import Bundle
from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

ENGINE_DIR = "tensorrt"
_CUDART_MODULES = ("cuda.bindings.runtime", "cuda.cudart")


def import_tensorrt() -> ModuleType:
    """The ``tensorrt`` module, or a one-line UserError saying TensorRT is not installed here."""
    try:
        return importlib.import_module("tensorrt")
    except ImportError:
        raise UserError("TensorRT is not installed here (no 'tensorrt' Python module): engines are built on the "
                        "station (Jetson/GPU with TensorRT 8.5 or 10.x); use the ort-cpu backend elsewhere") from None


def import_cudart() -> ModuleType:
    """NVIDIA's CUDA runtime bindings (cuda-python), needed for device buffers and the GPU name."""
    for name in _CUDART_MODULES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise UserError("the TensorRT backend needs NVIDIA's cuda-python (pip install cuda-python), which is not installed")


def _check(result: tuple[Any, ...]) -> Any:
    """cuda-python returns (error, value...); turn a CUDA error into a UserError.

    The values are cuda-python objects (device pointers, streams, property structs) that it leaves untyped.
    """
    error, *values = result
    if int(error) != 0:
        raise UserError(f"CUDA call failed: {error}")
    return values[0] if len(values) == 1 else values


def gpu_name(cudart: ModuleType | None = None) -> str:
    cudart = cudart or import_cudart()
    props = _check(cudart.cudaGetDeviceProperties(0))
    name = props.name
    return (name.decode() if isinstance(name, bytes) else str(name)).rstrip("\x00").strip()


def engine_key(gpu: str, trt_version: str, precision: str, model_sha256: str) -> str:
    """File name of an engine: precision, GPU model, TensorRT version and the ONNX hash it came from."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", gpu).strip("-").lower() or "unknown-gpu"
    return f"{precision}.{slug}.trt{trt_version}.{model_sha256[:16]}.engine"


def engine_path(bundle: Bundle, precision: str, gpu: str, trt_version: str) -> Path:
    """Where the engine for one bundle variant on this GPU + TensorRT version is cached."""
    bundle.model_path(precision)  # a precision the bundle lacks is a clear BundleError
    source = "int8" if precision == "int8" else "fp32"  # fp16 engines are built from fp32 ONNX with the FP16 flag
    return bundle.root / ENGINE_DIR / engine_key(gpu, trt_version, precision, bundle.sha256(source))


class TensorRTBackend:
    """Deserialises a cached engine and runs batches on the GPU; same ``infer`` contract as ORT."""

    def __init__(self, bundle: Bundle, precision: str = "fp32"):
        trt = import_tensorrt()
        self._cudart = import_cudart()
        path = engine_path(bundle, precision, gpu_name(self._cudart), trt.__version__)
        if not path.is_file():
            raise UserError(f"no TensorRT engine for {precision} on this GPU/TensorRT version ({path.name}); "
                            f"build it with: auroral engine --precision {precision} {bundle.root}")
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        self._engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if self._engine is None:
            raise UserError(f"TensorRT could not load engine {path}; "
                            f"delete it and rebuild with: auroral engine --precision {precision} {bundle.root}")
        self._context = self._engine.create_execution_context()
        self._stream = _check(self._cudart.cudaStreamCreate())
        self.input_name = bundle.manifest.input.input_name
        self.output_name = bundle.manifest.input.output_name
        self.classes = len(bundle.classes)
        self.size = bundle.manifest.preprocess.size
        self.max_batch = int(self._engine.get_tensor_profile_shape(self.input_name, 0)[2][0])
        self._device: tuple = ()
        self._capacity = 0
        self.name = "tensorrt"
        log.info("event=tensorrt_engine_loaded path=%s", path)

    def _buffers(self, n: int) -> tuple[int, int]:
        """Device input/output buffers for ``n`` images, grown (never shrunk) so steady state allocates nothing."""
        if n > self._capacity:
            self._free()
            item = 3 * self.size * self.size * 4
            self._device = (_check(self._cudart.cudaMalloc(n * item)),
                            _check(self._cudart.cudaMalloc(n * self.classes * 4)))
            self._capacity = n
        return int(self._device[0]), int(self._device[1])

    def _free(self) -> None:
        for pointer in self._device:
            self._cudart.cudaFree(pointer)
        self._device = ()
        self._capacity = 0

    def bind_caller(self) -> None:
        """Nothing to pin: the GPU does the work."""

    def infer(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) > self.max_batch:  # beyond the engine's optimisation profile: run it in chunks
            return np.concatenate([self.infer(batch[i:i + self.max_batch])
                                   for i in range(0, len(batch), self.max_batch)])
        cudart = self._cudart
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        out = np.empty((batch.shape[0], self.classes), np.float32)
        d_in, d_out = self._buffers(batch.shape[0])
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        _check(cudart.cudaMemcpyAsync(d_in, batch.ctypes.data, batch.nbytes, h2d, self._stream))
        self._context.set_input_shape(self.input_name, tuple(batch.shape))
        self._context.set_tensor_address(self.input_name, d_in)
        self._context.set_tensor_address(self.output_name, d_out)
        if not self._context.execute_async_v3(int(self._stream)):
            raise UserError("TensorRT inference failed (execute_async_v3 returned false)")
        _check(cudart.cudaMemcpyAsync(out.ctypes.data, d_out, out.nbytes, d2h, self._stream))
        _check(cudart.cudaStreamSynchronize(self._stream))
        return out

    def __del__(self) -> None:
        if getattr(self, "_device", ()):
            self._free()
