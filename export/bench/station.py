"""The whole station path, measured from outside as an operator runs it.

A private mosquitto (``LocalBroker``), the real daemon as a subprocess (``auroral run``), a subscriber
that timestamps every ``frames`` message, and a writer that drops JPEGs into the watched folder like a
camera: latency is *file closed → message received*. Two phases on the same frames: a steady rate and
bursts (``BURSTS`` of them, each from idle, their median throughput the figure). Between two steady
frames, once the first has arrived, the bench does the work a frame cannot do without (read, decode,
preprocess, run the model) for the same frame itself, after the same idle gap: the steady phase's
yardstick, measured in the same seconds as the station, so that the machine's slow moments fall on both;
likewise between two bursts the bench runs the model alone on a burst's frames, the burst phase's yardstick.
Per-stage shares come from the daemon's own Prometheus histograms, scraped before and after each phase, so
they cover exactly that phase's frames. A last phase floods the folder with many frames while the daemon's
resident memory (``VmRSS``) is sampled, to show that memory stays flat.
"""
from __future__ import annotations

import json
import logging
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from prometheus_client.parser import text_string_to_metric_families

from auroral.edge.errors import UserError
from auroral.edge.tools.broker import LocalBroker, free_port
from auroral.edge.tools.processes import stop_process
from auroral.export.bench.stats import cpu_share, summarize

log = logging.getLogger(__name__)

STATION = "BENCH"
STAGES = ("queue", "decode", "infer", "commit", "total")
_START_TIMEOUT_S = 180.0
_RSS_EVERY_S = 0.05
#: bursts in the burst phase. One burst of 64 frames lasts under a second, and how its first frames meet the
#: writer sets how its batches line up (a lone first frame, then 5–7, a short batch at the end): consecutive
#: bursts of the same daemon range 65–76 images/s. Their median is compared with the model-only yardstick,
#: itself a median of many calls, rather than one draw.
BURSTS = 5
_REPEAT_PAUSE_S = 0.5  # each repeat of a phase (each burst) starts from an idle daemon, as after a quiet spell


