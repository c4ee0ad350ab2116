"""Fault-injection helpers: run the station daemon as a real subprocess, feed it frames, break things.

``Station`` starts ``auroral run`` (flags + an optional TOML file), kills it with SIGKILL or stops it
with SIGTERM, and reads its metrics. ``FrameFeed`` writes tiny distinct JPEGs and remembers the label
the toy bundle must give each one. ``Ledger`` turns what a Collector received into per-frame seqs so a
test can assert exactly-once classification and at-least-once delivery.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from auroral.edge.frames import read_frame
from auroral.edge.preprocess import PreprocessSpec
from auroral.edge.tools.broker import LocalBroker, free_port
from support.mqttcollect import Collector
from support.toybundle import expected_label

STATION = "kiruna"

# The daemon's Prometheus metrics the fault tests read (edge/metrics.py), in one place.
METRICS = {
    "processed": "auroral_frames_processed_total",
    "spool_depth": "auroral_spool_depth",
    "connected": "auroral_broker_connected",
    "quarantined": "auroral_frames_quarantined_total",
    "retries": "auroral_frame_retries_total",
    "watch_errors": "auroral_watch_errors_total",
    "external_rejected": "auroral_external_alerts_rejected_total",
    "external_seen": "auroral_external_alerts_total",
    "triggers": "auroral_triggers_total",
}


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_toml(path: Path, config: dict) -> Path:
    """A minimal TOML writer for nested dicts of scalars and lists (the tests' station configs)."""
    lines: list[str] = []

    def table(prefix: str, values: dict) -> None:
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in scalars.items())
        for key, value in values.items():
            if isinstance(value, dict):
                table(f"{prefix}.{key}" if prefix else key, value)

    table("", config)
    path.write_text("\n".join(lines) + "\n")
    return path


def persistent_broker(**kwargs) -> LocalBroker:
    """A broker that keeps sessions and queued QoS 1 messages across its own restarts, as a station's should.

    Without persistence a broker restart drops what it had queued for subscribers, which no publisher
    can prevent; with it, what the daemon got a PUBACK for reaches a persistent-session subscriber.
    """
    broker = LocalBroker(**kwargs)
    store = broker._dir / "db"
    store.mkdir()
    broker._dir.chmod(0o755)  # mosquitto started as root drops to its own user, which must write here
    store.chmod(0o777)
    broker.options.update({"persistence": "true", "persistence_location": f"{store}/", "autosave_interval": "1"})
    return broker


def durable_collector(broker, topic_filter: str = "auroral/#", client_id: str = "fault-tests") -> Collector:
    """A Collector with a persistent session (MQTT 3.1.1, clean_session=False) that survives broker restarts."""
    import paho.mqtt.client as mqtt

    collector = Collector(broker, topic_filter)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False,
                         protocol=mqtt.MQTTv311)
    client.on_connect, client.on_subscribe, client.on_message = (
        collector.client.on_connect, collector.client.on_subscribe, collector.client.on_message)
    client.reconnect_delay_set(0.1, 1)
    collector.client = client
    return collector


MARKER_TOPIC = "auroral/test/marker"


