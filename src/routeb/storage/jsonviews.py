"""Series as JSON text written by SQLite itself, for the dashboard API's long ranges.

Building ten thousand Python objects and encoding them costs ~10 µs a row; SQLite's ``printf``
writes the same JSON in C at ~1 µs a row. Each statement below yields one JSON object per row,
in time order, with exactly the text the model path gives (``routeb.web.jsonout`` over
:mod:`routeb.storage.model` values — ``tests/test_storage_jsonviews.py`` compares the two):

- times as JST ISO 8601 (``2026-05-20T00:30:00+09:00``), days as ``2026-05-20``;
- exact decimals: 0.0001 kWh counts as ``%d.%04d``, 0.1 A counts as ``%d.%d``, the mean power
  rounded half-even to 0.1 W like ``Decimal.quantize`` (a negative mean keeps its sign, ``-0.0``);
- NULL as ``null``, never zero.

Storage units and the JST day index are those of docs/storage.md (schema 1 and 2).
:func:`instant_json`, :func:`power_json` and :func:`days_json` run them (``SqliteStore``'s
methods of the same names).
"""

# Statements assembled from constants only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from routeb.errors import UsageError
from routeb.meter_time import SLOT_SECONDS, SLOTS_PER_DAY
from routeb.storage.connection import Database
from routeb.storage.reads import EPOCH_DAY, Resolution, epoch_range
from routeb.storage.times import DAY_SECONDS, JST_OFFSET

__all__ = ["DAYS", "DAY_TOTALS", "INSTANT", "POWER", "days_json", "instant_json", "power_json"]


def _iso(column: str) -> str:
    """UTC unix seconds → JST ISO 8601 text (JST = UTC+9, no daylight saving)."""
    return f"strftime('%Y-%m-%dT%H:%M:%S+09:00', {column} + {JST_OFFSET}, 'unixepoch')"


def _fixed(column: str, digits: int) -> str:
    """An integer count of 10^-digits → its exact decimal text, or ``null``."""
    scale = 10**digits
    return (
        f"CASE WHEN {column} IS NULL THEN 'null' ELSE printf('%s%d.%0{digits}d', "
        f"CASE WHEN {column} < 0 THEN '-' ELSE '' END, abs({column}) / {scale}, "
        f"abs({column}) % {scale}) END"
    )


def _number(column: str) -> str:
    return f"coalesce({column}, 'null')"


# Instantaneous readings (E7 W, E8 0.1 A): keys as /api/v1/readings?resolution=raw.
INSTANT: Final = (
    'SELECT printf(\'{"time":"%s","power_w":%s,"current_r_a":%s,"current_t_a":%s}\', '
    f"{_iso('ts')}, {_number('power_w')}, {_fixed('current_r_da', 1)}, "
    f"{_fixed('current_t_da', 1)}) "
    "FROM instant WHERE meter_id = ? AND ts >= ? AND ts < ? ORDER BY ts"
)

# Power aggregates. The mean in tenths of a watt, half-even: with t = 20·|sum| + samples,
# q = t div 2·samples is |mean| rounded half up; an exact tie (t mod 2·samples = 0) that lands
# on an odd q goes back down by one: q - (tie & q).
_T: Final = "(20 * abs(sum_w) + samples)"
_POWER: Final = (
    'SELECT printf(\'{{"start":"%s","seconds":{seconds},"samples":%d,"min_w":%d,'
    '"avg_w":%s%d.%d,"max_w":%d}}\', '
    f"{_iso('start')}, samples, min_w, CASE WHEN sum_w < 0 THEN '-' ELSE '' END, "
    "q / 10, q % 10, max_w) FROM (SELECT start, samples, min_w, max_w, sum_w, "
    f"{_T} / (2 * samples) - (({_T} % (2 * samples) = 0) & ({_T} / (2 * samples))) AS q "
    "FROM {table} WHERE meter_id = ? AND start >= ? AND start < ? ORDER BY start) ORDER BY start"
)
POWER: Final[dict[str, str]] = {
    "minute": _POWER.format(seconds=60, table="power_minute"),
    "halfhour": _POWER.format(seconds=SLOT_SECONDS, table="power_halfhour"),
}

# One object per JST day in [first, last] (day indexes; parameters: first, last, meter id,
# meter id), days without data included, as /api/v1/daily. A complete day has 48 known import
# usages.
DAYS: Final = (
    "WITH RECURSIVE days(day) AS (SELECT ? UNION ALL SELECT day + 1 FROM days WHERE day < ?) "
    'SELECT printf(\'{"date":"%s","import_kwh":%s,"export_kwh":%s,"import_slots":%d,'
    f'"export_slots":%d,"expected_slots":{SLOTS_PER_DAY},"complete":%s,"peak_w":%s}}\', '
    f"date(days.day * {DAY_SECONDS}, 'unixepoch'), "
    f"{_fixed('s.import_use_e4', 4)}, {_fixed('s.export_use_e4', 4)}, "
    "coalesce(s.import_n, 0), coalesce(s.export_n, 0), "
    f"CASE WHEN s.import_n = {SLOTS_PER_DAY} THEN 'true' ELSE 'false' END, "
    f"{_number('p.max_w')}) "
    "FROM days LEFT JOIN slot_days AS s ON s.meter_id = ? AND s.day = days.day "
    "LEFT JOIN power_day AS p ON p.meter_id = ? AND p.day = days.day ORDER BY days.day"
)

# The energy of the same days, summed (NULL when no usage is known).
DAY_TOTALS: Final = (
    "SELECT sum(import_use_e4), sum(export_use_e4) FROM slot_days "
    "WHERE meter_id = ? AND day >= ? AND day <= ?"
)


def _json_array(db: Database, sql: str, params: tuple[object, ...]) -> str:
    with db.errors():
        rows = db.conn.execute(sql, params).fetchall()
    return "[" + ",".join([row[0] for row in rows]) + "]"


def instant_json(db: Database, meter: str, start: datetime, end: datetime) -> str:
    """``meter``'s raw readings in [start, end) as a JSON array, written by SQLite."""
    low, high = epoch_range(start, end)
    meter_id = db.lookup(meter)
    if meter_id is None:
        return "[]"
    return _json_array(db, INSTANT, (meter_id, low, high))


def power_json(
    db: Database, meter: str, start: datetime, end: datetime, resolution: Resolution
) -> str:
    """``meter``'s power aggregates in [start, end) as a JSON array, written by SQLite."""
    if resolution not in POWER:
        raise UsageError(f"resolution is minute or halfhour, got {resolution!r}")
    low, high = epoch_range(start, end)
    meter_id = db.lookup(meter)
    if meter_id is None:
        return "[]"
    return _json_array(db, POWER[resolution], (meter_id, low, high))


def days_json(
    db: Database, meter: str, first_day: date, last_day: date
) -> tuple[str, int | None, int | None]:
    """One JSON object per JST day in [first_day, last_day], and the energy bought and sold
    over those days in 0.0001 kWh (None: none known)."""
    if last_day < first_day:
        return "[]", None, None
    first, last = (first_day - EPOCH_DAY).days, (last_day - EPOCH_DAY).days
    meter_id = db.lookup(meter)
    with db.read():
        days = _json_array(db, DAYS, (first, last, meter_id, meter_id))
        with db.errors():
            imp, exp = db.conn.execute(DAY_TOTALS, (meter_id, first, last)).fetchone()
    return days, imp, exp
