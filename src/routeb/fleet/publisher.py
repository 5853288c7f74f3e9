"""The agent side: drain the local SQLite outbox into the fleet stream, oldest first.

The outbox consumer ``fleet`` advances only after the broker acknowledged (PUBACK, QoS 1) every
message of a batch, so after a broker or WAN outage whatever was not acknowledged is sent again
and the fleet store converges to exactly what the home recorded (duplicates are harmless:
ingest is idempotent on (site, meter, timestamp) per kind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sqlite3
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import aiomqtt

from routeb.errors import RouteBError
from routeb.fleet.schema import (
    DAY,
    DEFAULT_LIMITS,
    Cumulative,
    FleetMessage,
    Instant,
    SlotRow,
    encode,
    topic_for,
)
from routeb.fleet.settings import FleetSettings, NotRoutedError, RoutedPublisher, mqtt_client
from routeb.storage.model import Change, CumulativeReading, InstantReading, Slot
from routeb.storage.sqlite import SqliteStore
from routeb.storage.times import to_epoch

__all__ = ["CONSUMER", "FleetPublisher", "messages_of", "payloads_of"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
CONSUMER: Final = "fleet"
_RECONNECT_MIN: Final = 1.0
_RECONNECT_MAX: Final = 60.0


def messages_of(
    site: str, changes: list[Change], max_rows: int, max_days: int = DEFAULT_LIMITS.max_days
) -> list[FleetMessage]:
    """Outbox changes as fleet messages: one per meter, each with up to ``max_rows`` readings
    on up to ``max_days`` distinct UTC days (what one message may claim, docs/fleet.md)."""
    by_meter: dict[str, tuple[FleetMessage, set[int]]] = {}
    out: list[FleetMessage] = []

    def current(meter: str, ts: int) -> FleetMessage:
        day = ts // DAY
        entry = by_meter.get(meter)
        if (
            entry is None
            or entry[0].readings >= max_rows
            or (day not in entry[1] and len(entry[1]) >= max_days)
        ):
            entry = FleetMessage(site, meter, [], [], []), set()
            by_meter[meter] = entry
            out.append(entry[0])
        entry[1].add(day)
        return entry[0]

    for change in changes:
        record = change.record
        if isinstance(record, InstantReading):
            row: Instant = (
                to_epoch(record.at),
                record.power_w,
                record.current_r_da,
                record.current_t_da,
            )
            current(record.meter, row[0]).instant.append(row)
        elif isinstance(record, CumulativeReading):
            crow: Cumulative = (
                to_epoch(record.at),
                record.import_raw,
                record.export_raw,
                record.scale.coefficient,
                record.unit_code,
                record.digits,
            )
            current(record.meter, crow[0]).cumulative.append(crow)
        elif isinstance(record, Slot):
            srow: SlotRow = (
                to_epoch(record.at),
                record.import_raw,
                record.export_raw,
                record.coefficient,
                record.unit_code,
                record.digits,
                record.import_use_e4,
                record.export_use_e4,
                change.seq,
            )
            current(record.meter, srow[0]).slots.append(srow)
    return out


def payloads_of(message: FleetMessage, max_bytes: int = DEFAULT_LIMITS.max_bytes) -> list[bytes]:
    """``message`` encoded, in halves (and so on) while it is larger than ``max_bytes``."""
    payload = encode(message)
    if len(payload) <= max_bytes or message.readings <= 1:
        return [payload]
    halves = [FleetMessage(message.site, message.meter, sent=message.sent) for _ in range(2)]
    for kind in ("instant", "cumulative", "slots"):
        rows = getattr(message, kind)
        middle = (len(rows) + 1) // 2
        getattr(halves[0], kind).extend(rows[:middle])
        getattr(halves[1], kind).extend(rows[middle:])
    return [p for half in halves if half.readings for p in payloads_of(half, max_bytes)]


class FleetPublisher:
    """Publishes the outbox of ``db_path`` for ``site``; reconnects forever with backoff.

    Start it next to the daemon:
    ``asyncio.create_task(FleetPublisher(settings, path, site).run())``.
    """

    def __init__(
        self,
        settings: FleetSettings,
        db_path: str | Path,
        site: str | None = None,
        *,
        batch: int = 5000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.db_path = Path(db_path)
        self.site = site or settings.site or socket.gethostname()
        self.batch = batch
        self.clock = clock
        self.connected = asyncio.Event()
        self.published_messages = 0
        self.published_rows = 0
        self.connections = 0
        self.acked_seq = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()  # set when the outbox was found empty
        self._store: SqliteStore | None = None
        self._routing: RoutedPublisher | None = None
        self.unrouted = 0  # batches the broker dropped for want of a subscriber, sent again
        # sqlite3 connections belong to the thread that made them: one thread for all of it.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="routeb-fleet-outbox")

    def wake(self) -> None:
        """Publish now instead of at the next interval (e.g. after a write)."""
        self._wake.set()

    def _open(self) -> SqliteStore:
        if self._store is None:
            self._store = SqliteStore(self.db_path)
        return self._store

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def close(self) -> None:
        """Close the outbox connection (in its own thread) and the thread."""
        self._thread.submit(self._close).result()
        self._thread.shutdown()

    async def _in_thread(self, function: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, function)

    async def run(self) -> None:
        """Connect, drain, wait; on any broker trouble wait and start again."""
        delay = _RECONNECT_MIN
        client_id = self.settings.client_id or f"routeb-fleet-{self.site}"
        try:
            while True:
                try:
                    async with mqtt_client(self.settings, client_id) as client:
                        self.connections += 1
                        self.connected.set()
                        delay = _RECONNECT_MIN
                        await self._session(client)
                except aiomqtt.MqttError as exc:
                    _LOG.warning("fleet broker: %s; reconnecting in %.0f s", exc, delay)
                except (OSError, RouteBError, sqlite3.Error) as exc:
                    _LOG.error("fleet outbox: %s; trying again in %.0f s", exc, delay)
                finally:
                    self.connected.clear()
                await asyncio.sleep(delay)
                delay = min(_RECONNECT_MAX, delay * 2)
        finally:
            self.close()

    async def drain_once(self, client: aiomqtt.Client) -> int:
        """Publish one batch of the outbox and acknowledge it; the number of changes covered."""
        changes = await self._in_thread(self._pending)
        if not changes:
            return 0
        messages = messages_of(self.site, changes, self.settings.max_rows)
        now = self.clock()
        routed = self._routed(client)
        publishes: list[Coroutine[Any, Any, None]] = []
        for message in messages:
            message.sent = now
            topic = topic_for(self.settings.base_topic, message.site, message.meter)
            publishes.extend(routed.publish(topic, p) for p in payloads_of(message))
        # Every PUBACK, each saying a subscription took the message; then the outbox moves on.
        await asyncio.gather(*publishes)
        last = changes[-1].seq
        await self._in_thread(lambda: self._open().acknowledge(CONSUMER, last))
        self.acked_seq = last
        self.published_messages += len(messages)
        self.published_rows += sum(m.readings for m in messages)
        return len(changes)

    def _routed(self, client: aiomqtt.Client) -> RoutedPublisher:
        if self._routing is None or self._routing.client is not client:
            self._routing = RoutedPublisher(client)
        return self._routing

    def _pending(self) -> list[Change]:
        return self._open().pending(CONSUMER, self.batch)

    async def drain(self, timeout: float) -> bool:
        """Publish everything pending now, for a clean shutdown; False if not done in time."""
        self._idle.clear()
        self.wake()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _session(self, client: aiomqtt.Client) -> None:
        delay = _RECONNECT_MIN
        while True:
            try:
                covered = await self.drain_once(client)
            except NotRoutedError as exc:
                # Kept in the outbox: sent again once the ingest workers have subscribed.
                self.unrouted += 1
                _LOG.warning("fleet: %s; sending again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(_RECONNECT_MAX, delay * 2)
                continue
            delay = _RECONNECT_MIN
            if covered:
                continue  # until the outbox is empty
            self._idle.set()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.interval)
