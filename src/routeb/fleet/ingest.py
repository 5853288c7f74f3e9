"""`routeb ingest`: the fleet stream from a shared MQTT 5 subscription into PostgreSQL.

Each worker subscribes to ``$share/<group>/<base>/v1/#`` with QoS 1 and a persistent session
under a stable client id, and acknowledges (PUBACK, manual ack) a message only after the batch
holding it is committed. A worker that dies loses nothing: the broker redelivers what it had not
acknowledged when it comes back (same client id), and the rows are idempotent.
Batches close at ``max_rows`` readings or ``max_delay`` seconds after their first message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import aiomqtt
import psycopg

from routeb.fleet.metrics import IngestMetrics, metrics_app
from routeb.fleet.pg import DeadLetter, FleetSchemaError, Writer, WriteStats
from routeb.fleet.schema import (
    DEFAULT_BASE_TOPIC,
    SCHEMA_VERSION,
    FleetMessage,
    MessageError,
    decode,
)
from routeb.fleet.settings import FleetSettings, mqtt_client, paho_client

__all__ = ["IngestOptions", "IngestWorker"]

_LOG = logging.getLogger(__name__)
_RECONNECT_MIN: Final = 0.5
_RECONNECT_MAX: Final = 30.0
_PARTITION_CHECK: Final = 3600.0


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How one worker consumes and writes."""

    dsn: str
    mqtt: FleetSettings = field(default_factory=FleetSettings)
    group: str = "routeb-ingest"
    client_id: str | None = None
    base_topic: str = DEFAULT_BASE_TOPIC
    max_rows: int = 20_000
    max_delay: float = 0.5
    receive_maximum: int = 1000
    ahead_days: int = 3

    @property
    def topic(self) -> str:
        """The shared subscription."""
        return f"$share/{self.group}/{self.base_topic}/v{SCHEMA_VERSION}/#"


@dataclass(slots=True)
class _Batch:
    messages: list[FleetMessage] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)
    readings: int = 0


