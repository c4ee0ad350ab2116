"""Turns the bench results into the printed tables, the target verdicts and the JSON file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auroral.edge.errors import UserError


def targets(results: dict[str, Any], batch: int) -> dict[str, Any]:
    """The issue's targets, each with the measured value and whether it is met.

    The station targets also get a ``bound``: the best value this machine allows with these frames,
    from the stage costs measured alone. A frame's decode cannot overlap its own inference, so the
    steady p95 is at least (after-idle inference + reduced decode + preprocessing); and in a burst
    every frame's decode and preprocessing take CPU time from the model, which alone fills every CPU.
    """
    model = results["model"]
    found: dict[str, Any] = {}
    fp32, int8, eager = (model.get(k, {}).get("batch1") for k in ("ort_cpu_fp32", "ort_cpu_int8", "pytorch_eager"))
    if fp32 and int8 and eager:
        found["int8_vs_fp32_speedup"] = _check(fp32["median_ms"] / int8["median_ms"], ">=", 1.5)
        found["int8_vs_pytorch_speedup"] = _check(eager["median_ms"] / int8["median_ms"], ">=", 3.0)
    station = results.get("station")
    if station:
        own = model[f"ort_cpu_{station['precision']}"]
        idle = results["model_after_idle"][f"ort_cpu_{station['precision']}"]
        host = results["host_stages"]
        host_ms = host["decode_reduced"]["median_ms"] + host["preprocess"]["median_ms"]
        serial_ms = idle["median_ms"] + host_ms
        found["station_p95_over_model_median"] = _check(station["steady"]["p95_ms"] / own["batch1"]["median_ms"], "<",
                                                        1.25, bound=serial_ms / own["batch1"]["median_ms"])
        found["station_p95_over_model_after_idle"] = _check(station["steady"]["p95_ms"] / idle["median_ms"], "<", 1.25,
                                                            bound=serial_ms / idle["median_ms"])
        model_cpu_ms = results["config"]["machine"]["cpus"] * own[f"batch{batch}"]["median_ms"] / batch
        found["burst_over_model_throughput"] = _check(
            station["burst"]["throughput_images_per_s"] / own[f"batch{batch}"]["images_per_s"], ">=", 0.8,
            bound=model_cpu_ms / (model_cpu_ms + host_ms))
    return found


def _check(value: float, op: str, limit: float, bound: float | None = None) -> dict[str, Any]:
    met = value >= limit if op == ">=" else value < limit
    found = {"value": round(value, 3), "target": f"{op} {limit}", "met": met}
    if bound is not None:
        found["bound"] = round(bound, 3)
    return found


def render(results: dict[str, Any]) -> str:
    """Plain-text tables a person reads in a terminal or pastes into docs/PERFORMANCE.md."""
    lines = [f"auroral bench: {results['config']['model']} at {results['config']['image_size']} px, "
             f"{results['config']['weights']}; frames: {results['config']['frames_source']} "
             f"(mean {results['config']['frame_kib_mean']} KiB)"]
    machine = results["config"]["machine"]
    lines += [f"machine: {machine['cpus']} CPUs ({machine['processor']}), 1-minute load average "
              f"{machine['load_average_1m_before']} before, {machine['load_average_1m_after']} after", ""]
    floor = results["floor"]
    lines += [f"floor: {floor['model_gflops']} GFLOP/image, measured fp32 peak {floor['peak_gflops']} GFLOP/s "
              f"(numpy {floor['numpy_gflops']}, torch {floor['torch_gflops']}, "
              f"onnxruntime {floor['onnxruntime_gflops']}) -> at least {floor['floor_ms_per_image']} ms/image", ""]
    lines.append(f"{'model only':<20} {'batch':>5} {'median ms':>10} {'p95 ms':>9} {'images/s':>9} {'x PyTorch':>9} "
                 f"{'x floor':>8}")
    for backend, per_batch in results["model"].items():
        for key, s in per_batch.items():
            lines.append(f"{backend:<20} {key.removeprefix('batch'):>5} {s['median_ms']:>10.2f} {s['p95_ms']:>9.2f} "
                         f"{s['images_per_s']:>9.1f} {s.get('speedup_vs_pytorch', float('nan')):>9.2f} "
                         f"{s['x_floor']:>8.1f}")
    for backend, s in results["model_after_idle"].items():
        lines.append(f"{backend:<20} {'1*':>5} {s['median_ms']:>10.2f} {s['p95_ms']:>9.2f} {s['images_per_s']:>9.1f}"
                     f"  (* after {s['gap_s']} s idle, the steady cadence)")
    for backend, why in results["unavailable"].items():
        lines.append(f"{backend:<20} {why}")
    lines += ["", f"{'host stage':<20} {'median ms':>10} {'p95 ms':>9}"]
    for stage, s in results["host_stages"].items():
        lines.append(f"{stage:<20} {s['median_ms']:>10.2f} {s['p95_ms']:>9.2f}")
    station = results.get("station")
    if station:
        lines += ["", f"station path (ort-cpu {station['precision']}, real daemon + mosquitto, "
                      "file closed -> message received)",
                  f"{'phase':<8} {'frames':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'images/s':>9}  "
                  "stage shares of the mean"]
        for phase in ("steady", "burst"):
            p = station[phase]
            shares = " ".join(f"{k}={v['share']:.0%}" for k, v in p["stages"].items())
            lines.append(f"{phase:<8} {p['frames']:>6} {p['p50_ms']:>8.1f} {p['p95_ms']:>8.1f} {p['p99_ms']:>8.1f} "
                         f"{p['throughput_images_per_s']:>9.1f}  {shares}")
    lines += ["", "targets"]
    for name, t in results["targets"].items():
        bound = f"; best possible here {t['bound']:.3f}" if "bound" in t else ""
        verdict = "met" if t["met"] else "MISSED"
        lines.append(f"  {name:<34} {t['value']:>7.3f} (target {t['target']}{bound}): {verdict}")
    return "\n".join(lines)


def write_json(path: Path, results: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--json {path}: cannot write ({exc.strerror or exc})") from exc
