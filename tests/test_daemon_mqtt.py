"""`routeb run` with [mqtt] enabled, against the emulator and a real Mosquitto: Home Assistant
discovery and state carry the emulator's values; /metrics agrees."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import aiomqtt
import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from tests.servers.mosquitto import Broker, free_port


@pytest.mark.timeout(120)
async def test_daemon_publishes_the_meters_values(broker: Broker, tmp_path: Path) -> None:
    emulator = Emulator(EmulatorOptions(time_scale=0.01))
    ready = await emulator.start()
    port = free_port()
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
db = "{tmp_path / "db.sqlite3"}"
[http]
listen = "127.0.0.1:{port}"
[mqtt]
enabled = true
url = "{broker.url}"
base_topic = "home/energy"
""",
        encoding="utf-8",
    )
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "routeb",
            "run",
            "--config",
            str(config),
            "--meter-name",
            "m1",
            "--log-json",
        ],
        env=env,
        stderr=subprocess.PIPE,
    )
    try:
        state: dict[str, object] = {}
        discovery: dict[str, object] = {}
        async with (
            asyncio.timeout(60),
            aiomqtt.Client("127.0.0.1", broker.port) as client,
        ):
            await client.subscribe("home/energy/m1/state")
            await client.subscribe("homeassistant/device/home/energy_m1/config")
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                payload = json.loads(message.payload)
                if message.topic.value.endswith("/config"):
                    discovery = payload
                elif payload.get("power") is not None and payload.get("energy_import"):
                    state = payload
                if state and discovery:
                    break
        now = emulator.clock.now()
        household = emulator.meter.household
        recent = {household.power_at(now - timedelta(seconds=s)) for s in range(120)}
        assert state["power"] in recent
        truth = Decimal(emulator.meter.truth_counter(now)) * emulator.meter.profile.unit_kwh
        assert abs(Decimal(str(state["energy_import"])) - truth) <= Decimal("0.05")
        assert discovery["state_topic"] == "home/energy/m1/state"
        cmps = discovery["cmps"]
        assert isinstance(cmps, dict)
        assert cmps["energy_import"]["state_class"] == "total_increasing"
        # SIGHUP: the configuration is reloaded and the daemon reconnects and keeps publishing.
        daemon.send_signal(signal.SIGHUP)
        async with (
            asyncio.timeout(60),
            aiomqtt.Client("127.0.0.1", broker.port) as client,
        ):
            await client.subscribe("home/energy/m1/availability")
            seen = []
            async for message in client.messages:
                seen.append(message.payload)
                if b"online" in seen[1:]:
                    break
        assert daemon.poll() is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
        log = daemon.stderr.read().decode(errors="replace") if daemon.stderr else ""
        if daemon.stderr is not None:
            daemon.stderr.close()
        await emulator.close()
    assert code == 0, log
    assert DEFAULT_PASSWORD not in log
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any("reloading the configuration" in e["message"] for e in entries)
    assert {"time", "level", "logger", "message"} <= set(entries[0])
