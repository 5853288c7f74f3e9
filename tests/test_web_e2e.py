"""End to end in the browser: the emulator on a pty → the real Wi-SUN driver and collector →
SQLite and the live hub → the dashboard → headless Chromium. The Now page shows the meter's
power, follows it as the emulated household's load changes, and turns stale ("unavailable",
the banner) when the meter stops answering."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from routeb._redact import Secret
from routeb.collector.daemon import Collector, CollectorSettings, MeterLink
from routeb.collector.links import open_wisun
from routeb.collector.recording import StoreRecorder
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.module import ModuleFaults
from routeb.live import LiveHub
from routeb.meter.client import ClientSettings
from routeb.storage import AsyncStore
from tests.browser_helpers import ARTIFACTS, running_dashboard, skip_without_browser

skip_without_browser()
from playwright.async_api import Browser, expect  # noqa: E402

pytestmark = pytest.mark.timeout(150)


@contextlib.asynccontextmanager
async def _recording(tmp_path: Path) -> AsyncIterator[tuple[Emulator, LiveHub, Path]]:
    # The meter's clock runs 120× so its household's load visibly changes between readings.
    emulator = Emulator(EmulatorOptions(time_scale=0.01, clock_speed=120.0))
    ready = await emulator.start()
    db = tmp_path / "routeb.sqlite3"
    store = AsyncStore(db)
    await store.open()
    hub = LiveHub()

    def connect() -> contextlib.AbstractAsyncContextManager[MeterLink]:
        return open_wisun(
            ready["serial"],
            Secret(DEFAULT_ID),
            Secret(DEFAULT_PASSWORD),
            state_dir=tmp_path / "state",
            client_settings=ClientSettings(min_gap=0.05),
        )

    collector = Collector(
        connect,
        StoreRecorder(store),
        hub,
        CollectorSettings(meter="m1", instant_interval=5.0, retry_delay=1.0),
    )
    task = asyncio.create_task(collector.run())
    try:
        yield emulator, hub, db
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
        await emulator.close()


def _watts(text: str) -> int:
    return int(text.replace(",", ""))


async def test_now_page_follows_the_emulated_meter_then_goes_stale(
    browser: Browser, tmp_path: Path
) -> None:
    async with (
        _recording(tmp_path) as (emulator, hub, db),
        running_dashboard(db, hub=hub, stale_after_s=8.0, meter="m1") as dash,
    ):
        page = await browser.new_page(locale="en-US", timezone_id="Asia/Tokyo")
        await page.goto(dash.base + "/")
        power = page.get_by_test_id("power")
        await expect(power).to_have_text(re.compile(r"^-?[\d,]+$"), timeout=60_000)
        first = _watts(await power.inner_text())
        # The value is the household's power at the meter's clock (within the last poll).
        now = emulator.clock.now()
        household = emulator.meter.household
        recent = {household.power_at(now - timedelta(seconds=s)) for s in range(1800)}
        assert first in recent
        # The load changes; the page follows without a reload.
        for _ in range(60):
            await asyncio.sleep(0.5)
            text = await power.inner_text()
            if text.replace(",", "").lstrip("-").isdigit() and _watts(text) != first:
                break
        else:
            pytest.fail(f"the Now page kept showing {first} W")
        await expect(page.locator("#stale-banner")).to_be_hidden()
        await expect(page.locator("#link-state")).to_have_text("connected")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "e2e-now-live.png"), full_page=True)
        # The Meter page shows the maker code the meter answers to 0x8A (it showed "—").
        meter_page = await browser.new_page(locale="en-US", timezone_id="Asia/Tokyo")
        await meter_page.goto(dash.base + "/meter")
        maker = f"0x{emulator.meter.profile.maker_code:06X}"
        await expect(meter_page.locator("#meter-info")).to_contain_text(maker, timeout=10_000)
        await meter_page.close()
        # The meter stops answering: the page says so instead of showing an old value.
        emulator.module.faults = ModuleFaults(drop=1.0)
        await expect(page.locator("#stale-banner")).to_be_visible(timeout=30_000)
        await expect(power).to_have_text("unavailable")
        await page.screenshot(path=str(ARTIFACTS / "e2e-now-stale.png"), full_page=True)
