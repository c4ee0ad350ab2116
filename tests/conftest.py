"""Shared fixtures: a real mosquitto on a free loopback port, and a deterministic model bundle."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # test helpers (toybundle, mqttcollect)

from auroral.edge.broker import LocalBroker  # noqa: E402
from toybundle import make_toy_bundle  # noqa: E402


@pytest.fixture
def broker():
    with LocalBroker() as running:
        yield running


@pytest.fixture(scope="session")
def toy_bundle(tmp_path_factory):
    return make_toy_bundle(tmp_path_factory.mktemp("bundle") / "toy")
