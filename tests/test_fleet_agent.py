"""The agent side of the fleet: `routeb run` with [fleet] → real Mosquitto → `routeb ingest` →
real PostgreSQL. The fleet store converges to exactly what the home recorded, also when the
home's link to the broker goes away for a while (the SQLite outbox re-sends what the broker
never acknowledged). A broker *restart* is the known issue of docs/fleet.md (test_fleet_e2e)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from tests.servers.mosquitto import free_port
from tests.servers.tcpproxy import TcpProxy
from tests.test_fleet_e2e import PersistentBroker, _stop, _worker

pytestmark = pytest.mark.timeout(180)

_KINDS = {
    # kind: (SQLite query, PostgreSQL query), both giving (timestamp, a value) per row
    "instant": (
        "SELECT ts, power_w FROM instant ORDER BY ts",
        "SELECT ts, power_w FROM fleet_instant WHERE site = %s ORDER BY ts",
    ),
    "cumulative": (
        "SELECT ts, import_raw FROM cumulative ORDER BY ts",
        "SELECT ts, import_raw FROM fleet_cumulative WHERE site = %s ORDER BY ts",
    ),
    "slots": (
        "SELECT slot_start, import_raw FROM slots ORDER BY slot_start",
        "SELECT ts, import_raw FROM fleet_slots WHERE site = %s ORDER BY ts",
    ),
}


def _home(db: Path) -> dict[str, list[tuple[int, int | None]]]:
    with sqlite3.connect(db) as conn:
        return {kind: conn.execute(q).fetchall() for kind, (q, _) in _KINDS.items()}


def _fleet(dsn: str, site: str) -> dict[str, list[tuple[int, int | None]]]:
    out: dict[str, list[tuple[int, int | None]]] = {}
    with psycopg.connect(dsn) as conn:
        for kind, (_, query) in _KINDS.items():
            rows = conn.execute(query.encode(), (site,)).fetchall()
            out[kind] = [(int(ts.timestamp()), value) for ts, value in rows]
    return out


def _daemon(tmp_path: Path, serial: str, broker_url: str) -> subprocess.Popen[bytes]:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[meter]
id = "{DEFAULT_ID}"
password = "{DEFAULT_PASSWORD}"
device = "{serial}"
state_dir = "{tmp_path / "state"}"
[polling]
min_gap = 0.05
[storage]
db = "{tmp_path / "home.sqlite3"}"
[http]
listen = "127.0.0.1:{free_port()}"
[fleet]
enabled = true
url = "{broker_url}"
site = "home-1"
interval = 0.5
""",
        encoding="utf-8",
    )
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    with (tmp_path / "daemon.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "routeb", "run", "--config", str(config), "--meter-name", "m1"],
            env=env,
            stderr=log,
        )


Rows = dict[str, list[tuple[int, int | None]]]


async def _converged(dsn: str, db: Path, timeout: float) -> tuple[Rows, Rows]:
    deadline = time.monotonic() + timeout
    while True:
        home = await asyncio.to_thread(_home, db)
        fleet = await asyncio.to_thread(_fleet, dsn, "home-1")
        if home == fleet or time.monotonic() > deadline:
            return home, fleet
        await asyncio.sleep(0.5)


async def test_run_publishes_its_outbox_through_a_wan_outage(dsn: str, tmp_path: Path) -> None:
    (tmp_path / "broker").mkdir()
    broker = PersistentBroker(tmp_path / "broker")
    broker.start()
    emulator = Emulator(EmulatorOptions(time_scale=0.01))
    ready = await emulator.start()
    wan = TcpProxy(broker.port)
    await wan.start()
    worker = _worker(dsn, broker.url, "agent-test")
    daemon = _daemon(tmp_path, ready["serial"], wan.url)
    db = tmp_path / "home.sqlite3"
    try:
        # The home backfills its history and keeps polling; the fleet follows.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            fleet = await asyncio.to_thread(_fleet, dsn, "home-1")
            if fleet["slots"] and fleet["instant"]:
                break
            await asyncio.sleep(0.5)
        assert fleet["slots"], (tmp_path / "daemon.log").read_text()
        assert fleet["instant"]
        # The home's link goes away while it keeps recording (and backfilling), then comes back.
        await wan.cut()
        cut_at = time.time()
        await asyncio.sleep(12)  # more than the 10 s instantaneous schedule
        healed_at = time.time()
        await wan.heal()
        # The publisher reconnects (after its backoff) and sends what it recorded meanwhile.
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            fleet = await asyncio.to_thread(_fleet, dsn, "home-1")
            if any(ts >= cut_at for ts, _ in fleet["instant"]):
                break
            await asyncio.sleep(0.5)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, (tmp_path / "daemon.log").read_text()
        home, fleet = await _converged(dsn, db, timeout=60)
        with psycopg.connect(dsn) as conn:
            dead = conn.execute("SELECT reason FROM fleet_dead_letters").fetchall()
        assert dead == []
        for kind in _KINDS:
            only_home = sorted(set(home[kind]) - set(fleet[kind]))[:5]
            only_fleet = sorted(set(fleet[kind]) - set(home[kind]))[:5]
            assert home[kind] == fleet[kind], (kind, only_home, only_fleet)
        # Readings taken while the link was down arrived afterwards.
        assert any(cut_at <= ts <= healed_at for ts, _ in home["instant"])
        assert len(home["slots"]) > 48  # the backfilled history travelled too
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait(10)
        _stop(worker)
        await wan.close()
        await emulator.close()
        broker.stop()
        shutil.rmtree(broker.store, ignore_errors=True)
    log = (tmp_path / "daemon.log").read_text()
    assert DEFAULT_PASSWORD not in log
    assert DEFAULT_ID not in log
