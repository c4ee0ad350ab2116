"""Stopping child processes the way systemd would: SIGTERM for a clean stop, SIGKILL if it hangs."""
from __future__ import annotations

import subprocess


def stop_process(process: subprocess.Popen, timeout: float) -> None:
    """Terminate ``process`` (if still running) and wait; kill it after ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
