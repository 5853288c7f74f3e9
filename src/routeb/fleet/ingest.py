"""`routeb ingest`: the fleet stream from a shared MQTT 5 subscription into PostgreSQL.

Each worker subscribes to ``$share/<group>/<base>/v1/#`` with QoS 1 and a persistent session
under a stable client id, and acknowledges (PUBACK, manual ack) a message only after the batch
holding it is committed. A worker that dies loses nothing: the broker redelivers what it had not
acknowledged when it comes back (same client id), and the rows are idempotent.
Batches close at ``max_rows`` readings or ``max_delay`` seconds after their first message.

No message stops a worker: whatever does not decode to a valid message (``schema.decode``,
bounded before it parses) is a dead letter with its kind and reason, committed and acknowledged
with its batch. A valid message that PostgreSQL itself rejects (a constraint the schema does not
know, a data error: SQLSTATE classes 22 and 23) is tried ``_MAX_REJECTIONS`` times with its
batch; then the batch is written message by message, each one rejected again becomes a dead
letter of kind ``database`` and the others are committed. A failure of any other kind (the
server gone, a lock, a dropped partition) is retried for ever: nothing is dropped for it.
A valid message whose partitions do not exist yet waits aside while the
``PartitionMaker`` creates them on a connection of its own; everybody else's batches go on.
The lag is the age of the oldest message received and not yet acknowledged: it grows while the
worker is stuck (docs/fleet.md#limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Final, TypeVar

import aiomqtt
import psycopg

from routeb.fleet.metrics import IngestMetrics, Waiting, metrics_app
from routeb.fleet.pg import (
    DeadLetter,
    FleetSchemaError,
    PartitionKeeper,
    PartitionMaker,
    Writer,
    WriteStats,
)
from routeb.fleet.schema import (
    DEFAULT_BASE_TOPIC,
    DEFAULT_LIMITS,
    REASON_MAX,
    SCHEMA_VERSION,
    FleetMessage,
    MessageError,
    MessageLimits,
    decode,
    encode,
)
from routeb.fleet.settings import FleetSettings, mqtt_client, paho_client

__all__ = ["IngestOptions", "IngestWorker"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
_RECONNECT_MIN: Final = 0.5
_RECONNECT_MAX: Final = 30.0
_PARTITION_CHECK: Final = 3600.0
# What a dead letter keeps of a payload over the size limit (the reason gives its size).
_OVERSIZE_KEPT: Final = 64 * 1024
# The dead-letter kind of a decoder failure (a bug, logged with its traceback).
_INTERNAL: Final = "internal"
# The dead-letter kind of a valid message PostgreSQL rejects on every try, and how many
# consecutive rejections of a batch make the worker look for the message at fault.
_DATABASE: Final = "database"
_MAX_REJECTIONS: Final = 3
# SQLSTATE classes that blame the data, not the server (PostgreSQL, Appendix A "Error
# Codes"): 22 data exception, 23 integrity constraint violation.
_DATA_ERROR_CLASSES: Final = frozenset({"22", "23"})


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
    limits: MessageLimits = DEFAULT_LIMITS
    partition_lock_timeout: float = 5.0

    @property
    def topic(self) -> str:
        """The shared subscription."""
        return f"$share/{self.group}/{self.base_topic}/v{SCHEMA_VERSION}/#"


@dataclass(slots=True, eq=False)
class _Received:
    """One message from its arrival to its acknowledgement: a valid one or a dead letter."""

    mid: int
    qos: int
    since: float  # time.monotonic() at arrival
    topic: str
    message: FleetMessage | None = None
    dead: DeadLetter | None = None


@dataclass(slots=True)
class _Batch:
    items: list[_Received] = field(default_factory=list)
    readings: int = 0

    def add(self, item: _Received) -> None:
        self.items.append(item)
        if item.message is not None:
            self.readings += item.message.readings

    def keep(self, items: list[_Received]) -> None:
        self.items = items
        self.readings = sum(i.message.readings for i in items if i.message is not None)

    @property
    def messages(self) -> list[FleetMessage]:
        return [i.message for i in self.items if i.message is not None]

    @property
    def dead(self) -> list[DeadLetter]:
        return [i.dead for i in self.items if i.dead is not None]


class IngestWorker:
    """One worker: ``await worker.run()`` until cancelled."""

    def __init__(self, options: IngestOptions, metrics: IngestMetrics | None = None) -> None:
        self.options = options
        self.metrics = metrics or IngestMetrics()
        self.client_id = options.client_id or f"routeb-ingest-{socket.gethostname()}"
        self.partitions = PartitionKeeper(options.ahead_days)
        self.writer = Writer(options.dsn, partitions=self.partitions)
        self.maker = PartitionMaker(
            options.dsn, self.partitions, lock_timeout=options.partition_lock_timeout
        )
        self.subscribed = asyncio.Event()
        self._writing = asyncio.Lock()
        self._making = asyncio.Lock()
        # Received and not yet acknowledged, oldest first; those waiting for partitions.
        self._unacked: dict[_Received, None] = {}
        self._parked: list[_Received] = []
        self.metrics.waiting = self._waiting

    def _waiting(self) -> Waiting:
        oldest = next(iter(self._unacked), None)
        return Waiting(
            len(self._unacked), len(self._parked), None if oldest is None else oldest.since
        )

    async def run(self) -> None:
        """Consume and write; reconnect to the broker (and the database) forever."""
        # Fail fast on a database that is not there or not migrated.
        try:
            await self._in_thread(self._making, self.maker.keep_ahead)
        except psycopg.Error as exc:  # e.g. a lock timeout: the partition task tries again
            _LOG.warning("PostgreSQL partitions: %s", _first_line(exc))
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
                    # What was not acknowledged is the broker's again (redelivered later).
                    self._unacked.clear()
                    self._parked = []
                await asyncio.sleep(delay)
                delay = min(_RECONNECT_MAX, delay * 2)
        finally:
            await asyncio.to_thread(self.writer.close)
            await asyncio.to_thread(self.maker.close)

    async def _consume(self, client: aiomqtt.Client) -> None:
        queue: asyncio.Queue[_Batch] = asyncio.Queue(maxsize=1)
        self._batch = _Batch()
        self._first: float | None = None
        self._full = asyncio.Event()
        self._park = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._read(client))
            group.create_task(self._cut(queue))
            group.create_task(self._store(client, queue))
            group.create_task(self._make_partitions())

    async def _read(self, client: aiomqtt.Client) -> None:
        # Never cancelled mid-way while connected: aiomqtt's iterator can lose the message it
        # was about to return when cancelled (so no wait_for around it). Unacknowledged
        # messages are bounded by the Receive Maximum we announce: that is the back-pressure.
        async for message in client.messages:
            self._receive(message)

    def _receive(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        item = _Received(message.mid if message.qos else 0, message.qos, time.monotonic(), topic)
        self._unacked[item] = None
        payload = message.payload
        raw = payload if isinstance(payload, bytes | bytearray) else str(payload).encode()
        try:
            item.message = decode(raw, self.options.limits, now=time.time())
        except MessageError as exc:
            item.dead = self._dead_letter(topic, exc.kind, exc.reason, raw)
        except Exception:  # noqa: BLE001 - a decoder bug must not stop the worker (nor loop on redelivery)
            _LOG.exception("fleet message on %s: the decoder failed; kept as a dead letter", topic)
            item.dead = self._dead_letter(topic, _INTERNAL, "the decoder failed", raw)
        if item.message is not None and not self.partitions.covers(item.message):
            self._parked.append(item)
            self._park.set()
            return
        self._enqueue(item)

    def _dead_letter(
        self, topic: str, kind: str, reason: str, raw: bytes | bytearray
    ) -> DeadLetter:
        kept = bytes(raw[:_OVERSIZE_KEPT] if len(raw) > self.options.limits.max_bytes else raw)
        return DeadLetter(topic, kind, reason, kept)

    def _enqueue(self, item: _Received) -> None:
        self._batch.add(item)
        if self._first is None:
            self._first = asyncio.get_running_loop().time()
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
            if not self._batch.items:
                continue
            batch, self._batch, self._first = self._batch, _Batch(), None
            self._full.clear()
            await queue.put(batch)

    async def _store(self, client: aiomqtt.Client, queue: asyncio.Queue[_Batch]) -> None:
        delay = _RECONNECT_MIN
        while True:
            batch = await queue.get()
            failed = False
            rejections = 0
            while True:
                started = time.monotonic()
                try:
                    if failed:  # reconnect: the catalog may say a partition has gone since
                        await self._in_thread(self._writing, self.writer.connect)
                        self._park_uncovered(batch)
                    if not batch.items:
                        break
                    if rejections >= _MAX_REJECTIONS:
                        await self._reject_culprits(batch)
                        rejections = 0
                    stats = await self._write(batch)
                except (psycopg.Error, FleetSchemaError, OSError) as exc:
                    # Nothing was committed and nothing acknowledged: try again, never drop.
                    self.metrics.failed_batches += 1
                    rejections = rejections + 1 if _blames_the_data(exc) else 0
                    _LOG.warning("PostgreSQL: %s; retrying in %.1f s", _first_line(exc), delay)
                    await asyncio.to_thread(self.writer.reset)
                    await asyncio.sleep(delay)
                    delay = min(_RECONNECT_MAX, delay * 2)
                    failed = True
                    continue
                delay = _RECONNECT_MIN
                self._acknowledge(client, batch.items)
                self._observe_latency(batch.messages, time.time())
                self.metrics.committed(
                    len(batch.items),
                    stats.received,
                    stats.inserted,
                    time.monotonic() - started,
                    stats.fallbacks,
                    dead=[letter.kind for letter in batch.dead],
                )
                break

    async def _reject_culprits(self, batch: _Batch) -> None:
        """Write the batch's valid messages one at a time; each PostgreSQL rejects for its data
        becomes a dead letter of kind ``database``. Rows written here are written again with
        the batch (idempotent); any other failure propagates, and the batch is tried again."""
        for item in batch.items:
            if item.message is None:
                continue
            try:
                await self._in_thread(self._writing, partial(self.writer.write, [item.message]))
            except psycopg.Error as exc:
                if not _blames_the_data(exc):
                    raise
                await asyncio.to_thread(self.writer.reset)
                reason = f"PostgreSQL rejected it: {_first_line(exc)}"[:REASON_MAX]
                _LOG.warning("fleet message on %s: %s; kept as a dead letter", item.topic, reason)
                # The payload as the schema re-encodes it (the raw bytes are not kept).
                item.dead = DeadLetter(item.topic, _DATABASE, reason, encode(item.message))
                item.message = None
        batch.keep(batch.items)

    def _acknowledge(self, client: aiomqtt.Client, items: Sequence[_Received]) -> None:
        for item in items:
            if item.qos:
                paho_client(client).ack(item.mid, item.qos)
            self._unacked.pop(item, None)

    def _park_uncovered(self, batch: _Batch) -> None:
        keep = []
        for item in batch.items:
            if item.message is not None and not self.partitions.covers(item.message):
                self._parked.append(item)
                self._park.set()
            else:
                keep.append(item)
        batch.keep(keep)

    async def _make_partitions(self) -> None:
        """Partitions for the parked messages as they come, and the coming days' hourly, on
        the maker's own connection; a failure (a lock timeout) is tried again with backoff."""
        delay = _RECONNECT_MIN
        due = time.monotonic() + _PARTITION_CHECK
        while True:
            wait = due - time.monotonic()
            if not self._parked and wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._park.wait(), wait)
            self._park.clear()
            try:
                if self._parked:
                    spans = self.partitions.missing(
                        i.message for i in self._parked if i.message is not None
                    )
                    made = await self._in_thread(self._making, partial(self.maker.make, spans))
                    self.metrics.partitions_created += made
                if time.monotonic() >= due:
                    made = await self._in_thread(self._making, self.maker.keep_ahead)
                    self.metrics.partitions_created += made
                    due = time.monotonic() + _PARTITION_CHECK
            except (psycopg.Error, FleetSchemaError, OSError) as exc:
                self.metrics.partition_errors += 1
                _LOG.warning(
                    "PostgreSQL partitions: %s; %d message(s) wait, trying again in %.1f s",
                    _first_line(exc),
                    len(self._parked),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(_RECONNECT_MAX, delay * 2)
                continue
            delay = _RECONNECT_MIN
            waiting = []
            for item in self._parked:
                if item.message is not None and self.partitions.covers(item.message):
                    self._enqueue(item)
                else:
                    waiting.append(item)
            self._parked = waiting

    async def _write(self, batch: _Batch) -> WriteStats:
        """One batch in the writer's thread."""
        messages, dead = batch.messages, batch.dead
        return await self._in_thread(self._writing, partial(self.writer.write, messages, dead))

    async def _in_thread(self, lock: asyncio.Lock, function: Callable[[], _T]) -> _T:
        """``function()`` in a thread, one at a time per ``lock``. Cancelled (the broker went
        away), it still waits for the thread: a second call on the same connection while the
        first is mid-COPY would share its transaction and staging tables, and acknowledge rows
        never stored."""
        async with lock:
            running = asyncio.ensure_future(asyncio.to_thread(function))
            try:
                return await asyncio.shield(running)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await running
                raise

    def _observe_latency(self, messages: Sequence[FleetMessage], now: float) -> None:
        for message in messages:
            if message.sent is not None:
                latency = max(0.0, now - message.sent)
                self.metrics.latency_seconds.observe(latency, message.readings)


def _blames_the_data(exc: BaseException) -> bool:
    """Whether PostgreSQL refused the rows themselves (a retry cannot succeed)."""
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _DATA_ERROR_CLASSES


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


async def serve_metrics(metrics: IngestMetrics, host: str, port: int) -> contextlib.AsyncExitStack:
    """Serve /metrics on host:port until the returned stack is closed."""
    from routeb.web.server import HttpServer  # noqa: PLC0415

    server = HttpServer(metrics_app(metrics), host, port)
    await server.start()
    stack = contextlib.AsyncExitStack()
    stack.push_async_callback(server.stop)
    return stack
