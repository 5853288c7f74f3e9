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
import json
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import aiomqtt

from routeb import __version__
from routeb._redact import Secret
from routeb.collector.live import LiveHub, LiveState
from routeb.fleet.settings import parse_url

__all__ = ["MeterDevice", "MqttPublisher", "MqttSettings", "discovery_payload", "state_payload"]

_LOG = logging.getLogger(__name__)
_ONLINE: Final = "online"
_OFFLINE: Final = "offline"
_RECONNECT_MIN: Final = 1.0
_RECONNECT_MAX: Final = 60.0


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


def _number(value: Decimal | int | float | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value)


def state_payload(state: LiveState) -> str:
    """The retained state JSON; Decimals keep their exact digits."""
    rssi = state.link.rssi_dbm
    fields: list[tuple[str, str]] = [
        ("power", _number(state.power_w)),
        ("current_r", _number(state.current_r_a)),
        ("current_t", _number(state.current_t_a)),
        ("energy_import", _number(state.energy_import_kwh)),
        ("energy_export", _number(state.energy_export_kwh)),
        ("last_slot_import", _number(state.last_slot_import_kwh)),
        ("last_slot_export", _number(state.last_slot_export_kwh)),
        (
            "last_slot_end",
            json.dumps(None if state.last_slot_end is None else state.last_slot_end.isoformat()),
        ),
        ("fault", json.dumps(None if state.fault is None else ("ON" if state.fault else "OFF"))),
        ("rssi", _number(None if rssi is None else round(rssi, 1))),
        ("lqi", _number(state.link.lqi)),
        ("link", json.dumps(state.link.state)),
        (
            "last_seen",
            json.dumps(None if state.last_seen is None else state.last_seen.isoformat()),
        ),
    ]
    return "{" + ",".join(f'"{key}":{value}' for key, value in fields) + "}"


def _component(platform: str, key: str, name: str, **options: Any) -> tuple[str, dict[str, Any]]:
    return key, {
        "p": platform,
        "name": name,
        "value_template": f"{{{{ value_json.{key} }}}}",
        **options,
    }


def discovery_payload(settings: MqttSettings, device: MeterDevice) -> dict[str, Any]:
    """The device-based discovery message (one per meter)."""
    base = f"{settings.base_topic}/{device.meter}"
    uid = f"{settings.base_topic}_{device.meter}"
    components = dict(
        [
            _component(
                "sensor",
                "power",
                "Power",
                device_class="power",
                state_class="measurement",
                unit_of_measurement="W",
            ),
            _component(
                "sensor",
                "current_r",
                "Current R",
                device_class="current",
                state_class="measurement",
                unit_of_measurement="A",
            ),
            _component(
                "sensor",
                "current_t",
                "Current T",
                device_class="current",
                state_class="measurement",
                unit_of_measurement="A",
            ),
            _component(
                "sensor",
                "energy_import",
                "Energy bought",
                device_class="energy",
                state_class="total_increasing",
                unit_of_measurement="kWh",
            ),
            _component(
                "sensor",
                "energy_export",
                "Energy sold",
                device_class="energy",
                state_class="total_increasing",
                unit_of_measurement="kWh",
            ),
            _component(
                "sensor",
                "last_slot_import",
                "Last 30 minutes bought",
                device_class="energy",
                unit_of_measurement="kWh",
            ),
            _component(
                "binary_sensor",
                "fault",
                "Meter fault",
                device_class="problem",
                payload_on="ON",
                payload_off="OFF",
                entity_category="diagnostic",
            ),
            _component(
                "sensor",
                "rssi",
                "Link RSSI",
                device_class="signal_strength",
                state_class="measurement",
                unit_of_measurement="dBm",
                entity_category="diagnostic",
            ),
            _component(
                "sensor",
                "last_seen",
                "Last seen",
                device_class="timestamp",
                entity_category="diagnostic",
            ),
        ]
    )
    for key, component in components.items():
        component["unique_id"] = f"{uid}_{key}"
        component["object_id"] = f"{uid}_{key}"
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
        "qos": 1,
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

    def set_device(self, device: MeterDevice) -> None:
        """Add or update a meter's device info (re-announced on the next publish)."""
        self.devices[device.meter] = device
        self._announced.discard(device.meter)

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

    async def run(self) -> None:
        """Connect, announce, publish; on any broker trouble wait and start again."""
        delay = _RECONNECT_MIN
        while True:
            try:
                async with self._client() as client:
                    self.connections += 1
                    delay = _RECONNECT_MIN
                    await self._session(client)
            except* aiomqtt.MqttError as group:
                self.connected.clear()
                _LOG.warning("MQTT broker: %s; reconnecting in %.0f s", group.exceptions[0], delay)
            await asyncio.sleep(delay)
            delay = min(_RECONNECT_MAX, delay * 2)

    async def _session(self, client: aiomqtt.Client) -> None:
        settings = self.settings
        self._announced.clear()
        await client.publish(f"{settings.base_topic}/status", _ONLINE, qos=1, retain=True)
        ha_status = f"{settings.discovery_prefix}/status"
        if settings.discovery:
            await client.subscribe(ha_status, qos=1)
        await self._announce_all(client)
        self.connected.set()
        # Whichever ends first — a lost broker seen by the listener, or a failed publish —
        # ends the session; the TaskGroup cancels the other.
        async with asyncio.TaskGroup() as group:
            group.create_task(self._listen(client, ha_status))
            group.create_task(self._forward(client))

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
