"""Prometheus metrics of the station and the HTTP endpoint serving ``/metrics`` and ``/healthz``."""
from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger("auroral.metrics")
disable_created_metrics()

STAGES = ("queue", "decode", "infer", "commit", "total")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class StationMetrics:
    """All of the daemon's metrics in one private registry (so tests can build several)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.frames = Counter("auroral_frames_processed_total", "frames classified", ["label"], registry=r)
        self.latency = Histogram("auroral_stage_latency_seconds", "per-stage latency of a frame", ["stage"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.queue_depth = Gauge("auroral_queue_depth", "frames waiting", ["queue"], registry=r)
        self.spool_depth = Gauge("auroral_spool_depth", "messages in the outbound spool", registry=r)
        self.spool_dropped = Counter("auroral_spool_dropped_total", "spool messages dropped by policy", ["reason"],
                                     registry=r)
        self.connected = Gauge("auroral_broker_connected", "1 while connected to the MQTT broker", registry=r)
        self.published = Counter("auroral_messages_published_total", "messages acknowledged by the broker",
                                 registry=r)
        self.triggers = Counter("auroral_triggers_total", "capture triggers issued", ["source"], registry=r)
        self.alerts = Counter("auroral_alerts_total", "alerts issued", ["type"], registry=r)
        self.retries = Counter("auroral_frame_retries_total", "unreadable frames retried", registry=r)
        self.quarantined = Counter("auroral_frames_quarantined_total", "frames given up on", registry=r)
        self.errors = Counter("auroral_errors_total", "errors by kind", ["kind"], registry=r)
        self.watch_errors = Counter("auroral_watch_errors_total", "watch folder cannot be read", registry=r)
        self.external = Counter("auroral_external_alerts_total", "valid external alerts received", ["type"],
                                registry=r)
        self.external_rejected = Counter("auroral_external_alerts_rejected_total",
                                         "external alerts dropped (malformed or too large)", ["reason"], registry=r)
        self.last_beat = time.monotonic()

    def beat(self) -> None:
        """Called by the processing loop; /healthz fails when it stops."""
        self.last_beat = time.monotonic()

    def healthy(self, stale_s: float = 60.0) -> bool:
        return time.monotonic() - self.last_beat < stale_s


class MetricsServer:
    """A tiny threaded HTTP server: ``/metrics`` (Prometheus text) and ``/healthz`` (200 or 503)."""

    def __init__(self, metrics: StationMetrics, host: str, port: int):
        self.metrics = metrics
        handler = self._handler()
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        metrics = self.metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's API
                if self.path.split("?")[0] == "/metrics":
                    self._reply(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
                elif self.path == "/healthz":
                    ok = metrics.healthy()
                    self._reply(200 if ok else 503, b"ok\n" if ok else b"processing loop stalled\n", "text/plain")
                else:
                    self._reply(404, b"not found: try /metrics or /healthz\n", "text/plain")

            def _reply(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass  # scrapes are not events

        return Handler

    def start(self) -> None:
        self.thread.start()
        host, port = self.server.server_address[:2]
        log.info("event=metrics_listening host=%s port=%d", host, port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
