"""Home Assistant discovery against a real broker: the daemon's retained configs, checked key by key against Home
Assistant's documented schema of each platform, their templates rendered on the station's real messages (with
Jinja, as Home Assistant renders them), availability when the daemon stops, and `auroral homeassistant remove`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import jinja2
import numpy as np
import pytest

from auroral.edge.contract import AlertMessage, utc_now
from support.faults import STATION, Station, connected_client, write_toml
from support.mqttcollect import Collector

pytestmark = pytest.mark.integration

NODE = f"auroral_{STATION}"
BREAKUP = (224, 224, 224)  # the toy bundle calls this breakup (an auroral class)
QUIET = (0, 0, 0)  # faint: not auroral

# Keys every MQTT entity accepts (availability, device, entity options), from the "Configuration Variables" of the
# platform pages below and the discovery page (origin): https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
COMMON = {"availability", "availability_mode", "availability_template", "availability_topic", "device",
          "enabled_by_default", "encoding", "entity_category", "entity_picture", "icon", "json_attributes_template",
          "json_attributes_topic", "name", "object_id", "default_entity_id", "origin", "payload_available",
          "payload_not_available", "platform", "unique_id"}
# https://www.home-assistant.io/integrations/sensor.mqtt/
SENSOR = {"device_class", "expire_after", "force_update", "last_reset_value_template", "options", "qos",
          "state_class", "state_topic", "suggested_display_precision", "unit_of_measurement", "value_template"}
# https://www.home-assistant.io/integrations/binary_sensor.mqtt/
BINARY_SENSOR = {"device_class", "expire_after", "force_update", "off_delay", "payload_off", "payload_on", "qos",
                 "state_topic", "value_template"}
# https://www.home-assistant.io/integrations/event.mqtt/
EVENT = {"device_class", "event_types", "qos", "state_topic", "value_template"}
# https://www.home-assistant.io/integrations/image.mqtt/ (image_topic and url_topic exclusive, one of them required)
IMAGE = {"content_type", "image_encoding", "image_topic", "url_template", "url_topic"}
ALLOWED = {"sensor": COMMON | SENSOR, "binary_sensor": COMMON | BINARY_SENSOR, "event": COMMON | EVENT,
           "image": COMMON | IMAGE}
# required by the platform pages; unique_id and device as well, which tie the entities to one device
REQUIRED = {"sensor": {"state_topic"}, "binary_sensor": {"state_topic"}, "event": {"state_topic", "event_types"},
            "image": {"image_topic"}}
TIED = {"unique_id", "device", "name"}
# the "device" and "availability" maps, same pages
DEVICE = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id",
          "name", "serial_number", "suggested_area", "sw_version", "via_device"}
AVAILABILITY = {"payload_available", "payload_not_available", "topic", "value_template"}
ORIGIN = {"name", "sw_version", "support_url"}  # https://www.home-assistant.io/integrations/mqtt/#adding-information-about-the-origin-of-a-discovery-message

ENTITIES = {("sensor", "label"), ("sensor", "confidence"), ("binary_sensor", "aurora"), ("event", "breakup_onset"),
            ("image", "thumbnail")}

_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined)


def render(template: str, payload: bytes) -> str:
    """A value template as Home Assistant renders it on a message: ``value_json`` is the parsed payload."""
    return _JINJA.from_string(template).render(value_json=json.loads(payload), value=payload.decode()).strip()


def shoot(folder: Path, index: int, colour) -> str:
    name = f"KIR_{utc_now():%Y%m%d_%H%M%S}_{index:03d}.png"
    image = np.zeros((48, 48, 3), np.uint8)
    image[:] = colour
    cv2.imwrite(str(folder / name), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return name


def configs(broker) -> dict[tuple[str, str], dict]:
    """What a new subscriber to homeassistant/# gets at once: every retained config, by (component, object id)."""
    with Collector(broker, "homeassistant/#") as collector:
        received = collector.wait_for(lambda ms: len(ms) >= len(ENTITIES), timeout=10)
    assert all(m.retain for m in received)
    found = {}
    for message in received:
        prefix, component, node, object_id, leaf = message.topic.split("/")
        assert (prefix, node, leaf) == ("homeassistant", NODE, "config")
        found[component, object_id] = message.json()
    return found


