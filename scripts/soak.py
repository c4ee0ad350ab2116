#!/usr/bin/env python
"""Soak test of the station daemon: frames at a steady rate, periodic broker restarts, for a long time.

Runs the real daemon (``auroral run``) against a private persistent Mosquitto, feeds it tiny frames,
restarts the broker every ``--restart-every`` seconds and samples, every ``--sample-every`` seconds,
the daemon's RSS, open file descriptors, spool depth and the lost / duplicate / classified-twice
counts seen by a persistent-session subscriber. Writes them to a CSV and prints a summary.

    .venv/bin/python scripts/soak.py --minutes 10 --rate 5 --restart-every 60 --csv /tmp/soak.csv
    .venv/bin/python scripts/soak.py --minutes 3 --burst 5000 --csv /tmp/flood.csv   # the 5,000-frame flood

Not part of the test suite (it takes minutes); see docs/RELIABILITY.md. Exit status 1 if anything was
lost or classified twice.
"""
from __future__ import annotations

import argparse
import csv
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the fault-injection helpers

from auroral.edge.bundle import load_bundle  # noqa: E402
from auroral.edge.logs import setup_logging  # noqa: E402
from support.faults import FrameFeed, Ledger, Station, durable_collector, persistent_broker  # noqa: E402
from support.toybundle import make_toy_bundle  # noqa: E402

log = logging.getLogger("auroral.soak")
FIELDS = ["elapsed_s", "written", "received_frames", "messages", "duplicates", "classified_twice", "pending",
          "rss_mb", "open_fds", "cpu_s", "spool_depth", "broker_restarts", "daemon_alive"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to feed frames")
    parser.add_argument("--rate", type=float, default=5.0, help="frames per second written to the watch folder")
    parser.add_argument("--burst", type=int, default=0, help="frames dropped at once at the start (a flood)")
    parser.add_argument("--restart-every", type=float, default=60.0, help="seconds between broker restarts (0: never)")
    parser.add_argument("--sample-every", type=float, default=5.0, help="seconds between CSV rows")
    parser.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for the backlog at the end")
    parser.add_argument("--bundle", type=Path, help="model bundle (default: the deterministic toy bundle)")
    parser.add_argument("--workdir", type=Path, help="watch/state dirs and logs (default: a new dir in /tmp)")
    parser.add_argument("--csv", type=Path, default=Path("soak.csv"), help="where the samples go")
    return parser.parse_args(argv)


def sample(station: Station, feed: FrameFeed, ledger: Ledger, started: float, restarts: int) -> dict:
    by_frame = ledger.seqs_by_frame()
    messages = len(ledger.frames())
    pid = station.process.pid
    alive = station.alive
    try:
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        rss = int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) / 1024
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        ticks = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11:13]  # utime, stime
        cpu = sum(int(t) for t in ticks) / os.sysconf("SC_CLK_TCK")
        spool = station.spool_depth()
    except (OSError, StopIteration):
        rss, fds, cpu, spool = float("nan"), -1, float("nan"), -1
    return {
        "elapsed_s": round(time.monotonic() - started, 1),
        "written": len(feed.expected),
        "received_frames": len(by_frame),
        "messages": messages,
        "duplicates": messages - len(by_frame),
        "classified_twice": sum(1 for seqs in by_frame.values() if len(seqs) > 1),
        "pending": len(set(feed.expected) - set(by_frame)),
        "rss_mb": round(rss, 1),
        "open_fds": fds,
        "cpu_s": round(cpu, 2),
        "spool_depth": spool,
        "broker_restarts": restarts,
        "daemon_alive": int(alive),
    }


def soak(args: argparse.Namespace) -> int:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="auroral-soak-"))
    bundle = args.bundle or make_toy_bundle(workdir / "toy-bundle").root
    rows: list[dict] = []
    with persistent_broker() as broker, durable_collector(broker, client_id="soak") as collector, \
            Station(workdir / "station", bundle, broker.address,
                    {"mqtt": {"keepalive_s": 5, "reconnect_min_s": 0.2, "reconnect_max_s": 5}}) as station, \
            open(args.csv, "w", newline="") as out:
        log.info("event=soak_started workdir=%s csv=%s pid=%s", workdir, args.csv, station.process.pid)
        writer = csv.DictWriter(out, FIELDS)
        writer.writeheader()
        feed = FrameFeed(station.watch, load_bundle(bundle).manifest.preprocess, seed=1)
        ledger = Ledger(collector)
        if args.burst:
            feed.write(args.burst, atomic=True)
        started = time.monotonic()
        end = started + args.minutes * 60
        next_frame = next_sample = started
        next_restart = started + args.restart_every if args.restart_every else float("inf")
        restarts = 0
        while time.monotonic() < end and station.alive:
            now = time.monotonic()
            if now >= next_frame:
                feed.write(1)
                next_frame += 1.0 / args.rate
            if now >= next_restart:
                broker.restart()
                restarts += 1
                log.info("event=broker_restarted n=%d", restarts)
                next_restart += args.restart_every
            if now >= next_sample:
                rows.append(sample(station, feed, ledger, started, restarts))
                writer.writerow(rows[-1])
                out.flush()
                next_sample += args.sample_every
            time.sleep(max(0.0, min(next_frame, next_sample, next_restart) - time.monotonic()))
        drain_end = time.monotonic() + args.drain_timeout
        while station.alive and set(feed.expected) - set(ledger.seqs_by_frame()) and time.monotonic() < drain_end:
            time.sleep(1)
        rows.append(sample(station, feed, ledger, started, restarts))
        writer.writerow(rows[-1])
    return summarise(rows, args.csv, station.log_path)


def summarise(rows: list[dict], csv_path: Path, log_path: Path) -> int:
    last = rows[-1]
    steady = rows[len(rows) // 4:] or rows  # after warm-up
    rss = [r["rss_mb"] for r in steady if r["rss_mb"] == r["rss_mb"]]
    fds = [r["open_fds"] for r in steady if r["open_fds"] >= 0]
    print(f"soak: {last['elapsed_s']:.0f} s, {last['broker_restarts']} broker restarts, "
          f"{last['written']} frames written")
    print(f"  received {last['received_frames']}, lost {last['pending']}, classified twice {last['classified_twice']}, "
          f"duplicate deliveries {last['duplicates']} (allowed: at-least-once)")
    if rss and fds:
        print(f"  RSS after warm-up {min(rss):.0f}-{max(rss):.0f} MB (first {rss[0]:.0f}, last {rss[-1]:.0f}); "
              f"open fds {min(fds)}-{max(fds)} (first {fds[0]}, last {fds[-1]})")
    cpu = [r["cpu_s"] for r in rows if r["cpu_s"] == r["cpu_s"]]
    if len(cpu) > 1 and last["elapsed_s"] > rows[0]["elapsed_s"]:
        print(f"  daemon CPU {cpu[-1]:.1f} s in {last['elapsed_s']:.0f} s "
              f"({100 * cpu[-1] / max(last['elapsed_s'], 1):.1f}% of one core)")
    print(f"  daemon alive at the end: {bool(last['daemon_alive'])}; samples: {csv_path}; daemon log: {log_path}")
    return 0 if last["pending"] == 0 and last["classified_twice"] == 0 and last["daemon_alive"] else 1


def main(argv: list[str] | None = None) -> int:
    setup_logging("INFO")
    return soak(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
