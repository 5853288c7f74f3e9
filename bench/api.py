"""Latency of the dashboard's JSON API and first render of its pages, over ten years of data.

Builds (once; reused while the file exists) a synthetic database through the project's own
store, ``SqliteStore.write`` in big batches: one meter, 30-minute slots for ten years (about
175 000 boundaries, a household with rooftop PV: import and export counters, a few gaps) and
10-second instantaneous readings for the raw retention period (31 days, about 268 000 rows),
plus hourly cumulative readings, metadata and link events. Then starts the real application
as ``routeb run`` does (``build_app`` + ``build_dashboard`` with the example tiered tariff,
served by ``HttpServer`` on 127.0.0.1, port 0) in a child process, and measures over real HTTP
from this one:

- every API request kind the pages make (and the largest ranges the history page can ask
  for): ``--requests`` sequential requests each after ``--warmup``, with dates drawn at random
  across the ten years (raw readings: across the retention period) so that no cache flatters;
  p50 and p99 of the time from sending the request to the last byte of the body; the whole
  pass is repeated ``--runs`` times (fresh random dates each), and the table gives the median
  of the runs' p50 and p99 with the range of p99 over the runs (one run's p99 rests on its two
  slowest requests, so a single run's figure is mostly the machine's noise);
- time to first render of each page in headless Chromium (Playwright): from navigation start
  to the animation frame in which the page's main chart or value element is first in the
  layout with a non-empty box; median of ``--loads`` loads, each in a fresh browser context
  (cold HTTP cache).

Targets: p99 under 50 ms for any history query, first render under 1 s.

    python bench/api.py [--db PATH] [--rebuild] [--requests 200]
                        [--warmup 10] [--runs 5] [--loads 5] [--out docs/benchmarks-api.md]

Without ``--db`` the database is built in a fresh temporary directory that is removed at the
end (a fixed path under /tmp could collide with another user's file or a stale schema); pass
``--db PATH`` to keep it and reuse it across runs (building takes about a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp

from routeb.echonet.energy import EnergyScale
from routeb.live import LiveHub
from routeb.storage import (
    JST,
    CumulativeReading,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterUpdate,
    Record,
    SlotReading,
    SlotSource,
    SqliteStore,
)
from routeb.tariff import load_tariff
from routeb.web.dashboard import build_dashboard
from routeb.web.server import HttpServer, build_app

if TYPE_CHECKING:
    from playwright.async_api import Page

ROOT = Path(__file__).resolve().parent.parent
TARIFF = ROOT / "examples" / "tariffs" / "standard-tiered.toml"
CHROMIUM = Path(os.environ.get("ROUTEB_CHROMIUM", "/usr/bin/chromium"))
METER = "bench"
SCALE = EnergyScale(1, Decimal("0.1"))  # E1 0x01: 0.1 kWh per count, the common case
DIGITS = 6
YEARS_DAYS = 3653  # ten years of JST days, ending today
RAW_DAYS = 31  # storage.retention_days (default)
INSTANT_STEP = 10  # seconds
SLOT_S = 1800
BATCH = 25_000  # records per SqliteStore.write (one transaction)
SLOT_GAP_RATE = 0.0005  # boundaries lost for good (the meter's history did not reach back)
TARGET_QUERY_MS = 50.0
TARGET_RENDER_MS = 1000.0


# --- the synthetic household ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Day:
    """Per-day randomness: how sunny, how busy the household."""

    sun: float
    activity: float


def _day_of(rng: random.Random, cache: dict[date, Day], day: date) -> Day:
    found = cache.get(day)
    if found is None:
        found = Day(rng.betavariate(2.2, 1.3), rng.uniform(0.8, 1.25))
        cache[day] = found
    return found


def household_w(at: datetime, day: Day) -> tuple[float, float]:
    """(consumption W, PV generation W) averaged around the JST instant ``at``."""
    local = at.astimezone(JST)
    hour = local.hour + local.minute / 60 + local.second / 3600
    doy = local.timetuple().tm_yday
    winter = 0.45 * max(0.0, math.cos(2 * math.pi * (doy - 20) / 365))
    summer = 0.55 * max(0.0, math.cos(2 * math.pi * (doy - 215) / 365)) ** 3
    weekend = local.weekday() >= 5
    shape = 230.0  # fridge, standby, router
    shape += 750.0 * math.exp(-(((hour - 7.2) / 1.0) ** 2))  # breakfast, kettle, dryer
    shape += 1150.0 * math.exp(-(((hour - 19.5) / 1.8) ** 2))  # dinner, TV, bath
    if weekend:
        shape += 450.0 * math.exp(-(((hour - 13.0) / 2.5) ** 2))
    load = shape * (1 + winter + summer * (1 if 11 <= hour <= 23 else 0.4)) * day.activity
    # 4.5 kW array: longer, higher days in summer.
    half_length = 6.0 + 1.3 * math.cos(2 * math.pi * (doy - 172) / 365)
    solar_x = (hour - 12.0) / half_length
    pv = 0.0
    if -1 < solar_x < 1:
        pv = 4500.0 * math.cos(solar_x * math.pi / 2) ** 1.5 * (0.15 + 0.85 * day.sun)
    return load, pv


def _jst_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), JST)


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    batch: list[Record] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _slot_records(
    first: datetime, end: datetime, rng: random.Random, days: dict[date, Day]
) -> Iterator[Record]:
    """Every boundary from ``first`` to ``end`` with the counters at that moment."""
    imp_kwh, exp_kwh = 12_345.6, 210.4
    at = first
    outage = first + timedelta(days=rng.randrange(200, 3000))  # one long outage: 7 h lost
    while at <= end:
        lost = rng.random() < SLOT_GAP_RATE or outage <= at < outage + timedelta(hours=7)
        if not lost:
            source = SlotSource.PUSH if rng.random() < 0.97 else SlotSource.HISTORY1
            yield SlotReading(
                METER,
                at,
                int(imp_kwh * 10),
                int(exp_kwh * 10),
                source,
                SCALE,
                DIGITS,
            )
        load, pv = household_w(at + timedelta(minutes=15), _day_of(rng, days, _jday(at)))
        load *= rng.uniform(0.7, 1.35)
        net = load - pv
        imp_kwh += max(net, 0.0) / 2000  # W over half an hour → kWh
        exp_kwh += max(-net, 0.0) / 2000
        at += timedelta(seconds=SLOT_S)


def _jday(at: datetime) -> date:
    return at.astimezone(JST).date()


def _instant_records(
    first: datetime, end: datetime, rng: random.Random, days: dict[date, Day]
) -> Iterator[Record]:
    """10-second power and currents (single-phase three-wire: R and T legs)."""
    at = first
    step = timedelta(seconds=INSTANT_STEP)
    appliance = 0.0
    while at < end:
        if rng.random() < 0.004:  # something switched on or off
            appliance = rng.choice((0.0, 0.0, 120.0, 600.0, 1200.0))
        if rng.random() < 0.002:  # a sample the meter did not answer
            at += step
            continue
        load, pv = household_w(at, _day_of(rng, days, _jday(at)))
        load = load * rng.uniform(0.9, 1.1) + appliance
        net = round(load - pv)
        leg = abs(net) / 200
        split = rng.uniform(0.35, 0.65)
        yield InstantReading(
            METER,
            at,
            net,
            Decimal(f"{leg * 2 * split:.1f}"),
            Decimal(f"{leg * 2 * (1 - split):.1f}"),
        )
        at += step


def _cumulative_records(first: datetime, end: datetime) -> Iterator[Record]:
    """Hourly E0/E3 polls over the retention period (their values do not matter here)."""
    at = first
    raw = 500_000
    while at < end:
        yield CumulativeReading(METER, at + timedelta(seconds=7), raw, 4_000, SCALE, DIGITS)
        raw += 4
        at += timedelta(hours=1)


def _other_records(first: datetime, end: datetime, rng: random.Random) -> Iterator[Record]:
    yield MeterUpdate(
        METER,
        end,
        MeterMetadata(
            maker_code=0x000016,
            serial="BENCH-0001",
            release="J",
            coefficient=1,
            unit_code=0x01,
            digits=DIGITS,
            get_map=(0x80, 0x8A, 0xD3, 0xD7, 0xE0, 0xE1, 0xE2, 0xE3, 0xE7, 0xE8, 0xEA, 0xEB),
            set_map=(0x80, 0xE5),
            inf_map=(0x80, 0xEA, 0xEB),
        ),
    )
    at = first
    while at < end:  # a rejoin every few days, a reconnect now and then
        at += timedelta(hours=rng.uniform(24, 120))
        kind = "rejoin" if rng.random() < 0.8 else "connected"
        detail = "reason=timeout" if kind == "rejoin" else "joined after scan"
        yield LinkEvent(METER, min(at, end), kind, detail)


def build_database(path: Path) -> float:
    """Write the ten years through SqliteStore.write; returns the seconds it took."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(20260520)
    days: dict[date, Day] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    last_boundary = datetime.fromtimestamp(int(now.timestamp()) // SLOT_S * SLOT_S, UTC)
    first_day = now.astimezone(JST).date() - timedelta(days=YEARS_DAYS - 1)
    raw_first = now - timedelta(days=RAW_DAYS)
    raw_first = raw_first - timedelta(seconds=int(raw_first.timestamp()) % INSTANT_STEP)
    started = time.perf_counter()
    with SqliteStore(path) as store:
        parts: list[tuple[str, Iterator[Record]]] = [
            ("slots", _slot_records(_jst_midnight(first_day), last_boundary, rng, days)),
            ("instant", _instant_records(raw_first, now, rng, days)),
            ("cumulative", _cumulative_records(raw_first, now)),
            ("events and metadata", _other_records(_jst_midnight(first_day), now, rng)),
        ]
        for name, records in parts:
            t0 = time.perf_counter()
            count = 0
            for batch in _batches(records, BATCH):
                store.write(batch)
                count += len(batch)
            spent = time.perf_counter() - t0
            print(f"  {name:20} {count:>8} records in {spent:6.1f} s", flush=True)
    elapsed = time.perf_counter() - started
    with contextlib.closing(sqlite3.connect(path)) as conn:  # compact the WAL into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return elapsed


@dataclass(frozen=True, slots=True)
class Contents:
    """What the database holds (read back, so a reused file is described correctly)."""

    counts: dict[str, int]
    first_day: date
    last_day: date
    raw_first: datetime
    raw_last: datetime
    size_mb: float


def describe(path: Path) -> Contents:
    with SqliteStore(path, read_only=True) as store:
        counts = store.counts()
        conn = store.connection  # read-only queries of the ranges
        low, high = conn.execute("SELECT min(slot_start), max(slot_start) FROM slots").fetchone()
        raw_low, raw_high = conn.execute("SELECT min(ts), max(ts) FROM instant").fetchone()
    return Contents(
        counts,
        datetime.fromtimestamp(low, UTC).astimezone(JST).date(),
        datetime.fromtimestamp(high, UTC).astimezone(JST).date(),
        datetime.fromtimestamp(raw_low, UTC),
        datetime.fromtimestamp(raw_high, UTC),
        path.stat().st_size / 1e6,
    )


# --- the server (child process) ---------------------------------------------------------------


async def serve(db: Path) -> None:
    """The application as `routeb run` builds it; prints the port, runs until SIGTERM."""
    hub = LiveHub()
    app = build_app(hub, lambda: {"routeb_build_info": 1.0})
    build_dashboard(
        app,
        db_path=db,
        hub=hub,
        tariff=load_tariff(TARIFF),
        token=None,
        meter=METER,
        host="127.0.0.1",
    )
    http = HttpServer(app, "127.0.0.1", 0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await http.start()
    try:
        print(json.dumps({"port": http.bound_port}), flush=True)
        await stop.wait()
    finally:
        await http.stop()


@contextlib.contextmanager
def server_process(db: Path) -> Iterator[str]:
    """Start ``serve`` in a child process; yields its base URL."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--db", str(db)], stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise SystemExit("the server process exited before it listened")
        yield f"http://127.0.0.1:{json.loads(line)['port']}"
    finally:
        child.terminate()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


# --- API latency ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One kind of request; ``path`` draws the next URL (dates vary)."""

    name: str
    group: str  # "history", "cost" or "live"
    path: Callable[[random.Random], str]


@dataclass(frozen=True, slots=True)
class Timing:
    case: Case
    p50_ms: float
    p99_ms: float
    max_ms: float
    kbytes: float
    # Over several runs: p50 and p99 are the medians of the runs', p99_low/high their range.
    p99_low: float = 0.0
    p99_high: float = 0.0
    runs: int = 1

    @property
    def target_ms(self) -> float | None:
        return TARGET_QUERY_MS if self.case.group in {"history", "live"} else None


def _months_after(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def cases(contents: Contents) -> list[Case]:
    first, last = contents.first_day, contents.last_day
    span_days = (last - first).days

    def day(rng: random.Random, length: int = 1) -> date:
        return first + timedelta(days=rng.randrange(0, span_days - length + 2))

    def month(rng: random.Random) -> tuple[date, date]:
        start = day(rng, 31).replace(day=1)
        return start, _months_after(start, 1) - timedelta(days=1)

    def year(rng: random.Random) -> int:
        return rng.randrange(first.year + 1, last.year)  # whole calendar years only

    def raw_at(rng: random.Random, hours: float) -> str:
        room = (contents.raw_last - contents.raw_first).total_seconds() - hours * 3600
        start = contents.raw_first + timedelta(seconds=rng.randrange(0, int(room)))
        start = start.replace(second=0).astimezone(JST).replace(tzinfo=None)
        end = start + timedelta(hours=hours)
        return f"from={start.isoformat()}&to={end.isoformat()}"

    def slots_day(rng: random.Random) -> str:
        d = day(rng)
        return f"/api/v1/slots?from={d}&to={d}"

    def slots_week(rng: random.Random) -> str:
        d = day(rng, 7)
        return f"/api/v1/slots?from={d}&to={d + timedelta(days=6)}"

    def daily_month(rng: random.Random) -> str:
        lo, hi = month(rng)
        return f"/api/v1/daily?from={lo}&to={hi}"

    def daily_year(rng: random.Random) -> str:
        y = year(rng)
        return f"/api/v1/daily?from={y}-01-01&to={y}-12-31"

    def daily_all(_rng: random.Random) -> str:
        return f"/api/v1/daily?from={first}&to={last}"

    def monthly_year(rng: random.Random) -> str:
        y = year(rng)
        return f"/api/v1/monthly?from={y}-01&to={y}-12"

    def monthly_all(_rng: random.Random) -> str:
        return f"/api/v1/monthly?from={first:%Y-%m}&to={last:%Y-%m}"

    def cost_day(rng: random.Random) -> str:
        d = day(rng)
        return f"/api/v1/cost?from={d}&to={d}"

    def cost_month_by_day(rng: random.Random) -> str:
        lo, hi = month(rng)
        return f"/api/v1/cost?from={lo}&to={hi}&group=day"

    def cost_year_by_month(rng: random.Random) -> str:
        y = year(rng)
        return f"/api/v1/cost?from={y}-01-01&to={y}-12-31&group=month"

    def cost_billing_year(rng: random.Random) -> str:
        y = year(rng)
        return f"/api/v1/cost?from={y}-01-01&to={y}-12-31&group=billing"

    return [
        Case("`/slots` one day (today, history day)", "history", slots_day),
        Case("`/slots` one week (7 days)", "history", slots_week),
        Case("`/daily` one month (history week/month)", "history", daily_month),
        Case("`/daily` one year", "history", daily_year),
        Case("`/daily` ten years (3 653 days)", "history", daily_all),
        Case("`/monthly` one year (history year)", "history", monthly_year),
        Case("`/monthly` ten years", "history", monthly_all),
        Case(
            "`/readings` raw, 1 h (now page)",
            "history",
            lambda rng: "/api/v1/readings?resolution=raw&" + raw_at(rng, 1),
        ),
        Case(
            "`/readings` raw, 6 h",
            "history",
            lambda rng: "/api/v1/readings?resolution=raw&" + raw_at(rng, 6),
        ),
        Case(
            "`/readings` minute, 1 day",
            "history",
            lambda rng: "/api/v1/readings?resolution=minute&" + raw_at(rng, 24),
        ),
        Case(
            "`/readings` minute, 7 days",
            "history",
            lambda rng: "/api/v1/readings?resolution=minute&" + raw_at(rng, 7 * 24),
        ),
        Case(
            "`/readings` half-hour, 30 days",
            "history",
            lambda rng: "/api/v1/readings?resolution=halfhour&" + raw_at(rng, 30 * 24),
        ),
        Case("`/cost` one day (today)", "cost", cost_day),
        Case("`/cost` default (billing period so far)", "cost", lambda _rng: "/api/v1/cost"),
        Case("`/cost?group=day` one month", "cost", cost_month_by_day),
        Case("`/cost?group=month` one year", "cost", cost_year_by_month),
        Case("`/cost?group=billing` one year", "cost", cost_billing_year),
        Case("`/latest`", "live", lambda _rng: "/api/v1/latest"),
    ]


async def measure_api(
    base: str, todo: list[Case], requests: int, warmup: int, seed: int = 1
) -> list[Timing]:
    rng = random.Random(seed)
    out: list[Timing] = []
    async with aiohttp.ClientSession() as session:
        for case in todo:
            samples: list[float] = []
            sizes: list[int] = []
            for index in range(warmup + requests):
                url = base + case.path(rng)
                started = time.perf_counter()
                async with session.get(url) as response:
                    body = await response.read()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    raise SystemExit(f"{url}: HTTP {response.status}: {body[:200]!r}")
                if index >= warmup:
                    samples.append(elapsed * 1000)
                    sizes.append(len(body))
            p99 = statistics.quantiles(samples, n=100, method="inclusive")[98]
            timing = Timing(
                case,
                statistics.median(samples),
                p99,
                max(samples),
                statistics.median(sizes) / 1000,
                p99,
                p99,
            )
            print(
                f"  {case.name:45} p50 {timing.p50_ms:7.1f} ms  p99 {timing.p99_ms:7.1f} ms"
                f"  {timing.kbytes:7.1f} kB",
                flush=True,
            )
            out.append(timing)
    return out


def combine(runs: list[list[Timing]]) -> list[Timing]:
    """Per request kind over the runs: median p50 and p99, the p99 range, the largest max."""
    out: list[Timing] = []
    for per_case in zip(*runs, strict=True):
        p99s = [t.p99_ms for t in per_case]
        out.append(
            Timing(
                per_case[0].case,
                statistics.median(t.p50_ms for t in per_case),
                statistics.median(p99s),
                max(t.max_ms for t in per_case),
                statistics.median(t.kbytes for t in per_case),
                min(p99s),
                max(p99s),
                len(per_case),
            )
        )
    return out


# --- first render -----------------------------------------------------------------------------

# Page → the element that shows it has rendered: its chart's canvas, or the meter's details.
PAGES: list[tuple[str, str]] = [
    ("/", "#now-chart canvas"),
    ("/today", "#today-chart canvas"),
    ("/history", "#history-chart canvas"),
    ("/history?view=year", "#history-chart canvas"),
    ("/meter", "#meter-info dd"),
]

# Stamps performance.now() (ms since navigation start) in the animation frame that follows the
# selector's element getting a non-empty layout box.
_PROBE = """
(() => {
  const selector = %s;
  let seen = false;
  const check = () => {
    if (seen) return;
    const el = document.querySelector(selector);
    if (!el) return;
    const box = el.getBoundingClientRect();
    if (box.width <= 0 || box.height <= 0) return;
    seen = true;
    observer.disconnect();
    requestAnimationFrame(() => { window.__routebFirstRender = performance.now(); });
  };
  const observer = new MutationObserver(check);
  observer.observe(document, { subtree: true, childList: true, attributes: true });
})();
"""


async def _first_render(page: Page, timeout_s: float = 30.0) -> float:
    """The probe's stamp, polled (the page's CSP forbids eval, so no wait_for_function)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stamp = await page.evaluate("() => window.__routebFirstRender")
        if stamp is not None:
            return float(stamp)
        await asyncio.sleep(0.02)
    raise SystemExit(f"{page.url}: the page did not render within {timeout_s:g} s")


@dataclass(frozen=True, slots=True)
class Render:
    page: str
    selector: str
    median_ms: float
    max_ms: float
    loads: int


async def measure_pages(base: str, loads: int) -> list[Render]:
    from playwright.async_api import async_playwright  # noqa: PLC0415 - only for this part

    out: list[Render] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            for page_path, selector in PAGES:
                samples: list[float] = []
                for index in range(loads + 1):  # the first load warms the server up
                    context = await browser.new_context(
                        locale="en-US",
                        timezone_id="Asia/Tokyo",
                        viewport={"width": 1280, "height": 800},
                    )
                    try:
                        page = await context.new_page()
                        await page.add_init_script(_PROBE % json.dumps(selector))
                        await page.goto(base + page_path, wait_until="commit")
                        stamp = await _first_render(page)
                    finally:
                        await context.close()
                    if index:
                        samples.append(stamp)
                render = Render(
                    page_path, selector, statistics.median(samples), max(samples), loads
                )
                print(
                    f"  {page_path:20} {selector:24} median {render.median_ms:6.0f} ms"
                    f"  max {render.max_ms:6.0f} ms",
                    flush=True,
                )
                out.append(render)
        finally:
            await browser.close()
    return out


# --- report -----------------------------------------------------------------------------------


def _verdict(value: float, target: float | None) -> str:
    if target is None:
        return "—"
    return "yes" if value < target else "**no**"


def report(
    command: str,
    contents: Contents,
    build_s: float | None,
    timings: list[Timing],
    renders: list[Render],
    requests: int,
    warmup: int,
) -> str:
    history = [t for t in timings if t.case.group in {"history", "live"}]
    misses = [t for t in history if t.p99_ms >= TARGET_QUERY_MS]
    slow_pages = [r for r in renders if r.median_ms >= TARGET_RENDER_MS]
    c = contents.counts
    built = (
        f"built in {build_s:.0f} s through `SqliteStore.write` ({BATCH} records per transaction)"
        if build_s is not None
        else "reused from an earlier run (`--rebuild` to rebuild it)"
    )
    lines = [
        "## Dashboard API and pages over ten years",
        "",
        "```sh",
        command,
        "```",
        "",
        f"Machine: {os.cpu_count()} cores, shared and noisy (so medians, and p99 of "
        f"{requests} requests after {warmup} of warm-up, in each of {timings[0].runs} runs; "
        "p50 and p99 below are the medians of the runs', with the range of p99 over the runs"
        f"); {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, Chromium "
        "(`/usr/bin/chromium`, headless). Server and load generator are separate processes on "
        "the same machine, talking HTTP over 127.0.0.1; requests are sequential.",
        "",
        f"Database ({contents.size_mb:.0f} MB, {built}): one meter, "
        f"{c['slots']:,} 30-minute slots ({contents.first_day} … {contents.last_day}), "
        f"{c['instant']:,} 10-second instantaneous readings (the last {RAW_DAYS} days), "
        f"{c['power_minute']:,} minute and {c['power_halfhour']:,} half-hour power aggregates, "
        f"{c['cumulative']:,} cumulative readings, {c['link_events']:,} link events. "
        "Dates are drawn at random across the ten years (raw readings: across the retention "
        "period) for every request.",
        "",
        "| request | p50 | p99 (range over runs) | max | size | p99 < 50 ms |",
        "|---|---:|---:|---:|---:|:-:|",
    ]
    for t in timings:
        lines.append(
            f"| {t.case.name} | {t.p50_ms:.1f} ms | {t.p99_ms:.1f} ms "
            f"({t.p99_low:.1f}–{t.p99_high:.1f}) | {t.max_ms:.1f} ms "
            f"| {t.kbytes:.1f} kB | {_verdict(t.p99_ms, t.target_ms)} |"
        )
    lines += [
        "",
        "Cost requests have no latency target (—); they are listed for scale.",
        "",
        f"First render in headless Chromium: from navigation start to the animation frame in "
        f"which the page's main element (below) first has a layout box; median of "
        f"{renders[0].loads if renders else 0} loads, each in a fresh browser context "
        "(nothing cached), after one warm-up load. The live hub is empty (no meter "
        "connected), so the Now page's main element is its power chart, drawn from "
        "`/readings`.",
        "",
        "| page | element | median | max | < 1 s |",
        "|---|---|---:|---:|:-:|",
    ]
    for r in renders:
        lines.append(
            f"| `{r.page}` | `{r.selector}` | {r.median_ms:.0f} ms | {r.max_ms:.0f} ms "
            f"| {_verdict(r.median_ms, TARGET_RENDER_MS)} |"
        )
    lines += ["", "Targets:", ""]
    if misses:
        names = ", ".join(t.case.name for t in misses)
        lines.append(f"- p99 under 50 ms for every history query: **not met** — {names}.")
    else:
        lines.append("- p99 under 50 ms for every history query: met.")
    if slow_pages:
        names = ", ".join(f"`{r.page}`" for r in slow_pages)
        lines.append(f"- first render under 1 s: **not met** — {names}.")
    else:
        lines.append("- first render under 1 s: met on every page.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        type=Path,
        help="database to build once and reuse (default: a temporary one, removed at the end)",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the database")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per kind")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests first")
    parser.add_argument("--runs", type=int, default=5, help="passes over every request kind")
    parser.add_argument("--loads", type=int, default=5, help="timed loads per page")
    parser.add_argument("--no-browser", action="store_true", help="skip the page renders")
    parser.add_argument("--only", help="only the request kinds whose name contains this")
    parser.add_argument("--out", type=Path, help="write the report (markdown) to this file")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.db))
        return
    if args.db is not None:
        run_bench(args, args.db)
        return
    with tempfile.TemporaryDirectory(prefix="routeb-bench-api-") as work:
        run_bench(args, Path(work) / "bench-api.sqlite3")


def run_bench(args: argparse.Namespace, db: Path) -> None:
    build_s: float | None = None
    if args.rebuild or not db.is_file():
        print(f"building {db} …", flush=True)
        build_s = build_database(db)
        print(f"built in {build_s:.1f} s", flush=True)
    else:
        print(f"reusing {db}", flush=True)
        SqliteStore(db).close()  # the writer applies any newer schema migration
    contents = describe(db)
    stale = datetime.now(UTC) - contents.raw_last
    if stale > timedelta(hours=1):
        print(f"note: the data ends {stale} ago; the Now and Today pages show little of it")
    todo = [c for c in cases(contents) if args.only is None or args.only in c.name]
    with server_process(db) as base:
        runs: list[list[Timing]] = []
        for run in range(1, args.runs + 1):
            print(f"server at {base}; API run {run}, {args.requests} requests each:", flush=True)
            runs.append(asyncio.run(measure_api(base, todo, args.requests, args.warmup, run)))
        timings = combine(runs)
        renders: list[Render] = []
        if not args.no_browser:
            print(f"first render, median of {args.loads} loads:", flush=True)
            renders = asyncio.run(measure_pages(base, args.loads))
    command = "python bench/api.py " + " ".join(sys.argv[1:])
    text = report(command.strip(), contents, build_s, timings, renders, args.requests, args.warmup)
    print()
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
