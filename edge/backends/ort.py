"""ONNX Runtime backend: CPU, or the CUDA / TensorRT execution providers with an engine cache."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort

from auroral.edge.affinity import inference_cpus, pin_this_thread
from auroral.edge.bundle import Bundle
from auroral.edge.errors import UserError

_PROVIDERS = {
    "ort-cpu": ["CPUExecutionProvider"],
    "ort-cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "ort-tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}


def session_options(threads: int | None, cpus: list[int] | None = None) -> ort.SessionOptions:
    """Options tuned for a small station: full graph optimisation, one inference pool, arena on.

    Pool threads do not spin between runs: on a 2-core station the decode and MQTT threads need those
    cores; in A/B runs spinning gave a worse steady p95 and no better bursts (docs/PERFORMANCE.md).
    With ``cpus`` (:func:`inference_cpus`) the pool threads are pinned to ``cpus[1:]``, one each.
    """
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.enable_cpu_mem_arena = True
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if cpus:
        options.intra_op_num_threads = len(cpus)
        # ONNX Runtime numbers logical processors from 1 and never pins the calling thread itself
        options.add_session_config_entry("session.intra_op_thread_affinities", ";".join(str(c + 1) for c in cpus[1:]))
    return options


class OrtBackend:
    def __init__(self, bundle: Bundle, precision: str = "fp32", provider: str = "ort-cpu", threads: int | None = None,
                 pin: bool = False):
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
        self.cpus = inference_cpus(threads) if pin and provider == "ort-cpu" else None
        self.session = ort.InferenceSession(str(path), session_options(threads, self.cpus), providers=providers)
        self.name = provider
        self.input_name = bundle.manifest.input.input_name
        self.output_name = bundle.manifest.input.output_name

    def bind_caller(self) -> None:
        """Pin the calling thread (the one that will call :meth:`infer`) to its own CPU, if pinning is on."""
        if self.cpus:
            pin_this_thread(self.cpus[0])

    def infer(self, batch: np.ndarray) -> np.ndarray:
        (probabilities,) = self.session.run([self.output_name], {self.input_name: batch})
        return np.asarray(probabilities, dtype=np.float32)
