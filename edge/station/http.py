"""The daemon's HTTP endpoint: ``/metrics`` (prometheus-client's own WSGI app) and ``/healthz``.

``/healthz`` answers 200 only while every component of the daemon has beaten within its deadline (the
supervisor's view); its JSON body names each component with the age of its last beat, and a 503 lists
the components that are late. The server listens where ``metrics_host`` says (loopback by default) and
serves nothing else.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from auroral.edge.station.supervisor import Component, Context

log = logging.getLogger("auroral.http")

_POLL_S = 1.0

StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt: str, *args: Any) -> None:
        pass  # scrapes are not events


class HttpServer(Component):
    def __init__(self, context: Context):
        """Binds at once, so a port in use is a start-up error (OSError) and not a late surprise."""
        super().__init__(context)
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
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path == "/healthz":
            healthy, components = self.supervisor.health()
            late = [name for name, report in components.items() if not report["ok"]]
            body = {"healthy": healthy, "late": late, "gave_up": self.supervisor.fatal, "components": components}
            return _reply(start_response, "200 OK" if healthy else "503 Service Unavailable",
                          json.dumps(body, indent=1).encode() + b"\n", "application/json")
        return _reply(start_response, "404 Not Found", b"not found: try /metrics or /healthz\n", "text/plain")


def _reply(start_response: StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