class IngestWorker:
    """One worker: ``await worker.run()`` until cancelled."""

    def __init__(self, options: IngestOptions, metrics: IngestMetrics | None = None) -> None:
        self.options = options
        self.metrics = metrics or IngestMetrics()
        self.client_id = options.client_id or f"routeb-ingest-{socket.gethostname()}"
        self.writer = Writer(options.dsn, ahead_days=options.ahead_days)
        self.subscribed = asyncio.Event()
        self._writing = asyncio.Lock()
        self._last_partition_check = time.monotonic()

    async def run(self) -> None:
        """Consume and write; reconnect to the broker (and the database) forever."""
        # Fail fast on a database that is not there or not migrated.
        await asyncio.to_thread(self.writer.keep_ahead)
        delay = _RECONNECT_MIN
        try:
            while True:
                try:
                    client = mqtt_client(
                        self.options.mqtt,
                        self.client_id,
                        receive_maximum=self.options.receive_maximum,
                    )
                    # Acknowledge only after the commit (paho sends PUBACK on client.ack()).
                    paho_client(client).manual_ack_set(True)
                    async with client:
                        await client.subscribe(self.options.topic, qos=1)
                        self.metrics.connected = True
                        self.subscribed.set()
                        delay = _RECONNECT_MIN
                        await self._consume(client)
                except* aiomqtt.MqttError as group:
                    _LOG.warning(
                        "ingest broker: %s; reconnecting in %.1f s", group.exceptions[0], delay
                    )
                finally:
                    self.metrics.connected = False
                    self.subscribed.clear()
                await asyncio.sleep(delay)
                delay = min(_RECONNECT_MAX, delay * 2)
        finally:
            await asyncio.to_thread(self.writer.close)

    async def _consume(self, client: aiomqtt.Client) -> None:
        queue: asyncio.Queue[_Batch] = asyncio.Queue(maxsize=1)
        self._batch = _Batch()
        self._first: float | None = None
        self._full = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read(client))
            group.create_task(self._cut(queue))
            group.create_task(self._store(client, queue))

    async def _read(self, client: aiomqtt.Client) -> None:
        # Never cancelled mid-way while connected: aiomqtt's iterator can lose the message it
        # was about to return when cancelled (so no wait_for around it). Unacknowledged
        # messages are bounded by the Receive Maximum we announce: that is the back-pressure.
        loop = asyncio.get_running_loop()
        async for message in client.messages:
            self._add(self._batch, message)
            if self._first is None:
                self._first = loop.time()
            if self._batch.readings >= self.options.max_rows:
                self._full.set()

    async def _cut(self, queue: asyncio.Queue[_Batch]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._first is None:
                wait = self.options.max_delay
            else:
                wait = self._first + self.options.max_delay - loop.time()
            if wait > 0 and not self._full.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), wait)
            if not self._batch.acks:
                continue
            batch, self._batch, self._first = self._batch, _Batch(), None
            self._full.clear()
            await queue.put(batch)

    def _add(self, batch: _Batch, message: aiomqtt.Message) -> None:
        payload = message.payload
        raw = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
        try:
            decoded = decode(raw)
        except MessageError as exc:
            batch.dead.append(DeadLetter(message.topic.value, exc.reason, bytes(raw)))
        else:
            batch.messages.append(decoded)
            batch.readings += decoded.readings
        if message.qos > 0:
            batch.acks.append((message.mid, message.qos))
        else:
            batch.acks.append((0, 0))

    async def _store(self, client: aiomqtt.Client, queue: asyncio.Queue[_Batch]) -> None:
        delay = _RECONNECT_MIN
        while True:
            batch = await queue.get()
            while True:
                started = time.monotonic()
                try:
                    stats = await self._write(batch)
                except (psycopg.Error, FleetSchemaError, OSError) as exc:
                    # Nothing was committed and nothing acknowledged: try again, never drop.
                    self.metrics.failed_batches += 1
                    _LOG.warning("PostgreSQL: %s; retrying in %.1f s", exc, delay)
                    await asyncio.to_thread(self.writer.reset)
                    await asyncio.sleep(delay)
                    delay = min(_RECONNECT_MAX, delay * 2)
                    continue
                delay = _RECONNECT_MIN
                break
            for mid, qos in batch.acks:
                if qos:
                    paho_client(client).ack(mid, qos)
            now = time.time()
            took = time.monotonic() - started
            self._observe_latency(batch.messages, now)
            self.metrics.committed(
                len(batch.acks), stats.received, stats.inserted, stats.dead, took, stats.fallbacks
            )
            if time.monotonic() - self._last_partition_check > _PARTITION_CHECK:
                self._last_partition_check = time.monotonic()
                await asyncio.to_thread(self.writer.keep_ahead)

    async def _write(self, batch: _Batch) -> WriteStats:
        """One batch in the writer's thread. Cancelled (the broker went away), it still waits
        for the thread: a second batch on the same connection while the first is mid-COPY
        would share its transaction and staging tables, and acknowledge rows never stored."""
        async with self._writing:
            running = asyncio.ensure_future(
                asyncio.to_thread(self.writer.write, batch.messages, batch.dead)
            )
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await running
                raise

    def _observe_latency(self, messages: Sequence[FleetMessage], now: float) -> None:
        latest: float | None = None
        for message in messages:
            if message.sent is not None:
                latency = max(0.0, now - message.sent)
                self.metrics.latency_seconds.observe(latency, message.readings)
                latest = latency if latest is None else min(latest, latency)
        if latest is not None:
            self.metrics.lag_seconds = round(latest, 6)


async def serve_metrics(metrics: IngestMetrics, host: str, port: int) -> contextlib.AsyncExitStack:
    """Serve /metrics on host:port until the returned stack is closed."""
    from routeb.web.server import HttpServer  # noqa: PLC0415

    server = HttpServer(metrics_app(metrics), host, port)
    await server.start()
    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(server.stop)
    return stack
