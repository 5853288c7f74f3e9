"""Fleet-wide questions asked of the PostgreSQL store (`routeb fleet`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg

from routeb.storage.times import JST

__all__ = ["Completeness", "Latest", "Total", "completeness", "latest", "totals"]


@dataclass(frozen=True, slots=True)
class Latest:
    """A meter's newest instantaneous reading."""

    site: str
    meter: str
    at: datetime
    power_w: int | None


@dataclass(frozen=True, slots=True)
class Completeness:
    """Slots of one meter on one JST day: how many of 48 boundaries are stored."""

    site: str
    meter: str
    day: date
    present: int
    expected: int = 48

    @property
    def missing(self) -> int:
        """Boundaries without an import counter."""
        return self.expected - self.present


@dataclass(frozen=True, slots=True)
class Total:
    """Fleet energy over one 30-minute slot (usage known for ``meters`` meters)."""

    at: datetime
    meters: int
    import_kwh: Decimal
    export_kwh: Decimal


Conn = psycopg.Connection[tuple[object, ...]]


def latest(conn: Conn, site: str | None = None) -> list[Latest]:
    """Per site and meter, the newest instantaneous reading."""
    rows = conn.execute(
        "SELECT site, meter, last_ts, last_power_w FROM fleet_meters "
        "WHERE %(site)s::text IS NULL OR site = %(site)s ORDER BY site, meter",
        {"site": site},
    ).fetchall()
    return [Latest(str(r[0]), str(r[1]), r[2], r[3]) for r in rows]  # type: ignore[arg-type]


def completeness(
    conn: Conn, first: date, last: date, site: str | None = None
) -> list[Completeness]:
    """Per meter and JST day in [first, last], the boundaries stored (every known meter)."""
    start = datetime(first.year, first.month, first.day, tzinfo=JST)
    end = datetime(last.year, last.month, last.day, tzinfo=JST) + timedelta(days=1)
    rows = conn.execute(
        "WITH days AS (SELECT generate_series(%(first)s::date, %(last)s::date, '1 day')::date"
        " AS day),"
        " meters AS (SELECT site, meter FROM fleet_meters"
        "  WHERE %(site)s::text IS NULL OR site = %(site)s"
        "  UNION SELECT DISTINCT site, meter FROM fleet_slots"
        "  WHERE ts >= %(start)s AND ts < %(end)s"
        "  AND (%(site)s::text IS NULL OR site = %(site)s)),"
        " present AS (SELECT site, meter, (ts AT TIME ZONE 'Asia/Tokyo')::date AS day,"
        "  count(*) AS n"
        "  FROM fleet_slots WHERE ts >= %(start)s AND ts < %(end)s AND import_raw IS NOT NULL"
        "  GROUP BY 1, 2, 3)"
        " SELECT m.site, m.meter, d.day, coalesce(p.n, 0) FROM meters m CROSS JOIN days d"
        " LEFT JOIN present p ON p.site = m.site AND p.meter = m.meter AND p.day = d.day"
        " ORDER BY 1, 2, 3",
        {"first": first, "last": last, "start": start, "end": end, "site": site},
    ).fetchall()
    return [Completeness(str(r[0]), str(r[1]), r[2], int(r[3])) for r in rows]  # type: ignore[arg-type, call-overload]


def totals(conn: Conn, start: datetime, end: datetime, site: str | None = None) -> list[Total]:
    """Fleet-wide energy per 30-minute slot starting in [start, end)."""
    rows = conn.execute(
        "SELECT ts, count(import_use_e4), coalesce(sum(import_use_e4), 0), "
        "coalesce(sum(export_use_e4), 0) FROM fleet_slots WHERE ts >= %(start)s AND ts < %(end)s "
        "AND (%(site)s::text IS NULL OR site = %(site)s) GROUP BY ts ORDER BY ts",
        {"start": start, "end": end, "site": site},
    ).fetchall()
    return [
        Total(r[0], int(r[1]), Decimal(int(r[2])).scaleb(-4), Decimal(int(r[3])).scaleb(-4))  # type: ignore[arg-type, call-overload]
        for r in rows
    ]
