"""ONNX Runtime backend: CPU, or the CUDA / TensorRT execution providers with an engine cache."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from ..bundle import Bundle
from ..errors import UserError

_PROVIDERS = {
    "ort-cpu": ["CPUExecutionProvider"],
    "ort-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "ort-tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def session_options(threads: int | None) -> ort.SessionOptions:
    """Options tuned for a small station: full graph optimisation, one inference pool, arena on.

    Pool threads do not spin between runs: on a 2-core station the decode and MQTT threads need those
    cores; in A/B runs spinning gave a worse steady p95 and no better bursts (docs/PERFORMANCE.md).
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = True
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class OrtBackend:
    def __init__(self, bundle: Bundle, precision: str = "fp32", provider: str = "ort-cpu", threads: int | None = None):
        wanted = _PROVIDERS[provider]
        if wanted[0] not in ort.get_available_providers():
            raise UserError(
                f"backend {provider} needs ONNX Runtime's {wanted[0]}, which this install lacks "
                f"(available: {', '.join(ort.get_available_providers())}); install onnxruntime-gpu or use ort-cpu"
            )
        providers: list = list(wanted)
        if provider == "ort-tensorrt":
            cache = bundle.root / "trt-cache"
            providers[0] = (wanted[0], {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(cache),
                                        "trt_fp16_enable": precision == "fp16", "trt_int8_enable": precision == "int8"})
        path = bundle.model_path(precision)
        self.session = ort.InferenceSession(str(path), session_options(threads), providers=providers)
        self.name = provider
        self.input_name = bundle.manifest.input.input_name
        self.output_name = bundle.manifest.input.output_name

    def infer(self, batch: np.ndarray) -> np.ndarray:
        (probabilities,) = self.session.run([self.output_name], {self.input_name: batch})
        return np.asarray(probabilities, dtype=np.float32)
