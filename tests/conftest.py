"""Shared fixtures: real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.mosquitto import Broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A running Mosquitto, stopped after the test."""
    server = Broker(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
