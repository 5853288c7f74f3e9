"""Shared helpers of the dashboard tests: a seeded SQLite store and a running dashboard."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.echonet.energy import EnergyScale
from routeb.live import LinkSnapshot, LiveHub, LiveState
from routeb.storage import (
    JST,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterUpdate,
    SlotReading,
    SlotSource,
    SqliteStore,
)
from routeb.web.dashboard import build_dashboard
from routeb.web.server import HttpServer, build_app

METER = "m1"
SCALE = EnergyScale(1, Decimal("0.1"))  # raw counts of 0.1 kWh (E1 code 0x01)
SLOT = timedelta(minutes=30)
ARTIFACTS = Path(os.environ.get("ROUTEB_TEST_ARTIFACTS", "artifacts")) / "browser"
CHROMIUM = Path(os.environ.get("ROUTEB_CHROMIUM", "/usr/bin/chromium"))


def skip_without_browser() -> None:
    """Skip the calling test module without Playwright or Chromium (fail if required)."""
    required = os.environ.get("ROUTEB_REQUIRE_BROWSER") == "1"
    try:
        import playwright.async_api  # noqa: F401, PLC0415
    except ImportError:  # pragma: no cover - depends on the environment
        if required:
            raise
        pytest.skip("playwright is not installed (pip install -e .[test])", allow_module_level=True)
    if not CHROMIUM.exists():  # pragma: no cover - depends on the environment
        if required:
            raise RuntimeError(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
        )


TARIFF_TOML = """
name = "Test plan"
contract_amperes = 30
read_day = 1

[base_charge]
30 = 900.00

[[energy_rate]]
up_to = 120
price = 30.00

