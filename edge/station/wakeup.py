"""A wake-up call the MQTT thread can wait for inside ``select()``, together with the broker's socket.

The pipeline commits a frame's messages to the spool and calls :meth:`Wakeup.set`; the publisher,
blocked in ``select()`` on the broker connection and :meth:`fileno`, wakes at once and sends them.
No polling: an idle station's MQTT thread sleeps until something happens, and a fresh message waits
for no timer. Any number of ``set()`` calls before the next :meth:`drain` count as one.
"""
from __future__ import annotations

import socket


class Wakeup:
    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    def set(self) -> None:
        """Wake the waiting thread (callable from any thread)."""
        try:
            self._writer.send(b"\0")
        except BlockingIOError:  # the buffer is full of earlier wake-ups: the thread will wake anyway
            pass

    def drain(self) -> bool:
        """Consume pending wake-ups; True if there were any. Call before acting on what they announced."""
        woken = False
        while True:
            try:
                data = self._reader.recv(4096)
            except BlockingIOError:
                return woken
            if not data:
                return woken
            woken = True

    def fileno(self) -> int:
        return self._reader.fileno()
