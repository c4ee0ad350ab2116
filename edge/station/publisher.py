"""The MQTT side of the station: one thread owns the paho client, keeps the connection, drains the spool.

Each connection attempt uses a fresh paho client (MQTT v5, falling back to 3.1.1 if the broker refuses
v5), with the retained ``offline`` status as last will; the password file is read for each attempt,
so a corrected one is used without a restart. On every CONNACK it publishes ``online``, the Home Assistant
discovery configs (:mod:`~auroral.edge.station.homeassistant`) and the latest retained messages again (a broker
without persistence forgets them when it restarts), subscribes to the external alert topics, then sends the
spool, at most ``inflight`` unacknowledged and ``rate_per_s`` per second; a message leaves the spool only on
PUBACK.
Failures (refused, TLS, timeouts, keepalive loss) are logged with the reason and retried with
exponential back-off. The backlog is rate-limited (``rate_per_s``) so replaying it after an outage does
not overflow the broker's queues; fresh messages about live frames go first and are not paced. The
thread sleeps in ``select()`` on the broker socket and a :class:`~.wakeup.Wakeup` (paho's external-loop
API), so a committed message is sent the moment it is committed, with no polling. A clean stop
flushes the spool briefly and publishes ``stopped``.
"""
from __future__ import annotations

import logging
import select
import time
from collections.abc import Callable
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from auroral.edge import __version__
from auroral.edge.contract import topic, utc_now
from auroral.edge.station import homeassistant, messages
from auroral.edge.station.config import MqttConfig
from auroral.edge.station.spool import Spool
from auroral.edge.station.supervisor import Component, Context
from auroral.edge.station.wakeup import Wakeup

log = logging.getLogger("auroral.mqtt")

_FLUSH_ON_STOP_S = 5.0
_BOUNDS_EVERY_S = 60.0
_FRESH_S = 2.0  # live messages younger than this overtake the backlog
_IDLE_S = 0.25  # longest sleep: stop, connect timeout and keepalive are checked at least this often


def read_password(config: MqttConfig) -> str | None:
    """The password, or None with a log line when it cannot be read: the daemon retries the login later."""
    try:
        return config.read_password()
    except OSError as exc:
        log.error("event=password_unreadable path=%r error=%r", str(config.resolved_password_file()),
                  exc.strerror or str(exc))
        return None


