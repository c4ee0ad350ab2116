"""Structured logging: one line per event, ``key=value`` fields, UTC timestamps; logfmt or JSON lines.

Every log call in the project reads ``event=name key=value ...`` (strings through ``%r``). The logfmt
form prints that message after ``ts level logger``. The JSON form (for journald, Loki or any pipeline
that reads JSON) keeps the message and adds each leading ``key=value`` pair as a field of its own, a
``%r``-quoted value unquoted, so ``{"event": "frame_quarantined", "frame": "a b.jpg", ...}`` can be
queried without parsing the text; an exception becomes a ``traceback`` field, so each record stays
one line.
"""
from __future__ import annotations

import ast
import json
import logging
import re
import sys
import time
from typing import Any, Literal, get_args

LogFormat = Literal["logfmt", "json"]
LOG_FORMATS: tuple[str, ...] = get_args(LogFormat)

_PAIR = re.compile(r"""\s*([A-Za-z_][\w.]*)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S*)(?=\s|$)""")
_RESERVED = ("ts", "level", "logger", "message", "traceback")

_explicit_format = False  # a format chosen on the command line wins over the configuration file's


def _utc(created: float, msecs: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(msecs):03d}Z"


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's API
        return _utc(record.created, record.msecs)


def parse_fields(message: str) -> dict[str, str]:
    """The leading ``key=value`` pairs of ``message``; a ``'quoted'`` or ``"quoted"`` value (Python's repr)
    is unquoted. Parsing stops at the first word that is not a pair, so free text never yields fields."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(message):
        match = _PAIR.match(message, position)
        if match is None:
            break
        key, value = match.groups()
        if value[:1] in ("'", '"'):
            try:
                value = str(ast.literal_eval(value))
            except (ValueError, SyntaxError):
                pass  # not a Python literal after all: kept as written
        fields.setdefault(key, value)
        position = match.end()
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the message's ``key=value`` pairs
    (a pair named like one of the first four keeps its value under ``field_<key>``), and ``traceback``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {"ts": _utc(record.created, record.msecs), "level": record.levelname,
                                "logger": record.name}
        for key, value in parse_fields(message).items():
            line[f"field_{key}" if key in _RESERVED else key] = value
        line["message"] = message
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def _formatter(log_format: LogFormat) -> logging.Formatter:
    if log_format == "json":
        return JsonFormatter()
    return _UtcFormatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")


def setup_logging(level: str = "INFO", log_format: LogFormat | None = None) -> None:
    """Log to stderr at ``level``; ``log_format`` None means logfmt unless a configuration file says otherwise
    (:func:`use_configured_format`)."""
    global _explicit_format
    _explicit_format = log_format is not None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter(log_format or "logfmt"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def use_configured_format(log_format: LogFormat) -> None:
    """Switch to a configuration file's ``log_format``, unless the command line chose one."""
    if not _explicit_format:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(_formatter(log_format))
