"""Home Assistant MQTT discovery: the station as one device with five entities, built on its own topics.

Home Assistant reads retained config messages under ``<discovery_prefix>/<component>/<node_id>/<object_id>/config``
and creates the entities they describe. Every entity here reads a topic the station already publishes, through
a template, so the contract (docs/MQTT.md) stays the one source and nothing is published twice:

- ``sensor`` *label*: the retained ``state``'s ``label``, with confidence, frame, capture time and sky as
  attributes; ``sensor`` *confidence*: that frame's confidence in per cent (``None`` while day or twilight);
- ``binary_sensor`` *aurora*: on while the ``state``'s label is one of the auroral classes (the bundle's, or
  ``[aurora] labels``). A template over the retained ``state`` rather than a topic of its own: it is known at
  once after a restart of Home Assistant or the broker, and needs no new message in the contract;
- ``event`` *breakup onset*: ``alerts`` of type ``breakup_onset``, mapped to Home Assistant's ``event_type``;
  other alert types render empty, which Home Assistant ignores;
- ``image`` *latest frame*: the raw JPEG on ``thumbnail`` (announced with ``[mqtt] thumbnails`` only; without
  it an empty config removes an image entity announced before).

Availability follows the retained ``status``: ``online`` is available, ``offline`` (the last will) and
``stopped`` are not. The configs are published on every connect; :func:`removal` gives the empty retained
payloads that delete them (``auroral homeassistant remove``).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from auroral.edge.contract import topic
from auroral.edge.errors import UserError
from auroral.edge.station.config import StationConfig

AVAILABLE = "online"
NOT_AVAILABLE = "offline"


@dataclass(frozen=True)
class Entity:
    component: str  # Home Assistant's platform: sensor, binary_sensor, event, image
    object_id: str
    name: str


ENTITIES = (
    Entity("sensor", "label", "Sky"),
    Entity("sensor", "confidence", "Confidence"),
    Entity("binary_sensor", "aurora", "Aurora"),
    Entity("event", "breakup_onset", "Breakup onset"),
    Entity("image", "thumbnail", "Latest frame"),
)


def node_id(config: StationConfig) -> str:
    """The discovery node id (and device identifier) of this station: prefix and station id, so two stations,
    or two prefixes on one broker, never share a device. Home Assistant allows ``[a-zA-Z0-9_-]`` only."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{config.mqtt.prefix}_{config.station}")


def config_topic(config: StationConfig, entity: Entity) -> str:
    return f"{config.homeassistant.discovery_prefix}/{entity.component}/{node_id(config)}/{entity.object_id}/config"


def discovery(config: StationConfig, version: str) -> list[tuple[str, bytes]]:
    """(config topic, retained payload) for every entity; the image's payload is empty without thumbnails."""
    messages = []
    for entity in ENTITIES:
        if entity.component == "image" and not config.mqtt.thumbnails:
            messages.append((config_topic(config, entity), b""))
            continue
        payload = {**_common(config, entity, version), **_specific(config, entity)}
        messages.append((config_topic(config, entity), json.dumps(payload, sort_keys=True).encode("utf-8")))
    return messages


def removal(config: StationConfig) -> list[tuple[str, bytes]]:
    """The empty retained payload for every config topic: Home Assistant's way to delete an entity."""
    return [(config_topic(config, entity), b"") for entity in ENTITIES]


def _common(config: StationConfig, entity: Entity, version: str) -> dict[str, Any]:
    node = node_id(config)
    status = topic(config.mqtt.prefix, config.station, "status")
    return {
        "name": entity.name,
        "unique_id": f"{node}_{entity.object_id}",
        "device": {"identifiers": [node], "name": f"Auroral {config.station}", "model": "auroral",
                   "sw_version": version},
        "origin": {"name": "auroral", "sw_version": version},
        "availability": [{"topic": status, "payload_available": AVAILABLE, "payload_not_available": NOT_AVAILABLE,
                          "value_template": availability_template()}],
    }


