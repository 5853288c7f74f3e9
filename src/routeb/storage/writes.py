"""Writing records: one transaction per batch, idempotent, with the aggregates kept in step.

Instantaneous and cumulative readings: one per meter and second, the first kept; each power
sample also updates the minute and half-hour aggregates and the JST day's peak. Slots are
merged per direction (:func:`~routeb.storage.slotmerge.merge_slot`); the usage of every
changed boundary and of the one before it is recomputed, then the rollups of their JST days
(migration 0002). Link events and meter metadata are upserts. Readings older than the
retention horizon are refused: re-adding a deleted one would count it twice in the aggregates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final

from routeb.errors import UsageError
from routeb.meter_time import SLOT_SECONDS
from routeb.storage.connection import Database, WriteTx
from routeb.storage.model import (
    CumulativeReading,
    InstantReading,
    LinkEvent,
    MeterUpdate,
    Record,
    SlotReading,
    WriteResult,
    boundary_usage,
    counter_e4,
    unit_code_of,
)
from routeb.storage.slotmerge import SlotCounters, merge_slot
from routeb.storage.times import DAY_SECONDS, JST_OFFSET, to_epoch

__all__ = ["write"]


def write(db: Database, records: Iterable[Record]) -> WriteResult:
    """Store ``records`` in one transaction (all or nothing); idempotent."""
    batch = list(records)
    result = WriteResult()
    with db.write() as tx:
        for record in batch:
            match record:
                case InstantReading():
                    _put_instant(db, tx, record, result)
                case CumulativeReading():
                    _put_cumulative(db, tx, record, result)
                case SlotReading():
                    _put_slot(db, tx, record, result)
                case LinkEvent():
                    _put_event(db, tx, record, result)
                case MeterUpdate():
                    _put_meter(db, tx, record, result)
                case _:
                    raise UsageError(f"cannot store {type(record).__name__}")
        _finish_slots(db, tx)
        _touch_meters(db, tx)
    return result


def _meter_id(db: Database, tx: WriteTx, key: str, ts: int, *, live: bool = True) -> int:
    """The id of meter ``key``, inserting it on first sight; ``live`` records move its
    first/last seen (backfilled history does not)."""
    cached = db.meter_ids.get(key)
    if cached is None:
        row = db.conn.execute("SELECT id FROM meters WHERE key = ?", (key,)).fetchone()
        if row is None:
            cursor = db.conn.execute(
                "INSERT INTO meters (key, metadata, first_seen, last_seen, seq) "
                "VALUES (?, '{}', ?, ?, ?)",
                (key, ts, ts, tx.next_seq()),
            )
            cached = int(cursor.lastrowid or 0)
        else:
            cached = int(row[0])
        db.meter_ids[key] = cached
    if live:
        tx.saw(cached, ts)
    return cached


def _touch_meters(db: Database, tx: WriteTx) -> None:
    for meter_id, (low, high) in tx.seen.items():
        db.conn.execute(
            "UPDATE meters SET first_seen = min(first_seen, ?), last_seen = max(last_seen, ?) "
            "WHERE id = ?",
            (low, high, meter_id),
        )


def _too_old(tx: WriteTx, ts: int) -> bool:
    # Below the horizon the raw row may be gone: re-adding it would count it twice in the
    # aggregates, so readings older than what retention already deleted are refused.
    return tx.horizon is not None and ts < tx.horizon


def _put_instant(db: Database, tx: WriteTx, record: InstantReading, result: WriteResult) -> None:
    ts = to_epoch(record.at)
    meter_id = _meter_id(db, tx, record.meter, ts)
    if _too_old(tx, ts):
        result.too_old += 1
        return
    seq = tx.seq + 1
    cursor = db.conn.execute(
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
        db.conn.execute(sql, (meter_id, ts - ts % width, power, power, power))
    db.conn.execute(_SQL_PEAK_DAY, (meter_id, (ts + JST_OFFSET) // DAY_SECONDS, power))


def _put_cumulative(
    db: Database, tx: WriteTx, record: CumulativeReading, result: WriteResult
) -> None:
    ts = to_epoch(record.at)
    meter_id = _meter_id(db, tx, record.meter, ts)
    if _too_old(tx, ts):
        result.too_old += 1
        return
    coefficient = record.scale.coefficient
    unit = record.unit_code
    seq = tx.seq + 1
    cursor = db.conn.execute(
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


def _reading_counters(record: SlotReading) -> SlotCounters:
    source = record.source.value
    return SlotCounters(
        record.import_raw,
        None if record.import_raw is None else source,
        record.export_raw,
        None if record.export_raw is None else source,
        record.scale.coefficient,
        unit_code_of(record.scale),
        record.digits,
    )


def _put_slot(db: Database, tx: WriteTx, record: SlotReading, result: WriteResult) -> None:
    start = to_epoch(record.at)
    meter_id = _meter_id(db, tx, record.meter, start, live=False)
    row = db.conn.execute(
        "SELECT import_raw, import_source, export_raw, export_source, coefficient, "
        "unit_code, digits FROM slots WHERE meter_id = ? AND slot_start = ?",
        (meter_id, start),
    ).fetchone()
    stored = None if row is None else SlotCounters(*row)
    merge = merge_slot(stored, _reading_counters(record))
    result.slot_conflicts += merge.conflicts
    new = merge.counters
    if not merge.changed or new is None:
        if merge.conflicts:
            db.conn.execute(
                "UPDATE slots SET conflicts = conflicts + ? WHERE meter_id = ? AND slot_start = ?",
                (merge.conflicts, meter_id, start),
            )
        result.slots_unchanged += 1
        return
    values = (
        new.import_raw,
        counter_e4(new.import_raw, new.coefficient, new.unit_code),
        new.import_source,
        new.export_raw,
        counter_e4(new.export_raw, new.coefficient, new.unit_code),
        new.export_source,
        new.coefficient,
        new.unit_code,
        new.digits,
    )
    if stored is None:
        db.conn.execute(
            "INSERT INTO slots (seq, meter_id, slot_start, import_raw, import_e4, "
            "import_source, export_raw, export_e4, export_source, coefficient, unit_code, "
            "digits, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (tx.next_seq(), meter_id, start, *values, tx.now),
        )
    else:
        db.conn.execute(
            "UPDATE slots SET seq = ?, import_raw = ?, import_e4 = ?, import_source = ?, "
            "export_raw = ?, export_e4 = ?, export_source = ?, coefficient = ?, "
            "unit_code = ?, digits = ?, conflicts = conflicts + ?, updated = ? "
            "WHERE meter_id = ? AND slot_start = ?",
            (tx.next_seq(), *values, merge.conflicts, tx.now, meter_id, start),
        )
    tx.dirty_slots.add((meter_id, start))
    result.slots_changed += 1


def _finish_slots(db: Database, tx: WriteTx) -> None:
    """Recompute the usage of every changed boundary and of the one before it, then the
    rollups of their JST days."""
    todo = tx.dirty_slots | {(m, s - SLOT_SECONDS) for m, s in tx.dirty_slots}
    for meter_id, start in sorted(todo):
        rows = {
            int(r[0]): r
            for r in db.conn.execute(
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
        uses = boundary_usage(here[1:6], None if after is None else after[1:6])
        if uses == (here[6], here[7]):
            continue
        seq = int(here[8]) if here[8] > tx.start_seq else tx.next_seq()
        db.conn.execute(
            "UPDATE slots SET import_use_e4 = ?, export_use_e4 = ?, seq = ?, updated = ? "
            "WHERE meter_id = ? AND slot_start = ?",
            (uses[0], uses[1], seq, tx.now, meter_id, start),
        )
    # The days these slots belong to, summed again (slot_days: migration 0002).
    for meter_id, day in sorted({(m, (s + JST_OFFSET) // DAY_SECONDS) for m, s in todo}):
        low = day * DAY_SECONDS - JST_OFFSET
        db.conn.execute(_SQL_ROLLUP_DAY, (meter_id, day, meter_id, low, low + DAY_SECONDS))


def _put_event(db: Database, tx: WriteTx, record: LinkEvent, result: WriteResult) -> None:
    ts = to_epoch(record.at)
    meter_id = _meter_id(db, tx, record.meter, ts)
    seq = tx.seq + 1
    cursor = db.conn.execute(
        "INSERT INTO link_events (seq, meter_id, ts, kind, detail) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (meter_id, ts, kind, detail) DO NOTHING",
        (seq, meter_id, ts, record.kind, record.detail),
    )
    if cursor.rowcount == 1:
        tx.seq = seq
        result.events_added += 1


def _put_meter(db: Database, tx: WriteTx, record: MeterUpdate, result: WriteResult) -> None:
    ts = to_epoch(record.at)
    meter_id = _meter_id(db, tx, record.meter, ts)
    text = db.conn.execute("SELECT metadata FROM meters WHERE id = ?", (meter_id,)).fetchone()[0]
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
    db.conn.execute(
        "UPDATE meters SET metadata = ?, seq = ? WHERE id = ?",
        (json.dumps(merged, sort_keys=True, ensure_ascii=False), tx.next_seq(), meter_id),
    )
    result.meters_changed += 1


# --- SQL (static text only; every value is a parameter) ---------------------------------------

_SQL_ROLLUP_DAY: Final = (
    "INSERT OR REPLACE INTO slot_days SELECT ?, ?, sum(import_use_e4), sum(export_use_e4), "
    "count(import_use_e4), count(export_use_e4), count(import_raw) FROM slots "
    "WHERE meter_id = ? AND slot_start >= ? AND slot_start < ?"
)
_SQL_PEAK_DAY: Final = (
    "INSERT INTO power_day (meter_id, day, max_w) VALUES (?, ?, ?) "
    "ON CONFLICT (meter_id, day) DO UPDATE SET max_w = max(max_w, excluded.max_w)"
)
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
