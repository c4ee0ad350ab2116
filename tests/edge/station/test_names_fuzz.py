"""Property: a file name of any bytes a file system allows goes through everything the station does with a
name, in-process, without an exception: the watcher's filter, the journal (SQLite), decoding, the capture
time, the ``frames`` message and its JSON, the quarantine alert and the ledger's log lines. The JSON names
the frame (escaped) on one line, each log record is one line, and a good frame afterwards still goes
through. A name that is not UTF-8 reaches Python with lone surrogates, which neither SQLite TEXT nor JSON
can carry; control characters and line separators in a name could forge log lines and JSON-lines output.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auroral.edge.capture_time import CaptureTime
from auroral.edge.classes import CLASSES
from auroral.edge.classifier import Prediction
from auroral.edge.contract import AlertMessage, FrameMessage, ModelRef, printable
from auroral.edge.framebatch import FrameLoader
from auroral.edge.preprocess import PreprocessSpec
from auroral.edge.station import messages
from auroral.edge.station.ledger import Classified, Ledger
from auroral.edge.station.watcher import is_candidate
from support.stationctx import make_context

SUFFIX = b".jpg"
LOADER = FrameLoader(PreprocessSpec(size=16))
MODEL = ModelRef(name="toy", sha256="0" * 64)
PREDICTION = Prediction(CLASSES[0], 0.9, {name: (0.9 if i == 0 else 0.1 / 6) for i, name in enumerate(CLASSES)})
JPEG = cv2.imencode(".jpg", np.full((24, 24, 3), 90, np.uint8))[1].tobytes()
_folders = itertools.count()

#: the bytes of one file name, as a file system allows them: neither "/" nor NUL, at most 255 bytes in all
names = st.binary(min_size=1, max_size=200).filter(lambda b: b"/" not in b and b"\0" not in b).map(
    lambda b: b + SUFFIX)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record of the station's loggers (``auroral.*``), DEBUG included, while the block runs."""
    logger = logging.getLogger("auroral")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory) -> Iterator[Ledger]:
    context = make_context(tmp_path_factory.mktemp("state"))
    opened = Ledger.open(context.config, context.metrics, MODEL, after_commit=lambda events: None)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("names")


def write(folder: Path, name: bytes, data: bytes) -> Path:
    """The file ``name`` (any bytes) in ``folder``, as the str path Python's file functions hand out."""
    full = os.path.join(os.fsencode(folder), name)
    with open(full, "wb") as file:
        file.write(data)
    return Path(os.fsdecode(full))


def published(ledger: Ledger) -> list[tuple[str, dict]]:
    """The messages the ledger has spooled since the last call, as (topic, JSON object); the spool is emptied."""
    found = []
    for message in ledger.spool.oldest(1000, set()):
        text = message.payload.decode("utf-8")  # strict: a lone surrogate would not even encode
        assert "\n" not in text and "\r" not in text
        found.append((message.topic, json.loads(text)))
        ledger.spool.delete([message.id])
    return found


def through_the_station(ledger: Ledger, path: Path) -> None:
    """What the station does with a frame file, from the watcher's filter to the spooled messages."""
    name = path.name
    is_candidate(path, ["*.jpg"])
    assert not ledger.journal.known(str(path))
    loaded = LOADER.load([path])
    assert loaded.loaded == [0], loaded.failed
    captured = CaptureTime()(path, loaded.headers[0])
    message = messages.frame(name, captured, PREDICTION, MODEL, 0.01, seq=0)
    text = message.message.to_json()
    assert b"\n" not in text and FrameMessage.model_validate_json(text).frame == printable(name)
    ledger.frames([Classified(path, captured, PREDICTION, seen=0.0, live=True, version=loaded.versions[0])])
    assert ledger.journal.known(str(path)) and ledger.journal.same_bytes(str(path), loaded.versions[0])
    assert ledger.same_exposure(path, loaded.versions[0])
    frames = [body for topic, body in published(ledger) if topic.endswith("/frames")]
    assert [body["frame"] for body in frames] == [printable(name)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=names)
@example(name="Tromsø".encode("latin-1") + SUFFIX)  # not UTF-8
@example(name=b"a\nevent=forged frame=x" + SUFFIX)  # a forged log line
@example(name=b"\x1b[2J\xe2\x80\xa8-rf " + SUFFIX)  # a terminal escape, U+2028, a leading option
@example(name=b"~#." + SUFFIX)
def test_any_file_name_goes_through_the_station(name, ledger, root):
    folder = root / str(next(_folders))
    folder.mkdir()
    (folder / "q").mkdir()
    with captured_logs() as records:
        path = write(folder, name, JPEG)
        through_the_station(ledger, path)
        odd = write(folder / "q", name, b"not an image")
        ledger.quarantine(odd, "not an image", attempts=3, live=True)
        alerts = [AlertMessage.model_validate(body) for topic, body in published(ledger) if topic.endswith("/alerts")]
        assert [alert.frame for alert in alerts] == [printable(path.name)]
        through_the_station(ledger, write(folder, b"KIR_20261129_223344.jpg", JPEG))  # a good frame after it
    assert records, "the ledger logs what it records"
    for record in records:
        assert len(record.getMessage().splitlines()) == 1, record.getMessage()
