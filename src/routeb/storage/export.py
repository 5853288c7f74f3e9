"""``routeb export``: rows of the store as CSV (header + rows) or JSON lines (one object a line).

Times are ISO 8601 in JST (``2026-05-20T10:00:00+09:00``); energy is exact kWh with four
decimals, currents exact amperes; JSON numbers are written digit for digit (never floats), an
absent value is an empty CSV field or JSON ``null``. Column sets are documented in
docs/storage.md ("Export formats").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TextIO, TypeVar

from routeb.errors import UsageError
from routeb.meter_time import SLOT
from routeb.storage.sqlite import SqliteStore
from routeb.storage.times import JST, from_epoch, jst_day_start, to_epoch

__all__ = [
    "ExportFormat",
    "ExportTable",
    "ExportWhat",
    "Value",
    "export",
    "export_range",
    "export_table",
    "write_csv",
    "write_jsonl",
]

Value = str | int | Decimal | None


class ExportFormat(StrEnum):
    """``--format``."""

    CSV = "csv"
    JSON = "json"


class ExportWhat(StrEnum):
    """``--what``: which rows."""

    SLOTS = "slots"  # 30-minute boundaries and the usage of each slot
    READINGS = "readings"  # raw instantaneous power and currents (kept raw_days)
    CUMULATIVE = "cumulative"  # raw E0/E3 counters (kept raw_days)
    MINUTES = "minutes"  # per-minute power aggregates (kept forever)
    EVENTS = "events"  # link and session events


@dataclass(frozen=True, slots=True)
class ExportTable:
    """A header and a stream of rows of the same width."""

    columns: tuple[str, ...]
    rows: Iterator[tuple[Value, ...]]


E = TypeVar("E", ExportFormat, ExportWhat)


def _parse(value: str, enum: type[E]) -> E:
    try:
        return enum(value)
    except ValueError:
        names = ", ".join(e.value for e in enum)
        raise UsageError(f"{value!r} is not one of {names}") from None


def _jst(when: datetime) -> str:
    return when.astimezone(JST).isoformat()


def export_range(start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """``--from``/``--to`` → [start, end): a date is a whole JST day (``end`` inclusive);
    a datetime must be aware and is taken as is (``end`` exclusive)."""

    def bound(value: date | datetime, *, upper: bool) -> datetime:
        if isinstance(value, datetime):
            return from_epoch(to_epoch(value, "end" if upper else "start"))
        if isinstance(value, date):
            return from_epoch(jst_day_start(value + timedelta(days=1) if upper else value))
        raise UsageError(f"expected a date or datetime, got {type(value).__name__}")

    low, high = bound(start, upper=False), bound(end, upper=True)
    if high < low or (high == low and not isinstance(end, datetime)):
        raise UsageError("--to is before --from")
    return low, high


def export_table(
    store: SqliteStore,
    what: ExportWhat | str,
    start: datetime,
    end: datetime,
    *,
    meter: str | None = None,
) -> ExportTable:
    """The columns and rows of ``what`` in [start, end) (``meter`` None: every meter)."""
    kind = _parse(what, ExportWhat)
    if kind is ExportWhat.SLOTS:
        return ExportTable(
            (
                "meter",
                "slot_start",
                "slot_end",
                "import_use_kwh",
                "export_use_kwh",
                "import_kwh",
                "export_kwh",
                "import_source",
                "export_source",
                "import_raw",
                "export_raw",
                "coefficient",
                "unit_code",
                "digits",
                "conflicts",
            ),
            (
                (
                    s.meter,
                    _jst(s.at),
                    _jst(s.at + SLOT),
                    s.import_use_kwh,
                    s.export_use_kwh,
                    s.import_kwh,
                    s.export_kwh,
                    None if s.import_source is None else s.import_source.value,
                    None if s.export_source is None else s.export_source.value,
                    s.import_raw,
                    s.export_raw,
                    s.coefficient,
                    s.unit_code,
                    s.digits,
                    s.conflicts,
                )
                for s in store.iter_slots(meter, start, end)
            ),
        )
    if kind is ExportWhat.READINGS:
        return ExportTable(
            ("meter", "time", "power_w", "current_r_a", "current_t_a"),
            (
                (r.meter, _jst(r.at), r.power_w, r.current_r, r.current_t)
                for r in store.iter_instant(meter, start, end)
            ),
        )
    if kind is ExportWhat.CUMULATIVE:
        return ExportTable(
            (
                "meter",
                "time",
                "import_kwh",
                "export_kwh",
                "import_raw",
                "export_raw",
                "coefficient",
                "unit_code",
                "digits",
            ),
            (
                (
                    c.meter,
                    _jst(c.at),
                    c.import_kwh,
                    c.export_kwh,
                    c.import_raw,
                    c.export_raw,
                    c.scale.coefficient,
                    c.unit_code,
                    c.digits,
                )
                for c in store.iter_cumulative(meter, start, end)
            ),
        )
    if kind is ExportWhat.MINUTES:
        return ExportTable(
            ("meter", "minute_start", "samples", "power_min_w", "power_avg_w", "power_max_w"),
            (
                (p.meter, _jst(p.at), p.samples, p.min_w, p.avg_w, p.max_w)
                for p in store.iter_power(meter, start, end, "minute")
            ),
        )
    return ExportTable(
        ("meter", "time", "kind", "detail"),
        ((e.meter, _jst(e.at), e.kind, e.detail) for e in store.iter_events(meter, start, end)),
    )


def _text(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _json(value: Value) -> str:
    if value is None:
        return "null"
    if isinstance(value, Decimal):
        # An exact JSON number: the Decimal's own digits, never through float.
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False)


def write_csv(columns: Iterable[str], rows: Iterable[tuple[Value, ...]], out: TextIO) -> int:
    """Header then one line per row (``\\n`` line ends); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(columns))
    count = 0
    for row in rows:
        writer.writerow([_text(v) for v in row])
        count += 1
    return count


def write_jsonl(columns: Iterable[str], rows: Iterable[tuple[Value, ...]], out: TextIO) -> int:
    """One JSON object per line, keys in column order; returns the number of rows."""
    keys = [json.dumps(c) for c in columns]
    count = 0
    for row in rows:
        fields = ", ".join(f"{k}: {_json(v)}" for k, v in zip(keys, row, strict=True))
        out.write("{" + fields + "}\n")
        count += 1
    return count


def export(
    db_path: str | Path,
    start: date | datetime,
    end: date | datetime,
    *,
    out: TextIO,
    fmt: ExportFormat | str = ExportFormat.CSV,
    what: ExportWhat | str = ExportWhat.SLOTS,
    meter: str | None = None,
) -> int:
    """Write ``what`` between ``start`` and ``end`` (see :func:`export_range`) from the database
    at ``db_path`` (opened read-only, fine while ``routeb run`` writes) to ``out``; returns the
    number of rows."""
    form = _parse(fmt, ExportFormat)
    kind = _parse(what, ExportWhat)
    low, high = export_range(start, end)
    with SqliteStore(db_path, read_only=True) as store:
        table = export_table(store, kind, low, high, meter=meter)
        if form is ExportFormat.CSV:
            return write_csv(table.columns, table.rows, out)
        return write_jsonl(table.columns, table.rows, out)
