"""The synchronous SQLite store: one connection, WAL, idempotent batched writes, exact sums.

One :class:`SqliteStore` per thread (sqlite3 connections are not shared between threads). The
daemon writes through :class:`routeb.storage.asyncstore.AsyncStore`, which owns one store on
its own thread; the dashboard, ``routeb export`` and ``routeb db check`` open their own
read-only stores, which WAL lets run beside the writer.

Durability (docs/storage.md): every :meth:`SqliteStore.write` is one ``BEGIN IMMEDIATE`` …
``COMMIT``; with WAL and ``synchronous=NORMAL`` a committed batch survives the process being
killed at any moment, and the file is never left corrupt (a power cut may also lose the last
commits since the WAL was synced, never consistency).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal
from urllib.parse import quote

from routeb.errors import UsageError
from routeb.storage import jsonviews
from routeb.storage.errors import StorageError
from routeb.storage.model import (
    Change,
    CumulativeReading,
    DayGaps,
    DaySummary,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterRecord,
    MeterUpdate,
    MonthSummary,
    PowerStats,
    PurgeResult,
    Record,
    RetentionPolicy,
    Slot,
    SlotReading,
    WriteResult,
    amperes_of_tenths,
    counter_e4,
    e4_to_kwh,
    epoch_or_none,
    scale_of,
    slot_source,
    slot_usage_e4,
    unit_code_of,
)
from routeb.storage.schema import migrate, verify
from routeb.storage.times import (
    DAY_SECONDS,
    JST_OFFSET,
    SLOT_SECONDS,
    from_epoch,
    jst_day,
    jst_day_start,
    slots_in,
    to_epoch,
)

__all__ = ["DEFAULT_BUSY_TIMEOUT", "SqliteStore"]

_LOG = logging.getLogger(__name__)

# How long a connection waits for another writer's lock before failing (seconds).
DEFAULT_BUSY_TIMEOUT: Final = 5.0
# UPSERT with a conflict target needs SQLite 3.24 (2018-06).
MIN_SQLITE: Final = (3, 24, 0)
# Retention deletes in chunks so no single transaction holds the write lock for long.
PURGE_CHUNK: Final = 5000
SLOTS_PER_DAY: Final = DAY_SECONDS // SLOT_SECONDS
_HORIZON_KEY: Final = "raw_horizon"
_EPOCH_DAY: Final = date(1970, 1, 1)

Resolution = Literal["minute", "halfhour"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Tx:
    """State of one write transaction."""

    start_seq: int
    seq: int
    horizon: int | None
    now: int
    dirty_slots: set[tuple[int, int]] = field(default_factory=set)
    seen: dict[int, tuple[int, int]] = field(default_factory=dict)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def saw(self, meter_id: int, ts: int) -> None:
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
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StorageError(
                f"SQLite {sqlite3.sqlite_version} is too old; routeb needs 3.24 or newer"
            )
        self.path = Path(path)
        self.read_only = read_only
        self.retention = retention or RetentionPolicy()
        self._clock = clock
        self._meter_ids: dict[str, int] = {}
        self._conn = self._connect(busy_timeout)
        try:
            if read_only:
                self.schema_version = verify(self._conn, writable=False)
            else:
                self.schema_version = migrate(self._conn)
        except sqlite3.Error as exc:
            self._conn.close()
            raise StorageError(f"{self.path}: cannot prepare the database: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    # --- connection --------------------------------------------------------------------------

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
        self._conn.close()

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
        return self._conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[_Tx]:
        if self.read_only:
            raise UsageError("this store was opened read-only")
        conn = self._conn
        with self._errors():
            conn.execute("BEGIN IMMEDIATE")
        try:
            seq = int(conn.execute("SELECT value FROM sequence WHERE id = 1").fetchone()[0])
            row = conn.execute(
                "SELECT value FROM store_state WHERE key = ?", (_HORIZON_KEY,)
            ).fetchone()
            tx = _Tx(seq, seq, None if row is None else int(row[0]), to_epoch(self._clock()))
            yield tx
            if tx.seq != tx.start_seq:
                conn.execute("UPDATE sequence SET value = ? WHERE id = 1", (tx.seq,))
            conn.execute("COMMIT")
        except BaseException as exc:
            self._meter_ids.clear()
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    _LOG.exception("rollback failed")
            if isinstance(exc, sqlite3.Error):
                raise StorageError(f"{self.path}: {exc}") from exc
            raise

    # --- writes ------------------------------------------------------------------------------

    def write(self, records: Iterable[Record]) -> WriteResult:
        """Store ``records`` in one transaction (all or nothing); idempotent.

        Instantaneous and cumulative readings: one per meter and second, the first kept.
        Slots: merged per direction (docs/storage.md, "Sources and precedence").
        """
        batch = list(records)
        result = WriteResult()
        with self._write() as tx:
            for record in batch:
                match record:
                    case InstantReading():
                        self._put_instant(tx, record, result)
                    case CumulativeReading():
                        self._put_cumulative(tx, record, result)
                    case SlotReading():
                        self._put_slot(tx, record, result)
                    case LinkEvent():
                        self._put_event(tx, record, result)
                    case MeterUpdate():
                        self._put_meter(tx, record, result)
                    case _:
                        raise UsageError(f"cannot store {type(record).__name__}")
            self._finish_slots(tx)
            self._touch_meters(tx)
        return result

    def _meter_id(self, tx: _Tx, key: str, ts: int, *, live: bool = True) -> int:
        cached = self._meter_ids.get(key)
        if cached is None:
            row = self._conn.execute("SELECT id FROM meters WHERE key = ?", (key,)).fetchone()
            if row is None:
                cursor = self._conn.execute(
                    "INSERT INTO meters (key, metadata, first_seen, last_seen, seq) "
                    "VALUES (?, '{}', ?, ?, ?)",
                    (key, ts, ts, tx.next_seq()),
                )
                cached = int(cursor.lastrowid or 0)
            else:
                cached = int(row[0])
            self._meter_ids[key] = cached
        if live:
            tx.saw(cached, ts)
        return cached

    def _touch_meters(self, tx: _Tx) -> None:
        for meter_id, (low, high) in tx.seen.items():
            self._conn.execute(
                "UPDATE meters SET first_seen = min(first_seen, ?), last_seen = max(last_seen, ?) "
                "WHERE id = ?",
                (low, high, meter_id),
            )

    def _too_old(self, tx: _Tx, ts: int) -> bool:
        # Below the horizon the raw row may be gone: re-adding it would count it twice in the
        # aggregates, so readings older than what retention already deleted are refused.
        return tx.horizon is not None and ts < tx.horizon

    def _put_instant(self, tx: _Tx, record: InstantReading, result: WriteResult) -> None:
        ts = to_epoch(record.at)
        meter_id = self._meter_id(tx, record.meter, ts)
        if self._too_old(tx, ts):
            result.too_old += 1
            return
        seq = tx.seq + 1
        cursor = self._conn.execute(
            "INSERT INTO instant (seq, meter_id, ts, power_w, current_r_da, current_t_da) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (meter_id, ts) DO NOTHING",
            (seq, meter_id, ts, record.power_w, record.current_r_da, record.current_t_da),
        )
        if cursor.rowcount != 1:
            result.instant_duplicate += 1
            return
        tx.seq = seq
        result.instant_added += 1
        if record.power_w is None:
            return
        power = record.power_w
        for sql, width in _SQL_AGGREGATE:
            self._conn.execute(sql, (meter_id, ts - ts % width, power, power, power))
        self._conn.execute(_SQL_PEAK_DAY, (meter_id, (ts + JST_OFFSET) // DAY_SECONDS, power))

    def _put_cumulative(self, tx: _Tx, record: CumulativeReading, result: WriteResult) -> None:
        ts = to_epoch(record.at)
        meter_id = self._meter_id(tx, record.meter, ts)
        if self._too_old(tx, ts):
            result.too_old += 1
            return
        coefficient = record.scale.coefficient
        unit = record.unit_code
        seq = tx.seq + 1
        cursor = self._conn.execute(
            "INSERT INTO cumulative (seq, meter_id, ts, import_raw, import_e4, export_raw, "
            "export_e4, coefficient, unit_code, digits) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (meter_id, ts) DO NOTHING",
            (
                seq,
                meter_id,
                ts,
                record.import_raw,
                counter_e4(record.import_raw, coefficient, unit),
                record.export_raw,
                counter_e4(record.export_raw, coefficient, unit),
                coefficient,
                unit,
                record.digits,
            ),
        )
        if cursor.rowcount != 1:
            result.cumulative_duplicate += 1
            return
        tx.seq = seq
        result.cumulative_added += 1

    def _put_slot(self, tx: _Tx, record: SlotReading, result: WriteResult) -> None:
        start = to_epoch(record.at)
        meter_id = self._meter_id(tx, record.meter, start, live=False)
        coefficient = record.scale.coefficient
        unit = unit_code_of(record.scale)
        source = record.source.value
        row = self._conn.execute(
            "SELECT import_raw, import_source, export_raw, export_source, coefficient, "
            "unit_code, digits FROM slots WHERE meter_id = ? AND slot_start = ?",
            (meter_id, start),
        ).fetchone()
        if row is None:
            if record.import_raw is None and record.export_raw is None:
                result.slots_unchanged += 1
                return
            self._conn.execute(
                "INSERT INTO slots (seq, meter_id, slot_start, import_raw, import_e4, "
                "import_source, export_raw, export_e4, export_source, coefficient, unit_code, "
                "digits, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    tx.next_seq(),
                    meter_id,
                    start,
                    record.import_raw,
                    counter_e4(record.import_raw, coefficient, unit),
                    None if record.import_raw is None else source,
                    record.export_raw,
                    counter_e4(record.export_raw, coefficient, unit),
                    None if record.export_raw is None else source,
                    coefficient,
                    unit,
                    record.digits,
                    tx.now,
                ),
            )
            tx.dirty_slots.add((meter_id, start))
            result.slots_changed += 1
            return
        imp, imp_src, exp, exp_src, old_coefficient, old_unit, digits = row
        empty = imp is None and exp is None
        same_scale = (old_coefficient, old_unit) == (coefficient, unit) or empty
        conflicts = 0
        changed = False
        if empty:
            old_coefficient, old_unit = coefficient, unit
        values = [[imp, imp_src], [exp, exp_src]]
        for pair, new in zip(values, (record.import_raw, record.export_raw), strict=True):
            if new is None:
                continue
            if pair[0] is None and same_scale:
                pair[0], pair[1] = new, source
                changed = True
            elif pair[0] != new or not same_scale:
                conflicts += 1
        if record.digits is not None:
            if digits is None:
                digits = record.digits
                changed = True
            elif digits != record.digits:
                conflicts += 1
        if changed:
            (imp, imp_src), (exp, exp_src) = values
            self._conn.execute(
                "UPDATE slots SET seq = ?, import_raw = ?, import_e4 = ?, import_source = ?, "
                "export_raw = ?, export_e4 = ?, export_source = ?, coefficient = ?, "
                "unit_code = ?, digits = ?, conflicts = conflicts + ?, updated = ? "
                "WHERE meter_id = ? AND slot_start = ?",
                (
                    tx.next_seq(),
                    imp,
                    counter_e4(imp, old_coefficient, old_unit),
                    imp_src,
                    exp,
                    counter_e4(exp, old_coefficient, old_unit),
                    exp_src,
                    old_coefficient,
                    old_unit,
                    digits,
                    conflicts,
                    tx.now,
                    meter_id,
                    start,
                ),
            )
            tx.dirty_slots.add((meter_id, start))
            result.slots_changed += 1
        else:
            if conflicts:
                self._conn.execute(
                    "UPDATE slots SET conflicts = conflicts + ? "
                    "WHERE meter_id = ? AND slot_start = ?",
                    (conflicts, meter_id, start),
                )
            result.slots_unchanged += 1
        result.slot_conflicts += conflicts

    def _finish_slots(self, tx: _Tx) -> None:
        """Recompute the usage of every changed boundary and of the one before it, then the
        rollups of their JST days."""
        todo = {(m, s) for m, s in tx.dirty_slots} | {
            (m, s - SLOT_SECONDS) for m, s in tx.dirty_slots
        }
        for meter_id, start in sorted(todo):
            rows = {
                int(r[0]): r
                for r in self._conn.execute(
                    "SELECT slot_start, import_raw, export_raw, coefficient, unit_code, digits, "
                    "import_use_e4, export_use_e4, seq FROM slots "
                    "WHERE meter_id = ? AND slot_start IN (?, ?)",
                    (meter_id, start, start + SLOT_SECONDS),
                )
            }
            here = rows.get(start)
            if here is None:
                continue
            after = rows.get(start + SLOT_SECONDS)
            uses: list[int | None] = [None, None]
            if after is not None and (here[3], here[4]) == (after[3], after[4]):
                digits = here[5] if here[5] is not None else after[5]
                if here[5] is not None and after[5] is not None and here[5] != after[5]:
                    digits = None
                for index, column in enumerate((1, 2)):
                    uses[index] = slot_usage_e4(
                        here[column], after[column], here[3], here[4], digits
                    )
            if (uses[0], uses[1]) == (here[6], here[7]):
                continue
            seq = int(here[8]) if here[8] > tx.start_seq else tx.next_seq()
            self._conn.execute(
                "UPDATE slots SET import_use_e4 = ?, export_use_e4 = ?, seq = ?, updated = ? "
                "WHERE meter_id = ? AND slot_start = ?",
                (uses[0], uses[1], seq, tx.now, meter_id, start),
            )
        # The days these slots belong to, summed again (slot_days: migration 0002).
        for meter_id, day in sorted({(m, (s + JST_OFFSET) // DAY_SECONDS) for m, s in todo}):
            low = day * DAY_SECONDS - JST_OFFSET
            self._conn.execute(_SQL_ROLLUP_DAY, (meter_id, day, meter_id, low, low + DAY_SECONDS))

    def _put_event(self, tx: _Tx, record: LinkEvent, result: WriteResult) -> None:
        ts = to_epoch(record.at)
        meter_id = self._meter_id(tx, record.meter, ts)
        seq = tx.seq + 1
        cursor = self._conn.execute(
            "INSERT INTO link_events (seq, meter_id, ts, kind, detail) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (meter_id, ts, kind, detail) DO NOTHING",
            (seq, meter_id, ts, record.kind, record.detail),
        )
        if cursor.rowcount == 1:
            tx.seq = seq
            result.events_added += 1

    def _put_meter(self, tx: _Tx, record: MeterUpdate, result: WriteResult) -> None:
        ts = to_epoch(record.at)
        meter_id = self._meter_id(tx, record.meter, ts)
        text = self._conn.execute(
            "SELECT metadata FROM meters WHERE id = ?", (meter_id,)
        ).fetchone()[0]
        try:
            stored = json.loads(text)
        except ValueError:
            stored = {}
        if not isinstance(stored, dict):
            stored = {}
        merged = dict(stored)
        for key, value in record.metadata.to_json().items():
            if key == "extra" and isinstance(value, dict):
                old_extra = stored.get("extra")
                base = dict(old_extra) if isinstance(old_extra, dict) else {}
                base.update(value)
                merged["extra"] = base
            else:
                merged[key] = value
        if merged == stored:
            return
        self._conn.execute(
            "UPDATE meters SET metadata = ?, seq = ? WHERE id = ?",
            (json.dumps(merged, sort_keys=True, ensure_ascii=False), tx.next_seq(), meter_id),
        )
        result.meters_changed += 1

    # --- retention ---------------------------------------------------------------------------

    def purge(self, now: datetime | None = None) -> PurgeResult:
        """Delete raw readings older than the retention (aggregates and slots stay)."""
        days = self.retention.raw_days
        if days is None:
            return PurgeResult(0, 0, self.raw_horizon())
        cut = to_epoch(now or self._clock()) - days * DAY_SECONDS
        cut -= cut % 60
        # The horizon is committed before any delete: from then on older readings are refused,
        # so a kill between the two steps can never let a deleted reading be counted twice.
        with self._write() as tx:
            if tx.horizon is None or cut > tx.horizon:
                self._conn.execute(
                    "INSERT INTO store_state (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (_HORIZON_KEY, cut),
                )
                horizon = cut
            else:
                horizon = tx.horizon
        with self._errors():
            meter_ids = [int(r[0]) for r in self._conn.execute("SELECT id FROM meters")]
        deleted = {"instant": 0, "cumulative": 0}
        for table in deleted:
            for meter_id in meter_ids:
                while True:
                    with self._write():
                        count = self._conn.execute(
                            _SQL_PURGE[table],
                            (meter_id, horizon, PURGE_CHUNK),
                        ).rowcount
                    deleted[table] += count
                    if count < PURGE_CHUNK:
                        break
        return PurgeResult(deleted["instant"], deleted["cumulative"], from_epoch(horizon))

    def raw_horizon(self) -> datetime | None:
        """Raw readings before this instant have been deleted by retention (None: never)."""
        with self._errors():
            row = self._conn.execute(
                "SELECT value FROM store_state WHERE key = ?", (_HORIZON_KEY,)
            ).fetchone()
        return None if row is None else from_epoch(int(row[0]))

    # --- reads -------------------------------------------------------------------------------

    def _lookup(self, meter: str) -> int | None:
        cached = self._meter_ids.get(meter)
        if cached is not None:
            return cached
        with self._errors():
            row = self._conn.execute("SELECT id FROM meters WHERE key = ?", (meter,)).fetchone()
        if row is None:
            return None
        self._meter_ids[meter] = int(row[0])
        return int(row[0])

    def _range(self, start: datetime, end: datetime) -> tuple[int, int]:
        low, high = to_epoch(start, "start"), to_epoch(end, "end")
        if high < low:
            raise UsageError("end is before start")
        return low, high

    def _select(self, sql: str, params: tuple[object, ...]) -> Iterator[tuple[Any, ...]]:
        try:
            cursor = self._conn.execute(sql, params)
            while True:
                rows = cursor.fetchmany(500)
                if not rows:
                    return
                yield from rows
        except sqlite3.Error as exc:
            raise StorageError(f"{self.path}: {exc}") from exc

    def _targets(self, meter: str | None) -> list[tuple[int, str]]:
        """(id, key) of one meter, or of every meter by key when ``meter`` is None."""
        if meter is not None:
            meter_id = self._lookup(meter)
            return [] if meter_id is None else [(meter_id, meter)]
        return [
            (int(r[0]), str(r[1]))
            for r in self._select("SELECT id, key FROM meters ORDER BY key", ())
        ]

    def _ranged(
        self, sql: str, meter: str | None, start: datetime, end: datetime
    ) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """(meter key, row) of ``sql`` (parameters: meter id, low, high), meter by meter."""
        low, high = self._range(start, end)
        for meter_id, key in self._targets(meter):
            for row in self._select(sql, (meter_id, low, high)):
                yield key, row

    def meters(self) -> list[MeterRecord]:
        """Every meter, by key."""
        return [_meter_record(row) for row in self._select(_SQL_METERS + " ORDER BY key", ())]

    def meter(self, meter: str) -> MeterRecord | None:
        """One meter by key."""
        for row in self._select(_SQL_METERS + " WHERE key = ?", (meter,)):
            return _meter_record(row)
        return None

    def iter_instant(
        self, meter: str | None, start: datetime, end: datetime
    ) -> Iterator[InstantReading]:
        """Raw instantaneous readings in [start, end), by meter then time (None = all meters)."""
        for key, row in self._ranged(_SQL_INSTANT, meter, start, end):
            yield _instant(key, row)

    def instant(self, meter: str, start: datetime, end: datetime) -> list[InstantReading]:
        """Raw instantaneous readings of ``meter`` in [start, end)."""
        return list(self.iter_instant(meter, start, end))

    def iter_cumulative(
        self, meter: str | None, start: datetime, end: datetime
    ) -> Iterator[CumulativeReading]:
        """Raw cumulative readings in [start, end), by meter then time (None = all meters)."""
        for key, row in self._ranged(_SQL_CUMULATIVE, meter, start, end):
            yield _cumulative(key, row)

    def cumulative(self, meter: str, start: datetime, end: datetime) -> list[CumulativeReading]:
        """Raw cumulative readings of ``meter`` in [start, end)."""
        return list(self.iter_cumulative(meter, start, end))

    def iter_slots(self, meter: str | None, start: datetime, end: datetime) -> Iterator[Slot]:
        """Stored boundaries in [start, end), by meter then time (None = all meters)."""
        for key, row in self._ranged(_SQL_SLOTS, meter, start, end):
            yield _slot(key, row)

    def slot_usage(
        self, meter: str, start: datetime, end: datetime
    ) -> dict[int, tuple[Decimal | None, Decimal | None]]:
        """Only the usage of ``meter``'s slots in [start, end): {unix seconds: (import kWh,
        export kWh)} — what bills need, without building whole :class:`Slot` values."""
        return {
            int(ts): (e4_to_kwh(imp), e4_to_kwh(exp))
            for _, (ts, imp, exp) in self._ranged(_SQL_SLOT_USAGE, meter, start, end)
        }

    def slots(self, meter: str, start: datetime, end: datetime) -> list[Slot]:
        """Stored boundaries of ``meter`` in [start, end)."""
        return list(self.iter_slots(meter, start, end))

    def slot(self, meter: str, at: datetime) -> Slot | None:
        """The boundary ``at`` of ``meter``, if stored."""
        ts = to_epoch(at)
        return next(self.iter_slots(meter, from_epoch(ts), from_epoch(ts + 1)), None)

    def iter_power(
        self, meter: str | None, start: datetime, end: datetime, resolution: Resolution
    ) -> Iterator[PowerStats]:
        """Power aggregates starting in [start, end) (``minute`` or ``halfhour``)."""
        if resolution not in _SQL_POWER:
            raise UsageError(f"resolution is minute or halfhour, got {resolution!r}")
        sql, width = _SQL_POWER[resolution]
        for key, (ts, samples, min_w, max_w, sum_w) in self._ranged(sql, meter, start, end):
            yield PowerStats(key, from_epoch(ts), width, samples, min_w, max_w, sum_w)

    def power(
        self, meter: str, start: datetime, end: datetime, resolution: Resolution = "minute"
    ) -> list[PowerStats]:
        """Power aggregates of ``meter`` in [start, end)."""
        return list(self.iter_power(meter, start, end, resolution))

    def iter_events(self, meter: str | None, start: datetime, end: datetime) -> Iterator[LinkEvent]:
        """Link events in [start, end), by meter then time (None = all meters)."""
        for key, row in self._ranged(_SQL_EVENTS, meter, start, end):
            yield _event(key, row)

    def events(self, meter: str | None, start: datetime, end: datetime) -> list[LinkEvent]:
        """Link events in [start, end)."""
        return list(self.iter_events(meter, start, end))

    # --- JSON views (storage/jsonviews.py) ----------------------------------------------------

    def _json_array(self, sql: str, params: tuple[object, ...]) -> str:
        with self._errors():
            rows = self._conn.execute(sql, params).fetchall()
        return "[" + ",".join([row[0] for row in rows]) + "]"

    def instant_json(self, meter: str, start: datetime, end: datetime) -> str:
        """``meter``'s raw readings in [start, end) as a JSON array, written by SQLite."""
        low, high = self._range(start, end)
        meter_id = self._lookup(meter)
        if meter_id is None:
            return "[]"
        return self._json_array(jsonviews.INSTANT, (meter_id, low, high))

    def power_json(self, meter: str, start: datetime, end: datetime, resolution: Resolution) -> str:
        """``meter``'s power aggregates in [start, end) as a JSON array, written by SQLite."""
        if resolution not in jsonviews.POWER:
            raise UsageError(f"resolution is minute or halfhour, got {resolution!r}")
        low, high = self._range(start, end)
        meter_id = self._lookup(meter)
        if meter_id is None:
            return "[]"
        return self._json_array(jsonviews.POWER[resolution], (meter_id, low, high))

    def days_json(
        self, meter: str, first_day: date, last_day: date
    ) -> tuple[str, int | None, int | None]:
        """One JSON object per JST day in [first_day, last_day] (as :meth:`day_summaries`), and
        the energy bought and sold over those days in 0.0001 kWh (None: none known)."""
        if last_day < first_day:
            return "[]", None, None
        first, last = (first_day - _EPOCH_DAY).days, (last_day - _EPOCH_DAY).days
        meter_id = self._lookup(meter)
        with self._read():
            days = self._json_array(jsonviews.DAYS, (first, last, meter_id, meter_id))
            with self._errors():
                totals = self._conn.execute(jsonviews.DAY_TOTALS, (meter_id, first, last))
                imp, exp = totals.fetchone()
        return days, imp, exp

    # --- gaps and summaries ------------------------------------------------------------------

    def _present(self, meter_id: int | None, low: int, high: int) -> set[int]:
        if meter_id is None:
            return set()
        return {int(r[0]) for r in self._select(_SQL_PRESENT, (meter_id, low, high))}

    def missing_slots(self, meter: str, start: datetime, end: datetime) -> list[datetime]:
        """Boundaries in [start, end) with no import counter stored (for the backfill)."""
        low, high = self._range(start, end)
        present = self._present(self._lookup(meter), low, high)
        return [from_epoch(s) for s in slots_in(low, high) if s not in present]

    def gaps(self, meter: str, first_day: date, last_day: date) -> list[DayGaps]:
        """JST days in [first_day, last_day] with missing boundaries (complete days left out)."""
        low, high = jst_day_start(first_day), jst_day_start(last_day + timedelta(days=1))
        present = self._present(self._lookup(meter), low, high)
        out: list[DayGaps] = []
        for day_start in range(low, high, DAY_SECONDS):
            missing = tuple(
                from_epoch(s)
                for s in range(day_start, day_start + DAY_SECONDS, SLOT_SECONDS)
                if s not in present
            )
            if missing:
                out.append(DayGaps(meter, jst_day(day_start), missing))
        return out

    def day_summaries(self, meter: str, first_day: date, last_day: date) -> list[DaySummary]:
        """One summary per JST day in [first_day, last_day] (days without data included)."""
        low = (jst_day_start(first_day) + JST_OFFSET) // DAY_SECONDS
        high = (jst_day_start(last_day + timedelta(days=1)) + JST_OFFSET) // DAY_SECONDS
        meter_id = self._lookup(meter)
        days: dict[int, tuple[Any, ...]] = {}
        peaks: dict[int, int] = {}
        if meter_id is not None:
            with self._read():
                for row in self._select(_SQL_DAYS, (meter_id, low, high)):
                    days[int(row[0])] = row
                for index, peak in self._select(_SQL_PEAKS, (meter_id, low, high)):
                    peaks[int(index)] = int(peak)
        out: list[DaySummary] = []
        day = first_day
        while day <= last_day:
            index = (day - _EPOCH_DAY).days
            found = days.get(index)
            if found is None:
                out.append(DaySummary(meter, day, None, None, 0, 0, 0, peaks.get(index)))
            else:
                _, imp, exp, imp_n, exp_n, bounds = found
                out.append(DaySummary(meter, day, imp, exp, imp_n, exp_n, bounds, peaks.get(index)))
            day += timedelta(days=1)
        return out

    def month_summaries(self, meter: str, first: date, last: date) -> list[MonthSummary]:
        """One summary per JST calendar month from ``first``'s month to ``last``'s."""
        months: list[tuple[date, date]] = []  # (first day, first day of the next month)
        month = first.replace(day=1)
        while month <= last:
            following = (month + timedelta(days=32)).replace(day=1)
            months.append((month, following))
            month = following
        low = (jst_day_start(months[0][0]) + JST_OFFSET) // DAY_SECONDS
        high = (jst_day_start(months[-1][1]) + JST_OFFSET) // DAY_SECONDS
        found: dict[str, tuple[Any, ...]] = {}
        meter_id = self._lookup(meter)
        if meter_id is not None:
            for selected in self._select(_SQL_MONTHS, (SLOTS_PER_DAY, meter_id, low, high)):
                found[str(selected[0])] = selected
        out: list[MonthSummary] = []
        for start, following in months:
            days = (following - start).days
            if (row := found.get(start.strftime("%Y-%m"))) is None:
                out.append(MonthSummary(meter, start, None, None, 0, 0, SLOTS_PER_DAY * days, 0))
                continue
            _, imp, exp, imp_n, exp_n, complete = row
            out.append(
                MonthSummary(
                    meter, start, imp, exp, int(imp_n), int(exp_n), SLOTS_PER_DAY * days, complete
                )
            )
        return out

    @contextmanager
    def _read(self) -> Iterator[None]:
        """One consistent snapshot across several SELECTs."""
        with self._errors():
            self._conn.execute("BEGIN")
        try:
            yield
        finally:
            if self._conn.in_transaction:
                with self._errors():
                    self._conn.execute("COMMIT")

    # --- outbox ------------------------------------------------------------------------------

    def acked(self, consumer: str) -> int:
        """The highest seq ``consumer`` has acknowledged (0 = nothing yet)."""
        for row in self._select(
            "SELECT acked_seq FROM outbox_acks WHERE consumer = ?", (consumer,)
        ):
            return int(row[0])
        return 0

    def acknowledge(self, consumer: str, seq: int) -> None:
        """Record that ``consumer`` has everything up to and including ``seq`` (never goes back)."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise UsageError("seq is a non-negative int")
        with self._write():
            self._conn.execute(
                "INSERT INTO outbox_acks (consumer, acked_seq) VALUES (?, ?) "
                "ON CONFLICT (consumer) DO UPDATE SET acked_seq = "
                "max(acked_seq, excluded.acked_seq)",
                (consumer, seq),
            )

    def pending(self, consumer: str, limit: int = 1000) -> list[Change]:
        """The oldest ``limit`` rows not yet acknowledged by ``consumer``, in seq order.

        A row changed after it was acknowledged (a slot that got its usage) comes back with
        a new seq. Raw readings removed by retention before they were published are not.
        """
        after = self.acked(consumer)
        changes: list[Change] = []
        with self._read():
            for row in self._select(
                _SQL_METERS + " WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)
            ):
                record = _meter_record(row)
                changes.append(Change(record.seq, "meters", record))
            for table, sql in _SQL_OUTBOX.items():
                for row in self._select(sql, (after, limit)):
                    key, seq, rest = row[0], int(row[1]), row[2:]
                    changes.append(Change(seq, table, _BUILDERS[table](key, rest)))
        changes.sort(key=lambda c: c.seq)
        return changes[:limit]

    # --- facts -------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Rows per table (for reports)."""
        return {table: int(next(self._select(sql, ()))[0]) for table, sql in _SQL_COUNTS.items()}


