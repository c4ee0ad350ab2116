"""``auroral bench``: model-only latency per backend, the whole station path, and the machine's floor, in one run.

Light at import time (stdlib + edge); torch, ONNX and the measurement modules load once the extra is
known to be installed. Randomly initialised weights are used: latency does not depend on their values.
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auroral.edge import progress
from auroral.edge.errors import UserError
from auroral.edge.extras import require

if TYPE_CHECKING:
    import numpy as np

    from auroral.edge.bundle import Bundle
    from auroral.edge.preprocess import PreprocessSpec

log = logging.getLogger(__name__)

#: --quick: a small model on small frames, enough to see that every part runs (numbers are not meaningful)
QUICK = {"model": "resnet18", "image_size": 64, "frames": 6, "camera_size": 256, "repeats": 4, "archive_frames": 48,
         "flood_frames": 100}
FULL = {"model": "resnet50", "image_size": 224, "frames": 32, "camera_size": 1024, "repeats": 40,
        "archive_frames": 2048, "flood_frames": 5000}
#: steady frames (the --frames in turn) when the targets are judged: the p95 of 16 frames is their second
#: slowest and that of 64 their fourth, so a few slow moments of the machine decide it; of 256, the thirteenth
STEADY_JUDGED_FRAMES = 256


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure model-only latency per backend, the whole station path, and the hardware floor",
        description="On the same frames in one run: model-only latency at batch 1 and batch N for PyTorch eager, "
                    "ONNX Runtime fp32 and int8 (and CUDA/TensorRT where present); the whole station path (real "
                    "mosquitto + the `auroral run` daemon, file closed -> MQTT message received) at a steady rate "
                    "and in a burst, and its memory through a flood of frames; `auroral archive` with 1 and 2 "
                    "workers; and the floor (model FLOPs / measured matmul peak). Weights are random: timing does "
                    "not depend on them. A full run takes about 6 minutes on 2 CPU cores (--quick: about 1 "
                    "minute); --no-station, --no-archive and smaller --flood-frames / --archive-frames shorten it. "
                    "See docs/PERFORMANCE.md.")
    parser.add_argument("--quick", action="store_true",
                        help=f"small and fast (default model {QUICK['model']} at {QUICK['image_size']} px, "
                             f"{QUICK['frames']} frames): checks that everything runs, numbers are not meaningful")
    parser.add_argument("--model", help=f"architecture from auroral train (unset: {FULL['model']})")
    parser.add_argument("--image-size", type=int, help=f"model input side in pixels (unset: {FULL['image_size']})")
    parser.add_argument("--batch", type=int, default=8,
                        help="batch N for model-only timing and the daemon's micro-batch")
    parser.add_argument("--frames", type=int,
                        help=f"frames for model timing and per station phase, in turn where a phase needs more "
                             f"(a judged steady phase {STEADY_JUDGED_FRAMES}, a burst 8 x --batch; unset: "
                             f"{FULL['frames']})")
    parser.add_argument("--camera-size", type=int,
                        help=f"side of the synthetic camera JPEGs (unset: {FULL['camera_size']})")
    parser.add_argument("--frames-dir", type=Path, metavar="DIR",
                        help="time on your camera's own frames (JPEG/PNG/FITS below DIR; the first --frames of them) "
                             "instead of a synthetic night")
    parser.add_argument("--repeats", type=int, help=f"timed model calls at batch 1 (unset: {FULL['repeats']})")
    parser.add_argument("--mqtt-rate", type=float, metavar="MSG_PER_S",
                        help="set the daemon's [mqtt] rate_per_s (unset: the daemon's own default)")
    parser.add_argument("--archive-frames", type=int,
                        help=f"frames of the archive phase, the bench frames in turn (unset: {FULL['archive_frames']})")
    parser.add_argument("--flood-frames", type=int,
                        help=f"frames written at once to the daemon while its memory is sampled "
                             f"(unset: {FULL['flood_frames']})")
    parser.add_argument("--no-station", action="store_true", help="skip the station path, burst and flood")
    parser.add_argument("--no-archive", action="store_true", help="skip the archive phase")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every figure to FILE as JSON")
    parser.add_argument("--workdir", type=Path,
                        help="keep the bundle, frames and daemon log here (unset: a temporary folder)")
    progress.add_option(parser)
    parser.set_defaults(func=run)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """Flags over the --quick or full defaults, validated (bad values are a one-line UserError)."""
    base = QUICK if args.quick else FULL
    chosen = {key: getattr(args, key) if getattr(args, key) is not None else value for key, value in base.items()}
    chosen["batch"] = args.batch
    chosen["mqtt_rate"] = args.mqtt_rate
    chosen["frames_dir"] = str(args.frames_dir.resolve()) if args.frames_dir else None
    if args.mqtt_rate is not None and not args.mqtt_rate > 0:
        raise UserError(f"--mqtt-rate must be positive, got {args.mqtt_rate}")
    limits = {"image_size": (32, 1024), "batch": (1, 256), "frames": (1, 10000), "camera_size": (64, 2048),
              "repeats": (1, 100000), "archive_frames": (1, 1000000), "flood_frames": (1, 1000000)}
    for key, (low, high) in limits.items():
        if not low <= chosen[key] <= high:
            raise UserError(f"--{key.replace('_', '-')} must be between {low} and {high}, got {chosen[key]}")
    return chosen


def run(args: argparse.Namespace) -> int:
    require("export", "torch", "onnx", "onnxruntime", "paho.mqtt", "prometheus_client")
    chosen = settings(args)
    if not args.no_archive:
        require("archive", "pyarrow", "pandas", "tqdm")  # what `auroral archive --engine pool` needs
    parts = {"station": not args.no_station, "archive": not args.no_archive, "targets": not args.quick}
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = measure(chosen, args.workdir.resolve(), **parts)
    else:
        with tempfile.TemporaryDirectory(prefix="auroral-bench-") as scratch:
            results = measure(chosen, Path(scratch), **parts)
    from auroral.export.bench.report import render, write_json

    print(render(results))
    if args.json:
        write_json(args.json, results)
        print(f"\nwrote {args.json}")
    return 0


def measure(chosen: dict[str, Any], workdir: Path, station: bool, archive: bool, targets: bool) -> dict[str, Any]:
    """Every measurement, in an order that keeps them from disturbing each other (daemon and archive alone).

    ``targets``: judge the figures against the targets (not for ``--quick``, whose figures mean nothing).
    """
    from auroral.edge.affinity import usable_cpus
    from auroral.edge.bundle import load_bundle
    from auroral.edge.preprocess import PreprocessSpec
    from auroral.export.bench.archive import archive_phase
    from auroral.export.bench.bundle import timing_bundle, timing_model
    from auroral.export.bench.commit import durable_commit
    from auroral.export.bench.floor import distance, floor, model_flops, peak_gflops
    from auroral.export.bench.frames import bench_frames, host_stages, model_inputs
    from auroral.export.bench.report import judge
    from auroral.export.bench.station import station_path

    load_before = os.getloadavg()[0]
    cpus = usable_cpus()
    spec = PreprocessSpec(size=chosen["image_size"])
    module = timing_model(chosen["model"])
    frames, source = bench_frames(workdir / "frames", chosen["frames"], chosen["camera_size"],
                                  Path(chosen["frames_dir"]) if chosen["frames_dir"] else None)
    inputs = model_inputs(frames, spec)
    bundle_dir = timing_bundle(module, chosen["model"], spec, workdir / "bundle", frames, inputs)
    bundle = load_bundle(bundle_dir)  # verified once (every file's hash), used by every measurement below
    model, after_idle, unavailable = _time_models(module, bundle, inputs, chosen, archive)
    the_floor = floor(model_flops(module, spec.size), peak_gflops())
    distance(model, the_floor["floor_ms_per_image"])
    results: dict[str, Any] = {
        "config": {**chosen, "weights": "random initialisation (timing only)", "frames_source": source,
                   "frame_kib_mean": round(sum(p.stat().st_size for p in frames) / len(frames) / 1024, 1)},
        "floor": the_floor, "model": model, "model_after_idle": after_idle, "unavailable": unavailable,
        "host_stages": {**host_stages(frames, spec, chosen["repeats"]),
                        "durable_commit": durable_commit(bundle, workdir / "commit", chosen["repeats"]),
                        "durable_commit_after_idle": durable_commit(
                            bundle, workdir / "commit", max(5, chosen["repeats"] // 2),
                            after_idle["ort_cpu_int8"]["gap_s"])},
    }
    if station:
        burst_frames = max(chosen["frames"], 8 * chosen["batch"])
        results["station"] = station_path(bundle_dir, "int8", chosen["batch"], chosen["mqtt_rate"], frames,
                                          workdir / "station", steady_frames=steady_frames(chosen["frames"], targets),
                                          steady_interval_s=after_idle["ort_cpu_int8"]["gap_s"],
                                          burst_frames=burst_frames, flood_frames=chosen["flood_frames"],
                                          **_alone(bundle, frames, inputs, spec, burst_frames, chosen["batch"]))
    if archive:
        results["archive"] = archive_phase(frames, bundle_dir, workdir / "archive", chosen["archive_frames"], cpus)
    results["config"]["machine"] = {"cpus": cpus, "processor": platform.processor() or platform.machine(),
                                    "load_average_1m_before": round(load_before, 2),
                                    "load_average_1m_after": round(os.getloadavg()[0], 2)}
    if targets:
        results["targets"] = judge(results, chosen["batch"])
    return results


def steady_frames(frames: int, judged: bool) -> int:
    """How many frames the steady phase writes: ``--frames``, and at least :data:`STEADY_JUDGED_FRAMES` where its p95
    is judged."""
    return max(frames, STEADY_JUDGED_FRAMES) if judged else frames


def _alone(bundle: Bundle, frames: list[Path], inputs: np.ndarray, spec: PreprocessSpec, burst_frames: int,
           batch: int) -> dict[str, Callable]:
    """The station phases' yardsticks, run by the bench between the daemon's frames, with int8 as the daemon runs it.

    ``alone`` (steady): the work frame ``i`` cannot do without, in one thread: read, decode and preprocess it as
    the station does, then the model. ``burst_alone``: the model on a burst's ``burst_frames`` frames, decoded
    beforehand, in batches of ``batch``, from idle as each burst starts (the bound adds the decoding's CPU time).
    """
    import numpy as np

    from auroral.edge.framebatch import FrameLoader
    from auroral.export.bench.model import as_the_daemon_runs_it

    loader = FrameLoader(spec)
    infer = as_the_daemon_runs_it(bundle, "ort-cpu", "int8")
    burst = np.resize(inputs, (burst_frames, *inputs.shape[1:]))  # the frames in turn, as the burst writes them
    batches = [np.ascontiguousarray(burst[start:start + batch]) for start in range(0, len(burst), batch)]

    def burst_alone() -> None:
        for chunk in batches:
            infer(chunk)
    return {"alone": lambda i: infer(loader.load([frames[i % len(frames)]]).batch), "burst_alone": burst_alone}


def _time_models(module: Any, bundle: Bundle, inputs: Any, chosen: dict[str, Any],
                 archive: bool) -> tuple[dict, dict, dict]:
    """Model-only figures for PyTorch eager and every station backend here; the sessions are freed on return.

    Also batch-1 ORT CPU latency with the station's steady cadence between calls (back-to-back calls keep
    caches and the thread pool hot; its idle gap sets the steady phase's), and, with ``archive``, int8 at the
    archive's batch on one thread as each archive worker runs it (the archive's bound).
    """
    from auroral.edge.archive.worker import INFER_BATCH
    from auroral.export.bench.model import (
        GPU_BATCHES,
        add_speedups,
        archive_worker_model,
        available_backends,
        model_only,
        time_after_idle,
        torch_eager,
    )

    runnable, unavailable = available_backends(bundle)
    batches = sorted({1, chosen["batch"]})
    model = model_only({"pytorch_eager": torch_eager(module), **runnable}, inputs, batches, chosen["repeats"])
    gpu = {name: infer for name, infer in runnable.items() if "cuda" in name or "tensorrt" in name}
    gpu_batches = [b for b in GPU_BATCHES if b not in batches]
    for name, per_batch in model_only(gpu, inputs, gpu_batches, chosen["repeats"]).items():
        model[name].update(per_batch)
    if INFER_BATCH not in batches:  # the archive phase's yardstick: int8 at the archive worker's batch
        model["ort_cpu_int8"].update(model_only({"ort_cpu_int8": runnable["ort_cpu_int8"]}, inputs, [INFER_BATCH],
                                                max(5 * INFER_BATCH, chosen["repeats"]))["ort_cpu_int8"])
    if archive:
        model |= model_only({"ort_cpu_int8_1thread": archive_worker_model(bundle)}, inputs, [INFER_BATCH],
                            max(5 * INFER_BATCH, chosen["repeats"]))
    add_speedups(model)
    gap_s = round(max(0.25, 4 * model["ort_cpu_int8"]["batch1"]["median_ms"] / 1000.0), 3)
    after_idle = {name: time_after_idle(runnable[name], inputs, gap_s, max(5, chosen["repeats"] // 2))
                  for name in ("ort_cpu_fp32", "ort_cpu_int8")}
    return model, after_idle, unavailable
