"""The station's history: every recorded frame and decision, in capture time, written with the ledger's
transaction and pruned with the journal."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from auroral.edge.capture_time import Captured
from auroral.edge.classifier import Prediction
from auroral.edge.contract import ModelRef
from auroral.edge.frames import FileVersion
from auroral.edge.station.ledger import Classified, Ledger
from support.stationctx import make_context


def frame(t0: datetime, i: int, label: str) -> Classified:
    path = Path(f"/cam/KIR_{i:03d}.jpg")
    return Classified(path, Captured(t0 + timedelta(minutes=i), "name"), Prediction(label, 0.99, {label: 0.99}),
                      time.time(), True, FileVersion(100 + i, i, f"{i:032x}"))


def test_frames_and_decisions_are_kept_in_capture_order_and_pruned(tmp_path):
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)  # recent: its onset triggers
    context = make_context(tmp_path, trigger={"n": 2, "m": 3, "cooldown_s": 0})
    ledger = Ledger.open(context.config, context.metrics, ModelRef(name="toy", sha256="0" * 64), lambda events: None)
    try:
        ledger.frames([frame(t0, 2, "breakup"), frame(t0, 0, "faint"), frame(t0, 1, "breakup")])  # out of order
        seen = ledger.history.frames(t0, t0 + timedelta(hours=1))
        assert [(f.frame, f.label) for f in seen] == [("KIR_000.jpg", "faint"), ("KIR_001.jpg", "breakup"),
                                                      ("KIR_002.jpg", "breakup")]
        assert [f.seq for f in seen] == [0, 1, 2]  # seq follows capture time within a batch
        decisions = ledger.history.decisions(t0, t0 + timedelta(hours=1))
        assert [(d.kind, d.frame) for d in decisions] == [("breakup_onset", "KIR_001.jpg"),
                                                          ("trigger", "KIR_001.jpg")]
        assert ledger.history.latest().frame == "KIR_002.jpg"
        assert ledger.history.prune(keep_days=1) == 0
        assert ledger.history.prune(keep_days=1, now=time.time() + 2 * 86400) == 5
        assert ledger.history.frames(t0, t0 + timedelta(hours=1)) == []
    finally:
        ledger.close()
