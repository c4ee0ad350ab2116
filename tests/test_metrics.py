"""The daemon's HTTP endpoint: Prometheus text on /metrics, processing-loop health on /healthz."""
from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from auroral.edge.broker import free_port
from auroral.edge.metrics import MetricsServer, StationMetrics


@pytest.fixture
def served():
    metrics = StationMetrics()
    server = MetricsServer(metrics, "127.0.0.1", free_port())
    server.start()
    yield metrics, f"http://127.0.0.1:{server.server.server_address[1]}"
    server.stop()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_are_exposed_in_prometheus_format(served):
    metrics, url = served
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


def test_healthz_follows_the_processing_loop(served):
    metrics, url = served
    metrics.beat()
    assert get(url + "/healthz") == (200, "ok\n")
    metrics.last_beat -= 3600  # the loop has not beaten for an hour
    assert get(url + "/healthz")[0] == 503
    assert get(url + "/nope")[0] == 404
