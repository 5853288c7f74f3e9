"""`routeb run` end to end: the real daemon process against the emulator over a pty.

A simulated day and a half (the meter's clock runs 600× real time) with an outage in the
middle — the daemon SIGKILLed, restarted, then the meter unreachable for a while — ends with
every 30-minute reading present and equal to the emulator's truth; /metrics carries the
emulator's values; SIGTERM stops cleanly and the database passes the integrity check.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.clock import floor_slot
from routeb.emulator.module import ModuleFaults
from routeb.emulator.profile import MeterProfile
from routeb.storage import SchemaVersionError, SqliteStore, check, jst_to_utc, utc_to_jst
from tests.servers.mosquitto import free_port

METER = "house"
SPEED = 600.0  # meter seconds per real second: a 30-minute slot every 3 s


def _config(tmp: Path, device: str, port: int) -> Path:
    path = tmp / "config.toml"
    path.write_text(
        f"""
[meter]
id = "{DEFAULT_ID}"
password = "{DEFAULT_PASSWORD}"
device = "{device}"
state_dir = "{tmp / "state"}"
[polling]
instantaneous_interval = 10
min_gap = 0.05
timer1 = 1.5
timer2 = 2
retries = 2
[storage]
db = "{tmp / "db.sqlite3"}"
[http]
listen = "127.0.0.1:{port}"
""",
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def _start(config: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    return subprocess.Popen(
        [sys.executable, "-m", "routeb", "run", "--config", str(config), "--meter-name", METER],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _slots(db: Path) -> dict[datetime, int | None]:
    if not db.exists():
        return {}
    try:
        opened = SqliteStore(db, read_only=True)
    except SchemaVersionError as exc:
        if exc.found == 0:
            return {}  # the daemon has created the file and is applying its migrations now
        raise
    with opened as store:
        start = datetime(2000, 1, 1).astimezone()
        end = datetime(2100, 1, 1).astimezone()
        return {utc_to_jst(s.at): s.import_raw for s in store.slots(METER, start, end)}


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text: str = r.read().decode()
            return text
    except OSError:
        return ""


async def _until(predicate: object, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        if predicate():  # type: ignore[operator]
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(240)
async def test_a_day_with_an_outage_ends_complete_and_true(tmp_path: Path) -> None:
    profile = replace(MeterProfile(), installed_days_ago=Decimal("0.5"), seed=7)
    emulator = Emulator(
        EmulatorOptions(time_scale=0.01, clock_speed=SPEED, profile=profile, link=tmp_path / "tty")
    )
    ready = await emulator.start()
    port = free_port()
    config = _config(tmp_path, ready["serial"], port)
    db = tmp_path / "db.sqlite3"
    daemon = _start(config)
    try:
        await _until(lambda: len(_slots(db)) >= 10, 60, "the first slots (backfill)")
        await _until(lambda: "routeb_power_watts" in _metrics(port), 30, "/metrics values")
        metrics = _metrics(port)
        assert 'routeb_meter_up{meter="house"} 1' in metrics
        # 1. The daemon dies without warning.
        daemon.send_signal(signal.SIGKILL)
        daemon.wait()
        assert daemon.stderr is not None
        first_log = daemon.stderr.read().decode(errors="replace")
        daemon.stderr.close()
        assert DEFAULT_PASSWORD not in first_log
        await asyncio.sleep(8)  # 80 meter-minutes pass unrecorded
        daemon = _start(config)
        await asyncio.sleep(8)
        # 2. The meter stops answering for a while (every answer lost).
        for module in emulator.modules:
            module.faults = ModuleFaults(drop=1.0)
        await asyncio.sleep(10)
        for module in emulator.modules:
            module.faults = ModuleFaults()

        # 3. Everything from installation to the last completed slot gets filled.
        def complete() -> bool:
            slots = _slots(db)
            now = emulator.clock.now()
            first = floor_slot(now - timedelta(hours=10))
            last = floor_slot(now) - timedelta(minutes=30)
            expected = {
                first + timedelta(minutes=30) * i
                for i in range(int((last - first) / timedelta(minutes=30)) + 1)
            }
            return expected <= {at for at, raw in slots.items() if raw is not None}

        await _until(complete, 90, "every slot after the outage")
        slots = _slots(db)
        assert len(slots) > 20
        wrong = {
            at: (raw, emulator.meter.truth_counter(at))
            for at, raw in slots.items()
            if raw is not None and raw != emulator.meter.truth_counter(at)
        }
        if wrong:
            with SqliteStore(db, read_only=True) as store:
                detail = [
                    (utc_to_jst(s.at), s.import_raw, s.import_source, s.conflicts)
                    for s in store.slots(METER, jst_to_utc(min(wrong)), jst_to_utc(max(wrong)))
                ]
            pytest.fail(f"stored ≠ truth: {wrong}; rows: {detail}; now {emulator.clock.now()}")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if daemon.stderr is not None:
            log = daemon.stderr.read().decode(errors="replace")
            daemon.stderr.close()
            assert DEFAULT_PASSWORD not in log
            assert DEFAULT_ID not in log
        await emulator.close()
    report = check(db)
    assert report.ok, report.summary()
    assert jst_to_utc  # the conversions used above are the store's own
