"""The MQTT publisher against a real Mosquitto: discovery, state, availability, restarts."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import aiomqtt
import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.export.mqtt import (
    MeterDevice,
    MqttPublisher,
    MqttSettings,
    discovery_payload,
    state_payload,
)
from routeb.live import LinkSnapshot, LiveHub, LiveState
from tests.servers.mosquitto import Broker, free_port

SEEN = datetime(2026, 5, 20, 5, 30, tzinfo=UTC)


def live(online: bool = True, **changes: object) -> LiveState:
    state = LiveState(
        "m1",
        online=online,
        power_w=632,
        current_r_a=Decimal("3.0"),
        current_t_a=Decimal("5.0"),
        energy_import_kwh=Decimal("651.28"),
        energy_export_kwh=Decimal("0.15"),
        last_slot_import_kwh=Decimal("0.31"),
        fault=False,
        last_seen=SEEN,
        link=LinkSnapshot(state="ready", lqi=0xB2, rssi_dbm=-55.3),
    )
    return replace(state, **changes)  # type: ignore[arg-type]


async def collect(broker: Broker, topics: list[str]) -> AsyncIterator[aiomqtt.Message]:
    async with aiomqtt.Client("127.0.0.1", broker.port) as client:
        for topic in topics:
            await client.subscribe(topic, qos=1)
        async for message in client.messages:
            yield message


async def wait_for(
    broker: Broker, topic: str, predicate: object = None, timeout: float = 10.0
) -> bytes:
    """The first (retained or live) payload on ``topic`` that satisfies ``predicate``."""
    async with asyncio.timeout(timeout):
        async for message in collect(broker, [topic]):
            payload = message.payload
            assert isinstance(payload, bytes)
            if predicate is None or predicate(payload):  # type: ignore[operator]
                return payload
    raise AssertionError("unreachable")


@pytest.fixture
async def publishing(broker: Broker) -> AsyncIterator[tuple[LiveHub, MqttPublisher]]:
    hub = LiveHub()
    hub.publish(live())
    publisher = MqttPublisher(
        MqttSettings(url=broker.url),
        hub,
        {"m1": MeterDevice("m1", manufacturer="0x000016", serial="EMU000000001", release="F")},
    )
    task = asyncio.create_task(publisher.run())
    await asyncio.wait_for(publisher.connected.wait(), 10)
    yield hub, publisher
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_discovery_is_device_based_with_energy_dashboard_entities(
    broker: Broker, publishing: tuple[LiveHub, MqttPublisher]
) -> None:
    payload = json.loads(await wait_for(broker, "homeassistant/device/routeb_m1/config"))
    cmps = payload["cmps"]
    assert cmps["power"]["device_class"] == "power"
    assert cmps["power"]["state_class"] == "measurement"
    assert cmps["power"]["unit_of_measurement"] == "W"
    for key in ("energy_import", "energy_export"):
        assert cmps[key]["device_class"] == "energy"
        assert cmps[key]["state_class"] == "total_increasing"
        assert cmps[key]["unit_of_measurement"] == "kWh"
    assert cmps["current_r"]["unit_of_measurement"] == "A"
    assert cmps["fault"]["p"] == "binary_sensor"
    assert payload["o"]["name"] == "routeb"
    assert payload["dev"]["sn"] == "EMU000000001"
    assert payload["state_topic"] == "routeb/m1/state"
    assert {a["topic"] for a in payload["availability"]} == {
        "routeb/status",
        "routeb/m1/availability",
    }
    assert payload["availability_mode"] == "all"
    assert len({c["unique_id"] for c in cmps.values()}) == len(cmps)


async def test_state_is_retained_with_exact_values(
    broker: Broker, publishing: tuple[LiveHub, MqttPublisher]
) -> None:
    raw = await wait_for(broker, "routeb/m1/state")
    assert b'"energy_import":651.28' in raw
    state = json.loads(raw)
    assert state["power"] == 632
    assert state["current_t"] == 5.0
    assert state["fault"] == "OFF"
    assert state["last_seen"] == SEEN.isoformat()
    assert await wait_for(broker, "routeb/status") == b"online"
    assert await wait_for(broker, "routeb/m1/availability") == b"online"


async def test_outage_makes_entities_unavailable_never_zero(
    broker: Broker, publishing: tuple[LiveHub, MqttPublisher]
) -> None:
    hub, _ = publishing
    hub.publish(live(online=False, power_w=None, current_r_a=None, current_t_a=None))
    assert await wait_for(broker, "routeb/m1/availability", lambda p: p == b"offline")
    state = json.loads(await wait_for(broker, "routeb/m1/state", lambda p: b'"power":null' in p))
    assert state["power"] is None
    assert state["current_r"] is None
    hub.publish(live(power_w=700))
    assert await wait_for(broker, "routeb/m1/availability", lambda p: p == b"online")


async def test_home_assistant_restart_gets_discovery_again(
    broker: Broker, publishing: tuple[LiveHub, MqttPublisher]
) -> None:
    seen: list[bytes] = []

    async def watch() -> None:
        async for message in collect(broker, ["homeassistant/device/#"]):
            assert isinstance(message.payload, bytes)
            seen.append(message.payload)

    watcher = asyncio.create_task(watch())
    async with asyncio.timeout(10):
        while not seen:  # the retained copy
            await asyncio.sleep(0.05)
    async with aiomqtt.Client("127.0.0.1", broker.port) as ha:
        await ha.publish("homeassistant/status", "online", qos=1)
    async with asyncio.timeout(10):
        while len(seen) < 2:
            await asyncio.sleep(0.05)
    watcher.cancel()
    await asyncio.gather(watcher, return_exceptions=True)
    assert json.loads(seen[-1])["cmps"]["power"]["unique_id"] == "routeb_m1_power"


async def test_broker_restart_republishes_everything(
    broker: Broker, publishing: tuple[LiveHub, MqttPublisher]
) -> None:
    _, publisher = publishing
    await wait_for(broker, "routeb/m1/state")
    broker.stop()  # persistence off: the broker forgets every retained message
    await asyncio.sleep(0.5)
    broker.start()
    async with asyncio.timeout(20):
        while publisher.connections < 2:
            await asyncio.sleep(0.1)
    assert await wait_for(broker, "routeb/status", timeout=15) == b"online"
    assert json.loads(await wait_for(broker, "homeassistant/device/routeb_m1/config"))["cmps"]
    assert json.loads(await wait_for(broker, "routeb/m1/state"))["power"] == 632


async def test_last_will_marks_the_bridge_offline_when_the_process_dies(broker: Broker) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from routeb.live import LiveHub, LiveState
        from routeb.export.mqtt import MqttPublisher, MqttSettings
        async def main():
            hub = LiveHub()
            hub.publish(LiveState("m1", online=True, power_w=1))
            p = MqttPublisher(MqttSettings(url="{broker.url}"), hub)
            task = asyncio.create_task(p.run())
            await p.connected.wait()
            print("ready", flush=True)
            await task
        asyncio.run(main())
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(child.stdout.readline), 20)
        assert line.strip() == b"ready"
        assert await wait_for(broker, "routeb/status") == b"online"
        child.kill()  # SIGKILL: no DISCONNECT, so the broker sends the will
        assert await wait_for(broker, "routeb/status", lambda p: p == b"offline") == b"offline"
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_state_payload_keeps_exact_decimal_digits() -> None:
    payload = state_payload(live(energy_import_kwh=Decimal("99999999.9999")))
    assert '"energy_import":99999999.9999' in payload
    assert json.loads(payload)["last_slot_export"] is None


def test_entities_name_their_entity_id_for_every_home_assistant_version() -> None:
    # homeassistant.md §2.3: object_id seeds the entity id up to 2026.3 (deprecated from
    # 2025.10, gone in 2026.4); default_entity_id replaces it from 2025.10. Both are sent.
    cmps = discovery_payload(MqttSettings(), MeterDevice("m1"))["cmps"]
    for key, component in cmps.items():
        domain = component["p"]
        assert component["default_entity_id"] == f"{domain}.routeb_m1_{key}"
        assert component["object_id"] == f"routeb_m1_{key}"


def test_every_component_subscribes_at_qos_1() -> None:
    # homeassistant.md §2.2: up to 2026.5 a device-level qos is not passed to the components.
    payload = discovery_payload(MqttSettings(), MeterDevice("m1"))
    assert payload["cmps"]
    for component in payload["cmps"].values():
        assert component["qos"] == 1


def test_slot_energy_is_a_total_per_slot_bought_and_sold() -> None:
    # homeassistant.md §2.6: state_class total with last_reset = the slot's start, so each
    # slot is a new cycle of the long-term sum; bought and sold both.
    cmps = discovery_payload(MqttSettings(), MeterDevice("m1"))["cmps"]
    for key in ("last_slot_import", "last_slot_export"):
        assert cmps[key]["device_class"] == "energy"
        assert cmps[key]["state_class"] == "total"
        assert cmps[key]["last_reset_value_template"] == "{{ value_json.last_slot_start }}"
    state = live(
        last_slot_export_kwh=Decimal("0.05"), last_slot_end=datetime(2026, 5, 20, 6, tzinfo=UTC)
    )
    payload = json.loads(state_payload(state))
    assert payload["last_slot_export"] == 0.05
    assert payload["last_slot_start"] == "2026-05-20T05:30:00+00:00"


async def _run_daemon(broker: Broker, tmp_path: Path, device: str) -> subprocess.Popen[bytes]:
    config = tmp_path / "config.toml"
    config.write_text(
        f"""
