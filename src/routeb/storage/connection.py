"""One SQLite connection of the store: opening (WAL, a private file), transactions, errors.

A writer opens the file read-write, creating it with mode 0600, switches to WAL with
``synchronous=NORMAL`` and migrates it; a reader opens it read-only and needs the current
schema. Every write is one ``BEGIN IMMEDIATE`` … ``COMMIT`` (:meth:`Database.write`), every
multi-query read one snapshot (:meth:`Database.read`), and every ``sqlite3.Error`` leaves as a
:class:`~routeb.storage.errors.StorageError` naming the file (docs/storage.md, durability).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from routeb.errors import UsageError
from routeb.storage.errors import StorageError
from routeb.storage.schema import migrate, verify
from routeb.storage.times import to_epoch

__all__ = ["DEFAULT_BUSY_TIMEOUT", "HORIZON_KEY", "MIN_SQLITE", "Database", "WriteTx"]

_LOG = logging.getLogger(__name__)

# How long a connection waits for another writer's lock before failing (seconds).
DEFAULT_BUSY_TIMEOUT: Final = 5.0
# UPSERT with a conflict target needs SQLite 3.24 (2018-06).
MIN_SQLITE: Final = (3, 24, 0)
# store_state key of the retention horizon (retention.py): raw readings before it are gone.
HORIZON_KEY: Final = "raw_horizon"
# Rows fetched per step of a long SELECT.
_FETCH: Final = 500


@dataclass(slots=True)
class WriteTx:
    """One write transaction: the change counter, the horizon and what the writes touched."""

    start_seq: int
    seq: int
    horizon: int | None
    now: int
    # (meter id, slot start) of every boundary written: their usage and days are redone.
    dirty_slots: set[tuple[int, int]] = field(default_factory=set)
    # meter id → (first, last) time of the live records written (meters.first/last_seen).
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)

    def next_seq(self) -> int:
        """The next value of the global change counter (the outbox orders by it)."""
        self.seq += 1
        return self.seq

    def saw(self, meter_id: int, ts: int) -> None:
        """A live record of ``meter_id`` at ``ts`` was written."""
        low, high = self.seen.get(meter_id, (ts, ts))
        self.seen[meter_id] = (min(low, ts), max(high, ts))


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (docs/configuration.md: every file
    routeb creates is private; SQLite gives the -wal and -shm files the database's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


class Database:
    """An open, migrated (writer) or verified (reader) database file and its meter ids."""

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool,
        busy_timeout: float,
        clock: Callable[[], datetime],
    ) -> None:
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StorageError(
                f"SQLite {sqlite3.sqlite_version} is too old; routeb needs 3.24 or newer"
            )
        self.path = path
        self.read_only = read_only
        self.clock = clock
        # meter key → id, shared by writes and reads (cleared when a write rolls back).
        self.meter_ids: dict[str, int] = {}
        self.conn = self._connect(busy_timeout)
        try:
            if read_only:
                self.schema_version = verify(self.conn, writable=False)
            else:
                self.schema_version = migrate(self.conn)
        except sqlite3.Error as exc:
            self.conn.close()
            raise StorageError(f"{self.path}: cannot prepare the database: {exc}") from exc
        except BaseException:
            self.conn.close()
            raise

    def _connect(self, busy_timeout: float) -> sqlite3.Connection:
        try:
            if self.read_only:
                if not self.path.is_file():
                    raise StorageError(f"no database at {self.path}")
                uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=busy_timeout, isolation_level=None)
            else:
                _create_private(self.path)
                conn = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.read_only:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    _LOG.warning("%s: WAL is not available (journal mode %s)", self.path, mode)
                # WAL + NORMAL: a commit survives a process kill; fsync at checkpoints only.
                conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            conn.close()
            raise StorageError(f"{self.path}: {exc}") from exc
        return conn

    def close(self) -> None:
        """Close the connection (committed data is already safe)."""
        self.conn.close()

    @contextmanager
    def errors(self) -> Iterator[None]:
        """``sqlite3.Error`` inside becomes a StorageError naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    @contextmanager
    def write(self) -> Iterator[WriteTx]:
        """One ``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back (all or nothing) on any error."""
        if self.read_only:
            raise UsageError("this store was opened read-only")
        conn = self.conn
        with self.errors():
            conn.execute("BEGIN IMMEDIATE")
        try:
            seq = int(conn.execute("SELECT value FROM sequence WHERE id = 1").fetchone()[0])
            row = conn.execute(
                "SELECT value FROM store_state WHERE key = ?", (HORIZON_KEY,)
            ).fetchone()
            tx = WriteTx(seq, seq, None if row is None else int(row[0]), to_epoch(self.clock()))
            yield tx
            if tx.seq != tx.start_seq:
                conn.execute("UPDATE sequence SET value = ? WHERE id = 1", (tx.seq,))
            conn.execute("COMMIT")
        except BaseException as exc:
            self.meter_ids.clear()  # ids inserted by the rolled-back transaction are gone
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    _LOG.exception("rollback failed")
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"{self.path}: {exc}") from exc
            raise

    @contextmanager
    def read(self) -> Iterator[None]:
        """One consistent snapshot across several SELECTs."""
        with self.errors():
            self.conn.execute("BEGIN")
        try:
            yield
        finally:
            if self.conn.in_transaction:
                with self.errors():
                    self.conn.execute("COMMIT")

    def select(self, sql: str, params: tuple[object, ...]) -> Iterator[tuple[Any, ...]]:
        """The rows of ``sql``, fetched a few hundred at a time."""
        try:
            cursor = self.conn.execute(sql, params)
            while True:
                rows = cursor.fetchmany(_FETCH)
                if not rows:
                    return
                yield from rows
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    def lookup(self, meter: str) -> int | None:
        """The id of the meter ``meter`` (its key), or None when it was never stored."""
        cached = self.meter_ids.get(meter)
        if cached is not None:
            return cached
        with self.errors():
            row = self.conn.execute("SELECT id FROM meters WHERE key = ?", (meter,)).fetchone()
        if row is None:
            return None
        self.meter_ids[meter] = int(row[0])
        return int(row[0])
