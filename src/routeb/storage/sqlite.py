"""The synchronous SQLite store: one connection, WAL, idempotent batched writes, exact sums.

One :class:`SqliteStore` per thread (sqlite3 connections are not shared between threads). The
daemon writes through :class:`routeb.storage.asyncstore.AsyncStore`, which owns one store on
its own thread; the dashboard, ``routeb export`` and ``routeb db check`` open their own
read-only stores, which WAL lets run beside the writer.

The store is a façade over one module per job: :mod:`.connection` (opening, transactions),
:mod:`.writes` (batches, with slot merging in :mod:`.slotmerge` and the rollups),
:mod:`.retention`, :mod:`.reads` (typed values, gaps, summaries), :mod:`.jsonviews` (series
as JSON written by SQLite) and :mod:`.outbox`.

Durability (docs/storage.md): every :meth:`SqliteStore.write` is one ``BEGIN IMMEDIATE`` …
``COMMIT``; with WAL and ``synchronous=NORMAL`` a committed batch survives the process being
killed at any moment, and the file is never left corrupt (a power cut may also lose the last
commits since the WAL was synced, never consistency).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from routeb.meter_time import SLOTS_PER_DAY
from routeb.storage import jsonviews, outbox, reads, retention, writes
from routeb.storage.connection import DEFAULT_BUSY_TIMEOUT, Database
from routeb.storage.model import (
    Change,
    CumulativeReading,
    DayGaps,
    DaySummary,
    InstantReading,
    LinkEvent,
    MeterRecord,
    MonthSummary,
    PowerStats,
    PurgeResult,
    Record,
    RetentionPolicy,
    Slot,
    WriteResult,
)
from routeb.storage.reads import Resolution
from routeb.storage.times import from_epoch, to_epoch

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SLOTS_PER_DAY", "Resolution", "SqliteStore"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SqliteStore:
    """One SQLite database file: migrations at open (writer), writes, reads, retention, outbox."""

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        retention: RetentionPolicy | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.retention = retention or RetentionPolicy()
        self._db = Database(self.path, read_only=read_only, busy_timeout=busy_timeout, clock=clock)
        self.schema_version = self._db.schema_version

    # --- connection --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (committed data is already safe)."""
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for checks and tests (do not write through it)."""
        return self._db.conn

    # --- writes and retention ----------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> WriteResult:
        """Store ``records`` in one transaction (all or nothing); idempotent.

        Instantaneous and cumulative readings: one per meter and second, the first kept.
        Slots: merged per direction (docs/storage.md, "Sources and precedence").
        """
        return writes.write(self._db, records)

    def purge(self, now: datetime | None = None) -> PurgeResult:
        """Delete raw readings older than the retention (aggregates and slots stay)."""
        return retention.purge(self._db, self.retention, now)

    def raw_horizon(self) -> datetime | None:
        """Raw readings before this instant have been deleted by retention (None: never)."""
        return retention.raw_horizon(self._db)

    # --- reads -------------------------------------------------------------------------------

    def meters(self) -> list[MeterRecord]:
        """Every meter, by key."""
        return reads.meters(self._db)

    def meter(self, meter: str) -> MeterRecord | None:
        """One meter by key."""
        return reads.meter(self._db, meter)

    def iter_instant(
        self, meter: str | None, start: datetime, end: datetime
    ) -> Iterator[InstantReading]:
        """Raw instantaneous readings in [start, end), by meter then time (None = all meters)."""
        return reads.iter_instant(self._db, meter, start, end)

    def instant(self, meter: str, start: datetime, end: datetime) -> list[InstantReading]:
        """Raw instantaneous readings of ``meter`` in [start, end)."""
        return list(self.iter_instant(meter, start, end))

    def iter_cumulative(
        self, meter: str | None, start: datetime, end: datetime
    ) -> Iterator[CumulativeReading]:
        """Raw cumulative readings in [start, end), by meter then time (None = all meters)."""
        return reads.iter_cumulative(self._db, meter, start, end)

    def cumulative(self, meter: str, start: datetime, end: datetime) -> list[CumulativeReading]:
        """Raw cumulative readings of ``meter`` in [start, end)."""
        return list(self.iter_cumulative(meter, start, end))

    def iter_slots(self, meter: str | None, start: datetime, end: datetime) -> Iterator[Slot]:
        """Stored boundaries in [start, end), by meter then time (None = all meters)."""
        return reads.iter_slots(self._db, meter, start, end)

    def slots(self, meter: str, start: datetime, end: datetime) -> list[Slot]:
        """Stored boundaries of ``meter`` in [start, end)."""
        return list(self.iter_slots(meter, start, end))

    def slot(self, meter: str, at: datetime) -> Slot | None:
        """The boundary ``at`` of ``meter``, if stored."""
        ts = to_epoch(at)
        return next(self.iter_slots(meter, from_epoch(ts), from_epoch(ts + 1)), None)

    def slot_usage(
        self, meter: str, start: datetime, end: datetime
    ) -> dict[int, tuple[Decimal | None, Decimal | None]]:
        """Only the usage of ``meter``'s slots in [start, end): {unix seconds: (import kWh,
        export kWh)} — what bills need, without building whole :class:`Slot` values."""
        return reads.slot_usage(self._db, meter, start, end)

    def iter_power(
        self, meter: str | None, start: datetime, end: datetime, resolution: Resolution
    ) -> Iterator[PowerStats]:
        """Power aggregates starting in [start, end) (``minute`` or ``halfhour``)."""
        return reads.iter_power(self._db, meter, start, end, resolution)

    def power(
        self, meter: str, start: datetime, end: datetime, resolution: Resolution = "minute"
    ) -> list[PowerStats]:
        """Power aggregates of ``meter`` in [start, end)."""
        return list(self.iter_power(meter, start, end, resolution))

    def iter_events(self, meter: str | None, start: datetime, end: datetime) -> Iterator[LinkEvent]:
        """Link events in [start, end), by meter then time (None = all meters)."""
        return reads.iter_events(self._db, meter, start, end)

    def events(self, meter: str | None, start: datetime, end: datetime) -> list[LinkEvent]:
        """Link events in [start, end)."""
        return list(self.iter_events(meter, start, end))

    def missing_slots(self, meter: str, start: datetime, end: datetime) -> list[datetime]:
        """Boundaries in [start, end) with no import counter stored (for the backfill)."""
        return reads.missing_slots(self._db, meter, start, end)

    def gaps(self, meter: str, first_day: date, last_day: date) -> list[DayGaps]:
        """JST days in [first_day, last_day] with missing boundaries (complete days left out)."""
        return reads.gaps(self._db, meter, first_day, last_day)

    def day_summaries(self, meter: str, first_day: date, last_day: date) -> list[DaySummary]:
        """One summary per JST day in [first_day, last_day] (days without data included)."""
        return reads.day_summaries(self._db, meter, first_day, last_day)

    def month_summaries(self, meter: str, first: date, last: date) -> list[MonthSummary]:
        """One summary per JST calendar month from ``first``'s month to ``last``'s."""
        return reads.month_summaries(self._db, meter, first, last)

    def counts(self) -> dict[str, int]:
        """Rows per table (for reports)."""
        return reads.counts(self._db)

    # --- JSON views (storage/jsonviews.py) ----------------------------------------------------

    def instant_json(self, meter: str, start: datetime, end: datetime) -> str:
        """``meter``'s raw readings in [start, end) as a JSON array, written by SQLite."""
        return jsonviews.instant_json(self._db, meter, start, end)

    def power_json(self, meter: str, start: datetime, end: datetime, resolution: Resolution) -> str:
        """``meter``'s power aggregates in [start, end) as a JSON array, written by SQLite."""
        return jsonviews.power_json(self._db, meter, start, end, resolution)

    def days_json(
        self, meter: str, first_day: date, last_day: date
    ) -> tuple[str, int | None, int | None]:
        """One JSON object per JST day in [first_day, last_day] (as :meth:`day_summaries`), and
        the energy bought and sold over those days in 0.0001 kWh (None: none known)."""
        return jsonviews.days_json(self._db, meter, first_day, last_day)

    # --- outbox ------------------------------------------------------------------------------

    def acked(self, consumer: str) -> int:
        """The highest seq ``consumer`` has acknowledged (0 = nothing yet)."""
        return outbox.acked(self._db, consumer)

    def acknowledge(self, consumer: str, seq: int) -> None:
        """Record that ``consumer`` has everything up to and including ``seq`` (never goes back)."""
        outbox.acknowledge(self._db, consumer, seq)

    def pending(self, consumer: str, limit: int = 1000) -> list[Change]:
        """The oldest ``limit`` rows not yet acknowledged by ``consumer``, in seq order.

        A row changed after it was acknowledged (a slot that got its usage) comes back with
        a new seq. Raw readings removed by retention before they were published are not.
        """
        return outbox.pending(self._db, consumer, limit)
