"""The station daemon: builds the components, starts them under one supervisor, runs until SIGTERM.

Flow: watcher → scheduler → pipeline (decode, infer) → ledger (one transaction per batch) → spool →
publisher, with the onset command runner, the journal pruner and the HTTP endpoint beside them.
Talks to systemd (``Type=notify``): READY=1 once everything runs, WATCHDOG=1 every second while every
component is healthy (so a stuck or dead thread gets the process restarted), STOPPING=1 on shutdown. A
clean stop takes no new frames, finishes the batch in hand, flushes the spool briefly and publishes
``stopped``; anything left is resumed on the next start. A component that fails over and over stops
the daemon with exit status 1.
"""
from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence

import sdnotify

from auroral.edge import __version__
from auroral.edge.bundle import load_bundle
from auroral.edge.classifier import Classifier
from auroral.edge.contract import ModelRef
from auroral.edge.errors import UserError
from auroral.edge.frames import unreadable_patterns
from auroral.edge.logs import use_configured_format
from auroral.edge.station.camera import camera_circle
from auroral.edge.station.commands import CommandRunner
from auroral.edge.station.config import StationConfig
from auroral.edge.station.decide import Event
from auroral.edge.station.external import ExternalAlerts
from auroral.edge.station.http import HttpServer
from auroral.edge.station.journal import Pruner
from auroral.edge.station.ledger import Ledger
from auroral.edge.station.metrics import StationMetrics
from auroral.edge.station.notify import Notifier
from auroral.edge.station.pipeline import Pipeline
from auroral.edge.station.publisher import Publisher
from auroral.edge.station.scheduler import Scheduler
from auroral.edge.station.supervisor import Component, Context, Supervisor
from auroral.edge.station.wakeup import Wakeup
from auroral.edge.station.watcher import Watcher

log = logging.getLogger("auroral.daemon")

_STOP_S = {"watcher": 5.0, "pipeline": 15.0, "pruner": 5.0, "commands": 5.0, "notify": 5.0, "publisher": 20.0,
           "http": 3.0}


def run_daemon(config: StationConfig) -> int:
    use_configured_format(config.log_format)
    watchdog_log = logging.getLogger("watchdog")  # its DEBUG is one line per inotify event
    watchdog_log.setLevel(max(logging.INFO, logging.getLogger().level))
    stop = threading.Event()  # SIGTERM/SIGINT, or a component that gave up
    metrics = StationMetrics()
    supervisor = Supervisor(metrics, stop, inject=os.environ.get("AURORAL_INJECT_FAULT", ""))
    model = config.model
    bundle = load_bundle(model.bundle)
    precision = bundle.choose_precision() if model.precision == "auto" else model.precision
    config = config.with_classes(bundle.classes, bundle.auroral_classes, bundle.onset_classes)
    context = Context(config, metrics, supervisor)
    listeners: list[Callable[[Sequence[Event]], None]] = []  # after each commit: commands, notifications, MQTT
    # the state directory is locked first: nothing of it is read or written by a second daemon
    def after_commit(events: Sequence[Event]) -> None:
        for listener in listeners:
            listener(events)

    ledger = Ledger.open(config, metrics, ModelRef(name=bundle.manifest.model.name, sha256=bundle.sha256(precision)),
                         after_commit)
    classifier = Classifier(bundle, model.backend, precision, model.threads, model.pin_threads,
                            camera_circle(config, bundle.manifest.preprocess))
    log.info("event=class_sets onset=%s aurora=%s", ",".join(config.trigger.labels or []),
             ",".join(config.aurora.labels or []))
    metrics.build.info({"version": __version__, "model": classifier.model_name, "backend": model.backend,
                        "precision": classifier.precision})
    _drop_unreadable_patterns(config)
    if config.site is None:
        log.warning("event=site_unknown action=every_frame_counts_as_night "
                    "hint=%r", "set [site] latitude and longitude so day, twilight and moonlight are known")
    wake = Wakeup()
    commands = CommandRunner(context)
    notifications = Notifier(context)
    listeners += [commands.committed, notifications.committed, lambda events: wake.set()]
    external = ExternalAlerts(config.mqtt.prefix, config.station, config.external.max_bytes, ledger, metrics)
    scheduler = Scheduler(ledger.journal.known, metrics)
    components: dict[str, Component] = {}
    if config.metrics_port:
        try:
            components["http"] = HttpServer(context, ledger.history)
        except OSError as exc:
            raise UserError(f"metrics_port {config.metrics_port}: cannot listen ({exc.strerror or exc})") from exc
    components["publisher"] = Publisher(context, ledger.spool, classifier.model_name, external, wake)
    components["commands"] = commands
    components["notify"] = notifications
    components["pipeline"] = Pipeline(context, classifier, scheduler, ledger)
    components["watcher"] = Watcher(context, scheduler)
    components["pruner"] = Pruner(context, ledger.journal, ledger.history)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    notifier = sdnotify.SystemdNotifier()
    for component in components.values():
        component.start()
    _freeze_startup_objects()
    notifier.notify("READY=1")
    log.info("event=started station=%s model=%s backend=%s spool_depth=%d frames_done=%d", config.station,
             classifier.model_name, model.backend, ledger.spool.depth, ledger.journal.count("done"))
    _watch(supervisor, notifier, stop)
    notifier.notify("STOPPING=1")
    log.info("event=stopping")
    for name in ("watcher", "pipeline", "pruner", "commands", "notify", "publisher", "http"):  # intake first, MQTT last
        if name in components:
            components[name].stop(_STOP_S[name])
    ledger.close()
    log.info("event=stopped spool_depth=%d", ledger.spool.depth)
    return 1 if supervisor.fatal else 0


def _freeze_startup_objects() -> None:
    """Collect start-up's garbage, then take what start-up built (modules, configuration, model session,
    components: about 58,000 objects) out of the garbage collector's reach. Otherwise the first full pass
    after start walks all of it with the GIL held (26–37 ms on 2 cores), at a moment set by allocations,
    that is inside one of the first frames' path, and every later full pass walks it again; frozen, a full
    pass takes 0.1–0.2 ms (docs/PERFORMANCE.md). What start-up built lives as long as the daemon, so
    nothing collectable is kept."""
    gc.collect()
    gc.freeze()
    log.info("event=gc_frozen objects=%d", gc.get_freeze_count())


def _drop_unreadable_patterns(config: StationConfig) -> None:
    """Say at start, once, which watch patterns this install cannot decode (FITS without astropy), and watch
    for the others only: such frames would otherwise be retried and then quarantined, one by one."""
    unreadable = unreadable_patterns(config.watch.patterns)
    if unreadable:
        log.error("event=patterns_unreadable patterns=%s reason=%r action=not_watched", ",".join(unreadable),
                  "FITS needs astropy: pip install 'auroral[fits]'")
        config.watch.patterns = [p for p in config.watch.patterns if p not in unreadable]


def _watch(supervisor: Supervisor, notifier: sdnotify.SystemdNotifier, stop: threading.Event) -> None:
    """Until told to stop: feed systemd's watchdog once a second while every component is healthy, and
    say once when one falls late (systemd then restarts the daemon after WatchdogSec)."""
    late: list[str] = []
    while not stop.wait(1.0):
        healthy, report = supervisor.health()
        now_late = [name for name, component in report.items() if not component["ok"]]
        if healthy:
            notifier.notify("WATCHDOG=1")
        if now_late != late:
            if now_late:
                log.error("event=unhealthy late=%s", ",".join(now_late))
            else:
                log.info("event=healthy")
            late = now_late
