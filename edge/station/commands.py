"""The local onset command (``[trigger] command``), run for every local breakup-onset trigger.

It runs as ``COMMAND... -- FRAME_PATH`` (after ``--``, so a name that begins with ``-`` is never taken
for an option) with the trigger in its environment: ``AURORAL_REASON``, ``AURORAL_STATION``,
``AURORAL_FRAME``, ``AURORAL_FRAME_PATH``, ``AURORAL_CAPTURED_AT`` and ``AURORAL_UNTIL`` (ISO-8601 UTC)
and ``AURORAL_DURATION_S``. Triggers are queued by the ledger once committed and run one at a time on a
supervised thread, with a timeout, so a slow or hanging camera script never holds up classification.
The thread is not pinned to an inference CPU (the command gets every CPU).
"""
from __future__ import annotations

import logging
import os
import queue
import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime

from auroral.edge.affinity import unpin_this_thread
from auroral.edge.station.decide import Event, Trigger
from auroral.edge.station.supervisor import Component, Context

log = logging.getLogger("auroral.command")

_WAIT_S = 1.0


class CommandRunner(Component):
    def __init__(self, context: Context):
        super().__init__(context)
        self.trigger = context.config.trigger
        self.pending: queue.Queue[Trigger] = queue.Queue()

    def start(self) -> None:
        if self.trigger.command:
            self.spawn("command", self._loop, deadline_s=self.trigger.command_timeout_s + 30.0)

    def committed(self, events: Sequence[Event]) -> None:
        """Queue the command for each local trigger among ``events`` (called after their commit)."""
        for event in events:
            if isinstance(event, Trigger) and event.run_command and self.trigger.command:
                self.pending.put(event)

    def _loop(self) -> None:
        unpin_this_thread()
        while not self.stopping.is_set():
            self.supervisor.beat("command")
            try:
                event = self.pending.get(timeout=_WAIT_S)
            except queue.Empty:
                continue
            self._run(event)

    def _environment(self, event: Trigger) -> dict[str, str]:
        return {"AURORAL_REASON": event.reason, "AURORAL_STATION": self.config.station,
                "AURORAL_FRAME": event.frame or "", "AURORAL_FRAME_PATH": event.path or "",
                "AURORAL_CAPTURED_AT": _utc(event.captured_at) if event.captured_at else "",
                "AURORAL_UNTIL": _utc(event.until), "AURORAL_DURATION_S": f"{event.duration_s:g}"}

    def _run(self, event: Trigger) -> None:
        assert self.trigger.command is not None
        command = [*self.trigger.command, "--", event.path or event.frame or ""]
        try:
            result = subprocess.run(command, timeout=self.trigger.command_timeout_s, capture_output=True,
                                    check=False, env={**os.environ, **self._environment(event)})
        except subprocess.TimeoutExpired:
            log.error("event=onset_command_timeout command=%s timeout_s=%g", command[0], self.trigger.command_timeout_s)
            self.metrics.errors.labels("onset_command").inc()
            return
        except OSError as exc:
            log.error("event=onset_command_failed command=%s error=%r", command[0], exc.strerror or str(exc))
            self.metrics.errors.labels("onset_command").inc()
            return
        if result.returncode != 0:
            log.error("event=onset_command_failed command=%s returncode=%d stderr=%r", command[0], result.returncode,
                      result.stderr.decode(errors="replace")[-200:])
            self.metrics.errors.labels("onset_command").inc()
        else:
            log.info("event=onset_command_done command=%s", command[0])


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
