"""The daemon's HTTP endpoint: Prometheus text on /metrics (the pipeline's metrics, the time of the last frame,
build info and process metrics), every component's health on /healthz; read-only (GET only)."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auroral.edge.capture_time import Captured
from auroral.edge.classes import CLASSES
from auroral.edge.classifier import Prediction
from auroral.edge.contract import ModelRef
from auroral.edge.frames import FileVersion
from auroral.edge.station.http import HttpServer
from auroral.edge.station.ledger import Classified, Ledger
from auroral.edge.tools.broker import free_port
from support.stationctx import make_context


@pytest.fixture
def served(tmp_path):
    context = make_context(tmp_path, metrics_port=free_port())
    ledger = Ledger.open(context.config, context.metrics, ModelRef(name="toy", sha256="0" * 64), lambda events: None)
    server = HttpServer(context, ledger.history)
    server.start()
    yield context, f"http://127.0.0.1:{server.port}", ledger
    server.stop(5)
    ledger.close()


def get(url: str, method: str = "GET") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """``/metrics`` parsed: sample name → sorted label pairs → value."""
    status, text = get(url + "/metrics")
    assert status == 200
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_are_exposed_in_prometheus_format(served):
    context, url, _ = served
    metrics = context.metrics
    metrics.frames.labels("arcs").inc(3)
    metrics.latency.labels("infer").observe(0.02)
    metrics.spool_depth.set(7)
    metrics.external_rejected.labels("invalid").inc()
    status, text = get(url + "/metrics")
    samples = {s.name + str(sorted(s.labels.items())): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert status == 200
    assert samples["auroral_frames_processed_total[('label', 'arcs')]"] == 3
    assert samples["auroral_stage_latency_seconds_count[('stage', 'infer')]"] == 1
    assert samples["auroral_spool_depth[]"] == 7
    assert samples["auroral_external_alerts_rejected_total[('reason', 'invalid')]"] == 1


def test_healthz_names_every_component_and_the_late_one(served):
    context, url, _ = served
    supervisor = context.supervisor
    supervisor.register("decode", deadline_s=0.2)
    status, body = get(url + "/healthz")
    report = json.loads(body)
    assert status == 200 and report["healthy"] and set(report["components"]) == {"http", "decode"}
    time.sleep(0.3)  # decode misses its deadline
    status, body = get(url + "/healthz")
    report = json.loads(body)
    assert status == 503 and report["late"] == ["decode"] and report["components"]["http"]["ok"]
    supervisor.beat("decode")
    assert get(url + "/healthz")[0] == 200
    assert get(url + "/nope")[0] == 404


def test_time_of_the_last_recorded_frame(served, tmp_path):
    """Set by the ledger when a frame commits: a dead camera shows as this gauge falling behind the clock."""
    context, url, ledger = served
    assert scrape(url)["auroral_last_frame_timestamp_seconds"][()] == 0
    frame = tmp_path / "KIR_20261124_220000.jpg"
    frame.write_bytes(b"frame")
    prediction = Prediction(CLASSES[0], 0.9, {name: 0.9 if name == CLASSES[0] else 0.01 for name in CLASSES})
    before = time.time()
    ledger.frames([Classified(frame, Captured(datetime(2026, 11, 24, 22, tzinfo=UTC), "name"), prediction,
                              seen=before, live=True, version=FileVersion(5, 0, "0" * 64))])
    assert before <= scrape(url)["auroral_last_frame_timestamp_seconds"][()] <= time.time()


def test_build_info_and_process_metrics(served):
    context, url, _ = served
    context.metrics.build.info({"version": "1.2.3", "model": "resnet50", "backend": "ort-cpu", "precision": "int8"})
    samples = scrape(url)
    labels = (("backend", "ort-cpu"), ("model", "resnet50"), ("precision", "int8"), ("version", "1.2.3"))
    assert samples["auroral_build_info"] == {labels: 1.0}
    assert samples["process_resident_memory_bytes"][()] > 0
    assert samples["process_open_fds"][()] > 0
    assert samples["process_start_time_seconds"][()] <= time.time()
    assert [dict(pairs)["implementation"] for pairs in samples["python_info"]] == ["CPython"]


def test_read_only_and_no_frame_yet(served):
    """Only GET is served; before the first frame the page says so and there is no picture to serve."""
    _, url, _ = served
    for path in ("/", "/metrics", "/healthz", "/latest.jpg"):
        assert get(url + path, method="POST")[0] == 405
        assert get(url + path, method="DELETE")[0] == 405
    status, body = get(url + "/")
    assert status == 200 and '<dd id="label">no frame yet</dd>' in body
    assert get(url + "/latest.jpg")[0] == 404
    assert get(url + "/latest.jpg/../../etc/passwd")[0] == 404
