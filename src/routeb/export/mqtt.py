"""MQTT publisher with Home Assistant discovery (device-based), built on aiomqtt.

Topics (``base`` defaults to ``routeb``):
- ``<base>/status`` — ``online`` / ``offline`` (retained; ``offline`` is the last will);
- ``<base>/<meter>/availability`` — ``online`` while the meter answers, ``offline`` during an
  outage, so Home Assistant shows *unavailable*, never 0;
- ``<base>/<meter>/state`` — retained JSON with every value (exact decimals);
- ``<prefix>/device/<base>_<meter>/config`` — one device discovery message with all components,
  re-published whenever Home Assistant announces ``online`` on ``<prefix>/status`` and after
  every reconnect (a restarted broker forgets retained messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import aiomqtt

from routeb import __version__
from routeb._redact import Secret
from routeb.fleet.settings import parse_url
from routeb.live import QUANTITIES, Entity, LiveHub, LiveState, Quantity

__all__ = ["MeterDevice", "MqttPublisher", "MqttSettings", "discovery_payload", "state_payload"]

_LOG = logging.getLogger(__name__)
_ONLINE: Final = "online"
_OFFLINE: Final = "offline"
_RECONNECT_MIN: Final = 1.0
_RECONNECT_MAX: Final = 60.0
# Every publish and Home Assistant's every subscription: at least once (MQTT 3.1.1 §4.3.2).
_QOS: Final = 1
# The binary sensors' payloads (Home Assistant's defaults, mqtt/binary_sensor.py).
_BINARY: Final = {True: "ON", False: "OFF"}


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """[mqtt] in the config."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: Secret | None = None
    base_topic: str = "routeb"
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    client_id: str | None = None
    ca_file: str | None = None
    tls_insecure: bool = False

    def endpoint(self) -> tuple[str, int, bool]:
        """(host, port, tls) from ``url`` (mqtt://host:1883 or mqtts://host:8883)."""
        host, port, tls, _, _ = parse_url(self.url, "mqtt.url")
        return host, port, tls


@dataclass(frozen=True, slots=True)
class MeterDevice:
    """What Home Assistant shows about the meter device."""

    meter: str
    name: str = "Smart meter"
    manufacturer: str | None = None
    model: str = "Low-voltage smart electric energy meter (0x0288)"
    serial: str | None = None
    release: str | None = None


