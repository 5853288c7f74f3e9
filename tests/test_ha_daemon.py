"""`routeb run` pointed at a real Home Assistant and a real InfluxDB: what the user sets up.

The emulated meter (its clock at 600× real time) was installed half a day ago; the daemon
backfills its history and keeps recording. Home Assistant's long-term statistics end up with
every complete hour the store holds, sums equal; InfluxDB holds the same readings.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.profile import MeterProfile
from routeb.storage import SqliteStore
from tests.servers.homeassistant import HomeAssistant
from tests.servers.influxdb import Influx
from tests.servers.mosquitto import free_port
from tests.test_ha_statistics import expected, held
from tests.test_influx import create_database, query

METER = "house"


@pytest.mark.timeout(180)
async def test_the_daemon_fills_home_assistant_and_influxdb_from_the_meters_history(
    home_assistant: HomeAssistant, tmp_path: Path
) -> None:
    (tmp_path / "influx").mkdir()
    influx = Influx(tmp_path / "influx")
    influx.start()
    await create_database(influx)
    profile = replace(MeterProfile(), installed_days_ago=Decimal("0.5"), seed=3)
    emulator = Emulator(EmulatorOptions(time_scale=0.01, clock_speed=600.0, profile=profile))
    ready = await emulator.start()
    db = tmp_path / "db.sqlite3"
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[meter]
id = "{DEFAULT_ID}"
password = "{DEFAULT_PASSWORD}"
device = "{ready["serial"]}"
state_dir = "{tmp_path / "state"}"
[polling]
min_gap = 0.05
[storage]
db = "{db}"
[http]
listen = "127.0.0.1:{free_port()}"
[homeassistant]
url = "{home_assistant.url}"
token = "{home_assistant.token}"
interval = 5
[influxdb]
url = "{influx.url}"
version = 1
database = "routeb"
interval = 1
""",
        encoding="utf-8",
    )
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "routeb", "run", "--config", str(config), "--meter-name", METER],
        env=env,
        stderr=subprocess.PIPE,
    )
    ident = f"routeb:{METER}_energy_import"
    try:
        async with asyncio.timeout(120):
            while True:  # backfilled and live hours, in Home Assistant with equal sums
                want = expected(db, METER, "import") if db.exists() else {}
                rows = await held(home_assistant, ident, datetime(2000, 1, 1, tzinfo=UTC))
                common = set(rows) & set(want)
                if len(want) >= 8 and len(common) >= 8:
                    break
                await asyncio.sleep(1)
        for ts in common:
            assert rows[ts]["sum"] == pytest.approx(float(want[ts]), abs=1e-6)
        async with asyncio.timeout(60):
            while not (powers := await query(influx, "SELECT power FROM routeb")):
                await asyncio.sleep(0.5)
        with SqliteStore(db, read_only=True) as store:
            stored = {
                int(r.at.timestamp()): r.power_w
                for r in store.instant(METER, datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
            }
        for at, power in powers:
            assert stored[int(at)] == power
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(daemon.wait, 30)
        log = daemon.stderr.read().decode(errors="replace") if daemon.stderr else ""
        if daemon.stderr is not None:
            daemon.stderr.close()
        await emulator.close()
        influx.stop()
    assert code == 0, log
    assert home_assistant.token not in log
    assert DEFAULT_PASSWORD not in log
