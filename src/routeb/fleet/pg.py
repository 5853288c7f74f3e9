"""The PostgreSQL side: versioned migrations, partitions, idempotent batch writes.

Migrations are ``migrations/NNNN_name.sql`` shipped with the package, applied in order, each in
one transaction together with its row in ``fleet_schema``, under an advisory lock so that
several workers starting at once migrate once. A database newer than this routeb is refused.

A batch is written in one transaction. Instant and cumulative readings never change (first
write wins), and nearly always arrive once: they are COPYed straight into the partitioned
tables (binary COPY, the physical limit) inside a savepoint; only when that meets a row already
stored (a redelivery or a replay: UniqueViolation) is the savepoint rolled back and the kind
written the careful way. The careful way, and always for slots (the larger outbox ``seq``
wins): COPY into a temporary staging table, then ``INSERT … SELECT … ON CONFLICT``. Then the
per-meter summary and the dead letters. The caller acknowledges the MQTT messages only after
this commit.

Partitions (daily for instant and cumulative readings, monthly for slots) are created as tables
and then attached, one per transaction, so that making one never waits for a batch or a query
on the parent table nor makes them wait (``PartitionKeeper``); ``routeb ingest`` makes them on a
connection of its own (``PartitionMaker``) before the batch that needs them.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from importlib import resources
from operator import itemgetter
from typing import Any, Final

import psycopg

from routeb.errors import RouteBError
from routeb.fleet.schema import DAY, FleetMessage

__all__ = [
    "DeadLetter",
    "FleetSchemaError",
    "PartitionKeeper",
    "PartitionMaker",
    "WriteStats",
    "Writer",
    "connect",
    "latest_version",
    "migrate",
    "schema_version",
]

_TS: Final = itemgetter(0)  # a row's time stamp (unix seconds)
_NAME: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK: Final = 0x52544542  # "RTEB"
# table -> partition span
DAILY: Final = ("fleet_instant", "fleet_cumulative")
MONTHLY: Final = ("fleet_slots",)


class FleetSchemaError(RouteBError):
    """The fleet database is missing, not migrated, or newer than this routeb."""


@cache
def _migrations() -> tuple[tuple[int, str, str], ...]:
    found = []
    for entry in resources.files("routeb.fleet.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise FleetSchemaError(f"fleet migration {name}: expected number {expected:04d}")
    return tuple(found)


def latest_version() -> int:
    """The fleet schema version this routeb writes."""
    return len(_migrations())


def connect(dsn: str, **kwargs: object) -> psycopg.Connection[tuple[object, ...]]:
    """A psycopg connection (autocommit off)."""
    try:
        return psycopg.connect(dsn, **kwargs)  # type: ignore[arg-type]
    except psycopg.Error as exc:
        raise FleetSchemaError(f"cannot connect to PostgreSQL: {exc}".strip()) from None


def schema_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The applied version (0 = none)."""
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass('fleet_schema') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return 0
        row = conn.execute("SELECT coalesce(max(version), 0) FROM fleet_schema").fetchone()
        return int(row[0]) if row else 0  # type: ignore[call-overload]


