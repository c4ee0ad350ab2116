"""``auroral demo``: the whole chain on a synthetic night, in a few minutes, with nothing to configure.

It runs the same commands an operator would (printed as it goes): synth → train → export → a private
mosquitto → ``auroral run`` on a watched folder → ``auroral replay`` of a synthetic night into it, while
``auroral listen`` prints what a subscriber receives. It stops by itself once every frame's label has
arrived, writes the night's keogram, onset catalogue and summary (``auroral night`` on the station's state)
and says where the outputs are.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auroral.edge import progress
from auroral.edge.errors import UserError
from auroral.edge.extras import require
from auroral.edge.tools.processes import stop_process

STATION = "KIR"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole chain on synthetic data (train, export, station daemon, MQTT, breakup trigger)",
        description="Generate synthetic all-sky frames, train a quick baseline, export a bundle, start a local "
        "mosquitto, run the station daemon on a watched folder while a synthetic night is replayed into it, and "
        "print the labels and alerts a subscriber receives. Finishes by itself.",
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"),
                        help="where everything is written")
    parser.add_argument("--frames", type=int, default=40, help="frames in the synthetic night")
    parser.add_argument("--fps", type=float, default=4.0, help="replay rate, frames per second")
    parser.add_argument("--seed", type=int, default=2020, help="seed of the synthetic frames and the model")
    progress.add_option(parser)  # passed on to the steps that show bars
    parser.set_defaults(func=run)


def _auroral(*args: str) -> list[str]:
    return [sys.executable, "-m", "auroral.edge.cli", "--log-level", "WARNING", *args]


def _step(title: str, *args: str) -> None:
    """Print the command as an operator would type it, then run it."""
    print(f"\n== {title}\n$ auroral {shlex.join(args)}", flush=True)
    if subprocess.run(_auroral(*args)).returncode != 0:
        raise UserError(f"step '{title}' failed (its message is above)")


def _count_frames(broker, expected: int, seen: dict, online: threading.Event, done: threading.Event) -> None:
    import paho.mqtt.client as mqtt

    def on_message(client, userdata, msg):
        kind = msg.topic.rsplit("/", 1)[-1] if not msg.topic.endswith("capture/trigger") else "trigger"
        seen[kind] = seen.get(kind, 0) + 1
        if kind == "status" and json.loads(msg.payload)["state"] == "online":
            online.set()
        if kind == "frames":
            seen.setdefault("labels", []).append(json.loads(msg.payload)["label"])
        if seen.get("frames", 0) >= expected:
            done.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"auroral/{STATION}/#", qos=1)
    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.loop_start()
    done.wait()
    client.loop_stop()
    client.disconnect()


def run(args: argparse.Namespace) -> int:
    require("export", "torch", "sklearn", "skl2onnx", "onnx")
    require("archive", "pyarrow", "pandas", "matplotlib")  # its last step: the night's keogram and summary
    from auroral.edge.tools.broker import LocalBroker
    from auroral.edge.tools.synth import night_sequence

    started = time.monotonic()
    out = args.out.resolve()
    data, run_dir, bundle = out / "training-data", out / "run-svm", out / "bundle"
    night, watch, state, report = out / "night", out / "incoming", out / "state", out / "night-report"
    watch.mkdir(parents=True, exist_ok=True)
    quiet = ["--no-progress"] if args.no_progress else []

    _step("1/5 synthetic training frames",
          "synth", "--out", str(data), "--per-class", "40", "--size", "96", "--seed", str(args.seed))
    _step("2/5 train a quick baseline (SVM on downsampled pixels)",
          "train", "--data", str(data), "--model", "svm", "--features", "pixels", "--image-size", "64",
          "--out", str(run_dir), "--seed", str(args.seed), *quiet)
    _step("3/5 export the model bundle", "export", str(run_dir), "--out", str(bundle), "--force", *quiet)
    # a camera at 5 s cadence whose last frame is now: the night is live, so its breakup may trigger
    ends = datetime.now(UTC)
    frames = night_sequence(night, n_frames=args.frames, size=256, seed=args.seed, cadence_s=5.0)
    print(f"\n== 4/5 a synthetic night of {len(frames)} frames with a breakup sequence: {night}", flush=True)

    with LocalBroker() as broker:
        print(f"\n== 5/5 station daemon + live subscriber on a private mosquitto at {broker.address}", flush=True)
        seen: dict = {}
        online, done = threading.Event(), threading.Event()
        counter = threading.Thread(target=_count_frames, args=(broker, len(frames), seen, online, done), daemon=True)
        counter.start()
        common = ["--broker", broker.address, "--station", STATION]
        listener = subprocess.Popen(_auroral("listen", *common))
        daemon = subprocess.Popen(_auroral("run", "--watch", str(watch), "--bundle", str(bundle),
                                           "--state-dir", str(state), "--metrics-port", "0", *common))
        try:
            if not online.wait(timeout=60):
                raise UserError("the station daemon did not come online within 60 s (see its log above)")
            _step("replaying the night into the watched folder, as the camera would",
                  "replay", str(night), "--into", str(watch), "--fps", str(args.fps))
            finished = done.wait(timeout=120)
        finally:
            stop_process(daemon, timeout=20)
            time.sleep(0.5)  # let the listener print the daemon's `stopped` status
            stop_process(listener, timeout=10)
            done.set()
    evening = (ends - timedelta(hours=12)).date()  # a night runs noon to noon: it is named by its evening
    _step("the night in capture time: keogram, onset catalogue, summary",
          "night", evening.isoformat(), "--state-dir", str(state), "--out", str(report), "--station", STATION)
    elapsed = time.monotonic() - started
    labels = seen.get("labels", [])
    print(f"\n== done in {elapsed:.0f} s: {len(labels)}/{len(frames)} frames labelled, "
          f"{seen.get('alerts', 0)} alerts, {seen.get('trigger', 0)} high-rate capture trigger(s)")
    print(f"outputs in {out}:\n  training data {data}\n  training run (metrics.json, report.md) {run_dir}\n"
          f"  model bundle {bundle}\n  replayed night {night}\n  station state (journal, spool) {state}\n"
          f"  the night's keogram, onsets and summary {report}")
    return 0 if finished else 1
