"""The dashboard in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Each test saves a screenshot under artifacts/browser/ (git-ignored; ROUTEB_TEST_ARTIFACTS moves
it). Every request the page makes is checked to stay on the dashboard's own origin.
Without Chromium or Playwright the tests are skipped, unless ROUTEB_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from routeb.storage import JST, SlotSource
from routeb.tariff import parse_tariff
from tests.browser_helpers import (
    ARTIFACTS,
    TARIFF_TOML,
    live_state,
    running_dashboard,
    seed,
    skip_without_browser,
)

skip_without_browser()
from playwright.async_api import Browser, Page, expect  # noqa: E402

IMPORT_RGB = (0x1F, 0x5F, 0xCC)  # --import in light mode (app.css)


async def _page(browser: Browser, base: str, **options: Any) -> tuple[Page, list[str]]:
    """A page that refuses (and records) any request leaving ``base``."""
    context = await browser.new_context(
        locale=options.pop("locale", "en-US"), timezone_id="Asia/Tokyo", **options
    )
    page = await context.new_page()
    foreign: list[str] = []

    async def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith((base, "blob:", "data:")):
            await route.continue_()
        else:
            foreign.append(url)
            await route.abort()

    await page.route("**/*", guard)
    return page, foreign


async def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _seeded(tmp_path: Path, **kwargs: Any) -> Path:
    now = _now()
    db = tmp_path / "routeb.sqlite3"
    today = now.astimezone(JST).date()
    boundary = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    # At least one whole half-hour of today, whatever the time: in the first half-hour after
    # JST midnight today would otherwise have no usage, and every page would show "—" for it.
    first_slot_end = datetime.combine(today, time(0, 30), JST).astimezone(UTC)
    seed(db, today - timedelta(days=2), max(boundary, first_slot_end), **kwargs)
    return db


async def test_now_page_follows_the_live_state(browser: Browser, tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    async with running_dashboard(db) as dash:
        dash.hub.publish(live_state(1234, _now()))
        page, foreign = await _page(browser, dash.base)
        await page.goto(dash.base + "/")
        power = page.get_by_test_id("power")
        await expect(power).to_have_text("1,234")
        await expect(page.locator("#direction")).to_have_text("Buying")
        await expect(page.locator("#link-state")).to_have_text("connected")  # "ready", in words
        await expect(page.locator("#current-r")).to_have_text("12.5 A")
        await expect(page.locator("#stale-banner")).to_be_hidden()
        dash.hub.publish(live_state(-2345, _now()))  # solar: selling
        await expect(power).to_have_text("2,345", timeout=2000)  # within a second or so
        await expect(page.locator("#direction")).to_have_text("Selling")
        dash.hub.publish(live_state(900, _now(), current_r_a=26, contract_amperes=30))
        await expect(power).to_have_text("900", timeout=2000)
        await expect(page.locator("#current-warning")).to_be_visible()
        await _shot(page, "now-live")
        assert foreign == []


async def test_stale_banner_when_readings_stop(browser: Browser, tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    async with running_dashboard(db, stale_after_s=4.0) as dash:
        page, foreign = await _page(browser, dash.base)
        await page.goto(dash.base + "/")
        # published once the page is up, so a slow page load cannot make it stale already
        dash.hub.publish(live_state(1500, _now()))
        await expect(page.get_by_test_id("power")).to_have_text("1,500")
        await expect(page.locator("#stale-banner")).to_be_hidden()
        # no more readings: within a few seconds the banner shows, and the value is withdrawn
        await expect(page.locator("#stale-banner")).to_be_visible(timeout=12000)
        await expect(page.get_by_test_id("power")).to_have_text("unavailable")
        await _shot(page, "now-stale")
        dash.hub.publish(live_state(1600, _now()))  # readings resume
        await expect(page.locator("#stale-banner")).to_be_hidden(timeout=3000)
        await expect(page.get_by_test_id("power")).to_have_text("1,600")
        assert foreign == []


async def test_history_draws_bars_for_a_backfilled_day(browser: Browser, tmp_path: Path) -> None:
    db = _seeded(tmp_path, source=SlotSource.HISTORY1)  # as the backfill writes them
    yesterday = (_now().astimezone(JST) - timedelta(days=1)).date().isoformat()
    async with running_dashboard(db) as dash:
        page, foreign = await _page(browser, dash.base, viewport={"width": 1000, "height": 900})
        await page.goto(f"{dash.base}/history?view=day&date={yesterday}")
        rows = page.locator("#history-table tbody tr")
        await expect(rows).to_have_count(48)
        await expect(page.locator("#hist-import")).to_have_text("18.60")
        await expect(page.locator("#hist-export")).to_have_text("0.80")
        canvas = page.locator("#history-chart canvas")
        await expect(canvas).to_have_count(1)
        bar_pixels = await canvas.evaluate(
            """(canvas, rgb) => {
                const data = canvas.getContext("2d")
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                let n = 0;
                for (let i = 0; i < data.length; i += 4) {
                    if (data[i] === rgb[0] && data[i + 1] === rgb[1] && data[i + 2] === rgb[2]
                        && data[i + 3] === 255) n++;
                }
                return n;
            }""",
            list(IMPORT_RGB),
        )
        assert bar_pixels > 2000, bar_pixels  # 48 filled bars, not an empty plot
        csv = await page.evaluate("window.routeb.csvOfHistory()")
        lines = csv.strip().split("\r\n")
        assert lines[0] == "slot_start,import_kwh,export_kwh"
        assert len(lines) == 49
        assert lines[1].endswith(",0.2000,0.0000")
        await _shot(page, "history-day")
        # the month view of the same data
        await page.select_option("#hist-view", "month")
        await expect(page.locator("#hist-title")).to_contain_text(f"{int(yesterday[5:7])}/1 – ")
        await _shot(page, "history-month")
        assert foreign == []


async def test_token_is_required_on_a_non_loopback_bind(browser: Browser, tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    token = "s3cret-token-for-test"
    async with running_dashboard(db, token=token, host="0.0.0.0") as dash:
        dash.hub.publish(live_state(4321, _now()))
        base = f"http://127.0.0.1:{dash.server.bound_port}"
        page, foreign = await _page(browser, base)
        response = await page.goto(base + "/api/v1/latest")
        assert response is not None
        assert response.status == 401
        await page.goto(base + "/today")
        assert page.url.startswith(base + "/login")
        await page.fill("#token", "wrong")
        await page.click("button[type=submit]")
        await expect(page.locator("#login-error")).to_be_visible()
        await _shot(page, "login-refused")
        await page.fill("#token", token)
        await page.click("button[type=submit]")
        await page.wait_for_url(base + "/today")
        await page.goto(base + "/")
        await expect(page.get_by_test_id("power")).to_have_text("4,321")
        await expect(page.locator("#logout-form")).to_be_visible()
        html = await page.content()
        assert token not in html
        cookies = await page.context.cookies()
        assert all(token not in c["value"] for c in cookies)
        await _shot(page, "token-logged-in")
        assert foreign == []


async def test_japanese_dark_phone(browser: Browser, tmp_path: Path) -> None:
    db = _seeded(tmp_path)
    tariff = parse_tariff(tomllib.loads(TARIFF_TOML))
    async with running_dashboard(db, tariff=tariff) as dash:
        dash.hub.publish(live_state(-800, _now()))
        page, foreign = await _page(
            browser,
            dash.base,
            locale="ja-JP",
            color_scheme="dark",
            viewport={"width": 390, "height": 844},
            is_mobile=True,
        )
        await page.goto(dash.base + "/today")
        await expect(page.locator("[data-page=now]")).to_have_text("現在")
        await expect(page.get_by_test_id("today-energy")).not_to_have_text("—")
        await expect(page.locator("#today-chart canvas")).to_have_count(1)
        await expect(page.locator("#today-sold-card")).to_be_visible()
        # amounts as Japanese bills write them: 1,234円
        await expect(page.locator("#today-cost")).to_contain_text("円")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling on a phone
        await _shot(page, "today-ja-dark-phone")
        await page.click("#lang-toggle")  # switchable, and remembered
        await expect(page.locator("[data-page=now]")).to_have_text("Now")
        await page.goto(dash.base + "/meter")
        await expect(page.locator("#meter-info")).to_contain_text("SN-12345")
        await expect(page.locator("#events-table tbody tr")).to_have_count(2)
        await _shot(page, "meter-en-dark-phone")
        assert foreign == []


async def test_date_fields_write_the_pages_language(browser: Browser, tmp_path: Path) -> None:
    # An English browser (Chromium's native date input would say mm/dd/yyyy whatever the
    # page's language) showing the Japanese page: the date reads 2026/12/02, as Japanese forms
    # write it; typed in that order it loads that day; a day that does not exist is refused.
    db = _seeded(tmp_path)
    tariff = parse_tariff(tomllib.loads(TARIFF_TOML))
    today = _now().astimezone(JST).date()
    yesterday, before = today - timedelta(days=1), today - timedelta(days=2)
    async with running_dashboard(db, tariff=tariff) as dash:
        page, foreign = await _page(browser, dash.base)
        await page.goto(f"{dash.base}/history?view=day&date={yesterday.isoformat()}")
        field = page.locator("#hist-date")
        await expect(field).to_have_value(yesterday.isoformat())  # en: ISO 2026-12-02
        await expect(field).to_have_attribute("placeholder", "YYYY-MM-DD")
        await page.click("#lang-toggle")
        await expect(page.locator("html")).to_have_attribute("lang", "ja")
        await expect(field).to_have_value(f"{yesterday:%Y/%m/%d}")
        await expect(field).to_have_attribute("placeholder", "YYYY/MM/DD")
        await expect(page.locator("#history-table tbody tr")).to_have_count(48)
        await field.fill(f"{before.year}年{before.month}月{before.day}日")
        await field.press("Enter")
        await expect(page).to_have_url(f"{dash.base}/history?view=day&date={before.isoformat()}")
        await expect(field).to_have_value(f"{before:%Y/%m/%d}")
        await field.fill(f"{today.year}/02/30")
        await field.press("Enter")
        await expect(field).to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#hist-error")).to_have_text(
            "日付を YYYY/MM/DD の形で入力してください"
        )
        assert f"date={before.isoformat()}" in page.url  # nothing loaded for it
        # The calendar button's native picker hands its ISO value to the field.
        await page.locator("#hist-date ~ input.date-picker").evaluate(
            """(picker, iso) => { picker.value = iso;
                picker.dispatchEvent(new Event("change", { bubbles: true })); }""",
            yesterday.isoformat(),
        )
        await expect(field).to_have_value(f"{yesterday:%Y/%m/%d}")
        await expect(field).not_to_have_attribute("aria-invalid", "true")
        await expect(page.locator("#hist-error")).to_be_hidden()
        await expect(page).to_have_url(f"{dash.base}/history?view=day&date={yesterday.isoformat()}")
        await expect(page.locator("#hist-date + button.date-open")).to_have_attribute(
            "aria-label", "カレンダーから選ぶ"
        )
        # The bill page's field, in the language the page remembered.
        await page.goto(f"{dash.base}/bill?date={yesterday.isoformat()}")
        await expect(page.locator("#bill-date")).to_have_value(f"{yesterday:%Y/%m/%d}")
        await _shot(page, "bill-ja-date")
        assert foreign == []
