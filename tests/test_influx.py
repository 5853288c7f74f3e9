"""The InfluxDB sink against real servers: InfluxDB 1.x (/write) and VictoriaMetrics
(/api/v2/write): live values, a backfilled history, an outage, every point exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from routeb._redact import Secret
from routeb.echonet.energy import EnergyScale
from routeb.influx.lines import lines_of
from routeb.influx.sink import InfluxSettings, InfluxSink, write_url
from routeb.storage.model import Change, CumulativeReading, InstantReading, Slot, SlotReading
from routeb.storage.sqlite import SqliteStore
from tests.servers.influxdb import Influx, Victoria

pytestmark = pytest.mark.timeout(120)
SCALE = EnergyScale(1, Decimal("0.1"))
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def influx(tmp_path: Path) -> Iterator[Influx]:
    (tmp_path / "influx").mkdir()
    server = Influx(tmp_path / "influx")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def history(meter: str, days: int) -> list[SlotReading]:
    """What a backfill writes: the meter's half-hours (E2/E4), with its timestamps."""
    start = (NOW - timedelta(days=days)).replace(minute=0, second=0)
    return [
        SlotReading(meter, start + timedelta(minutes=30 * i), 10_000 + 3 * i, 100 + i // 4,
                    "history1", SCALE, 8)
        for i in range(days * 48)
    ]  # fmt: skip


def live(meter: str, start: datetime, count: int) -> list[InstantReading | CumulativeReading]:
    out: list[InstantReading | CumulativeReading] = []
    for i in range(count):
        at = start + timedelta(seconds=10 * i)
        out.append(InstantReading(meter, at, 300 + i, Decimal("3.0"), Decimal(i % 50) / 10))
        if i % 6 == 0:
            out.append(CumulativeReading(meter, at, 20_000 + i, 55, SCALE, 8))
    return out


async def query(server: Influx, q: str) -> list[list[Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/query", params={"db": "routeb", "q": q, "epoch": "s"}) as r,
    ):
        assert r.status == 200, await r.text()
        result = (await r.json())["results"][0]
    series = result.get("series", [])
    return [row for s in series for row in s["values"]]


async def create_database(server: Influx) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/query", params={"q": "CREATE DATABASE routeb"}) as r,
    ):
        assert r.status == 200


async def drained(sink: InfluxSink, store: SqliteStore, timeout: float = 30) -> None:
    last = store.pending("nobody", 10**9)[-1].seq
    async with asyncio.timeout(timeout):
        while sink.acked_seq < last:
            await asyncio.sleep(0.1)


def test_line_protocol_names_fields_by_the_registry_and_escapes() -> None:
    at = datetime(2026, 5, 20, 5, 30, tzinfo=UTC)
    changes = [
        Change(1, "instant", InstantReading("my meter,1", at, -420, Decimal("3.0"), None)),
        Change(2, "cumulative", CumulativeReading("m", at, 6512800, None, SCALE, 8)),
        Change(3, "slots", Slot("m", at, 10, None, None, None, 1, 1, 8, 1, None, 3100, None)),
    ]
    lines = lines_of("routeb", changes)
    assert lines[0] == r"routeb,meter=my\ meter\,1 power=-420i,current_r=3.0 1779255000"
    assert lines[1] == "routeb,meter=m energy_import=651280.0000 1779255000"
    assert lines[2] == "routeb,meter=m energy_import=0.0001,last_slot_import=0.3100 1779255000"
    v1 = write_url(InfluxSettings("http://h:8086/", version=1, database="home"))
    assert v1 == "http://h:8086/write?db=home&precision=s"
    v2 = write_url(InfluxSettings("http://h:8086", org="o", bucket="b"))
    assert v2 == "http://h:8086/api/v2/write?org=o&bucket=b&precision=s"


