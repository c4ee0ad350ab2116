"""The contract's own messages stay valid under the strict models the station applies to what it receives:
a hostile or undecodable file name of our own is published escaped, never as a failed commit."""
from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from pydantic import ValidationError

from auroral.edge.capture_time import Captured
from auroral.edge.classifier import Prediction
from auroral.edge.contract import SCHEMAS, AlertMessage, ModelRef, printable, utc_now
from auroral.edge.station import messages
from auroral.edge.station.decide import Alert, StateChange, Trigger

HOSTILE = "KIR\udcf8_\x1b[2J\n event=forged\u2028.jpg"  # a Latin-1 byte, a terminal escape, newlines
ESCAPED = "KIR\\udcf8_\\x1b[2J\\n event=forged\\u2028.jpg"


@pytest.mark.parametrize("outgoing", [
    messages.frame(HOSTILE, Captured(utc_now(), "exif"), Prediction("arcs", 0.9, {"arcs": 0.9, "faint": 0.1}),
                   ModelRef(name="toy", sha256="0" * 64), 0.01, 7),
    messages.event(Alert("frame_quarantined", HOSTILE, None, {"reason": "truncated", "attempts": 6}), utc_now()),
    messages.event(Alert("breakup_onset", HOSTILE, 0.97), utc_now()),
    messages.event(StateChange("arcs", utc_now(), HOSTILE, 0.9), utc_now()),
    messages.event(Trigger("breakup_onset", HOSTILE, 600.0, True, utc_now(), utc_now(), f"/cam/{HOSTILE}"),
                   utc_now()),
], ids=["frames", "quarantined", "onset", "state", "trigger"])
def test_our_own_messages_with_a_hostile_name_validate_and_carry_it_escaped(outgoing):
    payload = outgoing.message.to_json()
    received = SCHEMAS[outgoing.name].model_validate_json(payload)
    assert received.model_dump()["frame"] == ESCAPED
    assert received.to_json() == payload, "escaping twice changes nothing"


def test_printable_leaves_ordinary_names_alone():
    assert printable("KIR_20261124_220000 Tromsø ÅÄÖ (1).jpg") == "KIR_20261124_220000 Tromsø ÅÄÖ (1).jpg"


def test_times_must_carry_a_time_zone_and_any_zone_will_do():
    at = utc_now()
    assert AlertMessage(type="aurora_on", at=at.astimezone(timezone(timedelta(hours=1)))).at == at
    for naive in (at.replace(tzinfo=None), at.replace(tzinfo=None).isoformat(), at.timestamp()):
        with pytest.raises(ValidationError, match="at"):
            AlertMessage(type="aurora_on", at=naive)
