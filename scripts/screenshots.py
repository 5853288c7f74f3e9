"""Screenshots of every dashboard page: ja and en, phone and desktop, light and dark.

    .venv/bin/python scripts/screenshots.py OUTDIR [--only now,bill] [--quick]

Seeds a realistic database in a temporary directory (a solar household selling at midday, an
outage of six hours and a lost day, recording that began in the middle of August, a December
without a fuel-cost price), starts the dashboard on a free loopback port with the server's
clock at 2026-12-03 12:10 JST, drives headless Chromium (/usr/bin/chromium, or
ROUTEB_CHROMIUM) through every page and writes PNGs named page-lang-device-theme.png to
OUTDIR. Nothing is fetched from outside; nothing is written outside OUTDIR and the temporary
directory. `make screenshots` runs it into artifacts/screens/.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import tomllib
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the seeded household lives with the browser tests

from playwright.async_api import Page, async_playwright  # noqa: E402

from routeb.live import LinkSnapshot  # noqa: E402
from routeb.tariff import parse_tariff  # noqa: E402
from tests.browser_helpers import (  # noqa: E402
    CHROMIUM,
    HOUSEHOLD_NOW,
    HOUSEHOLD_TARIFF,
    household_state,
    running_dashboard,
    seed_household,
)

DEVICES = {
    "desktop": {"viewport": {"width": 1440, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
# page name → URL path (the history views and the bill of the period with the outage)
PAGES = {
    "now": "/",
    "today": "/today",
    "history-day": "/history?view=day&date=2026-12-03",
    "history-outage": "/history?view=day&date=2026-11-20",
    "history-week": "/history?view=week&date=2026-12-03",
    "history-month": "/history?view=month&date=2026-08-26",
    "history-year": "/history?view=year&date=2026-12-03",
    "history-range": "/history?view=range&from=2026-08-01&to=2026-12-31",
    "bill": "/bill?date=2026-11-20",
    "bill-current": "/bill?date=2026-12-03",
    "meter": "/meter",
}


async def _settle(page: Page) -> None:
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(400)


async def shoot(out: Path, only: set[str] | None, quick: bool) -> list[Path]:
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="routeb-screens-") as tmp:
        db = Path(tmp) / "routeb.sqlite3"
        seed_household(db)
        tariff = parse_tariff(tomllib.loads(HOUSEHOLD_TARIFF))
        async with (
            running_dashboard(db, tariff=tariff, clock=lambda: HOUSEHOLD_NOW) as dash,
            async_playwright() as pw,
        ):
            dash.hub.publish(household_state(HOUSEHOLD_NOW - timedelta(seconds=4)))
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM))
            combos = [
                (lang, device, theme)
                for lang in ("ja", "en")
                for device in DEVICES
                for theme in ("light", "dark")
                if not quick or theme == "light"
            ]
            for lang, device, theme in combos:
                context = await browser.new_context(
                    locale="ja-JP" if lang == "ja" else "en-US",
                    timezone_id="Asia/Tokyo",
                    color_scheme=theme,  # type: ignore[arg-type]
                    **DEVICES[device],  # type: ignore[arg-type]
                )
                page = await context.new_page()
                for name, path in PAGES.items():
                    if only and name.split("-")[0] not in only and name not in only:
                        continue
                    await page.goto(dash.base + path)
                    await _settle(page)
                    target = out / f"{name}-{lang}-{device}-{theme}.png"
                    await page.screenshot(path=str(target), full_page=True)
                    written.append(target)
                await context.close()
            # the Now page during trouble: reconnecting, then the credentials refused
            context = await browser.new_context(
                locale="ja-JP", timezone_id="Asia/Tokyo", **DEVICES["phone"]
            )
            page = await context.new_page()
            troubles = {
                "now-recovering": household_state(
                    HOUSEHOLD_NOW - timedelta(seconds=20), link=LinkSnapshot(state="recovering")
                ),
                "now-latched": household_state(
                    HOUSEHOLD_NOW - timedelta(minutes=3),
                    online=False,
                    power_w=None,
                    link=LinkSnapshot(state="latched"),
                    down_detail="SKJOIN: EVENT 24 (PANA authentication failed): check the password",
                ),
            }
            for name, state in troubles.items():
                if only and "now" not in only:
                    break
                dash.hub.publish(state)
                await page.goto(dash.base + "/")
                await _settle(page)
                target = out / f"{name}-ja-phone-light.png"
                await page.screenshot(path=str(target), full_page=True)
                written.append(target)
            await context.close()
            await browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="directory for the PNGs (created)")
    parser.add_argument("--only", help="comma-separated pages (now, today, history, bill, meter)")
    parser.add_argument("--quick", action="store_true", help="light theme only")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        print(f"screenshots: no Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    only = set(args.only.split(",")) if args.only else None
    written = asyncio.run(shoot(args.out, only, args.quick))
    print(f"wrote {len(written)} screenshots to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
