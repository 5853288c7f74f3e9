"""Typed reads: the stored rows as model values, by meter then time; gaps and summaries.

Ranges are [start, end) of aware datetimes (UsageError when ``end`` is before ``start``);
``meter=None`` reads every meter, by key. Rows were validated when they were written, so
raw instantaneous readings are rebuilt without validating them again (the API reads
thousands per request). Days and months are JST calendar days (times.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal

from routeb.errors import UsageError
from routeb.meter_time import SLOT_SECONDS, SLOTS_PER_DAY
from routeb.storage.connection import Database
from routeb.storage.model import (
    CumulativeReading,
    DayGaps,
    DaySummary,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterRecord,
    MonthSummary,
    PowerStats,
    Slot,
    amperes_of_tenths,
    e4_to_kwh,
    epoch_or_none,
    scale_of,
    slot_source,
)
from routeb.storage.times import (
    DAY_SECONDS,
    JST_OFFSET,
    from_epoch,
    jst_day,
    jst_day_start,
    slots_in,
    to_epoch,
)

__all__ = [
    "EPOCH_DAY",
    "ROW_BUILDERS",
    "SQL_METERS",
    "Resolution",
    "counts",
    "day_summaries",
    "epoch_range",
    "gaps",
    "iter_cumulative",
    "iter_events",
    "iter_instant",
    "iter_power",
    "iter_slots",
    "meter",
    "meter_record",
    "meters",
    "missing_slots",
    "month_summaries",
    "slot_usage",
]

Resolution = Literal["minute", "halfhour"]
# JST day index 0 (times.py: index = (unix seconds + 9 h) // 86400).
EPOCH_DAY: Final = date(1970, 1, 1)


def epoch_range(start: datetime, end: datetime) -> tuple[int, int]:
    """[start, end) as unix seconds; UsageError for naive times or ``end`` before ``start``."""
    low, high = to_epoch(start, "start"), to_epoch(end, "end")
    if high < low:
        raise UsageError("end is before start")
    return low, high


def _targets(db: Database, meter: str | None) -> list[tuple[int, str]]:
    """(id, key) of one meter, or of every meter by key when ``meter`` is None."""
    if meter is not None:
        meter_id = db.lookup(meter)
        return [] if meter_id is None else [(meter_id, meter)]
    return [
        (int(r[0]), str(r[1])) for r in db.select("SELECT id, key FROM meters ORDER BY key", ())
    ]


def _ranged(
    db: Database, sql: str, meter: str | None, start: datetime, end: datetime
) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """(meter key, row) of ``sql`` (parameters: meter id, low, high), meter by meter."""
    low, high = epoch_range(start, end)
    for meter_id, key in _targets(db, meter):
        for row in db.select(sql, (meter_id, low, high)):
            yield key, row


def meters(db: Database) -> list[MeterRecord]:
    """Every meter, by key."""
    return [meter_record(row) for row in db.select(SQL_METERS + " ORDER BY key", ())]


def meter(db: Database, key: str) -> MeterRecord | None:
    """One meter by key."""
    for row in db.select(SQL_METERS + " WHERE key = ?", (key,)):
        return meter_record(row)
    return None


def iter_instant(
    db: Database, meter: str | None, start: datetime, end: datetime
) -> Iterator[InstantReading]:
    """Raw instantaneous readings in [start, end), by meter then time."""
    for key, row in _ranged(db, _SQL_INSTANT, meter, start, end):
        yield _instant(key, row)


def iter_cumulative(
    db: Database, meter: str | None, start: datetime, end: datetime
) -> Iterator[CumulativeReading]:
    """Raw cumulative readings in [start, end), by meter then time."""
    for key, row in _ranged(db, _SQL_CUMULATIVE, meter, start, end):
        yield _cumulative(key, row)


def iter_slots(db: Database, meter: str | None, start: datetime, end: datetime) -> Iterator[Slot]:
    """Stored boundaries in [start, end), by meter then time."""
    for key, row in _ranged(db, _SQL_SLOTS, meter, start, end):
        yield _slot(key, row)


def slot_usage(
    db: Database, meter: str, start: datetime, end: datetime
) -> dict[int, tuple[Decimal | None, Decimal | None]]:
    """{unix seconds: (import kWh, export kWh)} of ``meter``'s slots in [start, end)."""
    return {
        int(ts): (e4_to_kwh(imp), e4_to_kwh(exp))
        for _, (ts, imp, exp) in _ranged(db, _SQL_SLOT_USAGE, meter, start, end)
    }


