"""Two meters through one MQTT publisher against a real Mosquitto (issue 17 §4): one Home
Assistant device per meter, each with its own discovery message, unique ids, state and
availability topics; a meter going offline does not take the other with it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import pytest

from routeb.export.mqtt import MeterDevice, MqttPublisher, MqttSettings
from routeb.live import LiveHub
from tests.servers.mosquitto import Broker
from tests.test_export_mqtt import live, wait_for

METERS = ("house", "ev")


@pytest.fixture
async def two(broker: Broker) -> AsyncIterator[LiveHub]:
    hub = LiveHub()
    hub.publish(live(meter="house"))
    hub.publish(live(meter="ev", power_w=3100, energy_import_kwh=Decimal("88.5")))
    publisher = MqttPublisher(
        MqttSettings(url=broker.url),
        hub,
        {key: MeterDevice(key, serial=f"SN-{key}") for key in METERS},
    )
    task = asyncio.create_task(publisher.run())
    await asyncio.wait_for(publisher.connected.wait(), 10)
    yield hub
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_one_device_per_meter_with_its_own_ids(broker: Broker, two: LiveHub) -> None:
    configs = {
        key: json.loads(await wait_for(broker, f"homeassistant/device/routeb_{key}/config"))
        for key in METERS
    }
    ids = {key: configs[key]["dev"]["ids"] for key in METERS}
    assert ids == {"house": ["routeb_house"], "ev": ["routeb_ev"]}
    assert configs["ev"]["dev"]["sn"] == "SN-ev"
    unique = [c["unique_id"] for config in configs.values() for c in config["cmps"].values()]
    assert len(unique) == len(set(unique)), "unique ids collide between the meters"
    assert all(u.startswith(("routeb_house_", "routeb_ev_")) for u in unique)
    assert configs["house"]["state_topic"] == "routeb/house/state"
    assert configs["ev"]["state_topic"] == "routeb/ev/state"
    ev = json.loads(await wait_for(broker, "routeb/ev/state"))
    house = json.loads(await wait_for(broker, "routeb/house/state"))
    assert ev["power"] == 3100
    assert house["power"] == 632
    # One meter drops: only its availability says so.
    two.publish(replace(two.get("ev") or live(meter="ev"), online=False))
    assert await wait_for(broker, "routeb/ev/availability", lambda p: p == b"offline") == b"offline"
    assert await wait_for(broker, "routeb/house/availability") == b"online"
