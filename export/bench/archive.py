"""The archive phase: ``auroral archive`` on the bench frames with 1 and N workers, run as a user runs it.

The command runs as a subprocess with the pool engine (one process per worker, each running ONNX
Runtime on one thread, the archive's own setting), on an archive folder made of the bench frames
repeated under distinct names (hard links where the file system allows, copies otherwise), so that a
run lasts long enough for the workers' start-up (spawn, bundle check) to matter little. Its images/s
is the one the command prints, start-up included, as a user sees it. The yardstick beside it is
model-only int8 at the archive worker's batch size (``INFER_BATCH``) on the same CPUs.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from auroral.edge.errors import UserError

log = logging.getLogger(__name__)

_RATE = re.compile(r"([0-9.]+) images/s")


def archive_folder(frames: list[Path], folder: Path, count: int) -> Path:
    """``count`` files in ``folder``, the bench frames in turn, each under a name of its own."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(count):
        source = frames[i % len(frames)]
        target = folder / f"archive_{i:06d}{source.suffix.lower()}"
        try:
            os.link(source, target)
        except OSError:  # another file system, or links not allowed: a copy costs the same to read
            shutil.copyfile(source, target)
    return folder


def run_archive(folder: Path, bundle: Path, out: Path, workers: int, precision: str = "int8") -> dict[str, Any]:
    """One ``auroral archive`` run with ``workers`` pool workers; the images/s it prints."""
    shutil.rmtree(out, ignore_errors=True)  # an earlier result would make the run resume and skip every frame
    command = [sys.executable, "-m", "auroral.edge.cli", "--log-level", "WARNING", "archive", str(folder),
               "--bundle", str(bundle), "--out", str(out), "--engine", "pool", "--workers", str(workers),
               "--precision", precision, "--no-progress"]
    done = subprocess.run(command, capture_output=True, text=True)
    found = _RATE.search(done.stdout)
    if done.returncode != 0 or found is None:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        raise UserError(f"auroral archive with {workers} worker(s) failed (exit status {done.returncode}): {lines[-1]}")
    images_per_s = float(found.group(1))
    log.info("event=bench_archive workers=%d images_per_s=%.1f", workers, images_per_s)
    return {"workers": workers, "images_per_s": images_per_s}


def archive_phase(frames: list[Path], bundle: Path, workdir: Path, count: int, cpus: int) -> dict[str, Any]:
    """``auroral archive`` on ``count`` frames with 1 worker, 2 workers and one worker per CPU."""
    from auroral.edge.archive.worker import INFER_BATCH

    folder = archive_folder(frames, workdir / "frames", count)
    runs = {f"workers{w}": run_archive(folder, bundle, workdir / f"out{w}.parquet", w)
            for w in sorted({1, min(2, cpus), cpus})}
    return {"frames": count, "engine": "pool", "ort_threads_per_worker": 1, "infer_batch": INFER_BATCH,
            "precision": "int8", **runs}
