"""The station daemon: wires watcher → scheduler → pipeline → spool → publisher and runs until SIGTERM.

Talks to systemd (``Type=notify``): READY=1 once everything runs, WATCHDOG=1 from the processing loop
(only while both pipeline threads are alive), STOPPING=1 on shutdown. A clean stop finishes the batch
in hand, flushes the spool briefly and publishes ``stopped``; anything left is resumed on next start.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

import sdnotify

from . import __version__
from .classifier import Classifier
from .config import StationConfig
from .contract import utc_now
from .decide import Decider, Event
from .errors import UserError
from .external import ExternalAlerts
from .journal import Journal, Pruner
from .metrics import MetricsServer, StationMetrics
from .outbox import Outbox
from .pipeline import Pipeline
from .publisher import Publisher
from .scheduler import Scheduler
from .spool import Spool
from .statedb import StateDB
from .wakeup import Wakeup
from .watcher import Watcher

log = logging.getLogger("auroral.daemon")


class _Watchdog:
    """Feeds systemd's watchdog at most once a second (a no-op outside systemd)."""

    def __init__(self, notifier: sdnotify.SystemdNotifier):
        self.notifier = notifier
        self.last = 0.0

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            self.notifier.notify("WATCHDOG=1")


def run_daemon(config: StationConfig) -> int:
    logging.getLogger("watchdog").setLevel(max(logging.INFO, logging.getLogger().level))  # its DEBUG is per inotify event
    stop = threading.Event()  # watcher and pipeline
    publisher_stop = threading.Event()  # set only after the pipeline's last commit, so it is flushed too
    wake = Wakeup()
    notifier = sdnotify.SystemdNotifier()
    metrics = StationMetrics()
    classifier = Classifier(config.model.bundle, config.model.backend, config.model.precision, config.model.threads,
                            config.model.pin_threads)
    db = StateDB(config.state_dir)
    journal = Journal(db)
    spool = Spool(db, config.spool.max_messages, config.spool.max_age_s, on_depth=metrics.spool_depth.set,
                  on_dropped=lambda reason, n: metrics.spool_dropped.labels(reason).inc(n))
    decider = Decider(config.trigger, config.aurora, config.external, journal.load_state("decider"))
    decide_lock = threading.Lock()
    outbox = Outbox(config.mqtt.prefix, config.station, spool, metrics, config.trigger, wake)

    def act(events: list[Event]) -> None:  # external alerts: called with decide_lock held
        with db.transaction() as conn:
            outbox.put_events(conn, events, utc_now())
            journal.save_state(conn, "decider", decider.snapshot())
        outbox.committed(events)

    external = ExternalAlerts(config.mqtt.prefix, config.station, config.external.max_bytes, decider, decide_lock,
                              metrics, act)
    publisher = Publisher(config.mqtt, config.station, spool, metrics, classifier.model_name, __version__,
                          config.external.topics, external, wake, publisher_stop)
    scheduler = Scheduler(journal.known, on_depth=lambda ready, retry: (
        metrics.queue_depth.labels("ready").set(ready), metrics.queue_depth.labels("retry").set(retry)))
    watcher = Watcher(config.watch.dirs, config.watch.patterns, config.watch.recursive, scheduler, metrics,
                      config.watch.folder_retry_max_s, config.watch.settle_s, config.quarantine_dir.absolute(), stop)
    pipeline = Pipeline(config, classifier, scheduler, db, journal, outbox, decider, decide_lock, metrics, stop,
                        _Watchdog(notifier))
    server = None
    if config.metrics_port:
        try:
            server = MetricsServer(metrics, config.metrics_host, config.metrics_port)
        except OSError as exc:
            raise UserError(f"metrics_port {config.metrics_port}: cannot listen ({exc.strerror or exc})") from exc

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if server:
        server.start()
    publisher.thread.start()
    pipeline.start()
    watcher.start()
    notifier.notify("READY=1")
    log.info("event=started station=%s model=%s backend=%s spool_depth=%d frames_done=%d", config.station,
             classifier.model_name, config.model.backend, spool.depth, journal.count("done"))
    prune = Pruner(journal, config.journal.keep_days, config.journal.prune_every_s, stop)
    prune()  # once at start-up, then every prune_every_s
    while not stop.wait(1.0):
        prune()
    notifier.notify("STOPPING=1")
    log.info("event=stopping")
    watcher.close()
    pipeline.join(timeout=10)
    publisher_stop.set()
    publisher.thread.join(timeout=15)
    if server:
        server.stop()
    db.close()
    log.info("event=stopped spool_depth=%d", spool.depth)
    return 1 if pipeline.fatal else 0