async def test_history_and_live_values_survive_an_outage_exactly_once(
    influx: Influx, tmp_path: Path
) -> None:
    await create_database(influx)
    db = tmp_path / "db.sqlite3"
    store = SqliteStore(db)
    store.write(history("m1", 3))  # a backfill: 3 days of half-hours
    store.write(live("m1", NOW - timedelta(minutes=30), 90))
    sink = InfluxSink(
        InfluxSettings(influx.url, version=1, database="routeb", interval=0.2, batch=500), db
    )
    task = asyncio.create_task(sink.run())
    try:
        await drained(sink, store)
        influx.stop()  # the outage: routeb keeps recording
        store.write(live("m1", NOW, 120))
        store.write(history("m1", 3)[-2:])  # a re-read boundary: same points again
        async with asyncio.timeout(30):
            while sink.last_error is None:
                await asyncio.sleep(0.1)
        assert "InfluxDB at http://127.0.0.1:" in sink.last_error
        influx.start()
        await drained(sink, store, 60)
    finally:
        await sink.stop()
        await asyncio.wait_for(task, 10)
    instants = live("m1", NOW - timedelta(minutes=30), 90) + live("m1", NOW, 120)
    powers = await query(influx, "SELECT power FROM routeb WHERE meter = 'm1'")
    want = {int(r.at.timestamp()): r.power_w for r in instants if isinstance(r, InstantReading)}
    assert {int(t): v for t, v in powers} == want
    assert len(powers) == len(want)  # exactly once: no duplicates, none lost
    slots = store.slots("m1", NOW - timedelta(days=4), NOW + timedelta(days=1))
    used = await query(influx, "SELECT last_slot_import FROM routeb WHERE meter = 'm1'")
    known = {int(s.at.timestamp()): float(s.import_use_kwh) for s in slots if s.import_use_kwh}
    assert {int(t): v for t, v in used} == known
    assert len(known) == 3 * 48 - 1  # the last boundary's slot is not over yet
    store.close()


async def test_the_backlog_is_bounded_for_raw_readings_never_for_half_hours(
    influx: Influx, tmp_path: Path
) -> None:
    await create_database(influx)
    db = tmp_path / "db.sqlite3"
    with SqliteStore(db) as store:
        old = NOW - timedelta(days=5)
        store.write([InstantReading("m1", old, 111), InstantReading("m1", NOW, 222)])
        store.write(history("m1", 8)[:3])
    sink = InfluxSink(
        InfluxSettings(influx.url, version=1, database="routeb", backlog_days=2), db,
        clock=time.time,
    )  # fmt: skip
    async with aiohttp.ClientSession() as http:
        assert await sink.drain_once(http) == 6  # the meter record, 2 instant, 3 slots
    assert sink.skipped == 1
    powers = await query(influx, "SELECT power FROM routeb")
    assert [v for _, v in powers] == [222]
    counters = await query(influx, "SELECT energy_import FROM routeb")
    assert len(counters) == 3  # 8 days old, but the meter's history: kept


async def test_the_v2_endpoint_with_a_token(tmp_path: Path) -> None:
    (tmp_path / "vm").mkdir()
    server = Victoria(tmp_path / "vm")
    server.start()
    try:
        db = tmp_path / "db.sqlite3"
        with SqliteStore(db) as store:
            store.write(live("m9", NOW - timedelta(minutes=5), 12))
        sink = InfluxSink(
            InfluxSettings(server.url, version=2, token=Secret("t0ken"), org="home", bucket="b"),
            db,
        )
        async with aiohttp.ClientSession() as http:
            assert await sink.drain_once(http) > 0
            async with http.get(server.flush_url()) as response:
                assert response.status == 200
            series: list[dict[str, Any]] = []
            async with asyncio.timeout(20):
                while not series:
                    async with http.get(server.export_url()) as response:
                        series = server.parse(await response.text())
                    await asyncio.sleep(0.2)
        power = next(s for s in series if s["metric"]["__name__"] == "routeb_power")
        assert power["metric"]["meter"] == "m9"
        assert power["values"] == [300 + i for i in range(12)]
        assert json.dumps(series)
    finally:
        server.stop()