class _RssSampler:
    """Samples a process's resident memory (``VmRSS`` of ``/proc/<pid>/status``) on a thread.

    Keeps the maximum over the whole run (``max_kib``) and since the last :meth:`mark` (``window_max_kib``).
    """

    def __init__(self, pid: int):
        self.path = Path(f"/proc/{pid}/status")
        self.max_kib = self.window_max_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def read_kib(self) -> int:
        """The current VmRSS in KiB (0 once the process is gone or where /proc is missing)."""
        try:
            for line in self.path.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return 0

    def sample(self) -> int:
        now = self.read_kib()
        self.max_kib = max(self.max_kib, now)
        self.window_max_kib = max(self.window_max_kib, now)
        return now

    def _run(self) -> None:
        while not self._stop.wait(_RSS_EVERY_S):
            self.sample()

    def mark(self) -> int:
        """Start a new window; returns the current VmRSS in KiB."""
        self.window_max_kib = 0
        return self.sample()

    def __enter__(self) -> _RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class _Subscriber:
    """Receives ``auroral/BENCH/#`` and notes when each frame's message arrived."""

    def __init__(self, broker: LocalBroker):
        self.arrived: dict[str, float] = {}
        self.online = threading.Event()
        self._cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"auroral/{STATION}/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        now = time.time()
        if msg.topic.endswith("/status") and json.loads(msg.payload).get("state") == "online":
            self.online.set()
        elif msg.topic.endswith("/frames"):
            with self._cond:
                self.arrived.setdefault(json.loads(msg.payload)["frame"], now)
                self._cond.notify_all()

    def wait_frames(self, names: list[str], daemon: subprocess.Popen, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(n in self.arrived for n in names):
                if daemon.poll() is not None:
                    raise UserError(f"the station daemon exited with status {daemon.returncode} during the bench")
                if time.monotonic() > deadline:
                    missing = sum(n not in self.arrived for n in names)
                    raise UserError(f"{missing} of {len(names)} frames produced no MQTT message within {timeout:.0f} s")
                self._cond.wait(0.5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _scrape(port: int) -> dict[str, tuple[float, float]]:
    """Per stage: (sum of seconds, count) of the daemon's latency histogram."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        text = reply.read().decode()
    sums: dict[str, list[float]] = {s: [0.0, 0.0] for s in STAGES}
    for family in text_string_to_metric_families(text):
        if family.name != "auroral_stage_latency_seconds":
            continue
        for sample in family.samples:
            stage = sample.labels.get("stage")
            if stage in sums and sample.name.endswith("_sum"):
                sums[stage][0] = sample.value
            elif stage in sums and sample.name.endswith("_count"):
                sums[stage][1] = sample.value
    return {s: (v[0], v[1]) for s, v in sums.items()}


def _runs_alone(count: int, runs: list[tuple[float, float]]) -> dict[str, Any]:
    """Images/s of each repeat's work done alone and their median, and the CPUs' share those calls got."""
    rates = [round(count / wall, 2) for wall, _ in runs]
    return {"images_per_s": round(statistics.median(rates), 2), "runs_images_per_s": rates,
            "cpu_share": cpu_share(sum(cpu for _, cpu in runs), sum(wall for wall, _ in runs))}


def _stage_shares(before: dict, after: dict, e2e_mean_ms: float) -> dict[str, Any]:
    """Mean ms per frame of each daemon stage in a phase, and its share of the end-to-end mean.

    The two derived stages are differences of means measured by different clocks and histograms; where
    one comes out below zero (within the noise of a very short stage) it is shown as 0 and its raw value
    kept as ``raw_mean_ms``, so no share is ever negative.
    """
    mean = {}
    for stage in STAGES:
        count = after[stage][1] - before[stage][1]
        mean[stage] = (after[stage][0] - before[stage][0]) / count * 1000.0 if count else 0.0
    parts = {s: mean[s] for s in ("queue", "decode", "infer", "commit")}
    parts["preprocess_and_handoff"] = mean["total"] - sum(parts.values())
    parts["detect_publish_deliver"] = e2e_mean_ms - mean["total"]
    shares = {}
    for stage, ms in parts.items():
        shares[stage] = {"mean_ms": round(max(ms, 0.0), 3), "share": round(max(ms, 0.0) / e2e_mean_ms, 4)}
        if ms < 0:
            shares[stage]["raw_mean_ms"] = round(ms, 3)
    return shares


class StationBench:
    """Runs the daemon on a bundle and measures phases; use as a context manager."""

    def __init__(self, bundle: Path, precision: str, batch: int, mqtt_rate: float | None, frames: list[Path],
                 workdir: Path):
        self.bundle, self.precision, self.batch, self.mqtt_rate = bundle, precision, batch, mqtt_rate
        self.jpegs = [(p.suffix.lower(), p.read_bytes()) for p in frames]
        self.workdir = workdir
        self.watch = workdir / "incoming"
        self.written: dict[str, float] = {}
        self.metrics_port = free_port()

    def __enter__(self) -> StationBench:
        shutil.rmtree(self.workdir, ignore_errors=True)  # a journal from an earlier run would skip these names
        self.watch.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "station.toml"
        rate = f"[mqtt]\nrate_per_s = {self.mqtt_rate}\n" if self.mqtt_rate else ""
        config.write_text(f"[model]\nbatch_size = {self.batch}\n{rate}")
        self.broker = LocalBroker().start()
        try:
            self.subscriber = _Subscriber(self.broker)
        except BaseException:
            self.broker.__exit__()  # never leave a private mosquitto running
            raise
        self.log_path = self.workdir / "daemon.log"
        command = [sys.executable, "-m", "auroral.edge.cli", "--log-level", "WARNING", "run", "--config", str(config),
                   "--watch", str(self.watch), "--bundle", str(self.bundle), "--broker", self.broker.address,
                   "--station", STATION, "--state-dir", str(self.workdir / "state"), "--precision", self.precision,
                   "--metrics-port", str(self.metrics_port)]
        with open(self.log_path, "ab") as log_file:
            self.daemon = subprocess.Popen(command, stdout=log_file, stderr=log_file)
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self.subscriber.online.wait(0.5):
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                lines = self.log_path.read_text(errors="replace").strip().splitlines() or ["(empty log)"]
                raise UserError(f"the station daemon did not come online (exit status {self.daemon.returncode}): "
                                f"{lines[-1]}")
        log.info("event=bench_daemon_online pid=%d precision=%s", self.daemon.pid, self.precision)
        self.rss = _RssSampler(self.daemon.pid).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if hasattr(self, "rss"):
            self.rss.__exit__()
        stop_process(self.daemon, timeout=30)
        self.subscriber.close()
        self.broker.__exit__()

    def _write(self, name: str, index: int) -> str:
        suffix, data = self.jpegs[index % len(self.jpegs)]
        path = self.watch / f"{name}{suffix}"
        with open(path, "wb") as handle:
            handle.write(data)
        self.written[path.name] = time.time()  # just closed: the camera is done with it
        return path.name

    def phase(self, name: str, count: int, interval_s: float, repeats: int = 1,
              alone: Callable[[int], object] | None = None,
              alone_run: Callable[[], object] | None = None) -> dict[str, Any]:
        """Write ``count`` frames ``interval_s`` apart (0: all at once) and measure until all have arrived, ``repeats``
        times with a pause between: latencies pooled over every frame, throughput the median of the repeats.

        ``alone``: a call (given the frame's index) timed ``interval_s`` after each frame, once it has arrived;
        the next frame follows ``interval_s`` later, so frames and calls meet the same idle gap (``alone_ms``).
        ``alone_run``: a call doing the work of a whole repeat's ``count`` frames, timed once per repeat after the
        same pause that precedes each repeat (``alone``: its images/s per repeat and their median).
        """
        before = _scrape(self.metrics_port)
        latencies: list[float] = []
        rates: list[float] = []
        alone_s: list[float] = []
        runs_alone: list[tuple[float, float]] = []  # (wall, CPU) seconds of each alone_run
        for run in range(repeats):
            if run:
                time.sleep(_REPEAT_PAUSE_S)
            names, seconds = self._write_all(f"{name}{run}" if repeats > 1 else name, count, interval_s, alone)
            alone_s += seconds
            latencies += [self.subscriber.arrived[n] - self.written[n] for n in names]
            span = max(self.subscriber.arrived[n] for n in names) - min(self.written[n] for n in names)
            rates.append(round(count / span, 2))
            if alone_run is not None:
                time.sleep(_REPEAT_PAUSE_S)  # from idle, as the repeat itself started
                wall, cpu = time.perf_counter(), time.process_time()
                alone_run()
                runs_alone.append((time.perf_counter() - wall, time.process_time() - cpu))
        after = _scrape(self.metrics_port)
        stats = summarize(latencies)
        result = {"frames": count, "interval_s": interval_s, "p50_ms": stats["median_ms"], "p95_ms": stats["p95_ms"],
                  "p99_ms": stats["p99_ms"], "mean_ms": round(sum(latencies) / len(latencies) * 1000.0, 3),
                  "throughput_images_per_s": round(statistics.median(rates), 2)}
        if repeats > 1:
            result |= {"repeats": repeats, "runs_images_per_s": rates}
        if alone_s:
            result["alone_ms"] = summarize(alone_s)
        if runs_alone:
            result["alone"] = _runs_alone(count, runs_alone)
        result["stages"] = _stage_shares(before, after, result["mean_ms"])
        log.info("event=bench_station phase=%s frames=%d repeats=%d p50_ms=%.1f p95_ms=%.1f", name, count, repeats,
                 result["p50_ms"], result["p95_ms"])
        return result

    def _write_all(self, name: str, count: int, interval_s: float,
                   alone: Callable[[int], object] | None = None) -> tuple[list[str], list[float]]:
        """Write one run's frames and wait until the subscriber has all of their messages: their names, and with
        ``alone`` the seconds of each timed call (each frame's period is then two intervals: frame, call)."""
        names: list[str] = []
        alone_s: list[float] = []
        started = time.monotonic()
        step = 2 if alone else 1
        for i in range(count):
            names.append(self._write(f"{name}_{i:05d}", i))
            if alone is not None:
                self.subscriber.wait_frames(names[-1:], self.daemon, timeout=60.0)  # never beside the frame's work
                time.sleep(max(0.0, started + (step * i + 1) * interval_s - time.monotonic()))
                call_started = time.perf_counter()
                alone(i)
                alone_s.append(time.perf_counter() - call_started)
            if interval_s:
                time.sleep(max(0.0, started + step * (i + 1) * interval_s - time.monotonic()))
        self.subscriber.wait_frames(names, self.daemon, timeout=60.0 + count * 10.0)
        return names, alone_s

    def flood(self, count: int) -> dict[str, Any]:
        """Write ``count`` frames at once and wait until the daemon has classified them all, sampling its memory.

        Completion is the daemon's own count of finished frames (its ``total`` stage histogram), not the
        MQTT messages: after two seconds unsent messages become backlog, which the publish token bucket
        paces by design, and that pacing says nothing about memory.
        """
        rss_before_kib = self.rss.mark()
        done_before = _scrape(self.metrics_port)["total"][1]
        started = time.monotonic()
        for i in range(count):
            self._write(f"flood_{i:05d}", i)
        written_s = time.monotonic() - started
        deadline = started + 60.0 + count * 1.0
        done = 0.0
        while done < count:
            if self.daemon.poll() is not None:
                raise UserError(f"the station daemon exited with status {self.daemon.returncode} during the flood")
            if time.monotonic() > deadline:
                raise UserError(f"the daemon classified {done:.0f} of {count} flood frames within "
                                f"{deadline - started:.0f} s")
            time.sleep(0.25)
            done = _scrape(self.metrics_port)["total"][1] - done_before
        elapsed = time.monotonic() - started
        result = {"frames": count, "written_in_s": round(written_s, 2), "classified_in_s": round(elapsed, 2),
                  "throughput_images_per_s": round(count / elapsed, 2),
                  "rss_before_mb": round(rss_before_kib / 1024, 1),
                  "rss_max_mb": round(max(self.rss.window_max_kib, self.rss.sample()) / 1024, 1)}
        log.info("event=bench_flood frames=%d rss_before_mb=%.1f rss_max_mb=%.1f", count, result["rss_before_mb"],
                 result["rss_max_mb"])
        return result


def station_path(bundle: Path, precision: str, batch: int, mqtt_rate: float | None, frames: list[Path], workdir: Path,
                 steady_frames: int, steady_interval_s: float, burst_frames: int, flood_frames: int,
                 alone: Callable[[int], object] | None = None,
                 burst_alone: Callable[[], object] | None = None) -> dict[str, Any]:
    """Warm the daemon up, then a steady phase (with ``alone``: each frame's work done alone between the frames), a
    burst phase (with ``burst_alone``: the model alone on a burst's frames between the bursts) and a flood
    (memory); every figure in one dict."""
    with StationBench(bundle, precision, batch, mqtt_rate, frames, workdir) as bench:
        bench.phase("warmup", 3, steady_interval_s)
        steady = bench.phase("steady", steady_frames, steady_interval_s, alone=alone)
        burst = bench.phase("burst", burst_frames, 0.0, repeats=BURSTS, alone_run=burst_alone)
        flood = bench.flood(flood_frames)
        rss_max_mb = round(max(bench.rss.max_kib, bench.rss.sample()) / 1024, 1)
    return {"precision": precision, "daemon_batch_size": batch, "mqtt_rate_per_s": mqtt_rate or "daemon default",
            "steady": steady, "burst": burst, "flood": flood, "daemon_rss_max_mb": rss_max_mb}
