"""A real MQTT subscriber for tests: collects every message on a topic filter from a live broker."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self):
        return json.loads(self.payload.decode("utf-8"))


class Collector:
    """``with Collector(broker, "auroral/#") as c: c.wait_for(lambda ms: len(ms) >= 3)``."""

    def __init__(self, broker, topic_filter: str = "#", qos: int = 1):
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic_filter, qos=qos)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.broker = broker

    def _on_message(self, client, userdata, msg):
        with self._cond:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain)))
            self._cond.notify_all()

    def __enter__(self) -> Collector:
        self.client.connect(self.broker.host, self.broker.port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("subscription not acknowledged by the broker")
        return self

    def __exit__(self, *exc) -> None:
        self.client.loop_stop()
        self.client.disconnect()

    def on(self, suffix: str) -> list[Received]:
        with self._cond:
            return [m for m in self.messages if m.topic.endswith("/" + suffix) or m.topic == suffix]

    def wait_for(self, predicate, timeout: float = 30.0) -> list[Received]:
        """Block until ``predicate(messages)`` is true; raise with what arrived if it never is."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    topics = [m.topic for m in self.messages]
                    raise TimeoutError(f"condition not met in {timeout} s; got {len(topics)} messages: {topics[-10:]}")
                self._cond.wait(remaining)
            return list(self.messages)