def iter_power(
    db: Database, meter: str | None, start: datetime, end: datetime, resolution: Resolution
) -> Iterator[PowerStats]:
    """Power aggregates starting in [start, end) (``minute`` or ``halfhour``)."""
    if resolution not in _SQL_POWER:
        raise UsageError(f"resolution is minute or halfhour, got {resolution!r}")
    sql, width = _SQL_POWER[resolution]
    for key, (ts, samples, min_w, max_w, sum_w) in _ranged(db, sql, meter, start, end):
        yield PowerStats(key, from_epoch(ts), width, samples, min_w, max_w, sum_w)


def iter_events(
    db: Database, meter: str | None, start: datetime, end: datetime
) -> Iterator[LinkEvent]:
    """Link events in [start, end), by meter then time."""
    for key, row in _ranged(db, _SQL_EVENTS, meter, start, end):
        yield _event(key, row)


# --- gaps and summaries ------------------------------------------------------------------------


def _present(db: Database, meter_id: int | None, low: int, high: int) -> set[int]:
    if meter_id is None:
        return set()
    return {int(r[0]) for r in db.select(_SQL_PRESENT, (meter_id, low, high))}


def missing_slots(db: Database, meter: str, start: datetime, end: datetime) -> list[datetime]:
    """Boundaries in [start, end) with no import counter stored (for the backfill)."""
    low, high = epoch_range(start, end)
    present = _present(db, db.lookup(meter), low, high)
    return [from_epoch(s) for s in slots_in(low, high) if s not in present]


def gaps(db: Database, meter: str, first_day: date, last_day: date) -> list[DayGaps]:
    """JST days in [first_day, last_day] with missing boundaries (complete days left out)."""
    low, high = jst_day_start(first_day), jst_day_start(last_day + timedelta(days=1))
    present = _present(db, db.lookup(meter), low, high)
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


def day_summaries(db: Database, meter: str, first_day: date, last_day: date) -> list[DaySummary]:
    """One summary per JST day in [first_day, last_day] (days without data included)."""
    low = (jst_day_start(first_day) + JST_OFFSET) // DAY_SECONDS
    high = (jst_day_start(last_day + timedelta(days=1)) + JST_OFFSET) // DAY_SECONDS
    meter_id = db.lookup(meter)
    days: dict[int, tuple[Any, ...]] = {}
    peaks: dict[int, int] = {}
    if meter_id is not None:
        with db.read():
            for row in db.select(_SQL_DAYS, (meter_id, low, high)):
                days[int(row[0])] = row
            for index, peak in db.select(_SQL_PEAKS, (meter_id, low, high)):
                peaks[int(index)] = int(peak)
    out: list[DaySummary] = []
    day = first_day
    while day <= last_day:
        index = (day - EPOCH_DAY).days
        found = days.get(index)
        if found is None:
            out.append(DaySummary(meter, day, None, None, 0, 0, 0, peaks.get(index)))
        else:
            _, imp, exp, imp_n, exp_n, bounds = found
            out.append(DaySummary(meter, day, imp, exp, imp_n, exp_n, bounds, peaks.get(index)))
        day += timedelta(days=1)
    return out


def month_summaries(db: Database, meter: str, first: date, last: date) -> list[MonthSummary]:
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
    meter_id = db.lookup(meter)
    if meter_id is not None:
        for selected in db.select(_SQL_MONTHS, (SLOTS_PER_DAY, meter_id, low, high)):
            found[str(selected[0])] = selected
    out: list[MonthSummary] = []
    for start, following in months:
        expected = SLOTS_PER_DAY * (following - start).days
        if (row := found.get(start.strftime("%Y-%m"))) is None:
            out.append(MonthSummary(meter, start, None, None, 0, 0, expected, 0))
            continue
        _, imp, exp, imp_n, exp_n, complete = row
        out.append(MonthSummary(meter, start, imp, exp, int(imp_n), int(exp_n), expected, complete))
    return out


def counts(db: Database) -> dict[str, int]:
    """Rows per table (for reports)."""
    return {table: int(next(db.select(sql, ()))[0]) for table, sql in _SQL_COUNTS.items()}


# --- rows → values -----------------------------------------------------------------------------


def meter_record(row: tuple[Any, ...]) -> MeterRecord:
    """A row of :data:`SQL_METERS` as a MeterRecord."""
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


# Table → (meter key, the row's columns after the key and seq) → value (the outbox's rows).
ROW_BUILDERS: Final[
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

SQL_METERS: Final = "SELECT id, key, metadata, first_seen, last_seen, seq FROM meters"
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
_SQL_COUNTS: Final[dict[str, str]] = {
    "meters": "SELECT count(*) FROM meters",
    "instant": "SELECT count(*) FROM instant",
    "cumulative": "SELECT count(*) FROM cumulative",
    "slots": "SELECT count(*) FROM slots",
    "power_minute": "SELECT count(*) FROM power_minute",
    "power_halfhour": "SELECT count(*) FROM power_halfhour",
    "link_events": "SELECT count(*) FROM link_events",
}
