"""Shared fixtures: a real mosquitto on a free loopback port, and a deterministic model bundle."""
from __future__ import annotations

import pytest

from auroral.edge.tools.broker import LocalBroker
from support.toybundle import make_toy_bundle


@pytest.fixture
def broker():
    with LocalBroker() as running:
        yield running


@pytest.fixture(scope="session")
def toy_bundle(tmp_path_factory):
    return make_toy_bundle(tmp_path_factory.mktemp("bundle") / "toy")
