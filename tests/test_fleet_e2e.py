"""End to end: simulated homes → real Mosquitto → `routeb ingest` workers → real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from routeb.fleet import pg
from routeb.fleet.schema import FleetMessage
from routeb.fleet.settings import FleetSettings
from routeb.fleet.simulator import FleetSimulator, run_fleet
from tests.servers.mosquitto import Broker

pytestmark = pytest.mark.timeout(180)


class PersistentBroker(Broker):
    """Mosquitto that keeps sessions and queued QoS 1 messages across a restart."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        # Started as root, Mosquitto drops to its own user: its persistence directory must be
        # reachable and writable by that user (pytest's directories are 0700), or the database
        # is silently not saved across the restart.
        store = Path(tempfile.mkdtemp(prefix="routeb-mosquitto-"))
        store.chmod(0o1777)
        self.store = store
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {store}/\n"
            "max_inflight_messages 1000\nmax_queued_messages 0\nlog_type error\n",
            encoding="utf-8",
        )


@pytest.fixture
def pbroker(tmp_path: Path) -> Iterator[PersistentBroker]:
    server = PersistentBroker(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.store, ignore_errors=True)


def _worker(dsn: str, url: str, name: str, *extra: str) -> subprocess.Popen[bytes]:
    log = Path(os.environ.get("ROUTEB_TEST_LOGS", "/tmp")) / f"routeb-ingest-{name}.log"
    with log.open("ab") as stderr:
        return _spawn(dsn, url, name, stderr, *extra)


def _spawn(dsn: str, url: str, name: str, stderr: object, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "routeb",
            "ingest",
            "--db",
            dsn,
            "--mqtt",
            url,
            "--worker",
            name,
            "--max-delay",
            "0.2",
            "-v",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=stderr,  # type: ignore[arg-type]
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _counts(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {
            kind: int(conn.execute(f"SELECT count(*) FROM fleet_{kind}".encode()).fetchone()[0])  # type: ignore[index]
            for kind in ("instant", "cumulative", "slots")
        }


async def _wait_for(dsn: str, expected: dict[str, int], timeout: float = 40) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    counts = await asyncio.to_thread(_counts, dsn)
    while counts != expected and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        counts = await asyncio.to_thread(_counts, dsn)
    return counts


async def _wait_subscribed(url: str) -> None:
    # Workers are subscribed once a probe message is consumed (a dead letter is fine).
    await asyncio.sleep(1.5)


@pytest.mark.parametrize("chaos", ["kill", "broker", "kill+broker"])
async def test_fleet_survives_worker_kill_and_broker_restart(
    dsn: str, pbroker: PersistentBroker, chaos: str
) -> None:
    workers = [_worker(dsn, pbroker.url, "w1"), _worker(dsn, pbroker.url, "w2")]
    try:
        await _wait_subscribed(pbroker.url)
        simulator = FleetSimulator(20, poll=30, outages=0.3, replays=0.3, seed=7)
        settings = FleetSettings(url=pbroker.url, max_inflight=200)
        stop = asyncio.Event()

        async def disrupt() -> None:
            await asyncio.sleep(1.0)
            if "kill" in chaos:
                workers[0].kill()  # SIGKILL: in-flight messages unacknowledged
                workers[0].wait()
                await asyncio.sleep(0.7)
                workers[0] = _worker(dsn, pbroker.url, "w1")
            await asyncio.sleep(1.0)
            if "broker" in chaos:
                await asyncio.to_thread(pbroker.stop)
                await asyncio.sleep(0.5)
                await asyncio.to_thread(pbroker.start)

        chaos_task = asyncio.create_task(disrupt())
        stats = await run_fleet(
            simulator, settings, duration=6 * 3600, step=300, speed=3600.0, connections=3, stop=stop
        )
        await chaos_task
        expected = dict(simulator.generated)
        assert stats.readings > sum(expected.values())  # replays and re-sends happened
        counts = await _wait_for(dsn, expected, timeout=60)
        assert counts == expected
        with psycopg.connect(dsn) as conn:
            duplicates = conn.execute(
                "SELECT count(*) FROM (SELECT site, meter, ts FROM fleet_instant "
                "GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
            ).fetchone()
            assert duplicates == (0,)
            # Every boundary but each meter's last has its usage (the newest seq won).
            unknown = conn.execute(
                "SELECT count(*) FROM fleet_slots WHERE import_use_e4 IS NULL"
            ).fetchone()
            assert unknown == (20,)
            meters = conn.execute("SELECT count(*) FROM fleet_meters").fetchone()
            assert meters == (20,)
    finally:
        for process in workers:
            _stop(process)


def test_fleet_queries_from_the_cli(dsn: str) -> None:
    # 2026-06-01 JST: site a has all 48 boundaries, site b misses two; 0.25 kWh per slot.
    midnight = 1780239600  # 2026-06-01 00:00 JST (2026-05-31 15:00 UTC)
    messages = []
    for site, skip in (("a", set()), ("b", {10, 11})):
        message = FleetMessage(site, f"meter-{site}")
        message.slots = [
            (midnight + 1800 * i, 1000 + 25 * i, 0, 1, 2, 6, 2500, 0, i + 1)
            for i in range(48)
            if i not in skip
        ]
        message.instant = [(midnight + 3600, 400 if site == "a" else 700, 30, None)]
        messages.append(message)
    writer = pg.Writer(dsn)
    try:
        writer.write(messages)
    finally:
        writer.close()

    def fleet(*argv: str) -> list[dict[str, object]]:
        result = subprocess.run(
            [sys.executable, "-m", "routeb", "fleet", "--db", dsn, "--json", *argv],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
        )
        return [json.loads(line) for line in result.stdout.splitlines()]

    latest = fleet("latest")
    assert [(r["site"], r["power_w"]) for r in latest] == [("a", 400), ("b", 700)]
    days = fleet("completeness", "--from", "2026-06-01", "--to", "2026-06-01")
    assert [(r["site"], r["present"], r["missing"]) for r in days] == [("a", 48, 0), ("b", 46, 2)]
    assert [
        r["site"]
        for r in fleet("completeness", "--from", "2026-06-01", "--to", "2026-06-01", "--incomplete")
    ] == ["b"]
    totals = fleet("totals", "--from", "2026-06-01", "--to", "2026-06-01")
    assert len(totals) == 48
    assert totals[0] == {
        "at": "2026-06-01T00:00:00+09:00",
        "meters": 2,
        "import_kwh": "0.5000",
        "export_kwh": "0.0000",
    }
    assert totals[10]["meters"] == 1
