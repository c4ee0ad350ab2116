"""A private Mosquitto broker on a free loopback port, for the demo, benchmarks and tests.

Configured deliberately: loopback only, anonymous, no persistence, and queues large enough that a
slow subscriber never silently loses QoS 1 messages (Mosquitto drops past ``max_queued_messages``).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from auroral.edge.errors import UserError
from auroral.edge.tools.processes import stop_process

DEFAULT_OPTIONS = {
    "allow_anonymous": "true",
    "persistence": "false",
    "max_queued_messages": "100000",
    "max_inflight_messages": "100",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_mosquitto() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if candidate and Path(candidate).is_file():
            return candidate
    raise UserError("mosquitto is not installed: apt-get install mosquitto (or run `make demo`, which installs it)")


class LocalBroker:
    """``with LocalBroker() as broker: broker.port`` — a mosquitto process that dies with the block."""

    def __init__(self, port: int | None = None, options: dict[str, str] | None = None, extra_conf: str = ""):
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.options = {**DEFAULT_OPTIONS, **(options or {})}
        self.extra_conf = extra_conf
        self._dir = Path(tempfile.mkdtemp(prefix="auroral-broker-"))
        self.log_path = self._dir / "mosquitto.log"
        self.process: subprocess.Popen | None = None

    def _write_config(self) -> Path:
        lines = [f"listener {self.port} {self.host}"]
        lines += [f"{key} {value}" for key, value in self.options.items()]
        lines += ["log_dest stderr", "log_type error", "log_type warning", "log_type notice", self.extra_conf]
        path = self._dir / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 10.0) -> LocalBroker:
        config = self._write_config()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([find_mosquitto(), "-c", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited at start-up: {self.log_path.read_text()[-500:]}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not open port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port (a broker restart as an observatory sees one)."""
        self.stop()
        self.start()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def __enter__(self) -> LocalBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)
