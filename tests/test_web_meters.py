"""Two meters behind one dashboard (issue 17 §4): the API scopes every route by ``meter``, the
meters listing carries each meter's live power and today's energy, the Now page shows the
overview and the picker, in English and Japanese, in real Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from routeb.storage import JST
from tests.browser_helpers import (
    ARTIFACTS,
    METER,
    Running,
    live_state,
    running_dashboard,
    seed,
    skip_without_browser,
)

NOW = datetime(2026, 5, 20, 12, 10, tzinfo=JST)
OTHER = "ev"  # a second contract's meter (an EV charger)
# The EV meter missed the 06:00 boundary: the 05:30 and 06:00 half-hours have no usage.
SKIPPED = frozenset({datetime(2026, 5, 20, 6, 0, tzinfo=JST).astimezone(UTC)})


def _two_meters(path: Path, until: datetime) -> None:
    day = until.astimezone(JST).date()
    seed(path, day - timedelta(days=2), until)
    seed(path, day - timedelta(days=1), until, meter=OTHER, skip=SKIPPED)


@pytest.fixture
async def dash(tmp_path: Path) -> AsyncIterator[Running]:
    db = tmp_path / "routeb.sqlite3"
    _two_meters(db, NOW)
    async with running_dashboard(db, clock=lambda: NOW) as running:
        running.hub.publish(live_state(1234, NOW - timedelta(seconds=5)))
        running.hub.publish(replace(live_state(-2345, NOW - timedelta(seconds=5)), meter=OTHER))
        yield running


async def _get(running: Running, path: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(running.base + path) as response:
        return response.status, json.loads(await response.text(), parse_float=Decimal)


async def test_meters_listing_has_live_power_and_todays_energy(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/meters")
    assert status == 200
    rows = {m["key"]: m for m in body["meters"]}
    assert set(rows) == {METER, OTHER}
    assert rows[METER]["power_w"] == 1234
    assert rows[OTHER]["power_w"] == -2345
    assert rows[METER]["status"] == "live"
    # 00:00–11:30 JST: 14 slots of 0.2 kWh and 10 of 0.5 (browser_helpers), sold 4 × 0.1.
    assert rows[METER]["today_import_kwh"] == Decimal("7.8000")
    assert rows[METER]["today_export_kwh"] == Decimal("0.4000")
    # Without the 05:30 and 06:00 half-hours (0.2 kWh each).
    assert rows[OTHER]["today_import_kwh"] == Decimal("7.4000")


async def test_every_route_is_scoped_to_the_meter_asked_for(dash: Running) -> None:
    day = NOW.date().isoformat()
    for path in (
        "/api/v1/latest",
        "/api/v1/readings?resolution=raw",
        f"/api/v1/slots?from={day}T00:00:00%2B09:00&to={day}T12:00:00%2B09:00",
        f"/api/v1/daily?from={day}&to={day}",
        f"/api/v1/monthly?from={day}&to={day}",
        "/api/v1/meter",
        "/api/v1/events",
    ):
        for key in (METER, OTHER):
            sep = "&" if "?" in path else "?"
            status, body = await _get(dash, f"{path}{sep}meter={key}")
            assert status == 200, (path, body)
            assert body["meter"] == key, path
    _, mine = await _get(dash, f"/api/v1/daily?from={day}&to={day}&meter={METER}")
    _, theirs = await _get(dash, f"/api/v1/daily?from={day}&to={day}&meter={OTHER}")
    assert mine["days"] != theirs["days"]
    status, body = await _get(dash, "/api/v1/daily?meter=nope")
    assert status == 404
    assert body["error"] == "no meter 'nope' (see /api/v1/meters)"


async def test_openapi_lists_the_meters_and_a_meter_parameter_everywhere(dash: Running) -> None:
    _, doc = await _get(dash, "/openapi.json")
    meters = doc["paths"]["/api/v1/meters"]["get"]
    props = meters["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    item = props["meters"]["items"]["properties"]
    assert {"power_w", "today_import_kwh", "today_export_kwh", "status"} <= set(item)
    for path, ops in doc["paths"].items():
        if path == "/api/v1/meters":
            continue
        names = {p["name"] for p in ops["get"].get("parameters", [])}
        assert "meter" in names, path


async def test_one_meter_is_todays_behaviour(tmp_path: Path) -> None:
    db = tmp_path / "one.sqlite3"
    seed(db, date(2026, 5, 19), NOW)
    async with running_dashboard(db, clock=lambda: NOW) as running:
        status, body = await _get(running, "/api/v1/latest")
        assert status == 200
        assert body["meter"] == METER
        _, listing = await _get(running, "/api/v1/meters")
        assert [m["key"] for m in listing["meters"]] == [METER]
        assert listing["default"] == METER


async def test_overview_and_picker_in_chromium(browser: Any, tmp_path: Path) -> None:
    skip_without_browser()
    from playwright.async_api import expect  # noqa: PLC0415 - browser tests only

    now = datetime.now(UTC)
    db = tmp_path / "live.sqlite3"
    boundary = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    first_end = datetime.combine(now.astimezone(JST).date(), time(0, 30), JST).astimezone(UTC)
    _two_meters(db, max(boundary, first_end))
    async with running_dashboard(db) as dash:
        dash.hub.publish(live_state(1234, datetime.now(UTC)))
        dash.hub.publish(replace(live_state(-2345, datetime.now(UTC)), meter=OTHER))
        context = await browser.new_context(locale="en-US", timezone_id="Asia/Tokyo")
        page = await context.new_page()
        await page.goto(dash.base + "/")
        table = page.get_by_test_id("meters-overview")
        await expect(page.locator("#meters-overview")).to_be_visible()
        await expect(table.locator("tbody tr")).to_have_count(2)
        mine = table.locator(f"tbody tr[data-meter='{METER}']")
        theirs = table.locator(f"tbody tr[data-meter='{OTHER}']")
        await expect(mine).to_contain_text("1,234 W")
        await expect(mine).to_contain_text("Receiving readings")
        await expect(theirs).to_contain_text("-2,345 W")
        await expect(mine.locator("td").nth(3)).to_have_text(re.compile(r"^\d[\d,]*\.\d\d kWh$"))
        await expect(page.get_by_test_id("power")).to_have_text("1,234")  # the default meter
        # The picker: choosing the other meter scopes every page to it.
        picker = page.locator("#meter-select")
        await expect(picker).to_be_visible()
        await picker.select_option(OTHER)
        await expect(page).to_have_url(re.compile(r"\?meter=ev$"))
        await expect(page.get_by_test_id("power")).to_have_text("2,345")
        await expect(page.locator("#direction")).to_have_text("Selling")
        await expect(theirs.locator("td").first).to_contain_text("(shown below)")
        await page.goto(dash.base + "/meter")  # the choice stays for the other pages
        await expect(page.locator("#meter-info")).to_contain_text(OTHER)
        # A link from the overview, in Japanese.
        await page.goto(dash.base + "/")
        await page.locator("#lang-toggle").click()
        await expect(page.locator("#meters-overview h2")).to_have_text("すべてのメーター")
        await expect(mine).to_contain_text("受信中")
        await mine.locator("a").click()
        await expect(page).to_have_url(re.compile(r"\?meter=m1$"))
        await expect(page.get_by_test_id("power")).to_have_text("1,234")
        await expect(mine.locator("td").first).to_contain_text("(表示中)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "now-two-meters.png"), full_page=True)
        await context.close()
