"""Shared fixtures: real servers on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.homeassistant import HomeAssistant, ha_venv
from tests.servers.mosquitto import Broker
from tests.servers.postgres import Postgres


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A running Mosquitto, stopped after the test."""
    server = Broker(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def home_assistant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HomeAssistant]:
    """One real Home Assistant core for the run, onboarded (tests/servers/homeassistant.py).

    Tests share it: each uses its own meter's statistic ids and entities.
    """
    server = HomeAssistant(tmp_path_factory.mktemp("ha"), ha_venv())
    asyncio.run(server.start())
    try:
        asyncio.run(server.onboard())
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """One real PostgreSQL for the run; each test takes its own database (``dsn``)."""
    server = Postgres()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dsn(postgres: Postgres) -> str:
    """A fresh, migrated fleet database."""
    import psycopg  # noqa: PLC0415 - only the fleet tests need it

    from routeb.fleet import pg  # noqa: PLC0415

    url = postgres.create_database()
    with psycopg.connect(url) as conn:
        pg.migrate(conn)
    return url


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Debian Chromium through Playwright (modules call skip_without_browser first)."""
    from playwright.async_api import async_playwright  # noqa: PLC0415 - browser tests only

    from tests.browser_helpers import CHROMIUM  # noqa: PLC0415

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            await chromium.close()