def _json(quantity: Quantity, state: LiveState) -> str:
    """One value of the state JSON: Decimals keep their exact digits, times are ISO 8601."""
    value = quantity.read(state)
    if value is None:
        return "null"
    if isinstance(value, bool):
        if quantity.entity is not None and quantity.entity.platform == "binary_sensor":
            return json.dumps(_BINARY[value])
        return json.dumps(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return json.dumps(value.isoformat())
    if isinstance(value, Mapping):
        return json.dumps(dict(value), sort_keys=True)
    return json.dumps(value)


def state_payload(state: LiveState) -> str:
    """The retained state JSON: every registry quantity that is ``in_state``."""
    fields = [f'"{q.key}":{_json(q, state)}' for q in QUANTITIES if q.in_state]
    return "{" + ",".join(fields) + "}"


def _component(quantity: Quantity, entity: Entity) -> dict[str, Any]:
    component: dict[str, Any] = {
        "p": entity.platform,
        "name": quantity.en,
        "value_template": f"{{{{ value_json.{quantity.key} }}}}",
    }
    if entity.device_class is not None:
        component["device_class"] = entity.device_class
    if entity.state_class is not None:
        component["state_class"] = entity.state_class
    if entity.last_reset is not None:
        component["last_reset_value_template"] = f"{{{{ value_json.{entity.last_reset} }}}}"
    if quantity.unit is not None:
        component["unit_of_measurement"] = quantity.unit
    if entity.platform == "binary_sensor":
        component["payload_on"], component["payload_off"] = _BINARY[True], _BINARY[False]
    if entity.diagnostic:
        component["entity_category"] = "diagnostic"
    return component


def discovery_payload(settings: MqttSettings, device: MeterDevice) -> dict[str, Any]:
    """The device-based discovery message (one per meter): one component per registry entity."""
    base = f"{settings.base_topic}/{device.meter}"
    uid = f"{settings.base_topic}_{device.meter}"
    components: dict[str, dict[str, Any]] = {}
    # homeassistant.md §2.2: HA ≤ 2026.5 does not pass a device-level qos to the components,
    # so each component says it (the device-level one stays for 2026.6+).
    for quantity in QUANTITIES:
        if quantity.entity is None:
            continue
        component = _component(quantity, quantity.entity)
        component["unique_id"] = f"{uid}_{quantity.key}"
        component["qos"] = _QOS
        # homeassistant.md §2.3: object_id seeds the entity id up to HA 2026.3 (deprecated
        # from 2025.10.0, dropped in 2026.4.0); default_entity_id (2025.10.0+) replaces it and
        # wins when both are given, without a warning. Both: every version, no warning.
        component["object_id"] = f"{uid}_{quantity.key}"
        component["default_entity_id"] = f"{quantity.entity.platform}.{uid}_{quantity.key}"
        components[quantity.key] = component
    dev: dict[str, Any] = {
        "ids": [uid],
        "name": device.name,
        "mdl": device.model,
    }
    if device.manufacturer:
        dev["mf"] = device.manufacturer
    if device.serial:
        dev["sn"] = device.serial
    if device.release:
        dev["hw"] = device.release
    return {
        "dev": dev,
        "o": {"name": "routeb", "sw": __version__, "url": "https://github.com/routeb/routeb"},
        "cmps": components,
        "state_topic": f"{base}/state",
        "availability": [
            {"topic": f"{settings.base_topic}/status"},
            {"topic": f"{base}/availability"},
        ],
        "availability_mode": "all",
        "qos": _QOS,
    }


class MqttPublisher:
    """Publishes every LiveState of ``hub``; reconnects forever with backoff."""

    def __init__(
        self,
        settings: MqttSettings,
        hub: LiveHub,
        devices: Mapping[str, MeterDevice] | None = None,
    ) -> None:
        self.settings = settings
        self.hub = hub
        self.devices: dict[str, MeterDevice] = dict(devices or {})
        self.connected = asyncio.Event()
        self.published = 0
        self.connections = 0
        self._announced: set[str] = set()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()

    def _client(self) -> aiomqtt.Client:
        host, port, tls = self.settings.endpoint()
        tls_context: ssl.SSLContext | None = None
        if tls:
            tls_context = ssl.create_default_context(cafile=self.settings.ca_file)
            if self.settings.tls_insecure:
                tls_context.check_hostname = False
                tls_context.verify_mode = ssl.CERT_NONE
        password = self.settings.password.reveal() if self.settings.password else None
        return aiomqtt.Client(
            host,
            port,
            username=self.settings.username,
            password=password,
            identifier=self.settings.client_id,
            will=aiomqtt.Will(f"{self.settings.base_topic}/status", _OFFLINE, qos=1, retain=True),
            tls_context=tls_context,
            keepalive=30,
        )

    name = "mqtt"

    async def run(self) -> None:
        """Connect, announce, publish; on any broker trouble wait and start again.

        Returns after :meth:`stop` once ``offline`` is published (or the broker is away).
        """
        delay = _RECONNECT_MIN
        try:
            while not self._stopping.is_set():
                try:
                    async with self._client() as client:
                        self.connections += 1
                        delay = _RECONNECT_MIN
                        await self._session(client)
                except* aiomqtt.MqttError as group:
                    self.connected.clear()
                    if not self._stopping.is_set():
                        _LOG.warning(
                            "MQTT broker: %s; reconnecting in %.0f s", group.exceptions[0], delay
                        )
                if self._stopping.is_set():
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(_RECONNECT_MAX, delay * 2)
        finally:
            self.connected.clear()
            self._stopped.set()

    async def stop(self) -> None:
        """Publish ``offline`` (retained) and disconnect cleanly; the will covers only crashes."""
        self._stopping.set()
        await self._stopped.wait()

    async def _session(self, client: aiomqtt.Client) -> None:
        settings = self.settings
        self._announced.clear()
        await client.publish(f"{settings.base_topic}/status", _ONLINE, qos=1, retain=True)
        ha_status = f"{settings.discovery_prefix}/status"
        if settings.discovery:
            await client.subscribe(ha_status, qos=1)
        await self._announce_all(client)
        self.connected.set()
        # Whichever ends first — a lost broker seen by the listener, a failed publish, or
        # stop() — ends the session; the TaskGroup cancels the rest.
        async with asyncio.TaskGroup() as group:
            listen = group.create_task(self._listen(client, ha_status))
            forward = group.create_task(self._forward(client))
            await self._stopping.wait()
            listen.cancel()
            forward.cancel()
        # A clean stop: the broker sends no will on DISCONNECT, so say it ourselves.
        await client.publish(f"{settings.base_topic}/status", _OFFLINE, qos=1, retain=True)

    async def _forward(self, client: aiomqtt.Client) -> None:
        async for state in self.hub.updates():
            await self._publish_state(client, state)

    async def _listen(self, client: aiomqtt.Client, ha_status: str) -> None:
        async for message in client.messages:
            if message.topic.matches(ha_status) and message.payload in (b"online", "online"):
                _LOG.info("Home Assistant is back online: re-announcing")
                await self._announce_all(client)

    async def _announce_all(self, client: aiomqtt.Client) -> None:
        self._announced.clear()
        for state in self.hub.all():
            await self._announce(client, state.meter)
            await self._publish_state(client, state)

    async def _announce(self, client: aiomqtt.Client, meter: str) -> None:
        self._announced.add(meter)
        if not self.settings.discovery:
            return
        device = self.devices.get(meter) or MeterDevice(meter)
        topic = f"{self.settings.discovery_prefix}/device/{self.settings.base_topic}_{meter}/config"
        payload = json.dumps(discovery_payload(self.settings, device), separators=(",", ":"))
        await client.publish(topic, payload, qos=1, retain=True)

    async def _publish_state(self, client: aiomqtt.Client, state: LiveState) -> None:
        base = f"{self.settings.base_topic}/{state.meter}"
        if state.meter not in self._announced:
            await self._announce(client, state.meter)
        availability = _ONLINE if state.online else _OFFLINE
        await client.publish(f"{base}/availability", availability, qos=1, retain=True)
        await client.publish(f"{base}/state", state_payload(state), qos=1, retain=True)
        self.published += 1