[meter]
id = "{DEFAULT_ID}"
password = "{DEFAULT_PASSWORD}"
device = "{device}"
state_dir = "{tmp_path / "state"}"
[storage]
db = "{tmp_path / "db.sqlite3"}"
[http]
listen = "127.0.0.1:{free_port()}"
[mqtt]
enabled = true
url = "{broker.url}"
""",
        encoding="utf-8",
    )
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    return subprocess.Popen(
        [sys.executable, "-m", "routeb", "run", "--config", str(config), "--meter-name", "m1"],
        env=env,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.timeout(90)
async def test_daemon_says_offline_when_stopped_cleanly_and_when_killed(
    broker: Broker, tmp_path: Path
) -> None:
    # The will fires only on an unclean disconnect: a clean stop (SIGTERM) must publish the
    # retained offline itself, or Home Assistant shows stale values as live.
    emulator = Emulator(EmulatorOptions(time_scale=0.01))
    ready = await emulator.start()
    try:
        for stop in (signal.SIGTERM, signal.SIGKILL):
            daemon = await _run_daemon(broker, tmp_path, ready["serial"])
            try:
                assert await wait_for(broker, "routeb/status", lambda p: p == b"online", 30)
                await wait_for(broker, "routeb/m1/state", timeout=30)
                daemon.send_signal(stop)
                await asyncio.to_thread(daemon.wait, 30)
                assert await wait_for(broker, "routeb/status", timeout=10) == b"offline", stop
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
            if stop == signal.SIGTERM:
                assert daemon.returncode == 0
    finally:
        await emulator.close()


async def test_stop_returns_at_once_while_the_broker_is_away() -> None:
    publisher = MqttPublisher(MqttSettings(url=f"mqtt://127.0.0.1:{free_port()}"), LiveHub())
    task = asyncio.create_task(publisher.run())
    await asyncio.sleep(0.3)  # first connection refused: waiting to reconnect
    await asyncio.wait_for(publisher.stop(), 2)
    await asyncio.wait_for(task, 1)
