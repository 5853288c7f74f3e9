"""A real Home Assistant core on a free loopback port, onboarded without a browser.

Home Assistant needs Python >= 3.13 (homeassistant.md §1), newer than routeb's own, so it runs
from its own virtualenv, built once per machine by scripts/ha-venv.sh into $ROUTEB_HA_VENV
(default /var/tmp/routeb-ha-venv) and reused. Where it cannot be built the tests are skipped,
unless ROUTEB_REQUIRE_HA=1 (as .ci/run sets it), which makes that a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.servers.mosquitto import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "ha-venv.sh"
USER = "routeb-test"
PASSWORD = "routeb-test-password"

# homeassistant.md §4.3: loopback only, JST, yen, a recorder that commits every second.
CONFIGURATION = """\
homeassistant:
  name: routeb-test
  latitude: 35.68
  longitude: 139.76
  elevation: 40
  unit_system: metric
  currency: JPY
  country: JP
  time_zone: Asia/Tokyo
  language: en
http:
  server_host: 127.0.0.1
  server_port: {port}
recorder:
  db_url: sqlite:///{db}
  commit_interval: 1
energy:
logger:
  default: warning
  logs:
    homeassistant.components.mqtt: info
"""


def ha_venv() -> Path:
    """The Home Assistant virtualenv, built now if it is not there yet (skip if impossible)."""
    required = os.environ.get("ROUTEB_REQUIRE_HA") == "1"
    result = subprocess.run(
        ["sh", str(SCRIPT)], capture_output=True, text=True, timeout=1200, check=False
    )
    if result.returncode != 0:
        reason = f"Home Assistant cannot be installed here: {result.stderr.strip()[-300:]}"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    return Path(result.stdout.strip().splitlines()[-1])


class HomeAssistant:
    """``start()``/``stop()`` a hass process on loopback; ``onboard()`` gets an admin token."""

    def __init__(self, directory: Path, venv: Path) -> None:
        self.directory = directory
        self.venv = venv
        self.port = free_port()
        self.config = directory / "config"
        (self.config / ".storage").mkdir(parents=True, exist_ok=True)
        (self.config / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port, db=self.config / "home-assistant_v2.db"),
            encoding="utf-8",
        )
        # homeassistant.md §4.5: mDNS and the network integration on loopback only.
        (self.config / ".storage" / "core.network").write_text(
            json.dumps(
                {
                    "version": 1,
                    "minor_version": 1,
                    "key": "core.network",
                    "data": {"configured_adapters": ["lo"]},
                }
            ),
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""
        self._log = directory / "hass.out"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        path = self.config / "home-assistant.log"
        parts = [p.read_text(errors="replace") for p in (path, self._log) if p.exists()]
        return "\n".join(parts)

    async def start(self, timeout: float = 180.0) -> None:
        env = {
            "HOME": str(self.directory),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TZ": "Asia/Tokyo",
        }
        with self._log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(self.venv / "bin" / "hass"), "-c", str(self.config), "--skip-pip"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.directory,
            )
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"Home Assistant exited:\n{self.log[-3000:]}")
                try:
                    async with http.get(f"{self.url}/api/onboarding") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.5)
        pytest.fail(f"Home Assistant did not answer in {timeout:.0f} s:\n{self.log[-3000:]}")

    async def onboard(self) -> str:
        """The admin user (homeassistant.md §4.2) and a long-lived access token for it."""
        client_id = f"{self.url}/"
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.url}/api/onboarding/users",
                json={
                    "client_id": client_id,
                    "name": "routeb test",
                    "username": USER,
                    "password": PASSWORD,
                    "language": "en",
                },
            ) as response:
                assert response.status == 200, await response.text()
                code = (await response.json())["auth_code"]
            async with http.post(
                f"{self.url}/auth/token",
                data={"grant_type": "authorization_code", "code": code, "client_id": client_id},
            ) as response:
                assert response.status == 200, await response.text()
                access = (await response.json())["access_token"]
            self.token = str(
                await self.ws_command(
                    http, access, "auth/long_lived_access_token", client_name="routeb", lifespan=30
                )
            )
        return self.token

    async def ws_command(
        self, http: aiohttp.ClientSession, token: str, kind: str, **fields: Any
    ) -> Any:
        """One websocket command as ``token``; its result (AssertionError on failure)."""
        async with http.ws_connect(f"{self.url}/api/websocket", max_msg_size=0) as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": token})
            assert (await ws.receive_json())["type"] == "auth_ok"
            await ws.send_json({"id": 1, "type": kind, **fields})
            while True:
                reply = await ws.receive_json()
                if reply.get("id") == 1 and reply["type"] == "result":
                    assert reply["success"], reply
                    return reply["result"]

    async def command(self, kind: str, **fields: Any) -> Any:
        """One websocket command as the admin (after ``onboard``)."""
        async with aiohttp.ClientSession() as http:
            return await self.ws_command(http, self.token, kind, **fields)

    async def rest(self, method: str, path: str, body: object = None) -> Any:
        """One REST call as the admin."""
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, f"{self.url}{path}", json=body, headers=headers) as response,
        ):
            assert response.status < 300, await response.text()
            return await response.json()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