def availability_template() -> str:
    """``status`` → available or not: ``stopped`` (a clean stop) is as unavailable as ``offline`` (the last will)."""
    return f"{{{{ '{AVAILABLE}' if value_json.state == 'online' else '{NOT_AVAILABLE}' }}}}"


def _specific(config: StationConfig, entity: Entity) -> dict[str, Any]:
    def station_topic(name: str) -> str:
        return topic(config.mqtt.prefix, config.station, name)

    if entity.object_id == "label":
        return {"state_topic": station_topic("state"), "qos": 1, "value_template": "{{ value_json.label }}",
                "json_attributes_topic": station_topic("state"),
                "json_attributes_template": "{{ {'confidence': value_json.confidence, 'frame': value_json.frame, "
                                            "'since': value_json.since, 'sky': value_json.sky} | tojson }}"}
    if entity.object_id == "confidence":
        return {"state_topic": station_topic("state"), "qos": 1, "unit_of_measurement": "%",
                "value_template": "{{ (value_json.confidence * 100) | round(1) if value_json.confidence is number "
                                  "else 'None' }}"}
    if entity.object_id == "aurora":
        labels = json.dumps(sorted(config.aurora.labels or []))
        return {"state_topic": station_topic("state"), "qos": 1, "payload_on": "ON", "payload_off": "OFF",
                "value_template": f"{{{{ 'ON' if value_json.label in {labels} else 'OFF' }}}}"}
    if entity.object_id == "breakup_onset":
        return {"state_topic": station_topic("alerts"), "qos": 1, "event_types": ["breakup_onset"],
                "value_template": "{% if value_json.type == 'breakup_onset' %}{{ {'event_type': value_json.type, "
                                  "'frame': value_json.frame, 'confidence': value_json.confidence, "
                                  "'captured_at': value_json.captured_at, 'live': value_json.live} | tojson }}"
                                  "{% endif %}"}
    assert entity.component == "image"
    return {"image_topic": station_topic("thumbnail"), "content_type": "image/jpeg"}


_REMOVE_TIMEOUT_S = 10.0


def remove_entities(config: StationConfig) -> str:
    """Publish an empty retained payload on each of the station's discovery config topics (Home Assistant's
    way to delete a discovered entity), through the station's own ``[mqtt]`` settings; returns what was done."""
    import paho.mqtt.client as mqtt

    settings = config.mqtt
    address = f"{settings.host}:{settings.port}"
    # never the daemon's client id: the broker would push the running station off
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"auroral-{config.station}-homeassistant",
                         protocol=mqtt.MQTTv311)
    client.connect_timeout = settings.connect_timeout_s
    if settings.username:
        try:
            client.username_pw_set(settings.username, settings.read_password())
        except OSError as exc:
            raise UserError(f"cannot read the password file {settings.resolved_password_file()}: "
                            f"{exc.strerror or exc}") from exc
    if settings.tls:
        client.tls_set(ca_certs=str(settings.ca_file) if settings.ca_file else None,
                       certfile=str(settings.cert_file) if settings.cert_file else None,
                       keyfile=str(settings.key_file) if settings.key_file else None)
    try:
        client.connect(settings.host, settings.port, settings.keepalive_s)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot connect to the broker at {address}: {exc}") from exc
    client.loop_start()
    try:
        sent = [(name, client.publish(name, b"", qos=1, retain=True)) for name, _ in removal(config)]
        for name, info in sent:
            try:
                info.wait_for_publish(_REMOVE_TIMEOUT_S)
            except (RuntimeError, ValueError) as exc:
                raise UserError(f"the broker at {address} did not take {name}: {exc}") from exc
            if not info.is_published():
                raise UserError(f"the broker at {address} did not acknowledge {name} within {_REMOVE_TIMEOUT_S:g} s "
                                "(refused login or access?)")
    finally:
        client.disconnect()
        client.loop_stop()
    return (f"removed {len(sent)} Home Assistant configs of station {config.station} under "
            f"{config.homeassistant.discovery_prefix}/ on {address}")