class Publisher(Component):
    def __init__(self, context: Context, spool: Spool, model: str, on_external: Callable[[str, bytes], None],
                 wake: Wakeup):
        super().__init__(context)
        self.mqtt = context.config.mqtt
        self.station = context.config.station
        self.spool = spool
        self.model = model
        self.external_topics = context.config.external.topics
        self.on_external = on_external
        self.wake = wake  # set when the spool has something new to send
        self.status_topic = topic(self.mqtt.prefix, self.station, "status")
        # Home Assistant discovery ([homeassistant] enabled): retained configs, published after `online`
        self.discovery = (homeassistant.discovery(context.config, __version__)
                          if context.config.homeassistant.enabled else [])
        self.connected = False
        self._refused = False
        self._fallback = False
        self._inflight: dict[int, int] = {}
        self._acked: list[int] = []  # spool ids acknowledged in this pass of the loop, deleted together
        self._tokens = 0.0
        self._last_refill = time.monotonic()
        self._status_mid: int | None = None

    def start(self) -> None:
        """On :meth:`stop`, the spool is flushed for a moment and ``stopped`` published before disconnecting."""
        # the longest quiet stretch: a connect attempt and the longest back-off, both beaten every _IDLE_S
        self.spawn("mqtt", self.run, deadline_s=self.mqtt.connect_timeout_s + _FLUSH_ON_STOP_S + 30.0)

    # --- connection management -------------------------------------------------------------------
    def _status(self, state: Literal["online", "offline", "stopped"]) -> bytes:
        return messages.status(state, utc_now(), self.model, __version__).to_json()

    def _client(self, protocol: mqtt.MQTTProtocolVersion) -> mqtt.Client:
        client_id = self.mqtt.client_id or f"auroral-{self.station}"
        if protocol == mqtt.MQTTv5:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        else:
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                                 clean_session=True)
        client.connect_timeout = self.mqtt.connect_timeout_s
        client.will_set(self.status_topic, self._status("offline"), qos=1, retain=True)
        if self.mqtt.username:
            client.username_pw_set(self.mqtt.username, read_password(self.mqtt))  # re-read: it may be fixed
        if self.mqtt.tls:
            client.tls_set(ca_certs=str(self.mqtt.ca_file) if self.mqtt.ca_file else None,
                           certfile=str(self.mqtt.cert_file) if self.mqtt.cert_file else None,
                           keyfile=str(self.mqtt.key_file) if self.mqtt.key_file else None)
        guard = self.supervisor.guard  # paho re-raises a callback's exception and would end this thread's loop
        client.on_connect = guard("mqtt", self._on_connect)
        client.on_disconnect = guard("mqtt", self._on_disconnect)
        client.on_publish = guard("mqtt", self._on_publish)
        client.on_message = guard("mqtt", self._on_message)
        return client

    def run(self) -> None:
        delay = self.mqtt.reconnect_min_s
        protocol = mqtt.MQTTv5 if self.mqtt.protocol == "v5" else mqtt.MQTTv311
        address = f"{self.mqtt.host}:{self.mqtt.port}"
        while not self.stopping.is_set():
            self.spool.enforce_bounds()
            self._refused = self._fallback = False
            client = self._client(protocol)
            try:
                client.connect(self.mqtt.host, self.mqtt.port, self.mqtt.keepalive_s)
            except (OSError, ValueError) as exc:  # refused, unreachable, DNS, TLS (ssl.SSLError is an OSError)
                log.warning("event=mqtt_connect_failed broker=%s error=%r retry_in_s=%.1f", address, str(exc), delay)
            else:
                if self._session(client):
                    delay = self.mqtt.reconnect_min_s
                if self._fallback and protocol == mqtt.MQTTv5:
                    protocol = mqtt.MQTTv311
                    log.warning("event=mqtt_fallback protocol=3.1.1 reason=broker_refused_v5")
                    continue
                if self.stopping.is_set():
                    return
                log.info("event=mqtt_reconnect_wait broker=%s retry_in_s=%.1f", address, delay)
            self._wait(delay)
            delay = min(delay * 2, self.mqtt.reconnect_max_s)

    def _wait(self, seconds: float) -> None:
        """Sleep between connection attempts, beating, until ``seconds`` pass or the daemon stops."""
        deadline = time.monotonic() + seconds
        while not self.stopping.wait(min(_IDLE_S * 4, max(0.0, deadline - time.monotonic()))):
            self.supervisor.beat("mqtt")
            if time.monotonic() >= deadline:
                return

    def _session(self, client: mqtt.Client) -> bool:
        """Run one connection until it drops, times out, is refused or the daemon stops; True if it got a CONNACK."""
        started = time.monotonic()
        was_connected = False
        last_bounds = started
        while True:
            if self.stopping.is_set():
                self._close(client)
                return was_connected
            self.supervisor.beat("mqtt")
            rc, woken = self._network(client, self._sleep_s())
            was_connected = was_connected or self.connected
            if rc != mqtt.MQTT_ERR_SUCCESS or self._refused:
                break
            if not self.connected and time.monotonic() - started > self.mqtt.connect_timeout_s:
                log.warning("event=mqtt_connect_timeout after_s=%.1f", self.mqtt.connect_timeout_s)
                break
            if self.connected and (woken or self._unsent_with_room()):
                self._pump(client)
            if time.monotonic() - last_bounds > _BOUNDS_EVERY_S:
                self.spool.enforce_bounds()
                last_bounds = time.monotonic()
        self._set_connected(False)
        sock = client.socket()
        if sock is not None:  # drop the link without DISCONNECT, so the broker publishes our last will
            sock.close()
        return was_connected

    def _network(self, client: mqtt.Client, timeout: float) -> tuple[int, bool]:
        """Wait up to ``timeout`` for the broker socket or the wake-up, then let paho read, write and keep alive.

        Returns paho's result code and whether the wake-up fired.
        """
        sock = client.socket()
        if sock is None:
            return mqtt.MQTT_ERR_NO_CONN, False
        # TLS: bytes already decrypted, select won't see them
        pending = sock.pending() if hasattr(sock, "pending") else 0
        readers: list[mqtt.SocketLike | Wakeup] = [sock, self.wake]
        try:
            readable, writable, _ = select.select(readers, [sock] if client.want_write() else [], [],
                                                  0.0 if pending else timeout)
        except (OSError, ValueError):  # the socket was closed under us
            return mqtt.MQTT_ERR_CONN_LOST, False
        woken = self.wake in readable and self.wake.drain()
        if sock in readable or pending:
            rc = client.loop_read()
            self._forget_acked()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc, woken
        if sock in writable and client.socket() is not None:
            rc = client.loop_write()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                return rc, woken
        return client.loop_misc(), woken

    def _unsent_with_room(self) -> bool:
        """Spooled messages not yet sent while the in-flight window has room: the backlog waits for tokens."""
        return self.spool.depth > len(self._inflight) and len(self._inflight) < self.mqtt.inflight

    def _sleep_s(self) -> float:
        """How long the thread may sleep: until the next backlog token if the backlog can be sent, else idle."""
        if self.connected and self._unsent_with_room() and self._tokens < 1:
            return min(_IDLE_S, (1.0 - self._tokens) / self.mqtt.rate_per_s)
        return _IDLE_S

    def _close(self, client: mqtt.Client) -> None:
        """Clean stop: flush what is spooled for a moment, publish ``stopped``, disconnect (no last will)."""
        deadline = time.monotonic() + _FLUSH_ON_STOP_S
        while self.connected and self.spool.depth and time.monotonic() < deadline:
            self._pump(client)
            rc = client.loop(timeout=0.01)
            self._forget_acked()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                break
        if self.connected:
            info = client.publish(self.status_topic, self._status("stopped"), qos=1, retain=True)
            self._status_mid = info.mid
            while self._status_mid is not None and self.connected and time.monotonic() < deadline + 2:
                if client.loop(timeout=0.01) != mqtt.MQTT_ERR_SUCCESS:
                    break
            self._set_connected(False)
            client.disconnect()
            client.loop(timeout=0.1)
        self._set_connected(False)
        log.info("event=mqtt_closed spool_depth=%d", self.spool.depth)

    def _set_connected(self, value: bool) -> None:
        self.connected = value
        self.metrics.connected.set(1 if value else 0)

    # --- paho callbacks (run inside client.loop, on this thread) -------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason_code: ReasonCode,
                    properties: Properties | None) -> None:
        if reason_code.is_failure:
            self._refused = True
            self._fallback = str(reason_code) == "Unsupported protocol version"
            log.error("event=mqtt_refused reason=%r", str(reason_code))
            return
        self._set_connected(True)
        self._inflight.clear()
        self.wake.set()
        log.info("event=mqtt_connected broker=%s:%d spool_depth=%d", self.mqtt.host, self.mqtt.port,
                 self.spool.depth)
        client.publish(self.status_topic, self._status("online"), qos=1, retain=True)
        for config_topic, config in self.discovery:
            client.publish(config_topic, config, qos=1, retain=True)
        for retained_topic, payload in self.spool.retained():  # e.g. `state`, lost if the broker restarted
            client.publish(retained_topic, payload, qos=1, retain=True)
        for pattern in self.external_topics:
            client.subscribe(pattern, qos=1)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: mqtt.DisconnectFlags,
                       reason_code: ReasonCode, properties: Properties | None) -> None:
        if self.connected:
            log.warning("event=mqtt_disconnected reason=%r inflight=%d", str(reason_code), len(self._inflight))
        self._set_connected(False)

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason_code: ReasonCode,
                    properties: Properties) -> None:
        if mid == self._status_mid:
            self._status_mid = None
        # out of the window now, out of the spool once this pass of the loop has read every PUBACK it can
        # (:meth:`_forget_acked`, before the next pump)
        message_id = self._inflight.pop(mid, None)
        if message_id is None:
            return
        self.wake.set()
        if reason_code.is_failure:  # e.g. outside our ACL: it will never be accepted, so it is not kept
            log.error("event=publish_refused reason=%r spool_id=%d", str(reason_code), message_id)
            self.metrics.errors.labels("publish_refused").inc()
        else:
            self.metrics.published.inc()
        self._acked.append(message_id)

    def _forget_acked(self) -> None:
        """Delete the messages acknowledged since the last call in one transaction: a burst of PUBACKs costs one
        commit, not one each. If the delete fails (disk full), the failure is logged and counted and the
        messages stay spooled, out of flight, so the next pump sends them again."""
        acked, self._acked = self._acked, []
        if acked:
            self.supervisor.guard("mqtt", self.spool.delete)(acked)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # paho types the payload as bytes | bytearray; it decodes bytes, so this is the same object
        self.on_external(message.topic, bytes(message.payload))

    # --- sending the spool -----------------------------------------------------------------------
    def _pump(self, client: mqtt.Client) -> None:
        """Send what the token bucket allows: fresh live messages first, then the backlog (oldest first)."""
        now = time.monotonic()
        rate = self.mqtt.rate_per_s
        self._tokens = min(max(rate / 10, 1.0), self._tokens + (now - self._last_refill) * rate)
        self._last_refill = now
        room = self.mqtt.inflight - len(self._inflight)
        if room <= 0:
            return
        in_flight = set(self._inflight.values())
        # Live frames are produced no faster than the model classifies them, so only the in-flight window
        # bounds them; the token bucket paces the backlog that piles up during an outage.
        fresh = self.spool.fresh_live(_FRESH_S, room, in_flight)
        in_flight.update(m.id for m in fresh)
        backlog = self.spool.oldest(max(0, min(room - len(fresh), int(self._tokens))), in_flight)
        for message, paced in [(m, False) for m in fresh] + [(m, True) for m in backlog]:
            info = client.publish(message.topic, message.payload, qos=1, retain=message.retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break
            self._inflight[info.mid] = message.id
            self._tokens -= paced