[[energy_rate]]
price = 40.00
"""


def import_raw_for(index: int) -> int:
    """Raw import counts bought in slot ``index`` of a day (0.1 kWh each): 2 at night, 5 by day."""
    return 5 if 14 <= index < 44 else 2


def export_raw_for(index: int) -> int:
    """Raw export counts sold in slot ``index``: 1 (0.1 kWh) from 10:00 to 14:00."""
    return 1 if 20 <= index < 28 else 0


def jst_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), JST)


def seed(
    path: Path,
    first_day: date,
    until: datetime,
    *,
    meter: str = METER,
    source: SlotSource = SlotSource.PUSH,
    skip: frozenset[datetime] = frozenset(),
) -> None:
    """Write slots from ``first_day`` 00:00 JST up to ``until`` (boundaries ≤ until), a few
    instantaneous readings before ``until``, metadata and link events."""
    records: list[object] = [
        MeterUpdate(
            meter,
            until,
            MeterMetadata(
                maker_code=0x000016,
                serial="SN-12345",
                release="J",
                coefficient=1,
                unit_code=0x01,
                digits=6,
                get_map=(0x80, 0x8A, 0xD3, 0xE0, 0xE1, 0xE7),
                set_map=(0x80,),
                inf_map=(0x80, 0xEA),
            ),
        ),
        LinkEvent(meter, until - timedelta(hours=2), "connected", "joined after scan"),
        LinkEvent(meter, until - timedelta(hours=1), "rejoin", "reason=timeout"),
    ]
    at = jst_midnight(first_day)
    imp, exp = 10000, 500
    while at <= until:
        index = (at.astimezone(JST).hour * 60 + at.astimezone(JST).minute) // 30
        if at not in skip:
            records.append(SlotReading(meter, at, imp, exp, source, SCALE, 6))
        imp += import_raw_for(index)
        exp += export_raw_for(index)
        at += SLOT
    for seconds in range(600, 0, -10):
        records.append(
            InstantReading(
                meter, until - timedelta(seconds=seconds), 400 + seconds, Decimal("4.0"), None
            )
        )
    with SqliteStore(path) as store:
        store.write(records)  # type: ignore[arg-type]


def live_state(power_w: int | None, at: datetime, **changes: object) -> LiveState:
    """A plausible online state."""
    state = LiveState(
        METER,
        online=True,
        power_w=power_w,
        current_r_a=Decimal("12.5"),
        current_t_a=Decimal("8.0"),
        power_at=at,
        energy_import_kwh=Decimal("1234.5"),
        energy_export_kwh=Decimal("56.7"),
        energy_at=at,
        last_seen=at,
        clock_skew_s=1.5,
        fault=False,
        link=LinkSnapshot(state="ready", lqi=120, rssi_dbm=-63.0, joins=2, rejoins={"timeout": 1}),
        contract_amperes=30,
    )
    return replace(state, **changes) if changes else state  # type: ignore[arg-type]


@dataclass(slots=True)
class Running:
    server: HttpServer
    hub: LiveHub
    host: str

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.server.bound_port}"


@asynccontextmanager
async def running_dashboard(
    db_path: Path,
    *,
    hub: LiveHub | None = None,
    tariff: object | None = None,
    token: str | None = None,
    host: str = "127.0.0.1",
    stale_after_s: float = 60.0,
    clock: Callable[[], datetime] | None = None,
    meter: str | None = None,
) -> AsyncIterator[Running]:
    """The /metrics app with the dashboard, started on ``host``:0."""
    hub = hub or LiveHub()
    app = build_app(hub)
    build_dashboard(
        app,
        db_path=db_path,
        hub=hub,
        tariff=tariff,  # type: ignore[arg-type]
        token=token,
        meter=meter,
        host=host,
        stale_after_s=stale_after_s,
        clock=clock,
    )
    server = HttpServer(app, host, 0)
    await server.start()
    try:
        yield Running(server, hub, host)
    finally:
        await server.stop()


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- a realistic household: the screenshots (scripts/screenshots.py) and the browser tests -----

HOUSEHOLD_SCALE = EnergyScale(1, Decimal("0.01"))  # raw counts of 0.01 kWh (E1 code 0x02)
#: 2026-12-03 12:10 JST: a sunny midday, the home sells; December has no fuel price yet.
HOUSEHOLD_NOW = datetime(2026, 12, 3, 12, 10, tzinfo=JST)
HOUSEHOLD_FIRST = date(2026, 8, 26)  # recording began here: August has 6 whole days
#: an outage on 2026-11-20 09:00–15:00 (12 half-hours missing) and a lost day, 2026-10-05
HOUSEHOLD_GAPS = frozenset(
    [datetime(2026, 11, 20, 9, tzinfo=JST) + SLOT * i for i in range(12)]
    + [datetime(2026, 10, 5, tzinfo=JST) + SLOT * i for i in range(48)]
)
#: the Now chart's outage: no instantaneous reading for six minutes
HOUSEHOLD_INSTANT_GAP = (
    HOUSEHOLD_NOW - timedelta(minutes=25),
    HOUSEHOLD_NOW - timedelta(minutes=19),
)
HOUSEHOLD_TARIFF = """
name = "従量電灯B (example)"
contract_amperes = 40
read_day = 15

[base_charge]
40 = 1247.00

[[energy_rate]]
up_to = 120
price = 29.80

[[energy_rate]]
up_to = 300
price = 36.40

[[energy_rate]]
price = 40.49

[fuel_adjustment]   # December's is not published yet
2026-08 = -1.56
2026-09 = -1.62
2026-10 = -1.33
2026-11 = -1.21

[renewable_surcharge]
2026 = 3.98

[feed_in]
price = 16.00

