"""The MQTT message contract (documented for subscribers in docs/MQTT.md): topics and payload schemas.

The daemon builds its payloads from these models and the tests validate what arrives with them
(``SCHEMAS``), so the contract lives in exactly one place.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: topics whose last message the broker keeps for new subscribers
RETAINED = frozenset({"status", "state"})


def topic(prefix: str, station: str, name: str) -> str:
    """``auroral/<station>/<name>`` for the default prefix ``auroral``."""
    return f"{prefix}/{station}/{name}"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class ModelRef(_Message):
    name: str
    sha256: str


class StatusMessage(_Message):
    state: Literal["online", "offline", "stopped"]
    since: datetime
    model: str | None = None
    version: str


class FrameMessage(_Message):
    frame: str = Field(description="file name of the frame")
    captured_at: datetime
    label: str
    confidence: float = Field(ge=0.0, le=1.0)
    probabilities: dict[str, float]
    model: ModelRef
    latency_ms: float = Field(ge=0.0, description="file closed (seen) to message built")
    seq: int = Field(ge=0, description="per-station frame sequence number, stable across restarts")


AlertType = Literal["breakup_onset", "aurora_on", "aurora_off", "external_arm", "frame_quarantined"]


class AlertMessage(_Message):
    model_config = ConfigDict(extra="allow")  # alerts may carry a few type-specific fields
    type: AlertType
    at: datetime
    frame: str | None = None
    confidence: float | None = Field(None, ge=0.0, le=1.0)


class StateMessage(_Message):
    label: str
    since: datetime
    frame: str
    confidence: float = Field(ge=0.0, le=1.0)


class TriggerMessage(_Message):
    mode: Literal["high_rate"] = "high_rate"
    duration_s: float = Field(gt=0)
    reason: str
    frame: str | None = None


SCHEMAS: dict[str, type[_Message]] = {
    "status": StatusMessage,
    "frames": FrameMessage,
    "alerts": AlertMessage,
    "state": StateMessage,
    "capture/trigger": TriggerMessage,
}