def migrate(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Apply pending migrations; the resulting version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS fleet_schema (version integer PRIMARY KEY, "
            "name text NOT NULL, applied timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT coalesce(max(version), 0) FROM fleet_schema").fetchone()
        current = int(row[0]) if row else 0  # type: ignore[call-overload]
        if current > latest_version():
            raise FleetSchemaError(
                f"the fleet database is at version {current}; this routeb knows "
                f"{latest_version()}: upgrade routeb"
            )
        for version, name, sql in _migrations()[current:]:
            conn.execute(sql.encode())
            conn.execute(
                "INSERT INTO fleet_schema (version, name) VALUES (%s, %s)", (version, name)
            )
    return max(current, latest_version())


def require_current(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """FleetSchemaError unless the database is at exactly this routeb's version."""
    version = schema_version(conn)
    if version != latest_version():
        raise FleetSchemaError(
            f"the fleet database is at version {version}, this routeb needs {latest_version()}"
            + (": run `routeb ingest --migrate`" if version < latest_version() else "")
        )


def _month(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


_EPOCH: Final = date(1970, 1, 1)
_KIND_TABLES: Final = (
    ("instant", "fleet_instant"),
    ("cumulative", "fleet_cumulative"),
    ("slots", "fleet_slots"),
)
_PARTITIONS_OF: Final = (
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = ANY(%s::regclass[])"
)
# One span: (partition name, table, first day, the day after the last one).
Span = tuple[str, str, date, date]


def _span(table: str, day: date) -> Span:
    if table in MONTHLY:
        start = _month(day)
        return f"{table}_p{start:%Y%m}", table, start, _next_month(start)
    return f"{table}_p{day:%Y%m%d}", table, day, day + timedelta(days=1)


def _days(message: FleetMessage, kind: str) -> Iterable[int]:
    """The UTC days (since 1970) of the ``kind`` readings of ``message``."""
    span = message.span(kind)
    if span is None:
        return ()
    first, last = span[0] // DAY, span[1] // DAY
    if last - first <= 2:
        return range(first, last + 1)
    return {ts // DAY for ts in map(_TS, getattr(message, kind))}  # spread: only its days


def _exists(conn: psycopg.Connection[tuple[object, ...]], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


class PartitionKeeper:
    """Which partitions exist (read from the catalog), which a message needs, and creating them.

    A partition is created as a table of its own and then attached: ``ATTACH PARTITION`` takes
    only a SHARE UPDATE EXCLUSIVE lock on the parent (PostgreSQL 12+), so it neither waits for
    nor blocks the COPYs and queries running on it — ``CREATE TABLE … PARTITION OF`` needs an
    ACCESS EXCLUSIVE lock and queued every writer behind itself. One partition per transaction.
    Shared by a worker's writer and partition maker (each on its own thread and connection).
    """

    def __init__(self, ahead_days: int = 3) -> None:
        self.ahead_days = ahead_days
        self._known: set[str] = set()
        self.created = 0

    def load(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        """Forget what was known and read the partitions that exist now (after a reconnect:
        an operator may have dropped some)."""
        with conn.transaction():
            rows = conn.execute(_PARTITIONS_OF, ([*DAILY, *MONTHLY],)).fetchall()
        self._known = {str(name) for (name,) in rows}

    def missing(self, messages: Iterable[FleetMessage]) -> list[Span]:
        """The partitions the readings of ``messages`` need that do not exist yet."""
        known = self._known
        needed: dict[str, Span] = {}
        for message in messages:
            for kind, table in _KIND_TABLES:
                for day in _days(message, kind):
                    span = _span(table, _EPOCH + timedelta(days=day))
                    if span[0] not in known:
                        needed[span[0]] = span
        return sorted(needed.values(), key=itemgetter(2, 1))

    def covers(self, message: FleetMessage) -> bool:
        """Every partition ``message`` needs exists."""
        return not self.missing((message,))

    def create(self, conn: psycopg.Connection[tuple[object, ...]], spans: Iterable[Span]) -> int:
        """Create (and attach) the partitions of ``spans`` that do not exist; how many it made."""
        made = 0
        for name, table, start, end in spans:
            if name in self._known:
                continue
            with conn.transaction():
                exists = _exists(conn, name)  # another worker made it: no lock to wait for
            if not exists:
                # DuplicateTable: made by someone not taking our lock; there it is.
                with contextlib.suppress(psycopg.errors.DuplicateTable):
                    made += self._create(conn, name, table, start, end)
            self._known.add(name)
        self.created += made
        return made

    @staticmethod
    def _create(
        conn: psycopg.Connection[tuple[object, ...]], name: str, table: str, start: date, end: date
    ) -> int:
        # A transaction of its own that takes the lock first: its catalog snapshot is taken
        # after the wait, so it sees a partition another worker made meanwhile.
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK + 1,))
            if _exists(conn, name):
                return 0
            # names and bounds are ours (dates), never from a message
            conn.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING ALL)".encode())
            conn.execute(
                f"ALTER TABLE {table} ATTACH PARTITION {name} "
                f"FOR VALUES FROM ('{start.isoformat()} 00:00+00') "
                f"TO ('{end.isoformat()} 00:00+00')".encode()
            )
        return 1

    def ahead_spans(self, now: datetime) -> list[Span]:
        """Today (UTC) −1 … +ahead_days for every table."""
        today = now.astimezone(UTC).date()
        return [
            _span(table, today + timedelta(days=offset))
            for table in (*DAILY, *MONTHLY)
            for offset in range(-1, self.ahead_days + 1)
        ]

    def for_messages(
        self, conn: psycopg.Connection[tuple[object, ...]], messages: Sequence[FleetMessage]
    ) -> int:
        """Whatever the readings of ``messages`` need (replays from long ago, clocks ahead)."""
        return self.create(conn, self.missing(messages))


def _session(dsn: str, keeper: PartitionKeeper) -> psycopg.Connection[tuple[object, ...]]:
    """A connection to a fleet database at this routeb's version, its partitions loaded."""
    conn = connect(dsn)
    try:
        require_current(conn)
        keeper.load(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class PartitionMaker:
    """Creates partitions on a connection of its own, never inside a batch's transaction, with
    a lock timeout: a partition that cannot be had quickly is tried again later while the
    batches of everybody else go on (docs/fleet.md#partitions)."""

    def __init__(self, dsn: str, keeper: PartitionKeeper, *, lock_timeout: float = 5.0) -> None:
        self.dsn = dsn
        self.keeper = keeper
        self.lock_timeout = lock_timeout
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            conn = _session(self.dsn, self.keeper)
            with conn.transaction():
                conn.execute(f"SET lock_timeout = {int(self.lock_timeout * 1000)}".encode())
            self._conn = conn
        return self._conn

    def make(self, spans: Iterable[Span]) -> int:
        """Create ``spans``; psycopg.Error (e.g. LockNotAvailable) leaves the rest for later."""
        try:
            return self.keeper.create(self._connection(), spans)
        except psycopg.Error:
            self.close()
            raise

    def keep_ahead(self) -> int:
        """Create the coming days' partitions before they are needed."""
        return self.make(self.keeper.ahead_spans(datetime.now(UTC)))

    def close(self) -> None:
        """Close the connection (the next call reconnects)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be stored: ``kind`` (routeb.fleet.schema.REJECTIONS) and why."""

    topic: str
    kind: str
    reason: str
    payload: bytes


@dataclass(slots=True)
class WriteStats:
    """What one batch did."""

    received: int = 0
    inserted: int = 0
    dead: int = 0
    fallbacks: int = 0  # kinds that met an already stored row and took the staging path


_STAGING: Final = """
CREATE TEMP TABLE IF NOT EXISTS stage_instant (
    site text, meter text, ts bigint, power_w integer, current_r_da smallint,
    current_t_da smallint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_cumulative (
    site text, meter text, ts bigint, import_raw bigint, export_raw bigint, coefficient integer,
    unit_code smallint, digits smallint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_slots (
    site text, meter text, ts bigint, import_raw bigint, export_raw bigint, coefficient integer,
    unit_code smallint, digits smallint, import_use_e4 bigint, export_use_e4 bigint,
    seq bigint) ON COMMIT DELETE ROWS;
"""

_INSERT_INSTANT: Final = (
    "INSERT INTO fleet_instant SELECT site, meter, to_timestamp(ts), power_w, current_r_da, "
    "current_t_da FROM stage_instant ORDER BY site, meter, ts ON CONFLICT DO NOTHING"
)
_INSERT_CUMULATIVE: Final = (
    "INSERT INTO fleet_cumulative SELECT site, meter, to_timestamp(ts), import_raw, export_raw, "
    "coefficient, unit_code, digits FROM stage_cumulative ORDER BY site, meter, ts "
    "ON CONFLICT DO NOTHING"
)
_INSERT_SLOTS: Final = (
    "INSERT INTO fleet_slots SELECT DISTINCT ON (site, meter, ts) site, meter, to_timestamp(ts), "
    "import_raw, export_raw, coefficient, unit_code, digits, import_use_e4, export_use_e4, seq "
    "FROM stage_slots ORDER BY site, meter, ts, seq DESC "
    "ON CONFLICT (site, meter, ts) DO UPDATE SET import_raw = excluded.import_raw, "
    "export_raw = excluded.export_raw, coefficient = excluded.coefficient, "
    "unit_code = excluded.unit_code, digits = excluded.digits, "
    "import_use_e4 = excluded.import_use_e4, export_use_e4 = excluded.export_use_e4, "
    "seq = excluded.seq WHERE excluded.seq > fleet_slots.seq"
)
_UPSERT_METERS: Final = (
    "INSERT INTO fleet_meters (site, meter, first_seen, last_ts, last_power_w) "
    "SELECT DISTINCT ON (site, meter) site, meter, now(), to_timestamp(ts), power_w "
    "FROM stage_instant ORDER BY site, meter, ts DESC "
    "ON CONFLICT (site, meter) DO UPDATE SET last_ts = excluded.last_ts, "
    "last_power_w = excluded.last_power_w WHERE excluded.last_ts > fleet_meters.last_ts"
)


# kind (FleetMessage attribute), staging table, then the INSERT whose row count is "inserted"
# and any statement that follows it.
_KINDS: Final = (
    ("instant", "stage_instant", (_INSERT_INSTANT, _UPSERT_METERS)),
    ("cumulative", "stage_cumulative", (_INSERT_CUMULATIVE,)),
    ("slots", "stage_slots", (_INSERT_SLOTS,)),
)


def _copy_rows(
    cur: psycopg.Cursor[Any], stage: str, messages: Sequence[FleetMessage], kind: str
) -> int:
    """COPY the ``kind`` rows of every message into ``stage``; how many rows went in."""
    with_rows = [(m.site, m.meter, getattr(m, kind)) for m in messages if getattr(m, kind)]
    if not with_rows:
        return 0
    count = 0
    with cur.copy(f"COPY {stage} FROM STDIN") as copy:  # our own table names
        for site, meter, rows in with_rows:
            for row in rows:
                copy.write_row((site, meter, *row))
            count += len(rows)
    return count


# PostgreSQL's binary timestamptz is int64 microseconds since 2000-01-01 UTC (integer date-times,
# the only kind since PostgreSQL 10): unix seconds become that with one subtraction.
_PG_EPOCH: Final = 946_684_800
_DIRECT: Final = {
    "instant": (
        "COPY fleet_instant (site, meter, ts, power_w, current_r_da, current_t_da) "
        "FROM STDIN (FORMAT BINARY)",
        ("text", "text", "int8", "int4", "int2", "int2"),
    ),
    "cumulative": (
        "COPY fleet_cumulative (site, meter, ts, import_raw, export_raw, coefficient, unit_code, "
        "digits) FROM STDIN (FORMAT BINARY)",
        ("text", "text", "int8", "int8", "int8", "int4", "int2", "int2"),
    ),
}


def _meter_order(message: FleetMessage) -> tuple[str, str, int]:
    first = message.instant or message.cumulative or message.slots
    return message.site, message.meter, first[0][0] if first else 0


def _copy_direct(cur: psycopg.Cursor[Any], messages: Sequence[FleetMessage], kind: str) -> int:
    """COPY the ``kind`` rows straight into their partitioned table; how many went in.

    Meter by meter in key order, so that two workers holding the same redelivered rows take
    their row locks in the same order (a wait, not a deadlock)."""
    statement, types = _DIRECT[kind]
    count = 0
    with cur.copy(statement.encode()) as copy:
        copy.set_types(list(types))
        write = copy.write_row
        for message in sorted(messages, key=_meter_order):
            rows = getattr(message, kind)
            if not rows:
                continue
            site, meter = message.site, message.meter
            if kind == "instant":
                for ts, power, current_r, current_t in rows:
                    write((site, meter, (ts - _PG_EPOCH) * 1_000_000, power, current_r, current_t))
            else:
                for ts, *values in rows:
                    write((site, meter, (ts - _PG_EPOCH) * 1_000_000, *values))
            count += len(rows)
    return count


def _latest_instants(cur: psycopg.Cursor[Any], messages: Sequence[FleetMessage]) -> None:
    """Stage only each meter's latest instant reading (for the fleet_meters summary)."""
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for message in messages:
        if message.instant:
            row = max(message.instant, key=_TS)
            key = (message.site, message.meter)
            if key not in latest or row[0] > latest[key][0]:
                latest[key] = row
    with cur.copy(b"COPY stage_instant FROM STDIN") as copy:
        for (site, meter), row in latest.items():
            copy.write_row((site, meter, *row))


class Writer:
    """Writes batches through one connection (use from one thread at a time)."""

    def __init__(
        self, dsn: str, *, ahead_days: int = 3, partitions: PartitionKeeper | None = None
    ) -> None:
        self.dsn = dsn
        self.partitions = partitions or PartitionKeeper(ahead_days)
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._conn is None or self._conn.closed:
            conn = _session(self.dsn, self.partitions)
            try:
                with conn.transaction():
                    conn.execute(_STAGING.encode())
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def connect(self) -> None:
        """Connect now if not connected (which reads the partitions that exist)."""
        self._connection()

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def reset(self) -> None:
        """Drop the connection after an error (the next write reconnects)."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def write(
        self, messages: Sequence[FleetMessage], dead: Sequence[DeadLetter] = ()
    ) -> WriteStats:
        """One transaction for the batch; psycopg.Error (nothing written) on failure.

        Partitions the readings need are created first if missing (``routeb ingest`` hands
        over only messages whose partitions exist: its PartitionMaker made them)."""
        conn = self._connection()
        stats = WriteStats(dead=len(dead))
        self.partitions.for_messages(conn, messages)
        with conn.transaction(), conn.cursor() as cur:
            for kind, stage, statements in _KINDS:
                if kind in _DIRECT and any(getattr(m, kind) for m in messages):
                    try:
                        with conn.transaction():  # a savepoint: a conflict undoes only this
                            copied = _copy_direct(cur, messages, kind)
                    except psycopg.errors.UniqueViolation:
                        stats.fallbacks += 1
                    else:
                        stats.received += copied
                        stats.inserted += copied
                        if kind == "instant":
                            _latest_instants(cur, messages)
                            for statement in statements[1:]:
                                cur.execute(statement)
                        continue
                received = _copy_rows(cur, stage, messages, kind)
                if not received:
                    continue
                stats.received += received
                cur.execute(statements[0])
                stats.inserted += max(cur.rowcount, 0)
                for statement in statements[1:]:
                    cur.execute(statement)
            if dead:
                with cur.copy(
                    "COPY fleet_dead_letters (topic, kind, reason, payload) FROM STDIN"
                ) as c:
                    for letter in dead:
                        c.write_row((letter.topic, letter.kind, letter.reason, letter.payload))
        return stats
