"""The store for asyncio: one writer thread that owns the connection, batching every write.

The event loop never blocks on SQLite: :meth:`AsyncStore.submit` only appends to a queue. The
writer thread commits what it holds at least every ``commit_interval`` seconds (default 2 s)
or as soon as ``max_batch`` records are waiting, so a kill loses at most the last couple of
seconds (docs/storage.md, "Crash safety"). Reads that must see the daemon's own writes (the
backfill's :meth:`missing_slots`) run on the same thread after a commit; the dashboard opens
its own read-only :class:`SqliteStore` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Final, TypeVar, cast

from routeb.storage.errors import StorageError
from routeb.storage.model import PurgeResult, Record, RetentionPolicy, Slot, WriteResult
from routeb.storage.sqlite import DEFAULT_BUSY_TIMEOUT, SqliteStore
from routeb.storage.writerlock import WriterLock, take_writer_lock

__all__ = [
    "DEFAULT_COMMIT_INTERVAL",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_PURGE_INTERVAL",
    "AsyncStore",
    "StoreStats",
]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")

# Issue §3: "commit at least every few seconds"; a kill loses at most this much.
DEFAULT_COMMIT_INTERVAL: Final = 2.0
# Records per transaction: large enough to amortise the commit, small enough to stay brief.
DEFAULT_MAX_BATCH: Final = 1000
# While the disk refuses writes, keep this many records in memory, then drop the oldest.
DEFAULT_MAX_BUFFER: Final = 100_000
# How often retention runs (seconds); it also runs once at start.
DEFAULT_PURGE_INTERVAL: Final = 3600.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class StoreStats:
    """Counters of the writer thread (for /metrics and logs)."""

    commits: int
    records: int
    buffered: int
    dropped: int
    rejected: int
    failed_commits: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class _Records:
    records: tuple[Record, ...]


@dataclass(frozen=True, slots=True)
class _Flush:
    done: Future[None]


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[SqliteStore], object]
    done: Future[object]


@dataclass(frozen=True, slots=True)
class _Stop:
    done: Future[None]


_Item = _Records | _Flush | _Call | _Stop


@dataclass(slots=True)
class _Counters:
    """What the writer thread has done, read by the owner's :attr:`AsyncStore.stats` (plain
    ints and a str: each update is atomic under the GIL)."""

    commits: int = 0
    records: int = 0
    dropped: int = 0
    rejected: int = 0
    failed_commits: int = 0
    last_error: str | None = None


def _transient(exc: BaseException) -> bool:
    """A failure worth retrying later (locked, disk full, I/O) rather than a bad record."""
    return isinstance(exc.__cause__, (sqlite3.OperationalError, OSError))


class _Writer:
    """The loop run by the writer thread (all its state is touched by that thread only)."""

    def __init__(
        self,
        owner: AsyncStore,
        store: SqliteStore,
        items: queue.SimpleQueue[_Item],
        counters: _Counters,
    ) -> None:
        self.owner = owner
        self.store = store
        self.items = items
        self.counters = counters
        self.buffer: list[Record] = []
        self.oldest: float | None = None
        self.next_purge = time.monotonic()

    def run(self) -> None:
        owner = self.owner
        while True:
            now = time.monotonic()
            deadlines = [self.next_purge]
            if self.oldest is not None:
                deadlines.append(self.oldest + owner.commit_interval)
            try:
                item = self.items.get(timeout=max(0.0, min(deadlines) - now))
            except queue.Empty:
                item = None
            if item is not None and self.handle(item):
                return
            now = time.monotonic()
            if self.oldest is not None and now >= self.oldest + owner.commit_interval:
                self.commit()
            if now >= self.next_purge:
                self.purge()

    def handle(self, item: _Item) -> bool:
        """Process one queue item; True when the thread must stop."""
        match item:
            case _Records(records):
                if self.oldest is None:
                    self.oldest = time.monotonic()
                self.buffer.extend(records)
                if len(self.buffer) >= self.owner.max_batch:
                    self.commit()
            case _Flush(done):
                error = self.commit()
                # A waiter that gave up (cancelled) must not kill this thread.
                with contextlib.suppress(InvalidStateError):
                    if error is None:
                        done.set_result(None)
                    else:
                        done.set_exception(error)
            case _Call(fn, done):
                self.commit()
                if not done.set_running_or_notify_cancel():
                    return False  # the caller gave up before its turn came
                try:
                    result = fn(self.store)
                except BaseException as exc:  # noqa: BLE001 - any failure of the caller's function goes back to the caller
                    done.set_exception(exc)
                else:
                    done.set_result(result)
            case _Stop(done):
                error = self.commit()
                self.store.close()
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)
                return True
        return False

    def commit(self) -> StorageError | None:
        """Write everything buffered; on a transient failure keep it for the next attempt."""
        owner = self.owner
        while self.buffer:
            batch = self.buffer[: owner.max_batch]
            try:
                result = self._write(batch)
            except StorageError as exc:
                self.counters.failed_commits += 1
                self.counters.last_error = str(exc)
                _LOG.warning("storage: commit failed, will retry: %s", exc)
                self._bound()
                self.oldest = time.monotonic()
                return exc
            del self.buffer[: len(batch)]
            self.counters.commits += 1
            self.counters.records += len(batch) - result.rejected
            self.counters.rejected += result.rejected
        self.oldest = None
        return None

    def _write(self, batch: list[Record]) -> WriteResult:
        """One transaction; if the batch is refused for a reason other than the disk, the
        records go one by one and those that cannot be stored are dropped (logged)."""
        try:
            return self.store.write(batch)
        except StorageError as exc:
            if _transient(exc):
                raise
            _LOG.debug("storage: batch refused (%s), writing one by one", exc)
        except Exception as exc:  # noqa: BLE001 - a record the store cannot take must not lose the rest
            # A record the store cannot take (a bug upstream): isolate it, keep the rest.
            _LOG.debug("storage: batch refused (%s), writing one by one", exc)
        return self._one_by_one(batch)

    def _one_by_one(self, batch: list[Record]) -> WriteResult:
        total = WriteResult()
        for record in batch:
            try:
                total.add(self.store.write([record]))
            except Exception as exc:
                if isinstance(exc, StorageError) and _transient(exc):
                    raise
                _LOG.error("storage: dropped a record that cannot be stored: %s", exc)
                total.rejected += 1
        return total

    def _bound(self) -> None:
        excess = len(self.buffer) - self.owner.max_buffer
        if excess > 0:
            del self.buffer[:excess]
            self.counters.dropped += excess
            _LOG.error("storage: buffer full, dropped the %d oldest records", excess)

    def purge(self) -> None:
        self.next_purge = time.monotonic() + self.owner.purge_interval
        try:
            result = self.store.purge()
        except Exception as exc:  # noqa: BLE001 - a failed retention pass must not stop the writer
            _LOG.warning("storage: retention pass failed: %s", exc)
            return
        if result.instant_deleted or result.cumulative_deleted:
            _LOG.info(
                "storage: retention removed %d instantaneous and %d cumulative readings",
                result.instant_deleted,
                result.cumulative_deleted,
            )


class AsyncStore:
    """The daemon's store: non-blocking :meth:`submit`, periodic commits, awaitable reads."""

    def __init__(
        self,
        path: str | Path,
        *,
        retention: RetentionPolicy | None = None,
        commit_interval: float = DEFAULT_COMMIT_INTERVAL,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        purge_interval: float = DEFAULT_PURGE_INTERVAL,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Callable[[], datetime] = _utcnow,
        writer_lock: bool = True,
    ) -> None:
        self.path = Path(path)
        # The daemon's store is the database's only recorder (storage/writerlock.py).
        self._take_lock = writer_lock
        self._lock: WriterLock | None = None
        self.retention = retention or RetentionPolicy()
        self.commit_interval = commit_interval
        self.max_batch = max(1, max_batch)
        self.max_buffer = max(self.max_batch, max_buffer)
        self.purge_interval = purge_interval
        self._busy_timeout = busy_timeout
        self._clock = clock
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._open = False
        self._crashed = False
        # Each counter has one writer: _submitted the event loop, the rest the writer thread.
        self._submitted = 0
        self._counters = _Counters()

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Take the writer lock, start the writer thread and open (and migrate) the database.

        DatabaseInUseError when another process records into the same file.
        """
        if self._thread is not None:
            raise StorageError("the store is already open")
        if self._take_lock:
            self._lock = take_writer_lock(self.path)
        opened: Future[None] = Future()
        self._crashed = False
        self._thread = threading.Thread(
            target=self._main, args=(opened,), name="routeb-storage", daemon=True
        )
        self._thread.start()
        try:
            await asyncio.wrap_future(opened)
        except BaseException:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
            self._release_lock()
            raise
        self._open = True

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def _main(self, opened: Future[None]) -> None:
        try:
            store = SqliteStore(
                self.path,
                retention=self.retention,
                busy_timeout=self._busy_timeout,
                clock=self._clock,
            )
        except BaseException as exc:  # noqa: BLE001 - whatever stops the store opening goes to the opener
            opened.set_exception(exc)
            return
        opened.set_result(None)
        try:
            _Writer(self, store, self._queue, self._counters).run()
        except BaseException:  # noqa: BLE001 - a writer-thread crash is logged and flagged, not lost
            _LOG.exception("storage: the writer thread failed")
            # Closed first, then drained: a waiter that queued after the drain sees the flag.
            self._crashed = True
            self._open = False
            store.close()
            self._fail_waiters()

    def _put(self, item: _Item) -> None:
        self._queue.put(item)
        if not self._open:
            self._fail_waiters()

    def _fail_waiters(self) -> None:
        error = StorageError("the storage writer stopped")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, (_Flush, _Call, _Stop)):
                # Both threads may drain at once; the first answer wins.
                with contextlib.suppress(InvalidStateError):
                    item.done.set_exception(error)

    async def close(self) -> None:
        """Commit what is buffered and stop the writer (idempotent).

        Raises StorageError when the final commit failed (the records are lost); a writer that
        had already died was reported when it did.
        """
        thread = self._thread
        if thread is None:
            return
        self._open = False
        done: Future[None] = Future()
        self._queue.put(_Stop(done))
        # The thread ends after answering _Stop, or has ended already: joining cannot hang.
        await asyncio.to_thread(thread.join)
        self._thread = None
        self._release_lock()
        if self._crashed or not done.done():
            return
        error = done.exception()
        if error is not None:
            raise error

    async def __aenter__(self) -> AsyncStore:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- writes ------------------------------------------------------------------------------

    def submit(self, *records: Record) -> None:
        """Queue ``records`` for the next commit; never blocks (StorageError when closed)."""
        if not self._open:
            raise StorageError("the store is not open")
        if records:
            self._submitted += len(records)
            self._queue.put(_Records(records))

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed (StorageError if it cannot be)."""
        if not self._open:
            raise StorageError("the store is not open")
        done: Future[None] = Future()
        self._put(_Flush(done))
        await asyncio.wrap_future(done)

    # --- reads on the writer's connection ----------------------------------------------------

    async def call(self, fn: Callable[[SqliteStore], T]) -> T:
        """Run ``fn(store)`` on the writer thread after committing what is buffered."""
        if not self._open:
            raise StorageError("the store is not open")
        done: Future[object] = Future()
        self._put(_Call(fn, done))
        return cast(T, await asyncio.wrap_future(done))

    async def missing_slots(self, meter: str, start: datetime, end: datetime) -> list[datetime]:
        """Boundaries in [start, end) with no import counter (sees every submitted record)."""
        return await self.call(lambda store: store.missing_slots(meter, start, end))

    async def slot(self, meter: str, at: datetime) -> Slot | None:
        """The stored boundary ``at`` (sees every submitted record)."""
        return await self.call(lambda store: store.slot(meter, at))

    async def purge(self) -> PurgeResult:
        """Run retention now."""
        return await self.call(lambda store: store.purge())

    @property
    def stats(self) -> StoreStats:
        """Counters since :meth:`open` (``buffered`` = submitted, not yet committed)."""
        c = self._counters
        return StoreStats(
            commits=c.commits,
            records=c.records,
            buffered=self._submitted - c.records - c.dropped - c.rejected,
            dropped=c.dropped,
            rejected=c.rejected,
            failed_commits=c.failed_commits,
            last_error=c.last_error,
        )
