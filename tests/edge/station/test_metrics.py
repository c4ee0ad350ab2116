"""The daemon's HTTP endpoint: Prometheus text on /metrics, every component's health on /healthz."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auroral.edge.station.http import HttpServer
from auroral.edge.tools.broker import free_port
from support.stationctx import make_context


@pytest.fixture
def served(tmp_path):
    context = make_context(tmp_path, metrics_port=free_port())
    server = HttpServer(context)
    server.start()
    yield context, f"http://127.0.0.1:{server.port}"
    server.stop(5)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_are_exposed_in_prometheus_format(served):
    context, url = served
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
    context, url = served
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
