"""A tiny loopback TCP proxy that can be frozen: a network blackhole between a daemon and its broker.

While frozen, connections stay open but no byte moves in either direction and new connections are
accepted and then left hanging: exactly what a station sees when a link dies without a RST (the
connection hangs, it is not refused). ``thaw()`` lets traffic flow again.
"""
from __future__ import annotations

import select
import socket
import threading


class FreezableProxy:
    """``with FreezableProxy(broker.host, broker.port) as proxy: ... proxy.freeze() ... proxy.thaw()``."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self._listener = socket.create_server((self.host, 0))
        self.port = self._listener.getsockname()[1]
        self._frozen = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._held: list[socket.socket] = []   # accepted while frozen, not yet connected upstream
        self._peer: dict[socket.socket, socket.socket] = {}
        self._thread = threading.Thread(target=self._loop, name="freezable-proxy", daemon=True)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def freeze(self) -> None:
        """Returns once no byte can move any more (the loop finishes its current pass first)."""
        with self._lock:
            self._frozen.set()

    def thaw(self) -> None:
        with self._lock:
            self._frozen.clear()

    def _connect(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        self._peer[client], self._peer[upstream] = upstream, client

    def _close(self, sock: socket.socket) -> None:
        for end in (sock, self._peer.pop(sock, None)):
            if end is not None:
                self._peer.pop(end, None)
                end.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            frozen = self._frozen.is_set()
            watched = [self._listener] + ([] if frozen else list(self._peer))
            readable, _, _ = select.select(watched, [], [], 0.05)
            with self._lock:  # freeze() returns only once no forwarding can follow it
                self._serve(readable)

    def _serve(self, readable: list[socket.socket]) -> None:
        if self._listener in readable:
            self._held.append(self._listener.accept()[0])
        if self._frozen.is_set():
            return
        while self._held:
            self._connect(self._held.pop())
        for sock in readable:
            if sock in self._peer:
                self._forward(sock)

    def _forward(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
            if data:
                self._peer[sock].sendall(data)
                return
        except OSError:
            pass
        self._close(sock)

    def __enter__(self) -> FreezableProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in list(self._peer) + self._held:
            sock.close()
        self._listener.close()
