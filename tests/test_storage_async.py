"""AsyncStore: batching, periodic commits, flush, reads on the writer thread, failures."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.echonet.energy import EnergyScale
from routeb.storage import (
    AsyncStore,
    InstantReading,
    RetentionPolicy,
    SchemaVersionError,
    SlotReading,
    SlotSource,
    SqliteStore,
    StorageError,
    asyncstore,
    latest_version,
)

# Recent enough that the default 31-day retention keeps what the tests write.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
SCALE = EnergyScale(1, Decimal("0.1"))


def readings(count: int, start: int = 0) -> list[InstantReading]:
    return [
        InstantReading("home", T0 + timedelta(seconds=start + i), 100 + i) for i in range(count)
    ]


def committed(path: Path) -> int:
    """Rows another process would see (a separate read-only connection)."""
    with SqliteStore(path, read_only=True) as reader:
        return reader.counts()["instant"]


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def no_lingering_writer() -> Iterator[None]:
    yield
    names = [t.name for t in threading.enumerate() if t.name == "routeb-storage"]
    assert names == [], "a storage writer thread outlived its test"


async def test_submit_never_blocks_and_commits_within_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with AsyncStore(path, commit_interval=0.8) as store:
        before = time.monotonic()
        store.submit(*readings(50))
        assert time.monotonic() - before < 0.05
        assert committed(path) == 0  # held for the interval, not committed per record
        await wait_for(lambda: committed(path) == 50, timeout=5.0)
        assert store.stats.buffered == 0
        assert store.stats.commits >= 1


async def test_a_full_batch_commits_early(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with AsyncStore(path, commit_interval=60.0, max_batch=10) as store:
        store.submit(*readings(25))
        await wait_for(lambda: committed(path) >= 20)
        await store.flush()
        assert committed(path) == 25
        assert store.stats.records == 25


async def test_reads_see_every_submitted_record(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with AsyncStore(path, commit_interval=60.0) as store:
        at = T0.replace(minute=30)
        store.submit(SlotReading("home", at, 10, None, SlotSource.PUSH, SCALE, 6))
        missing = await store.missing_slots("home", T0, T0 + timedelta(hours=1))
        assert missing == [T0]
        stored = await store.slot("home", at)
        assert stored is not None
        assert stored.import_kwh == Decimal("1.0")
        assert await store.call(lambda s: s.counts()["slots"]) == 1
        with pytest.raises(Exception, match="aware"):
            await store.missing_slots("home", datetime(2026, 5, 20), datetime(2026, 5, 21))


async def test_close_commits_and_later_use_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    store = AsyncStore(path, commit_interval=60.0)
    with pytest.raises(StorageError):
        store.submit(*readings(1))
    await store.open()
    store.submit(*readings(7))
    await store.close()
    await store.close()  # idempotent
    assert committed(path) == 7
    with pytest.raises(StorageError):
        store.submit(*readings(1))
    with pytest.raises(StorageError):
        await store.flush()


async def test_open_failure_is_raised_and_leaves_no_thread(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 5}")
    conn.close()
    store = AsyncStore(path)
    with pytest.raises(SchemaVersionError):
        await store.open()
    await store.close()


async def test_a_locked_disk_keeps_records_until_it_can_write(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    async with AsyncStore(path, commit_interval=60.0, busy_timeout=0.05) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            store.submit(*readings(5))
            with pytest.raises(StorageError):
                await store.flush()
            stats = store.stats
            assert stats.failed_commits >= 1
            assert stats.buffered == 5
            assert stats.last_error is not None
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await store.flush()
        assert committed(path) == 5
        assert store.stats.buffered == 0


async def test_the_buffer_is_bounded_while_the_disk_refuses(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    async with AsyncStore(
        path, commit_interval=60.0, max_batch=4, max_buffer=8, busy_timeout=0.02
    ) as store:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            store.submit(*readings(20))
            with pytest.raises(StorageError):
                await store.flush()
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await store.flush()
        assert store.stats.dropped == 12
    with SqliteStore(path, read_only=True) as reader:
        kept = reader.instant("home", T0, T0 + timedelta(minutes=1))
    assert [r.power_w for r in kept] == [100 + i for i in range(12, 20)]  # the newest survive


async def test_a_record_the_store_cannot_take_is_dropped_alone(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with AsyncStore(path, commit_interval=60.0) as store:
        store.submit(*readings(3), "not a record", *readings(2, start=10))  # type: ignore[arg-type]
        await store.flush()
        assert store.stats.rejected == 1
        assert store.stats.records == 5
    assert committed(path) == 5


async def test_retention_runs_in_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    now = T0 + timedelta(days=10)
    with SqliteStore(path) as db:
        db.write(readings(4))
    async with AsyncStore(
        path, retention=RetentionPolicy(2), clock=lambda: now, purge_interval=3600.0
    ) as store:
        store.submit(InstantReading("home", now, 1))
        result = await store.purge()
        assert result.horizon == now - timedelta(days=2)
        await store.flush()
        assert committed(path) == 1


async def test_a_dead_writer_fails_waiters_instead_of_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = asyncstore._Writer.handle

    def explode(self: asyncstore._Writer, item: object) -> bool:
        if isinstance(item, asyncstore._Records):
            raise RuntimeError("boom")
        return original(self, item)  # type: ignore[arg-type]

    monkeypatch.setattr(asyncstore._Writer, "handle", explode)
    store = AsyncStore(tmp_path / "db.sqlite3", commit_interval=60.0)
    await store.open()
    store.submit(*readings(1))
    with pytest.raises(StorageError):
        await asyncio.wait_for(store.flush(), timeout=5)
    with pytest.raises(StorageError):
        store.submit(*readings(1))
    await asyncio.wait_for(store.close(), timeout=5)
