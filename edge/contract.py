"""The MQTT message contract (documented for subscribers in docs/MQTT.md): topics and payload schemas.

The daemon builds its payloads from these models and the tests validate what arrives with them
(``SCHEMAS``), so the contract lives in exactly one place.
"""
from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from auroral.edge.capture_time import TimeSource
from auroral.edge.sky import SkyKind

#: topics whose last message the broker keeps for new subscribers
RETAINED = frozenset({"status", "state", "thumbnail", "thumbnail/onset"})

#: topics whose payload is not JSON (and so has no model): name → the payload's media type. ``thumbnail`` is a
#: small JPEG of the newest frame, ``thumbnail/onset`` of the frame that started the latest breakup onset; raw
#: bytes, as dashboards and Home Assistant's image entity take them
RAW: dict[str, str] = {"thumbnail": "image/jpeg", "thumbnail/onset": "image/jpeg"}

#: a station id: one topic level, safe to echo in logs, alerts and triggers
STATION_ID = r"^[A-Za-z0-9_-]{1,64}$"

#: the longest file name a message carries (``frame``): a file system's limit
MAX_NAME = 255
#: the longest path a message carries (``path``): Linux's PATH_MAX
MAX_PATH = 4096

#: characters never echoed as they are: controls (terminal escapes, forged log lines), line separators and
#: lone surrogates (bytes of a file name that are not UTF-8, which JSON cannot carry)
_UNSAFE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def topic(prefix: str, station: str, name: str) -> str:
    """``auroral/<station>/<name>`` for the default prefix ``auroral``; ``prefix`` and ``station`` are one
    topic level each (see :func:`check_level`), which is how a subscriber finds the station in a topic."""
    return f"{prefix}/{station}/{name}"


def check_level(text: str) -> str:
    """``text`` as one level of a topic we publish on, else ``ValueError``: not empty, no ``/``, no wildcard,
    not a ``$`` (broker-reserved) topic."""
    if not text or "/" in text or "+" in text or "#" in text or "\x00" in text or text.startswith("$"):
        raise ValueError(f"{text!r} must be one topic level: not empty, without '/', '+', '#', or a leading '$'")
    return text


def check_filter(text: str) -> str:
    """``text`` as an MQTT topic filter, else ``ValueError``: a broker refuses an invalid subscription, which
    would otherwise only show as a station that never hears another one."""
    if not text or "\x00" in text or len(text.encode("utf-8", "surrogatepass")) > 65535:
        raise ValueError(f"{text!r} is not a topic filter (empty, NUL or longer than 65535 bytes)")
    levels = text.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"{text!r} is not a topic filter: '#' must be a whole level and the last one")
        if "+" in level and level != "+":
            raise ValueError(f"{text!r} is not a topic filter: '+' must be a whole level")
    return text


def printable(text: str) -> str:
    """``text`` with control characters, line separators and lone surrogates written as escapes (``\\n``,
    ``\\x1b``, ``\\udcf8``): a name from outside can neither drive a terminal nor forge a line."""
    return "".join(c.encode("unicode_escape").decode("ascii") if unicodedata.category(c) in _UNSAFE else c
                   for c in text)


def _time_text(value: Any) -> Any:
    """Times travel as ISO-8601 text; a number, or text that is one, would be read by pydantic as Unix time."""
    if isinstance(value, (bool, int, float)) or (isinstance(value, str) and _is_number(value)):
        raise ValueError("a time must be an ISO-8601 date-time string with a time zone")
    return value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _bounded(limit: int, what: str) -> Any:
    """A validator: text of at most ``limit`` characters, escaped by :func:`printable` (before pydantic's own
    check, which refuses the lone surrogates of a name that is not UTF-8)."""

    def check(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if len(value) > limit:
            raise ValueError(f"a {what} has at most {limit} characters")
        return printable(value)

    return check


#: a point in time that says its time zone: a naive time cannot be compared with the station's clock
Time = Annotated[AwareDatetime, BeforeValidator(_time_text)]
#: a frame's file name, as published and as echoed from another station: bounded and escaped
FrameName = Annotated[str, BeforeValidator(_bounded(MAX_NAME, "file name"))]
#: a frame's path on the station (for a camera script on the same machine): bounded and escaped
FramePath = Annotated[str, BeforeValidator(_bounded(MAX_PATH, "path"))]
#: a probability: a JSON number (not text, not a boolean), finite, 0–1
Confidence = Annotated[float, Field(ge=0.0, le=1.0, strict=True, allow_inf_nan=False)]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class ModelRef(_Message):
    name: str
    sha256: str


class StatusMessage(_Message):
    state: Literal["online", "offline", "stopped"]
    since: Time
    model: str | None = None
    version: str


class FrameMessage(_Message):
    frame: FrameName = Field(description="file name of the frame")
    captured_at: Time
    time_source: TimeSource = Field(description="where captured_at comes from: fits, exif, name or mtime")
    label: str | None = Field(description="the most probable class; null when the model did not run")
    confidence: Confidence | None
    probabilities: dict[str, float]
    uncertain: bool = Field(False, description="top probability below [model] min_confidence: decides nothing")
    sky: SkyKind | None = Field(None, description="night, twilight or day at the station; null without [site]")
    sun_elevation: float | None = Field(None, description="degrees above the horizon")
    moon_elevation: float | None = Field(None, description="degrees, when the moon is up")
    moon_illumination: float | None = Field(None, ge=0.0, le=1.0, description="lit fraction, when the moon is up")
    moonlit: bool = Field(False, description="the moon is up and brighter than [sky] max_moon_illumination")
    model: ModelRef
    latency_ms: float = Field(ge=0.0, description="file closed (seen) to message built")
    seq: int = Field(ge=0, description="per-station frame sequence number, stable across restarts")


AlertType = Literal["breakup_onset", "aurora_on", "aurora_off", "external_arm", "frame_quarantined"]


class AlertMessage(_Message):
    model_config = ConfigDict(extra="allow")  # alerts may carry a few type-specific fields
    type: AlertType
    at: Time
    frame: FrameName | None = None
    confidence: Confidence | None = None
    captured_at: Time | None = Field(None, description="capture time of the frame the alert is about")
    live: bool = Field(True, description="false for frames older than [trigger] max_age_s or decided late")


class StateMessage(_Message):
    label: str = Field(description="the sky's current label, or day / twilight while the sky is not dark")
    since: Time
    frame: FrameName
    confidence: Confidence | None
    sky: SkyKind | None = None
    dark_at: Time | None = Field(None, description="while day or twilight: when the sky is next dark")


class TriggerMessage(_Message):
    mode: Literal["high_rate"] = "high_rate"
    at: Time = Field(description="when the trigger was decided")
    until: Time = Field(description="when high-rate capture should end (at + duration_s)")
    duration_s: float = Field(gt=0)
    reason: str
    frame: FrameName | None = None
    captured_at: Time | None = Field(None, description="capture time of the frame that started the onset")
    path: FramePath | None = Field(None, description="that frame's path on the station")


SCHEMAS: dict[str, type[_Message]] = {
    "status": StatusMessage,
    "frames": FrameMessage,
    "alerts": AlertMessage,
    "state": StateMessage,
    "capture/trigger": TriggerMessage,
}
