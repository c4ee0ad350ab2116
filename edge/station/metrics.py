"""Prometheus metrics of the station (served by :mod:`auroral.edge.station.http`).

Besides the pipeline's own counters: the time of the newest classified frame (a camera that stopped writing
shows as that gauge falling behind the clock, while every other metric still looks healthy), the build
that runs (``auroral_build_info``), and prometheus-client's process and Python platform metrics (memory,
CPU, open files of the daemon).
"""
from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

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
        self.component_failures = Counter("auroral_component_failures_total",
                                          "unexpected exceptions in a component (each followed by a restart)",
                                          ["component"], registry=r)
        self.external_rejected = Counter("auroral_external_alerts_rejected_total",
                                         "external alerts dropped (malformed or too large)", ["reason"], registry=r)
        self.last_frame = Gauge("auroral_last_frame_timestamp_seconds",
                                "Unix time (wall clock) at which the station last recorded a frame (classified and "
                                "committed), not the frame's capture time", registry=r)
        self.notifications = Counter("auroral_notifications_total", "alerts sent to people through [notify] urls, "
                                     "per URL: sent, failed, or suppressed by the cooldown", ["result"], registry=r)
        self.build = Info("auroral_build", "the running daemon: package version, model, backend and precision",
                          registry=r)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
