"""Absurd dates to every API route: a 400 that names the parameter, never a 500.

The routes are taken from the running application's router, so a new route is covered the
day it is added."""

from __future__ import annotations

import json
import tomllib
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from routeb.storage import JST
from routeb.tariff import parse_tariff
from tests.browser_helpers import TARIFF_TOML, Running, live_state, running_dashboard, seed

NOW = datetime(2026, 5, 20, 12, 10, tzinfo=JST)
ABSURD = [
    "0001-01-01T08:59+09:00",  # before datetime.min once in UTC: OverflowError before
    "0001-01-01",
    "9999-12-31T23:59-05:00",  # after datetime.max in UTC
    "9999-12-31",
    "1900-02-29",
    "2026-13-01",
    "20260520",
    "2026-05-20T25:00",
    "-1",
    "9" * 40,
    "nan",
    "2026-05",
    "0000-00-00",
    "2026-05-20T12:00+99:00",
]


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[Running]:
    db = tmp_path / "routeb.sqlite3"
    seed(db, date(2026, 5, 18), NOW)
    tariff = parse_tariff(tomllib.loads(TARIFF_TOML))
    async with running_dashboard(db, tariff=tariff, clock=lambda: NOW) as running:
        running.hub.publish(live_state(1234, NOW - timedelta(seconds=5)))
        yield running


def _api_routes(running: Running) -> list[str]:
    paths = {
        resource.canonical
        for resource in running.server.app.router.resources()
        if resource.canonical.startswith("/api/")
    }
    return sorted(paths - {"/api/v1/stream"})  # an event stream: covered below on its own


async def test_absurd_dates_to_every_api_route(dash: Running) -> None:
    routes = _api_routes(dash)
    assert len(routes) >= 8
    seen_400 = 0
    async with aiohttp.ClientSession() as http:
        for route in routes:
            for value in ABSURD:
                for query in ({"from": value}, {"to": value}, {"from": value, "to": value}):
                    async with http.get(dash.base + route, params=query) as response:
                        text = await response.text()
                        assert response.status in {200, 400}, f"{route} {query}: {text}"
                        if response.status == 400:
                            seen_400 += 1
                            error = json.loads(text)["error"]
                            assert any(name in error for name in query), (route, query, error)
        # The stream takes no range: a bad one must not break it either.
        async with http.get(dash.base + "/api/v1/stream", params={"from": ABSURD[0]}) as r:
            assert r.status in {200, 400}
    assert seen_400 > len(routes)  # the ranged routes refused them
