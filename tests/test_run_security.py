"""`routeb run` as users and attackers meet it: rejected credentials said once at ERROR and on
/metrics with the reason; guessing the token rate-limited per address and overall; a
malformed Authorization header costs one masked WARNING line, never a traceback or the token."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from routeb.emulator.app import DEFAULT_ID, Emulator, EmulatorOptions
from tests.servers.mosquitto import free_port

TOKEN = "Zk3v9QpL2mX8rT4wYb7nC1dF-routeb"
WRONG_PASSWORD = "WRONGPASSWRD"


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    port: int
    log: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    emulator = Emulator(EmulatorOptions(time_scale=0.02))
    ready = await emulator.start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    env |= {
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": WRONG_PASSWORD,
        "ROUTEB_TOKEN": TOKEN,
        "ROUTEB_CONFIG": "/dev/null",
        "ROUTEB_STATE_DIR": str(tmp_path / "state"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "routeb", "run", "--device", ready["serial"],
         "--db", str(tmp_path / "db.sqlite3"), "--listen", f"127.0.0.1:{port}", "-vv"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    running = Daemon(process, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                async with aiohttp.ClientSession() as http, http.get(running.url + "/healthz"):
                    break
            except aiohttp.ClientError:
                assert time.monotonic() < deadline, "routeb run did not start"
                assert process.poll() is None
                await asyncio.sleep(0.2)
        yield running
    finally:
        await asyncio.to_thread(_log, running)
        await emulator.close()


def _log(daemon: Daemon) -> str:
    """Stop the daemon (SIGTERM) and return its stderr."""
    if daemon.log is None:
        daemon.process.send_signal(signal.SIGTERM)
        _, err = daemon.process.communicate(timeout=30)
        daemon.log = err.decode()
    return daemon.log


async def _metrics(daemon: Daemon) -> str:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(daemon.url + "/metrics", headers=headers) as r,
    ):
        assert r.status == 200
        return await r.text()


async def test_rejected_credentials_are_not_latched_on_one_event_and_never_logged(
    daemon: Daemon,
) -> None:
    """A wrong password: one EVENT 24 is not proof (issue 16 §4, driver/latch.py), so the
    daemon says so at WARNING and waits minutes before the repeat that would latch — no
    retry storm, the meter shown down, and neither secret in the log."""
    await asyncio.sleep(10)  # the emulator at 1/50 time: the scan and the join are done
    text = await _metrics(daemon)
    up = [line for line in text.splitlines() if line.startswith("routeb_meter_up{")]
    assert all(line.endswith(" 0") for line in up), up
    log = _log(daemon)  # stops the daemon
    assert log.count("not a proof of wrong credentials") == 1, log  # one join, then a wait
    assert " ERROR " not in log, log  # not latched on one event
    assert WRONG_PASSWORD not in log
    assert TOKEN not in log


async def test_guessing_the_token_is_rate_limited(daemon: Daemon) -> None:
    async def bearer(http: aiohttp.ClientSession, token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(daemon.url + "/api/v1/latest", headers=headers) as response:
            return response.status

    async def login(http: aiohttp.ClientSession, token: str) -> int:
        form = {"token": token, "next": "/"}
        async with http.post(daemon.url + "/login", data=form, allow_redirects=False) as r:
            return r.status

    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        statuses = await asyncio.gather(
            *(bearer(http, f"guess-{i:04d}-xxxxxxxx") for i in range(100))
        )
        assert statuses.count(401) == 5  # tested, and slowed down
        assert statuses.count(429) == 95  # refused untested
        assert time.monotonic() - started < 10
        # Over the limit even the right token is refused (or answers would tell a guess apart).
        assert await bearer(http, TOKEN) == 429
        logins = await asyncio.gather(*(login(http, f"guess-{i:04d}-yyyyyyyy") for i in range(20)))
        assert set(logins) == {429}
    # Another address is limited only by the overall limit (30 per minute).
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        assert await bearer(other, TOKEN) == 200
        assert await login(other, TOKEN) == 303
        wrong = await asyncio.gather(*(bearer(other, f"other-{i:04d}-zzzzzzzz") for i in range(30)))
        assert wrong.count(401) == 5
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0))
    async with aiohttp.ClientSession(connector=connector) as third:
        many = await asyncio.gather(*(bearer(third, f"third-{i:04d}-wwwwwwww") for i in range(30)))
        assert many.count(401) <= 20  # 10 of the 30 overall went to the other two addresses


async def test_a_malformed_authorization_header_costs_one_masked_line(daemon: Daemon) -> None:
    for _ in range(5):
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
        writer.write(
            b"GET /api/v1/latest HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\x01x\r\n\r\n"
        )
        await writer.drain()
        answer = await reader.read(200)
        writer.close()
        await writer.wait_closed()
        assert answer.startswith(b"HTTP/1.")
        assert b" 400 " in answer
    log = _log(daemon)
    assert "Traceback" not in log
    assert TOKEN not in log
    assert " ERROR " not in log
    warnings = [line for line in log.splitlines() if "malformed HTTP request" in line]
    assert len([w for w in warnings if " WARNING " in w]) == 1, log
    assert len([w for w in warnings if " DEBUG " in w]) == 4, log
