"""[fleet] settings and the MQTT 5 client both sides of the fleet stream use."""

from __future__ import annotations

import ssl
from contextvars import ContextVar
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from routeb.config import FleetConfig
from routeb.errors import ConfigError

__all__ = [
    "FleetSettings",
    "NotRoutedError",
    "RoutedPublisher",
    "mqtt_client",
    "paho_client",
    "parse_url",
]

# A persistent session survives a day-long WAN outage on the broker side.
SESSION_EXPIRY: Final = 7 * 86_400


# [fleet] in the config (docs/configuration.md#fleet) is what both sides of the stream take.
FleetSettings = FleetConfig


def parse_url(url: str, what: str = "fleet.url") -> tuple[str, int, bool, str | None, str | None]:
    """(host, port, tls, username, password) from mqtt://[user:pass@]host[:1883] or mqtts://."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(what, "must look like mqtt://host:1883 or mqtts://host:8883")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (8883 if tls else 1883)
    except ValueError as exc:
        raise ConfigError(what, f"bad port: {exc}") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, tls, user, password


def paho_client(client: aiomqtt.Client) -> Any:
    """The paho client under an aiomqtt one: the fleet needs two things aiomqtt does not
    expose — manual PUBACKs after the commit (``manual_ack_set``/``ack``) and the publish
    reason codes of MQTT 5 (RoutedPublisher) — and aiomqtt keeps that client private."""
    return client._client  # noqa: SLF001 - see above; the one place that reaches it


def mqtt_client(
    settings: FleetSettings,
    client_id: str,
    *,
    clean_start: bool = False,
    receive_maximum: int | None = None,
    max_queued_incoming: int = 0,
) -> aiomqtt.Client:
    """An MQTT 5 client with a persistent session (unless ``clean_start``), TLS for mqtts://."""
    host, port, tls, url_user, url_password = parse_url(settings.url)
    tls_context: ssl.SSLContext | None = None
    if tls:
        tls_context = ssl.create_default_context(cafile=settings.ca_file)
        if settings.cert_file:
            tls_context.load_cert_chain(settings.cert_file, settings.key_file)
        if settings.tls_insecure:
            tls_context.check_hostname = False
            tls_context.verify_mode = ssl.CERT_NONE
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = 0 if clean_start else SESSION_EXPIRY
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    password = settings.password.reveal() if settings.password else url_password
    return aiomqtt.Client(
        host,
        port,
        username=settings.username or url_user,
        password=password,
        identifier=client_id,
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=clean_start,
        properties=properties,
        tls_context=tls_context,
        keepalive=30,
        max_queued_incoming_messages=max_queued_incoming,
        max_inflight_messages=settings.max_inflight,
    )


# MQTT 5.0 §3.4.2.1: PUBACK reason code 0x10 "No matching subscribers" — the broker took the
# message and dropped it. Mosquitto 2.0 does not restore shared subscriptions after a restart
# (docs/fleet.md), so until the ingest workers resubscribe every fleet message would be lost.
NO_MATCHING_SUBSCRIBERS: Final = 0x10
_LAST_MID: ContextVar[int] = ContextVar("routeb_fleet_last_mid", default=-1)


class NotRoutedError(aiomqtt.MqttError):
    """The broker acknowledged a message that no subscription took (PUBACK 0x10)."""


class RoutedPublisher:
    """QoS 1 publishing that tells "acknowledged" from "acknowledged but dropped".

    aiomqtt resolves ``publish()`` on the PUBACK whatever its reason code; this wraps the paho
    client underneath to see it (the message id is remembered per task, so concurrent
    publishers on one client are told apart).
    """

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self._unrouted: set[int] = set()
        paho = paho_client(client)
        publish = paho.publish
        on_publish = paho.on_publish

        def publish_remembering_mid(*args: Any, **kwargs: Any) -> Any:
            info = publish(*args, **kwargs)
            _LAST_MID.set(info.mid)
            return info

        def on_publish_with_reason(*args: Any) -> None:
            mid, reason = args[2], args[3]
            if getattr(reason, "value", reason) == NO_MATCHING_SUBSCRIBERS:
                self._unrouted.add(mid)
            if on_publish is not None:
                on_publish(*args)

        paho.publish = publish_remembering_mid
        paho.on_publish = on_publish_with_reason

    async def publish(self, topic: str, payload: bytes, timeout: float = 30.0) -> None:
        """Publish with QoS 1; NotRoutedError when the broker had no subscriber for it."""
        await self.client.publish(topic, payload, qos=1, timeout=timeout)
        mid = _LAST_MID.get()
        if mid in self._unrouted:
            self._unrouted.discard(mid)
            raise NotRoutedError(f"no subscriber took {topic} (are the ingest workers up?)")
