"""What the daemon says at start about its own install: FITS patterns without astropy are named once and not
watched, instead of every FITS frame being retried and quarantined out of the camera's folder."""
from __future__ import annotations

import logging

from auroral.edge import frames
from auroral.edge.station.daemon import _drop_unreadable_patterns
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