[[discount]]
name = "Direct debit"
name_ja = "口座振替割引"
per_period = 55
"""


def household_kwh(at: datetime) -> tuple[Decimal, Decimal]:
    """Bought and sold kWh of the half-hour at ``at``: a family with 4 kW of solar panels."""
    t = at.astimezone(JST)
    hour = t.hour + t.minute / 60
    day = t.timetuple().tm_yday
    load = 0.12
    if 6 <= hour < 8.5:
        load = 0.45
    elif 8.5 <= hour < 17:
        load = 0.22
    elif 17 <= hour < 23:
        load = 0.55 + 0.1 * ((day * 7 + int(hour)) % 3)
    sunny = 0.35 + 0.65 * ((day * 37) % 10) / 9  # a cloudy day now and then
    solar = max(0.0, 1.0 - abs(hour + 0.25 - 12.0) / 4.0) * 1.3 * sunny
    return (
        Decimal(str(round(max(load - solar, 0.0), 2))),
        Decimal(str(round(max(solar - load, 0.0), 2))),
    )


def household_power(at: datetime) -> int:
    """Instantaneous power at ``at`` (W; negative = selling), near the half-hour's mean."""
    bought, sold = household_kwh(at.replace(minute=at.minute // 30 * 30, second=0))
    wobble = (int(at.timestamp()) // 10 * 7919) % 61 - 30
    return int((bought - sold) * 2000) + wobble


def seed_household(path: Path, now: datetime = HOUSEHOLD_NOW) -> None:
    """A solar household from HOUSEHOLD_FIRST up to ``now``: half-hour counters with the gaps
    above, instantaneous readings every 10 s over the last hour but six minutes, metadata and a
    week of session events (PANA re-authentication pairs, a port that could not be opened)."""
    records: list[object] = [
        MeterUpdate(
            METER,
            now,
            MeterMetadata(
                maker_code=0x000016,
                serial="SN-2026-0042",
                release="J",
                coefficient=1,
                unit_code=0x02,
                digits=6,
                get_map=(0x80, 0x8A, 0x8D, 0xD3, 0xD7, 0xE0, 0xE1, 0xE3, 0xE7, 0xE8, 0xEA, 0xEB),
                set_map=(0x80, 0xE5, 0xED),
                inf_map=(0x80, 0xEA, 0xEB),
            ),
        )
    ]
    for hours in range(150, 0, -12):  # PANA re-authentication every 12 h
        at = now - timedelta(hours=hours)
        records.append(LinkEvent(METER, at, "state", "reauthenticating (lifetime_expired)"))
        records.append(LinkEvent(METER, at + timedelta(seconds=4), "state", "ready (joined)"))
    outage = HOUSEHOLD_INSTANT_GAP[0]
    records += [
        LinkEvent(METER, now - timedelta(days=6), "connected", "meter session up"),
        LinkEvent(METER, outage, "state", "recovering (meter_silent)"),
        LinkEvent(METER, outage + timedelta(seconds=30), "rejoin", "meter_silent"),
        LinkEvent(
            METER,
            outage + timedelta(seconds=60),
            "disconnected",
            "SerialError: could not open port /dev/ttyUSB0: [Errno 2] No such file or directory",
        ),
        LinkEvent(METER, HOUSEHOLD_INSTANT_GAP[1], "connected", "meter session up"),
    ]
    at = jst_midnight(HOUSEHOLD_FIRST)
    imp, exp = 1_234_500, 56_700
    end = now.replace(minute=now.minute // 30 * 30, second=0, microsecond=0)
    while at <= end:
        if at not in HOUSEHOLD_GAPS:
            records.append(SlotReading(METER, at, imp, exp, SlotSource.PUSH, HOUSEHOLD_SCALE, 6))
        bought, sold = household_kwh(at)
        imp += int(bought * 100)
        exp += int(sold * 100)
        at += SLOT
    when = now - timedelta(hours=1)
    while when < now:
        if not HOUSEHOLD_INSTANT_GAP[0] <= when < HOUSEHOLD_INSTANT_GAP[1]:
            power = household_power(when)
            amps = Decimal(abs(power)) / 200
            records.append(InstantReading(METER, when, power, amps.quantize(Decimal("0.1")), None))
        when += timedelta(seconds=10)
    with SqliteStore(path) as store:
        store.write(records)  # type: ignore[arg-type]


def household_state(at: datetime = HOUSEHOLD_NOW, **changes: object) -> LiveState:
    """The household's live state at ``at`` (selling at midday)."""
    power = household_power(at)
    state = live_state(
        power,
        at,
        current_r_a=Decimal(abs(power)) / 200,
        current_t_a=Decimal(abs(power)) / 250,
        energy_import_kwh=Decimal("4321.50"),
        energy_export_kwh=Decimal("987.60"),
        contract_amperes=40,
    )
    return replace(state, **changes) if changes else state  # type: ignore[arg-type]
