"""What the daemon does at start about its own install: FITS patterns without astropy are named once and not
watched, instead of every FITS frame being retried and quarantined out of the camera's folder; and what
start-up built is frozen out of the garbage collector's full passes before the first frame."""
from __future__ import annotations

import logging
import re

import pytest

from auroral.edge import frames
from auroral.edge.station.daemon import _drop_unreadable_patterns
from support.faults import Station
from support.stationctx import make_context


def test_fits_patterns_without_astropy_are_named_and_not_watched(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(frames, "_fits_available", lambda: False)
    config = make_context(tmp_path).config
    with caplog.at_level(logging.ERROR, "auroral.daemon"):
        _drop_unreadable_patterns(config)
    assert config.watch.patterns == ["*.jpg", "*.jpeg", "*.png"]
    assert "event=patterns_unreadable patterns=*.fits,*.fit,*.fts" in caplog.text
    assert "pip install 'auroral[fits]'" in caplog.text


def test_with_astropy_every_pattern_is_watched(tmp_path, caplog):
    config = make_context(tmp_path).config
    before = list(config.watch.patterns)
    with caplog.at_level(logging.ERROR, "auroral.daemon"):
        _drop_unreadable_patterns(config)
    assert config.watch.patterns == before and "patterns_unreadable" not in caplog.text


@pytest.mark.integration
def test_the_objects_built_at_start_are_frozen_before_the_daemon_is_ready(tmp_path, broker, toy_bundle):
    with Station(tmp_path, toy_bundle.root, broker.address) as station:
        station.wait_until(lambda: "event=started" in station.log(), what="started")
        log = station.log()
        frozen = re.search(r"event=gc_frozen objects=(\d+)", log)
        assert frozen, log[-2000:]
        # the modules, model session and components: tens of thousands of objects no full pass walks again
        assert int(frozen.group(1)) > 20_000
        assert log.index("event=gc_frozen") < log.index("event=started")
        assert station.stop() == 0