def test_schema_valid_configs_templates_and_availability(tmp_path, broker, toy_bundle):
    config = {"homeassistant": {"enabled": True}, "mqtt": {"thumbnails": True}}
    with Collector(broker, f"auroral/{STATION}/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, config=config) as station:
        station.wait_until(lambda: station.connected() == 1, what="connected")
        station.wait_watching()
        found = configs(broker)
        assert set(found) == ENTITIES
        for (component, object_id), payload in found.items():
            keys = set(payload)
            assert keys <= ALLOWED[component], f"{component}/{object_id}: unknown keys {keys - ALLOWED[component]}"
            assert REQUIRED[component] | TIED <= keys, f"{component}/{object_id}: missing keys"
            assert set(payload["device"]) <= DEVICE and set(payload["origin"]) <= ORIGIN
            assert payload["device"]["identifiers"] == [NODE] and payload["device"]["model"] == "auroral"
            assert payload["device"]["sw_version"]
            for entry in payload["availability"]:
                assert set(entry) <= AVAILABILITY and entry["topic"] == f"auroral/{STATION}/status"
            assert payload["unique_id"] == f"{NODE}_{object_id}"
        assert len({p["unique_id"] for p in found.values()}) == len(found)
        assert found["event", "breakup_onset"]["event_types"] == ["breakup_onset"]
        assert found["image", "thumbnail"]["image_topic"] == f"auroral/{STATION}/thumbnail"
        assert found["image", "thumbnail"]["content_type"] == "image/jpeg"

        # the templates on the station's real messages
        shoot(station.watch, 0, BREAKUP)
        collector.wait_for(lambda ms: any(m.topic.endswith("/state") for m in ms))
        state = collector.on("state")[-1].payload
        assert render(found["sensor", "label"]["value_template"], state) == "breakup"
        attributes = json.loads(render(found["sensor", "label"]["json_attributes_template"], state))
        assert 0.9 < attributes["confidence"] <= 1 and attributes["frame"].endswith("_000.png")
        assert 90 < float(render(found["sensor", "confidence"]["value_template"], state)) <= 100
        aurora = found["binary_sensor", "aurora"]
        assert render(aurora["value_template"], state) == aurora["payload_on"]
        shoot(station.watch, 1, QUIET)
        collector.wait_for(lambda ms: len([m for m in ms if m.topic.endswith("/state")]) >= 2)
        assert render(aurora["value_template"], collector.on("state")[-1].payload) == aurora["payload_off"]

        (availability,) = found["sensor", "label"]["availability"]
        online = collector.on("status")[-1]
        assert render(availability["value_template"], online.payload) == availability["payload_available"]
        assert station.stop() == 0
    stopped = collector.on("status")[-1]
    assert json.loads(stopped.payload)["state"] == "stopped"
    for payload in found.values():
        (entry,) = payload["availability"]
        assert render(entry["value_template"], stopped.payload) == entry["payload_not_available"]
    offline = json.dumps({**json.loads(stopped.payload), "state": "offline"}).encode()  # the last will
    assert render(entry["value_template"], offline) == entry["payload_not_available"]


def test_event_template_maps_breakup_onset_and_ignores_other_alerts(tmp_path, broker, toy_bundle):
    config = {"homeassistant": {"enabled": True}, "mqtt": {"thumbnails": True}}
    with Station(tmp_path, toy_bundle.root, broker.address, config=config) as station:
        station.wait_until(lambda: station.connected() == 1, what="connected")
        template = configs(broker)["event", "breakup_onset"]["value_template"]
    onset = AlertMessage(type="breakup_onset", at=utc_now(), frame="KIR_1.png", confidence=0.93,
                         captured_at=utc_now()).to_json()
    event = json.loads(render(template, onset))
    assert event["event_type"] == "breakup_onset" and event["frame"] == "KIR_1.png" and event["confidence"] == 0.93
    aurora_on = AlertMessage(type="aurora_on", at=utc_now(), frame="KIR_2.png", confidence=0.9).to_json()
    assert render(template, aurora_on) == ""  # Home Assistant ignores an empty rendering


def test_without_thumbnails_the_image_config_is_emptied(tmp_path, broker, toy_bundle):
    with Collector(broker, "homeassistant/#") as collector, \
            Station(tmp_path, toy_bundle.root, broker.address, config={"homeassistant": {"enabled": True}}) as station:
        station.wait_until(lambda: station.connected() == 1, what="connected")
        received = collector.wait_for(lambda ms: len(ms) >= len(ENTITIES))
    image = [m for m in received if m.topic.startswith("homeassistant/image/")]
    assert [m.payload for m in image] == [b""]


def test_remove_command_empties_every_config(tmp_path, broker, toy_bundle):
    config = {"homeassistant": {"enabled": True}, "mqtt": {"thumbnails": True}}
    with Station(tmp_path / "daemon", toy_bundle.root, broker.address, config=config) as station:
        station.wait_until(lambda: station.connected() == 1, what="connected")
        assert set(configs(broker)) == ENTITIES
        assert station.stop() == 0
    toml = write_toml(tmp_path / "station.toml", {
        "station": STATION, "watch": {"dirs": [str(station.watch)]}, "model": {"bundle": str(toy_bundle.root)},
        "mqtt": {"host": broker.host, "port": broker.port}, "homeassistant": {"enabled": False}})
    done = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "homeassistant", "remove", "--config", str(toml)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "removed 5" in done.stdout
    # a new subscriber gets no retained config: only the marker published after it subscribed arrives
    with Collector(broker, "homeassistant/#") as collector:
        client = connected_client(broker)
        try:
            client.publish("homeassistant/test/marker", b"m", qos=1).wait_for_publish(10)
        finally:
            client.loop_stop()
            client.disconnect()
        received = collector.wait_for(lambda ms: any(m.topic == "homeassistant/test/marker" for m in ms))
    assert [m.topic for m in received] == ["homeassistant/test/marker"]


def test_remove_command_names_an_unreachable_broker_in_one_line(tmp_path, toy_bundle):
    toml = write_toml(tmp_path / "station.toml", {
        "watch": {"dirs": [str(tmp_path)]}, "model": {"bundle": str(toy_bundle.root)},
        "mqtt": {"host": "127.0.0.1", "port": 1, "connect_timeout_s": 2}})
    done = subprocess.run([sys.executable, "-m", "auroral.edge.cli", "homeassistant", "remove", "--config", str(toml)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "cannot connect to the broker at 127.0.0.1:1" in done.stderr and "Traceback" not in done.stderr
