"""`auroral bench --quick` runs every measurement end to end, prints its tables and writes valid JSON.

No timed assertions: the figures themselves are checked for shape and sanity only (every backend that
ran has positive latencies, every station frame's message arrived), never for speed.
"""
import json
import subprocess
import sys


def auroral(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auroral.edge.cli", "--log-level", "WARNING", *args],
                          capture_output=True, text=True, timeout=600)


def test_quick_bench_prints_tables_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = auroral("bench", "--quick", "--frames", "4", "--batch", "4", "--camera-size", "128", "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    for heading in ("model only", "pytorch_eager", "ort_cpu_fp32", "ort_cpu_int8", "station path", "floor:", "targets"):
        assert heading in result.stdout
    figures = json.loads(out.read_text())
    for backend in ("pytorch_eager", "ort_cpu_fp32", "ort_cpu_int8"):
        for batch in ("batch1", "batch4"):
            stats = figures["model"][backend][batch]
            assert 0 < stats["median_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
            assert stats["images_per_s"] > 0 and stats["x_floor"] > 0
    assert figures["model"]["pytorch_eager"]["batch1"]["speedup_vs_pytorch"] == 1.0
    assert "ort_cuda_fp32" in figures["model"] or "not available" in figures["unavailable"]["ort_cuda_fp32"]
    assert figures["model_after_idle"]["ort_cpu_int8"]["gap_s"] >= 0.25
    assert figures["floor"]["model_gflops"] > 0 and figures["floor"]["floor_ms_per_image"] > 0
    station = figures["station"]
    assert station["steady"]["frames"] == 4 and station["burst"]["frames"] == 32
    for phase in ("steady", "burst"):
        assert 0 < station[phase]["p50_ms"] <= station[phase]["p95_ms"] <= station[phase]["p99_ms"]
        shares = station[phase]["stages"]
        assert abs(sum(s["share"] for s in shares.values()) - 1.0) < 0.01
        assert shares["infer"]["mean_ms"] > 0 and shares["decode"]["mean_ms"] > 0
    assert set(figures["targets"]) == {"int8_vs_fp32_speedup", "int8_vs_pytorch_speedup",
                                       "station_p95_over_model_median", "station_p95_over_model_after_idle",
                                       "burst_over_model_throughput"}
    assert figures["targets"]["station_p95_over_model_after_idle"]["bound"] > 1.0
    assert 0 < figures["targets"]["burst_over_model_throughput"]["bound"] < 1.0
    assert "best possible here" in result.stdout


def test_bounds_follow_from_the_stage_costs_measured_alone():
    from auroral.export.bench.report import targets

    stats = {"batch1": {"median_ms": 10.0}, "batch8": {"median_ms": 40.0, "images_per_s": 200.0}}
    results = {
        "model": {"ort_cpu_int8": stats},
        "model_after_idle": {"ort_cpu_int8": {"median_ms": 12.0}},
        "host_stages": {"decode_reduced": {"median_ms": 3.0}, "preprocess": {"median_ms": 1.0}},
        "config": {"machine": {"cpus": 2}},
        "station": {"precision": "int8", "steady": {"p95_ms": 20.0}, "burst": {"throughput_images_per_s": 100.0}},
    }
    found = targets(results, batch=8)
    assert found["station_p95_over_model_median"] == {"value": 2.0, "target": "< 1.25", "met": False, "bound": 1.6}
    assert found["station_p95_over_model_after_idle"]["bound"] == round(16 / 12, 3)
    # the model alone keeps both CPUs busy for 2 x 40 / 8 = 10 ms per image; decode + preprocess add 4
    assert found["burst_over_model_throughput"] == {"value": 0.5, "target": ">= 0.8", "met": False,
                                                    "bound": round(10 / 14, 3)}


def test_bad_option_is_one_line_error():
    result = auroral("bench", "--quick", "--frames", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == "auroral bench: error: --frames must be between 1 and 10000, got 0"


def test_bench_times_the_stations_own_frames(tmp_path):
    from auroral.edge.tools.synth import generate

    generate(tmp_path / "camera", per_class=1, size=96, seed=3, fmt="png")  # 7 PNG frames in class folders
    out = tmp_path / "bench.json"
    result = auroral("bench", "--quick", "--no-station", "--frames", "4", "--batch", "2",
                     "--frames-dir", str(tmp_path / "camera"), "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["config"]["frames_source"] == f"frames from {tmp_path / 'camera'}"
    assert figures["model"]["ort_cpu_int8"]["batch2"]["median_ms"] > 0
    assert f"frames: frames from {tmp_path / 'camera'}" in result.stdout


def test_too_few_frames_in_frames_dir_is_one_line_error(tmp_path):
    from auroral.edge.tools.synth import generate

    generate(tmp_path / "camera", per_class=1, size=32, seed=3, fmt="png")
    result = auroral("bench", "--quick", "--no-station", "--frames", "20", "--frames-dir", str(tmp_path / "camera"))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"auroral bench: error: --frames-dir {tmp_path / 'camera'} holds 7 frames; "
                                     "--frames 20 needs that many")
