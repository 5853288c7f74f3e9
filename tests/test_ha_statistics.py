"""Long-term statistics in a real Home Assistant core on loopback (homeassistant.md §3–§4).

The store is real SQLite filled with 99 days of half-hours; routeb imports them with
`routeb ha import` (and the daemon's sink); the test reads them back with
``recorder/statistics_during_period`` and compares hour by hour with the store.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest

from routeb._redact import Secret
from routeb.echonet.energy import EnergyScale
from routeb.ha.client import HomeAssistantSettings
from routeb.ha.sink import HomeAssistantStatisticsSink
from routeb.storage.model import SlotReading
from routeb.storage.sqlite import SqliteStore
from tests.servers.homeassistant import HomeAssistant
from tests.servers.mosquitto import free_port

SCALE = EnergyScale(1, Decimal("0.01"))  # 0.01 kWh per count (E1 = 0x02, protocol.md §B.1)
IMPORT_ID = "routeb:m1_energy_import"
EXPORT_ID = "routeb:m1_energy_export"
COST_ID = "routeb:m1_cost"
HOUR = timedelta(hours=1)
SLOT = timedelta(minutes=30)

pytestmark = pytest.mark.timeout(240)


def first_boundary(days: int) -> datetime:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return now - timedelta(days=days + 1)


def slots(meter: str, start: datetime, count: int, skip: range = range(0)) -> list[SlotReading]:
    """``count`` boundaries from ``start``: a day-and-night pattern, sold energy at noon."""
    out = []
    bought, sold = 4_000_000, 10_000
    for index in range(count):
        at = start + SLOT * index
        hour = at.astimezone(UTC).hour
        bought += 3 + (index * 7) % 11 + (20 if 9 <= hour <= 12 else 0)
        sold += 5 if 1 <= hour <= 6 else 0
        if index in skip:
            continue
        out.append(SlotReading(meter, at, bought, sold, "history1", SCALE, 8))
    return out


def write(db: Path, readings: list[SlotReading]) -> None:
    with SqliteStore(db) as store:
        store.write(readings)


def expected(db: Path, meter: str, direction: str) -> dict[int, Decimal]:
    """The hourly sums the store implies, computed here independently of routeb.ha."""
    with SqliteStore(db, read_only=True) as store:
        found = store.slots(meter, datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
    use = {
        int(s.at.timestamp()): (s.import_use_kwh if direction == "import" else s.export_use_kwh)
        for s in found
    }
    total, out = Decimal(0), {}
    for ts in sorted(use):
        if ts % 3600 == 0 and use.get(ts) is not None and use.get(ts + 1800) is not None:
            total += use[ts] + use[ts + 1800]  # type: ignore[operator]
            out[ts] = total
    return out


async def held(ha: HomeAssistant, ident: str, start: datetime) -> dict[int, dict[str, float]]:
    answer = await ha.command(
        "recorder/statistics_during_period",
        start_time=start.isoformat(),
        statistic_ids=[ident],
        period="hour",
        types=["sum", "state", "change"],
    )
    return {int(row["start"] / 1000): row for row in answer.get(ident, [])}


async def wait_rows(
    ha: HomeAssistant, ident: str, start: datetime, want: dict[int, Decimal]
) -> dict[int, dict[str, float]]:
    """Imports are asynchronous (homeassistant.md §3.3): poll until HA shows ``want``."""
    rows: dict[int, dict[str, float]] = {}
    async with asyncio.timeout(60):
        while True:
            rows = await held(ha, ident, start)
            if set(rows) >= set(want) and all(
                abs(rows[ts]["sum"] - float(total)) < 1e-6 for ts, total in want.items()
            ):
                return rows
            await asyncio.sleep(0.5)


def config_file(tmp_path: Path, ha: HomeAssistant, token: str, db: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\ndb = "{db}"\n[homeassistant]\nurl = "{ha.url}"\ntoken = "{token}"\n{extra}',
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def routeb(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    return subprocess.run(
        [sys.executable, "-m", "routeb", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


async def test_99_days_are_imported_read_back_hour_by_hour_and_a_rerun_changes_nothing(
    home_assistant: HomeAssistant, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite3"
    start = first_boundary(99)
    write(db, slots("m1", start, 99 * 48 + 1))
    config = config_file(tmp_path, home_assistant, home_assistant.token, db)

    done = routeb("ha", "import", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert f"{IMPORT_ID}:" in done.stdout
    assert "2376 h imported" in done.stdout  # 99 days × 24 complete hours
    assert home_assistant.token not in done.stdout + done.stderr

    for ident, direction in ((IMPORT_ID, "import"), (EXPORT_ID, "export")):
        want = expected(db, "m1", direction)
        assert len(want) == 99 * 24
        rows = await wait_rows(home_assistant, ident, start, want)
        previous = Decimal(0)
        for ts, total in want.items():  # hour by hour: sum, and the dashboard's change
            assert rows[ts]["sum"] == pytest.approx(float(total), abs=1e-6)
            assert rows[ts]["change"] == pytest.approx(float(total - previous), abs=1e-6)
            previous = total
    meta = await home_assistant.command("recorder/list_statistic_ids", statistic_type="sum")
    ours = {m["statistic_id"]: m for m in meta if m["statistic_id"].startswith("routeb:m1_")}
    assert ours[IMPORT_ID]["statistics_unit_of_measurement"] == "kWh"
    assert ours[IMPORT_ID]["source"] == "routeb"
    assert ours[IMPORT_ID]["unit_class"] == "energy"

    again = routeb("ha", "import", "--config", str(config))
    assert again.returncode == 0, again.stderr
    assert "h imported" not in again.stdout
    assert again.stdout.count("nothing to import") == 2
    status = routeb("ha", "status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("in step") == 2
    assert "Home Assistant 2376 h" in status.stdout


async def test_a_day_long_gap_filled_later_is_reimported_and_sums_stay_continuous(
    home_assistant: HomeAssistant, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite3"
    start = first_boundary(10)
    every = slots("m2", start, 10 * 48 + 1)
    gap = range(4 * 48, 5 * 48)  # day 5 missing: the link was down
    write(db, [r for i, r in enumerate(every) if i not in gap])
    settings = HomeAssistantSettings(home_assistant.url, Secret(home_assistant.token), interval=5)
    sink = HomeAssistantStatisticsSink(settings, db)
    task = asyncio.create_task(sink.run())
    try:
        await asyncio.wait_for(sink.synced.wait(), 60)
        ident = "routeb:m2_energy_import"
        before = await wait_rows(home_assistant, ident, start, expected(db, "m2", "import"))
        assert len(before) == 10 * 24 - 25  # the gap's 24 hours and the hour before it
        # The backfill fills the day from the meter's history; the sink sees it in the outbox.
        write(db, [every[i] for i in gap])
        want = expected(db, "m2", "import")
        assert len(want) == 10 * 24
        after = await wait_rows(home_assistant, ident, start, want)
    finally:
        await sink.stop()
        await asyncio.wait_for(task, 10)
    previous = 0.0
    truth = {
        ts: total - (want[ts - 3600] if ts - 3600 in want else Decimal(0))
        for ts, total in want.items()
    }
    for ts in sorted(after):
        row = after[ts]
        assert row["sum"] >= previous  # continuous: never a step back, never a spike
        assert row["change"] == pytest.approx(float(truth[ts]), abs=1e-6)
        previous = row["sum"]
    assert sink.last_error is None


async def test_errors_are_one_line_with_their_exit_codes(
    home_assistant: HomeAssistant, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite3"
    write(db, slots("m3", first_boundary(1), 49))
    bad_token = "x" * 183
    rejected = routeb(
        "ha", "import", "--config", str(config_file(tmp_path, home_assistant, bad_token, db))
    )
    assert rejected.returncode == 3
    assert rejected.stderr.count("\n") == 1
    assert "rejected the access token" in rejected.stderr
    assert bad_token not in rejected.stderr
    away = HomeAssistant.__new__(HomeAssistant)
    away.port = free_port()
    down = routeb("ha", "status", "--config", str(config_file(tmp_path, away, bad_token, db)))
    assert down.returncode == 6
    assert down.stderr.count("\n") == 1
    assert "Home Assistant at ws://127.0.0.1:" in down.stderr
    # Someone else's statistic under our id, in other units: refuse, say what to do.
    await home_assistant.command(
        "recorder/import_statistics",
        metadata={
            "statistic_id": "routeb:m3_energy_import",
            "source": "routeb",
            "name": None,
            "unit_of_measurement": "Wh",
            "has_mean": False,
            "has_sum": True,
        },
        stats=[{"start": first_boundary(3).isoformat(), "sum": 1.0}],
    )
    async with asyncio.timeout(30):
        while not await home_assistant.command(
            "recorder/get_statistics_metadata", statistic_ids=["routeb:m3_energy_import"]
        ):
            await asyncio.sleep(0.3)  # the other import is asynchronous
    config = config_file(tmp_path, home_assistant, home_assistant.token, db)
    conflict = routeb("ha", "import", "--config", str(config))
    assert conflict.returncode == 1
    assert "already has a statistic routeb:m3_energy_import" in conflict.stderr
    assert conflict.stderr.count("\n") == 1


async def test_a_non_admin_token_is_refused_in_one_line(
    home_assistant: HomeAssistant, tmp_path: Path
) -> None:
    user = await home_assistant.command("config/auth/create", name="viewer", group_ids=[])
    user_id = user["user"]["id"]
    await home_assistant.command(
        "config/auth_provider/homeassistant/create",
        user_id=user_id,
        username="viewer",
        password="viewer-password",
    )
    token = await _login(home_assistant, "viewer", "viewer-password")
    db = tmp_path / "db.sqlite3"
    write(db, slots("m4", first_boundary(1), 49))
    done = routeb("ha", "import", "--config", str(config_file(tmp_path, home_assistant, token, db)))
    assert done.returncode == 3
    assert "not an administrator" in done.stderr
    assert token not in done.stderr


async def test_the_tariffs_cost_is_its_own_statistic(
    home_assistant: HomeAssistant, tmp_path: Path
) -> None:
    db = tmp_path / "db.sqlite3"
    start = first_boundary(3)
    write(db, slots("m5", start, 3 * 48 + 1))
    tariff = Path(__file__).resolve().parent.parent / "examples/tariffs/standard-tiered.toml"
    config = config_file(
        tmp_path, home_assistant, home_assistant.token, db, f'[tariff]\nfile = "{tariff}"\n'
    )
    done = routeb("ha", "import", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "routeb:m5_cost:" in done.stdout
    energy = expected(db, "m5", "import")
    async with asyncio.timeout(30):
        while len(rows := await held(home_assistant, "routeb:m5_cost", start)) < len(energy):
            await asyncio.sleep(0.5)  # imports are asynchronous
    meta = await home_assistant.command(
        "recorder/get_statistics_metadata", statistic_ids=["routeb:m5_cost"]
    )
    assert meta[0]["statistics_unit_of_measurement"] == "JPY"
    assert meta[0]["source"] == "routeb"
    assert rows[max(rows)]["sum"] > 0
    # The Energy dashboard takes them (homeassistant.md §5): grid from/to and the cost.
    await home_assistant.command(
        "energy/save_prefs",
        energy_sources=[
            {
                "type": "grid",
                "flow_from": [
                    {
                        "stat_energy_from": "routeb:m5_energy_import",
                        "stat_cost": "routeb:m5_cost",
                        "entity_energy_price": None,
                        "number_energy_price": None,
                    }
                ],
                "flow_to": [
                    {
                        "stat_energy_to": "routeb:m5_energy_export",
                        "stat_compensation": None,
                        "entity_energy_price": None,
                        "number_energy_price": None,
                    }
                ],
                "cost_adjustment_day": 0,
            }
        ],
    )
    validation = await home_assistant.command("energy/validate")
    assert validation["energy_sources"] == [[]], validation


async def _login(ha: HomeAssistant, username: str, password: str) -> str:
    """homeassistant.md §4.2: the login flow, an access token, then a long-lived token."""
    client_id = f"{ha.url}/"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{ha.url}/auth/login_flow",
            json={
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": client_id,
            },
        ) as response:
            flow = (await response.json())["flow_id"]
        async with http.post(
            f"{ha.url}/auth/login_flow/{flow}",
            json={"client_id": client_id, "username": username, "password": password},
        ) as response:
            code = (await response.json())["result"]
        async with http.post(
            f"{ha.url}/auth/token",
            data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
        ) as response:
            access = (await response.json())["access_token"]
        result = await ha.ws_command(
            http, access, "auth/long_lived_access_token", client_name="routeb", lifespan=1
        )
        return str(result)
