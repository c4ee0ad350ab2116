"""Log lines as logfmt or JSON: every JSON record is one valid line whose fields are the message's pairs."""
from __future__ import annotations

import json
import logging

import pytest

from auroral.edge.cli import main
from auroral.edge.logs import JsonFormatter, parse_fields, setup_logging, use_configured_format


def record(message: str, *args: object, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("auroral.test", logging.ERROR, __file__, 1, message, args, exc_info)


def formatted(message: str, *args: object, exc_info=None) -> dict:
    line = JsonFormatter().format(record(message, *args, exc_info=exc_info))
    assert "\n" not in line
    return json.loads(line)


def test_pairs_become_fields_and_quoted_values_are_unquoted():
    line = formatted("event=frame_quarantined frame=%r attempts=%d reason=%r", "it's a b=c.jpg", 5, 'say "x"\n')
    assert line["event"] == "frame_quarantined"
    assert line["frame"] == "it's a b=c.jpg"
    assert line["attempts"] == "5"
    assert line["reason"] == 'say "x"\n'
    assert line["level"] == "ERROR" and line["logger"] == "auroral.test"
    assert line["ts"].endswith("Z") and line["message"].startswith("event=frame_quarantined frame=")


def test_an_exception_is_a_traceback_field_on_the_same_line():
    try:
        raise ValueError("bad\nframe")
    except ValueError:
        import sys

        line = formatted("event=component_failed component=%s", "decode", exc_info=sys.exc_info())
    assert line["event"] == "component_failed" and line["component"] == "decode"
    assert line["traceback"].startswith("Traceback") and "ValueError: bad" in line["traceback"]


def test_free_text_gives_no_fields_and_reserved_names_do_not_overwrite():
    assert parse_fields("Connection refused a=b") == {}
    assert parse_fields("event=x then free text k=v") == {"event": "x"}
    line = formatted("event=x level=%s logger=%r", "fake", "other")
    assert line["level"] == "ERROR" and line["field_level"] == "fake" and line["field_logger"] == "other"


def test_log_format_flag_gives_json_lines(tmp_path, capsys, toy_bundle):
    """A real log line of a command (the clear-text login warning of a configuration check), as JSON."""
    config = tmp_path / "station.toml"
    config.write_text(f'[watch]\ndirs = ["{tmp_path}"]\n[model]\nbundle = "{toy_bundle.root}"\n'
                      '[mqtt]\nusername = "kiruna"\n')
    try:
        assert main(["run", "--config", str(config), "--check-config", "--log-format", "json"]) == 0
    finally:
        setup_logging()  # back to logfmt for the rest of the session
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["event"] for line in lines] == ["mqtt_password_in_clear"]
    assert lines[0]["level"] == "WARNING" and lines[0]["broker"] == "localhost:1883"


@pytest.mark.parametrize("flag, configured, expected", [(None, "json", JsonFormatter), ("logfmt", "json", None)])
def test_the_command_line_wins_over_the_configuration_file(flag, configured, expected):
    try:
        setup_logging("INFO", flag)
        use_configured_format(configured)
        formatter = logging.getLogger().handlers[0].formatter
        assert isinstance(formatter, JsonFormatter) == (expected is JsonFormatter)
    finally:
        setup_logging()
