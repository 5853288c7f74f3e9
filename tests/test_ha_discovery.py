"""routeb's MQTT discovery validated by a real Home Assistant core: the entities it creates.

Home Assistant's own MQTT integration (set up through its config flow, homeassistant.md §4.2)
reads routeb's device-based discovery from a real Mosquitto; the test then reads the entity
registry and the states: ids, device and state classes, units, last_reset, availability.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from routeb.export.mqtt import MeterDevice, MqttPublisher, MqttSettings
from routeb.live import (
    QUANTITIES,
    EnergyValues,
    InstantValues,
    LinkChanged,
    LinkSnapshot,
    LiveHub,
    LiveState,
    MeterHealth,
    SlotValues,
)
from tests.servers.homeassistant import HomeAssistant
from tests.servers.mosquitto import Broker

pytestmark = pytest.mark.timeout(180)
AT = datetime(2026, 5, 20, 5, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def ha_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    server = Broker(tmp_path_factory.mktemp("mqtt"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def ha_with_mqtt(home_assistant: HomeAssistant, ha_broker: Broker) -> HomeAssistant:
    entries = await home_assistant.rest("GET", "/api/config/config_entries/entry")
    if not any(e["domain"] == "mqtt" for e in entries):
        flow = await home_assistant.rest(
            "POST",
            "/api/config/config_entries/flow",
            {"handler": "mqtt", "show_advanced_options": False},
        )
        done = await home_assistant.rest(
            "POST",
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            {"broker": "127.0.0.1", "port": ha_broker.port},
        )
        assert done["type"] == "create_entry", done
    return home_assistant


def _state() -> LiveState:
    state = LiveState("m1")
    for update in (
        InstantValues(AT, 632, Decimal("3.0"), Decimal("5.0")),
        EnergyValues(AT, Decimal("651.28"), Decimal("0.15")),
        SlotValues(AT, Decimal("0.31"), Decimal("0.02")),
        MeterHealth(1.0, False),
        LinkChanged(LinkSnapshot(state="ready", lqi=0xB2, rssi_dbm=-55.3)),
    ):
        state = update.apply(state)
    return state


async def _entities(ha: HomeAssistant, prefix: str, count: int) -> dict[str, dict[str, Any]]:
    async with asyncio.timeout(60):
        while True:
            found = await ha.command("config/entity_registry/list")
            ours = {e["unique_id"]: e for e in found if e["unique_id"].startswith(prefix)}
            if len(ours) >= count:
                return ours
            await asyncio.sleep(0.5)


async def test_home_assistant_creates_every_entity_as_routeb_describes_it(
    ha_with_mqtt: HomeAssistant, ha_broker: Broker, tmp_path: Path
) -> None:
    ha = ha_with_mqtt
    hub = LiveHub()
    hub.publish(_state())
    publisher = MqttPublisher(
        MqttSettings(url=ha_broker.url), hub, {"m1": MeterDevice("m1", serial="EMU000000001")}
    )
    task = asyncio.create_task(publisher.run())
    try:
        described = [q for q in QUANTITIES if q.entity is not None]
        entities = await _entities(ha, "routeb_m1_", len(described))
        for quantity in described:
            entity = entities[f"routeb_m1_{quantity.key}"]
            assert quantity.entity is not None
            # HA 2025.4.4 takes object_id (homeassistant.md §2.3), newer ones default_entity_id:
            # both name the same entity id.
            assert entity["entity_id"] == f"{quantity.entity.platform}.routeb_m1_{quantity.key}"
        async with asyncio.timeout(30):
            while True:  # the retained state is read once the entities subscribed
                power = await ha.rest("GET", "/api/states/sensor.routeb_m1_power")
                if power["state"] == "632":
                    break
                await asyncio.sleep(0.5)
        for quantity in described:
            assert quantity.entity is not None
            state = await ha.rest(
                "GET", f"/api/states/{quantity.entity.platform}.routeb_m1_{quantity.key}"
            )
            attributes = state["attributes"]
            assert attributes.get("device_class") == quantity.entity.device_class, quantity.key
            assert attributes.get("state_class") == quantity.entity.state_class, quantity.key
            assert attributes.get("unit_of_measurement") == quantity.unit, quantity.key
            assert state["state"] not in ("unknown", "unavailable"), quantity.key
        slot = await ha.rest("GET", "/api/states/sensor.routeb_m1_last_slot_export")
        assert slot["state"] == "0.02"
        assert slot["attributes"]["last_reset"] == "2026-05-20T05:00:00+00:00"
        fault = await ha.rest("GET", "/api/states/binary_sensor.routeb_m1_fault")
        assert fault["state"] == "off"
        await publisher.stop()
        async with asyncio.timeout(30):
            while True:  # a clean stop: the retained offline makes every entity unavailable
                power = await ha.rest("GET", "/api/states/sensor.routeb_m1_power")
                if power["state"] == "unavailable":
                    break
                await asyncio.sleep(0.5)
    finally:
        await publisher.stop()
        await asyncio.wait_for(task, 10)
    log = ha.log
    for problem in ("is not valid together with device class", "impossible considering"):
        assert problem not in log
    assert "deprecated option `object_id`" not in log