def connected_client(broker, user: str | None = None):
    """A started paho client on ``broker``; for a SecureBroker it logs in as ``user`` over TLS."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    if user is not None:
        broker.secure(client, user, broker.users[user])
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def settle(collector, station: Station, client) -> None:
    """Make "nothing else arrived" checkable without a timer.

    Once the daemon's spool is empty, the broker has acknowledged, and therefore already queued for the
    subscriber, everything the daemon sent. A marker published afterwards reaches the subscriber after
    all of it, so when the marker is in, the collector holds the daemon's complete output.
    ``client`` is a connected paho client allowed to publish on :data:`MARKER_TOPIC`.
    """
    station.wait_until(lambda: station.spool_depth() == 0, what="spool drained")
    before = len(collector.on("marker"))
    client.publish(MARKER_TOPIC, b"settle", qos=1).wait_for_publish(10)
    collector.wait_for(lambda ms: sum(m.topic == MARKER_TOPIC for m in ms) > before)


class Station:
    """The daemon under test: ``auroral run`` in a subprocess with its own watch and state dirs."""

    def __init__(self, root: Path, bundle_dir: Path, broker_address: str, config: dict | None = None,
                 station: str = STATION, user: str | None = None, env: dict[str, str] | None = None):
        self.root = Path(root)
        self.watch = self.root / "incoming"
        self.state = self.root / "state"
        self.watch.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)
        self.bundle_dir = Path(bundle_dir)
        self.broker_address = broker_address
        self.station = station
        self.metrics_port = free_port()
        self.config = config or {}
        self.user = user
        self.env = {**os.environ, **(env or {})}
        self.log_path = self.root / "daemon.log"
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "auroral.edge.cli", "--log-level", "DEBUG", "run",
                   "--watch", str(self.watch), "--bundle", str(self.bundle_dir), "--broker", self.broker_address,
                   "--station", self.station, "--state-dir", str(self.state), "--metrics-port", str(self.metrics_port)]
        if self.config:
            command += ["--config", str(write_toml(self.root / "station.toml", self.config))]
        if self.user:  # run as an unprivileged user so that file permissions apply (tests run as root)
            command = ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--clear-groups"] + command
        return command

    def start(self) -> Station:
        assert not self.alive, "the daemon is already running: a second start would leave one process behind"
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}\n".encode())
            log.flush()
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=self.root, env=self.env)
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM (a clean shutdown as systemd does it) and the exit status."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"daemon ignored SIGTERM for {timeout} s; log:\n{self.log()[-3000:]}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics as ``name{label="v",...}`` → value (labels sorted)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def healthz(self) -> tuple[int, dict]:
        """/healthz as (status, the JSON report naming each component)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def metric(self, prefix: str) -> float:
        """Sum of all samples whose name starts with ``prefix`` (0 when none exist yet)."""
        return sum(v for k, v in self.metrics().items() if k.split("{")[0] == prefix or k.startswith(prefix + "{"))

    def wait_watching(self) -> None:
        """Until the daemon watches its folder, so files written next arrive as live events, not a rescan."""
        self.wait_until(lambda: "event=watching" in self.log(), what="the watch folder attached")

    def processed(self) -> float:
        """Frames classified by this run of the daemon (counters restart with the process)."""
        return self.metric(METRICS["processed"])

    def spool_depth(self) -> float:
        return self.metric(METRICS["spool_depth"])

    def connected(self) -> float:
        return self.metric(METRICS["connected"])

    def quarantined(self) -> float:
        return self.metric(METRICS["quarantined"])

    def retries(self) -> float:
        return self.metric(METRICS["retries"])

    def watch_errors(self) -> float:
        return self.metric(METRICS["watch_errors"])

    def external_rejected(self) -> float:
        return self.metric(METRICS["external_rejected"])

    def external_seen(self) -> float:
        return self.metric(METRICS["external_seen"])

    def triggers(self) -> float:
        return self.metric(METRICS["triggers"])

    def wait_until(self, predicate, timeout: float = 30.0, what: str = "condition") -> None:
        """Poll ``predicate()`` (metrics, files) until true; fail with the daemon's log tail if never."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise AssertionError(f"daemon exited ({self.process.returncode}) waiting for {what}:\n"
                                     f"{self.log()[-3000:]}")
            try:
                if predicate():
                    return
            except OSError:
                pass  # metrics endpoint not up yet
            time.sleep(0.1)
        raise AssertionError(f"{what} not reached in {timeout} s; daemon log:\n{self.log()[-3000:]}")

    def __enter__(self) -> Station:
        return self.start()

    def __exit__(self, exc_type, *exc) -> None:
        if self.alive:
            self.process.kill()
            self.process.wait()
        if exc_type is not None:  # pytest shows captured output of a failing test: the daemon's side of it
            sys.stdout.write(f"--- daemon log tail ({self.log_path}):\n{self.log()[-4000:]}\n")


class FrameFeed:
    """Writes distinct tiny JPEG frames into a folder and records the label each must receive."""

    def __init__(self, folder: Path, spec: PreprocessSpec, size: int = 32, seed: int = 0, suffix: str = ".jpg",
                 noise: int = 8, first: int = 0):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.spec = spec
        self.size = size
        self.suffix = suffix
        self.noise = noise
        self.rng = np.random.default_rng(seed)
        self.expected: dict[str, str] = {}
        self.count = first
        self.start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)  # a live camera's frames

    def image(self, colour=None) -> np.ndarray:
        colour = self.rng.integers(0, 256, 3) if colour is None else np.asarray(colour)
        noise = self.rng.integers(-self.noise, self.noise + 1, (self.size, self.size, 3))
        return np.clip(colour[None, None, :] + noise, 0, 255).astype(np.uint8)

    def name(self) -> str:
        # Kiruna-style names in capture order, one second apart from about now; unique across a test
        return f"KIR_{self.start + timedelta(seconds=self.count):%Y%m%d_%H%M%S}_{self.count:05d}{self.suffix}"

    def encode(self, image: np.ndarray) -> bytes:
        ok, data = cv2.imencode(self.suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        assert ok
        return data.tobytes()

    def write(self, n: int = 1, colour=None, atomic: bool = False) -> list[Path]:
        """Write ``n`` frames the way a camera does (plain write, or write-then-rename if ``atomic``).

        All are encoded first and then written in one go, so a large ``n`` lands as a burst.
        """
        batch = []
        for _ in range(n):
            batch.append((self.folder / self.name(), self.encode(self.image(colour))))
            self.count += 1
        for path, data in batch:
            target = path.with_name("." + path.name + ".part") if atomic else path
            target.write_bytes(data)
            if atomic:
                os.replace(target, path)
        for path, _ in batch:
            self.expect(path)
        return [path for path, _ in batch]

    def expect(self, path: Path) -> None:
        """Record the label of a (now complete) frame file, computed from the file as written."""
        self.expected[path.name] = expected_label(read_frame(path), self.spec)


class Ledger:
    """What arrived on ``frames``: per frame name the set of seqs (several seqs = classified twice).

    Payloads are parsed once, incrementally (the collector's list only grows), so waiting on hundreds
    of messages stays linear.
    """

    def __init__(self, collector):
        self.collector = collector
        self._frames: list[dict] = []
        self._seen = 0
        self._lock = threading.Lock()

    def frames(self) -> list[dict]:
        """Every ``frames`` payload received so far, in arrival order."""
        with self._lock:
            messages = self.collector.messages
            for message in messages[self._seen:len(messages)]:
                if message.topic.endswith("/frames"):
                    self._frames.append(message.json())
                self._seen += 1
            return list(self._frames)

    def seqs_by_frame(self) -> dict[str, set[int]]:
        result: dict[str, set[int]] = defaultdict(set)
        for message in self.frames():
            result[message["frame"]].add(message["seq"])
        return result

    def wait_for_frames(self, names, timeout: float = 30.0) -> None:
        wanted = set(names)
        self.collector.wait_for(lambda ms: wanted <= {m["frame"] for m in self.frames()}, timeout=timeout)

    def wait_for_count(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` distinct frames have arrived."""
        self.collector.wait_for(lambda ms: len({m["frame"] for m in self.frames()}) >= count, timeout=timeout)

    def wait_for_alerts(self, kind: str, count: int, timeout: float = 30.0) -> list[dict]:
        def enough(ms) -> bool:
            return sum(1 for m in ms if m.topic.endswith("/alerts") and json.loads(m.payload)["type"] == kind) >= count
        self.collector.wait_for(enough, timeout=timeout)
        return [a for a in (m.json() for m in self.collector.on("alerts")) if a["type"] == kind]

    def latest(self) -> dict:
        """The frame message of the newest capture: the sky the retained state describes (frames are decided in
        capture time, whatever order they were processed in)."""
        return max(self.frames(), key=lambda m: (datetime.fromisoformat(m["captured_at"]), m["seq"]))

    def assert_exactly_once(self, expected: dict[str, str]) -> None:
        """Each expected frame: classified once (one seq), right label; no other frames; seqs unique."""
        by_frame = self.seqs_by_frame()
        assert set(by_frame) == set(expected), (
            f"missing {sorted(set(expected) - set(by_frame))[:5]}, "
            f"unexpected {sorted(set(by_frame) - set(expected))[:5]}")
        twice = {name: seqs for name, seqs in by_frame.items() if len(seqs) != 1}
        assert not twice, f"classified more than once: {dict(list(twice.items())[:5])}"
        seqs = [next(iter(s)) for s in by_frame.values()]
        assert len(set(seqs)) == len(expected), "two frames share a seq"
        labels = {m["frame"]: m["label"] for m in self.frames()}
        wrong = {n: (labels[n], expected[n]) for n in expected if labels[n] != expected[n]}
        assert not wrong, f"wrong labels (got, expected): {dict(list(wrong.items())[:5])}"


def retained_state(broker, station: str = STATION, secure_user: str | None = None) -> dict:
    """The retained ``state`` a new subscriber gets at once (it must describe the latest frame)."""
    collector = broker.collector(f"auroral/{station}/state", secure_user) if secure_user else \
        Collector(broker, f"auroral/{station}/state")
    with collector:
        return collector.wait_for(lambda ms: bool(ms), timeout=10)[0].json()
