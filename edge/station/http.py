"""The daemon's HTTP endpoint: the station page at ``/``, ``/latest.jpg``, ``/metrics`` (prometheus-client's
own WSGI app) and ``/healthz``.

``/healthz`` answers 200 only while every component of the daemon has beaten within its deadline (the
supervisor's view); its JSON body names each component with the age of its last beat, and a 503 lists
the components that are late. ``/`` is the station page (:mod:`auroral.edge.station.page`) read from the
ledger's :class:`~auroral.edge.station.history.History`, and ``/latest.jpg`` a small JPEG of the newest
frame recorded there: the one file the endpoint serves, chosen by the history and never by the request.
Everything is read-only: any method but GET is answered 405. The server listens where ``metrics_host``
says (loopback by default) and serves nothing else.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from auroral.edge.frames import FrameError
from auroral.edge.station import page
from auroral.edge.station.history import History
from auroral.edge.station.snapshot import snapshot_jpeg
from auroral.edge.station.supervisor import Component, Context

log = logging.getLogger("auroral.http")

_POLL_S = 1.0

StartResponse = Callable[..., Any]

#: the page runs no script and loads nothing from elsewhere; should an escape ever be missed, nothing runs
_PAGE_HEADERS = [("Content-Security-Policy", "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
                                             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
                 ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                 ("Cache-Control", "no-store")]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # scrapes are not events


class HttpServer(Component):
    def __init__(self, context: Context, history: History):
        """Binds at once, so a port in use is a start-up error (OSError) and not a late surprise."""
        super().__init__(context)
        self.history = history
        self._metrics = make_wsgi_app(context.metrics.registry)
        self.server = make_server(context.config.metrics_host, context.config.metrics_port, self._app,
                                  server_class=_Server, handler_class=_QuietHandler)
        self.server.timeout = _POLL_S

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        log.info("event=metrics_listening host=%s port=%d", self.config.metrics_host, self.port)
        self.spawn("http", self._serve, deadline_s=_POLL_S * 30)

    def stop(self, timeout: float) -> None:
        super().stop(timeout)
        self.server.server_close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            self.supervisor.beat("http")
            self.server.handle_request()

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET":
            return _reply(start_response, "405 Method Not Allowed", b"read-only: only GET\n", "text/plain",
                          [("Allow", "GET")])
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path == "/healthz":
            healthy, components = self.supervisor.health()
            late = [name for name, report in components.items() if not report["ok"]]
            body = {"healthy": healthy, "late": late, "gave_up": self.supervisor.fatal, "components": components}
            return _reply(start_response, "200 OK" if healthy else "503 Service Unavailable",
                          json.dumps(body, indent=1).encode() + b"\n", "application/json")
        if path == "/":
            return _reply(start_response, "200 OK", self._page().encode(), "text/html; charset=utf-8",
                          _PAGE_HEADERS)
        if path == "/latest.jpg":
            return self._latest(start_response)
        return _reply(start_response, "404 Not Found", b"not found: try /, /metrics or /healthz\n", "text/plain")

    def _page(self) -> str:
        now = datetime.now(UTC)
        latest = self.history.latest()
        end = max(now, latest.captured_at) + page.MAX_SPAN if latest else now  # a camera clock a little ahead
        healthy, components = self.supervisor.health()
        return page.render(page.PageData(self.config.station, now, self.history.frames(now - page.WINDOW, end),
                                         self.history.decisions(now - page.WINDOW, end), healthy, components,
                                         self.supervisor.fatal))

    def _latest(self, start_response: StartResponse) -> list[bytes]:
        latest = self.history.latest()
        if latest is None:
            return _reply(start_response, "404 Not Found", b"no frame recorded yet\n", "text/plain")
        try:
            jpeg = snapshot_jpeg(latest.path)
        except (FrameError, OSError) as exc:
            log.debug("event=latest_unreadable frame=%r error=%r", latest.frame, str(exc))
            return _reply(start_response, "404 Not Found", b"the latest frame cannot be read\n", "text/plain")
        return _reply(start_response, "200 OK", jpeg, "image/jpeg", [("Cache-Control", "no-store")])


def _reply(start_response: StartResponse, status: str, body: bytes, content_type: str,
           headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])])
    return [body]
