"""Shared helpers of the dashboard tests: a seeded SQLite store and a running dashboard."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.collector.live import LinkSnapshot, LiveHub, LiveState
from routeb.echonet.energy import EnergyScale
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
        link=LinkSnapshot(
            state="ready", lqi=120, rssi_dbm=-63.0, joins=2, rejoins={"timeout": 1}
        ),
        contract_amperes=30,
    )
    return state.updated(**changes) if changes else state


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
