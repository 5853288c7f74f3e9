"""Shared fixtures: real servers on loopback; a temporary HOME; nothing written outside temp;
every async test fails when it leaves tasks running (architecture rule 13).

The whole run gets a HOME (and XDG directories) of its own, so neither routeb nor a server it
starts can touch the real home, and the ``ROUTEB_*`` configuration variables of the user's
shell are dropped (the suite's own settings, ``ROUTEB_REQUIRE_*`` and ``ROUTEB_TEST_*``,
stay). An audit hook (PEP 578) sees every file this process opens for writing, every
directory it makes and every SQLite database it opens; anything outside the temporary
directories fails the test that did it
(``tests/write_guard.py``). The one declared output is the screenshots directory of the browser
tests (``artifacts/``, or ``ROUTEB_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from routeb.config import environment_variables
from tests import write_guard
from tests.servers.homeassistant import HomeAssistant, ha_venv
from tests.servers.mosquitto import Broker
from tests.servers.postgres import Postgres

# Speed is measured in bench/, not in tests: a property test on a loaded machine (CI, or
# several suites at once) must not fail on hypothesis's 200 ms per-example deadline.
settings.register_profile("routeb", deadline=None)
settings.load_profile("routeb")

# Loop turns a task that was just cancelled or completed may need to finish.
_SETTLE_TURNS = 20


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put :func:`no_lingering_tasks` first in every async test, so that it is set up first
    and torn down last: it sees what is left after every other fixture has cleaned up."""
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            names: list[str] = item.fixturenames  # type: ignore[attr-defined]
            if "no_lingering_tasks" not in names:
                names.insert(0, "no_lingering_tasks")


@pytest.fixture
async def no_lingering_tasks() -> AsyncIterator[None]:
    """Architecture rule 13: an async test fails when tasks it started outlive it."""
    before = asyncio.all_tasks()
    yield
    left: set[asyncio.Task[Any]] = set()
    for _ in range(_SETTLE_TURNS):
        left = asyncio.all_tasks() - before - {asyncio.current_task()}  # type: ignore[operator]
        if not left:
            return
        await asyncio.sleep(0)
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
    names = ", ".join(sorted(getattr(t.get_coro(), "__qualname__", repr(t)) for t in left))
    pytest.fail(f"{len(left)} task(s) still running after the test: {names}", pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    """Before any test module is imported: a temporary HOME, then the write guard."""
    real_pyenv = Path.home() / ".pyenv"
    if real_pyenv.is_dir():
        os.environ.setdefault("PYENV_ROOT", str(real_pyenv))  # scripts/ha-venv.sh finds 3.13
    home = Path(tempfile.mkdtemp(prefix="routeb-test-home-"))
    os.environ["HOME"] = str(home)
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        os.environ[name] = str(home / sub)
    for name in environment_variables() & set(os.environ):
        del os.environ[name]  # the suite's own settings (ROUTEB_REQUIRE_*, ROUTEB_TEST_*) stay
    artifacts = Path(os.environ.get("ROUTEB_TEST_ARTIFACTS", "artifacts"))
    write_guard.install(Path(config.rootpath), artifacts)


@pytest.fixture(autouse=True)
def _nothing_written_outside_temp() -> Iterator[None]:
    """Fail the test that wrote outside the temporary directories (names the path)."""
    write_guard.take_violations()
    yield
    found = write_guard.take_violations()
    if found:
        pytest.fail("written outside the temporary directories:\n" + "\n".join(found))


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