def _sum_or_none(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _meter_record(row: tuple[Any, ...]) -> MeterRecord:
    meter_id, key, metadata, first, last, seq = row
    return MeterRecord(
        id=meter_id,
        meter=key,
        metadata=MeterMetadata.from_json(metadata),
        first_seen=from_epoch(first),
        last_seen=from_epoch(last),
        seq=seq,
    )


def _instant(key: str, row: tuple[Any, ...]) -> InstantReading:
    # Rows were validated when written: build the value without validating it again (the
    # API reads thousands of them per request). Same values as InstantReading(...) gives.
    ts, power, r_da, t_da = row[:4]
    reading = object.__new__(InstantReading)
    set_field = object.__setattr__
    set_field(reading, "meter", key)
    set_field(reading, "at", from_epoch(ts))
    set_field(reading, "power_w", power)
    set_field(reading, "current_r", amperes_of_tenths(r_da))
    set_field(reading, "current_t", amperes_of_tenths(t_da))
    return reading


def _cumulative(key: str, row: tuple[Any, ...]) -> CumulativeReading:
    ts, imp, exp, coefficient, unit, digits = row[:6]
    return CumulativeReading(key, from_epoch(ts), imp, exp, scale_of(coefficient, unit), digits)


def _slot(key: str, row: tuple[Any, ...]) -> Slot:
    (ts, imp, imp_src, exp, exp_src, coefficient, unit, digits) = row[:8]
    (imp_e4, exp_e4, imp_use, exp_use, conflicts, seq, updated) = row[8:15]
    return Slot(
        meter=key,
        at=from_epoch(ts),
        import_raw=imp,
        import_source=slot_source(imp_src),
        export_raw=exp,
        export_source=slot_source(exp_src),
        coefficient=coefficient,
        unit_code=unit,
        digits=digits,
        import_e4=imp_e4,
        export_e4=exp_e4,
        import_use_e4=imp_use,
        export_use_e4=exp_use,
        conflicts=conflicts,
        seq=seq,
        updated=epoch_or_none(updated),
    )


def _event(key: str, row: tuple[Any, ...]) -> LinkEvent:
    ts, kind, detail = row[:3]
    return LinkEvent(key, from_epoch(ts), kind, detail)


_BUILDERS: Final[
    dict[
        str, Callable[[str, tuple[Any, ...]], InstantReading | CumulativeReading | Slot | LinkEvent]
    ]
] = {
    "instant": _instant,
    "cumulative": _cumulative,
    "slots": _slot,
    "link_events": _event,
}

# --- SQL (static text only; every value is a parameter) ---------------------------------------

_SQL_METERS: Final = "SELECT id, key, metadata, first_seen, last_seen, seq FROM meters"
_SQL_INSTANT: Final = (
    "SELECT ts, power_w, current_r_da, current_t_da FROM instant "
    "WHERE meter_id = ? AND ts >= ? AND ts < ? ORDER BY ts"
)
_SQL_CUMULATIVE: Final = (
    "SELECT ts, import_raw, export_raw, coefficient, unit_code, digits FROM cumulative "
    "WHERE meter_id = ? AND ts >= ? AND ts < ? ORDER BY ts"
)
_SQL_SLOTS: Final = (
    "SELECT slot_start, import_raw, import_source, export_raw, export_source, coefficient, "
    "unit_code, digits, import_e4, export_e4, import_use_e4, export_use_e4, conflicts, seq, "
    "updated FROM slots WHERE meter_id = ? AND slot_start >= ? AND slot_start < ? "
    "ORDER BY slot_start"
)
_SQL_SLOT_USAGE: Final = (
    "SELECT slot_start, import_use_e4, export_use_e4 FROM slots "
    "WHERE meter_id = ? AND slot_start >= ? AND slot_start < ?"
)
_SQL_POWER: Final[dict[str, tuple[str, int]]] = {
    "minute": (
        "SELECT start, samples, min_w, max_w, sum_w FROM power_minute "
        "WHERE meter_id = ? AND start >= ? AND start < ? ORDER BY start",
        60,
    ),
    "halfhour": (
        "SELECT start, samples, min_w, max_w, sum_w FROM power_halfhour "
        "WHERE meter_id = ? AND start >= ? AND start < ? ORDER BY start",
        SLOT_SECONDS,
    ),
}
_SQL_EVENTS: Final = (
    "SELECT ts, kind, detail FROM link_events "
    "WHERE meter_id = ? AND ts >= ? AND ts < ? ORDER BY ts, seq"
)
_SQL_PRESENT: Final = (
    "SELECT slot_start FROM slots "
    "WHERE meter_id = ? AND slot_start >= ? AND slot_start < ? AND import_raw IS NOT NULL"
)
# JST day index = (unix seconds + 9 h) / 86400 (times.py); 32400 = 9 h.
_SQL_DAYS: Final = (
    "SELECT day, import_use_e4, export_use_e4, import_n, export_n, bounds FROM slot_days "
    "WHERE meter_id = ? AND day >= ? AND day < ?"
)
# A JST day index × 86400 read as UTC is that JST calendar day: its month is the JST month.
_SQL_MONTHS: Final = (
    "SELECT strftime('%Y-%m', day * 86400, 'unixepoch') AS month, sum(import_use_e4), "
    "sum(export_use_e4), sum(import_n), sum(export_n), sum(import_n = ?) FROM slot_days "
    "WHERE meter_id = ? AND day >= ? AND day < ? GROUP BY month"
)
_SQL_PEAKS: Final = "SELECT day, max_w FROM power_day WHERE meter_id = ? AND day >= ? AND day < ?"
_SQL_ROLLUP_DAY: Final = (
    "INSERT OR REPLACE INTO slot_days SELECT ?, ?, sum(import_use_e4), sum(export_use_e4), "
    "count(import_use_e4), count(export_use_e4), count(import_raw) FROM slots "
    "WHERE meter_id = ? AND slot_start >= ? AND slot_start < ?"
)
_SQL_PEAK_DAY: Final = (
    "INSERT INTO power_day (meter_id, day, max_w) VALUES (?, ?, ?) "
    "ON CONFLICT (meter_id, day) DO UPDATE SET max_w = max(max_w, excluded.max_w)"
)
_SQL_OUTBOX: Final[dict[str, str]] = {
    "instant": "SELECT m.key, t.seq, t.ts, t.power_w, t.current_r_da, t.current_t_da "
    "FROM instant t JOIN meters m ON m.id = t.meter_id WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
    "cumulative": "SELECT m.key, t.seq, t.ts, t.import_raw, t.export_raw, t.coefficient, "
    "t.unit_code, t.digits FROM cumulative t JOIN meters m ON m.id = t.meter_id "
    "WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
    "slots": "SELECT m.key, t.seq, t.slot_start, t.import_raw, t.import_source, t.export_raw, "
    "t.export_source, t.coefficient, t.unit_code, t.digits, t.import_e4, t.export_e4, "
    "t.import_use_e4, t.export_use_e4, t.conflicts, t.seq, t.updated FROM slots t "
    "JOIN meters m ON m.id = t.meter_id WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
    "link_events": "SELECT m.key, t.seq, t.ts, t.kind, t.detail FROM link_events t "
    "JOIN meters m ON m.id = t.meter_id WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
}
_SQL_AGGREGATE: Final[tuple[tuple[str, int], ...]] = (
    (
        "INSERT INTO power_minute (meter_id, start, samples, min_w, max_w, sum_w) "
        "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (meter_id, start) DO UPDATE SET "
        "samples = samples + 1, min_w = min(min_w, excluded.min_w), "
        "max_w = max(max_w, excluded.max_w), sum_w = sum_w + excluded.sum_w",
        60,
    ),
    (
        "INSERT INTO power_halfhour (meter_id, start, samples, min_w, max_w, sum_w) "
        "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (meter_id, start) DO UPDATE SET "
        "samples = samples + 1, min_w = min(min_w, excluded.min_w), "
        "max_w = max(max_w, excluded.max_w), sum_w = sum_w + excluded.sum_w",
        SLOT_SECONDS,
    ),
)
_SQL_PURGE: Final[dict[str, str]] = {
    "instant": "DELETE FROM instant WHERE seq IN "
    "(SELECT seq FROM instant WHERE meter_id = ? AND ts < ? LIMIT ?)",
    "cumulative": "DELETE FROM cumulative WHERE seq IN "
    "(SELECT seq FROM cumulative WHERE meter_id = ? AND ts < ? LIMIT ?)",
}
_SQL_COUNTS: Final[dict[str, str]] = {
    "meters": "SELECT count(*) FROM meters",
    "instant": "SELECT count(*) FROM instant",
    "cumulative": "SELECT count(*) FROM cumulative",
    "slots": "SELECT count(*) FROM slots",
    "power_minute": "SELECT count(*) FROM power_minute",
    "power_halfhour": "SELECT count(*) FROM power_halfhour",
    "link_events": "SELECT count(*) FROM link_events",
}
