"""``routeb db check``: is the file sound, is its data right, which half-hours are missing?

Integrity (``PRAGMA integrity_check`` or ``quick_check``), foreign keys, duplicates that the
constraints should make impossible (scanned without their indexes), the outbox sequence, and
per meter the findings of ``consistency.py`` (counters that go backwards, readings that
disagree with the slots, conflicting sources, impossible days) and the gaps between its
first and last stored boundary, per JST day. Read-only: safe while ``routeb run`` writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Final
from urllib.parse import quote

from routeb.errors import UsageError
from routeb.meter_time import SLOT
from routeb.storage.consistency import MeterFindings, find
from routeb.storage.errors import SchemaVersionError, StorageError
from routeb.storage.model import DayGaps, e4_to_kwh
from routeb.storage.schema import latest_version
from routeb.storage.sqlite import SqliteStore
from routeb.storage.times import JST, SLOT_SECONDS, from_epoch, jst_day

__all__ = ["CheckReport", "MeterCheck", "check"]

# The printable summary lists this many gap days per meter, then a count of the rest.
SHOWN_GAP_DAYS: Final = 30
# … and this many examples of each kind of wrong data (all are counted).
SHOWN_FINDINGS: Final = 5

# (what, SQL) pairs: each query returns rows only when something is duplicated.
_DUPLICATES: Final = (
    (
        "slots (meter, slot_start)",
        "SELECT meter_id, slot_start, count(*) FROM slots NOT INDEXED "
        "GROUP BY meter_id, slot_start HAVING count(*) > 1",
    ),
    (
        "instant (meter, ts)",
        "SELECT meter_id, ts, count(*) FROM instant NOT INDEXED "
        "GROUP BY meter_id, ts HAVING count(*) > 1",
    ),
    (
        "cumulative (meter, ts)",
        "SELECT meter_id, ts, count(*) FROM cumulative NOT INDEXED "
        "GROUP BY meter_id, ts HAVING count(*) > 1",
    ),
    (
        "meters (key)",
        "SELECT key, count(*) FROM meters NOT INDEXED GROUP BY key HAVING count(*) > 1",
    ),
    (
        "seq across tables",
        "SELECT seq, count(*) FROM (SELECT seq FROM meters UNION ALL SELECT seq FROM instant "
        "UNION ALL SELECT seq FROM cumulative UNION ALL SELECT seq FROM slots "
        "UNION ALL SELECT seq FROM link_events) GROUP BY seq HAVING count(*) > 1",
    ),
)
_MAX_SEQ: Final = (
    "SELECT max(m) FROM (SELECT max(seq) AS m FROM meters UNION ALL SELECT max(seq) FROM instant "
    "UNION ALL SELECT max(seq) FROM cumulative UNION ALL SELECT max(seq) FROM slots "
    "UNION ALL SELECT max(seq) FROM link_events)"
)


@dataclass(frozen=True, slots=True)
class MeterCheck:
    """One meter's boundaries between its first and last stored one."""

    meter: str
    first_slot: datetime | None
    last_slot: datetime | None
    expected: int
    present: int
    conflict_slots: int
    gaps: tuple[DayGaps, ...]
    findings: MeterFindings = field(default_factory=MeterFindings)

    @property
    def wrong(self) -> bool:
        """Some of this meter's data cannot be right (gaps are not wrong, only missing)."""
        return bool(self.conflict_slots) or not self.findings.clean

    @property
    def missing(self) -> int:
        """Boundaries without an import counter in [first_slot, last_slot]."""
        return self.expected - self.present


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The outcome of :func:`check`; ``ok`` is about soundness, gaps are reported beside it."""

    path: Path
    schema_version: int
    supported_version: int
    journal_mode: str
    integrity: tuple[str, ...]
    foreign_keys: tuple[str, ...] = ()
    duplicates: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)
    meters: tuple[MeterCheck, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the file is intact, every constraint holds and no meter's data is wrong."""
        return (
            self.integrity == ("ok",)
            and not self.foreign_keys
            and not self.duplicates
            and not self.problems
            and not any(m.wrong for m in self.meters)
        )

    @property
    def missing_slots(self) -> int:
        """Missing boundaries over every meter."""
        return sum(m.missing for m in self.meters)

    def summary(self) -> str:
        """A human-readable report (several lines, no trailing newline)."""
        lines = [
            f"database: {self.path}",
            f"schema: version {self.schema_version} (this routeb: {self.supported_version}), "
            f"journal {self.journal_mode}",
            "integrity: " + ("ok" if self.integrity == ("ok",) else "FAILED"),
        ]
        lines.extend(f"  {message}" for message in self.integrity if message != "ok")
        lines.append("foreign keys: " + ("ok" if not self.foreign_keys else "FAILED"))
        lines.extend(f"  {message}" for message in self.foreign_keys)
        lines.append("duplicates: " + ("none" if not self.duplicates else "FOUND"))
        lines.extend(f"  {message}" for message in self.duplicates)
        lines.extend(f"problem: {message}" for message in self.problems)
        if self.counts:
            lines.append("rows: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()))
        for meter in self.meters:
            lines.extend(_meter_lines(meter))
        verdict = "OK" if self.ok else "DAMAGED"
        lines.append(f"result: {verdict}, {self.missing_slots} half-hour values missing")
        return "\n".join(lines)


def _clock(at: datetime) -> str:
    return at.astimezone(JST).strftime("%H:%M")


def _meter_lines(meter: MeterCheck) -> list[str]:
    if meter.first_slot is None or meter.last_slot is None:
        return [f"meter {meter.meter}: no half-hour values"]
    first = meter.first_slot.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    last = meter.last_slot.astimezone(JST).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"meter {meter.meter}: {first} – {last} JST, "
        f"{meter.present} of {meter.expected} half-hour values"
        + (f", {meter.conflict_slots} with conflicting sources" if meter.conflict_slots else "")
    ]
    lines.extend(_finding_lines(meter.findings))
    for gap in meter.gaps[:SHOWN_GAP_DAYS]:
        runs = ", ".join(
            _clock(a) if a == b else f"{_clock(a)}–{_clock(b)}" for a, b in gap.ranges()
        )
        lines.append(f"  {gap.day.isoformat()}: {len(gap.missing)} missing ({runs})")
    hidden = len(meter.gaps) - SHOWN_GAP_DAYS
    if hidden > 0:
        lines.append(f"  … and {hidden} more days with gaps")
    return lines


def _stamp(at: datetime) -> str:
    return at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S")


def _kwh(e4: int) -> str:
    return f"{e4_to_kwh(e4):.2f} kWh"


def _finding_lines(found: MeterFindings) -> list[str]:
    lines: list[str] = []
    if found.backward_count:
        lines.append(f"  counter went backwards {found.backward_count} times")
        lines.extend(
            f"    {s.table} {s.direction}: {s.before} at {_stamp(s.earlier)} → {s.after} at "
            f"{_stamp(s.at)}"
            for s in found.backward[:SHOWN_FINDINGS]
        )
    if found.usage_count:
        lines.append(
            f"  {found.usage_count} half-hours whose usage is not what their counters give"
        )
        lines.extend(
            f"    {u.direction} from {_stamp(u.at)}: stored {u.stored_e4}, counters give "
            f"{u.expected_e4} (0.0001 kWh)"
            for u in found.usage[:SHOWN_FINDINGS]
        )
    if found.mismatch_count:
        if found.clock_difference:
            side = "ahead of" if found.readings_ahead else "behind"
            lines.append(
                f"  note: {found.mismatch_count} cumulative readings run {side} the half-hour "
                "counters, all on one side: the meter's clock and this computer's differ "
                "(not counted as damage)"
            )
        else:
            lines.append(
                f"  {found.mismatch_count} cumulative readings disagree with the half-hour "
                f"counters ({found.readings_ahead} ahead, {found.readings_behind} behind)"
            )
        lines.extend(
            f"    {m.direction} {m.raw} at {_stamp(m.at)} vs {m.boundary_raw} at the boundary "
            f"{_clock(m.boundary)}"
            for m in found.mismatches[:SHOWN_FINDINGS]
        )
    if found.impossible_days:
        lines.append(f"  {len(found.impossible_days)} impossible daily totals")
        lines.extend(
            f"    {d.day.isoformat()} {d.direction} {_kwh(d.used_e4)} > {_kwh(d.limit_e4)} "
            f"({'the contract' if d.rule == 'contract' else 'the baseline'})"
            for d in found.impossible_days[:SHOWN_FINDINGS]
        )
    return lines


def _raw_connection(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StorageError(f"no database at {path}")
    try:
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"
        return sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {path}: {exc}") from exc


def _meter_check(store: SqliteStore, key: str, capacity_va: int | None) -> MeterCheck:
    conn = store.connection
    (meter_id,) = conn.execute("SELECT id FROM meters WHERE key = ?", (key,)).fetchone()
    findings = find(conn, int(meter_id), capacity_va=capacity_va)
    row = conn.execute(
        "SELECT min(slot_start), max(slot_start) FROM slots s "
        "JOIN meters m ON m.id = s.meter_id WHERE m.key = ? AND s.import_raw IS NOT NULL",
        (key,),
    ).fetchone()
    conflicts = conn.execute(
        "SELECT count(*) FROM slots s JOIN meters m ON m.id = s.meter_id "
        "WHERE m.key = ? AND s.conflicts > 0",
        (key,),
    ).fetchone()[0]
    if row[0] is None:
        return MeterCheck(key, None, None, 0, 0, int(conflicts), (), findings)
    first, last = int(row[0]), int(row[1])
    expected = (last - first) // SLOT_SECONDS + 1
    start, end = from_epoch(first), from_epoch(last + SLOT_SECONDS)
    missing = store.missing_slots(key, start, end)
    by_day: dict[date, list[datetime]] = {}
    for at in missing:
        by_day.setdefault(jst_day(int(at.timestamp())), []).append(at)
    gaps = tuple(DayGaps(key, day, tuple(slots)) for day, slots in sorted(by_day.items()))
    return MeterCheck(
        key, start, end - SLOT, expected, expected - len(missing), int(conflicts), gaps, findings
    )


def check(
    db_path: str | Path,
    *,
    quick: bool = False,
    meter: str | None = None,
    capacity_va: int | None = None,
) -> CheckReport:
    """Check the database at ``db_path`` (read-only); StorageError if it cannot be opened.

    ``meter`` limits the per-meter part to that meter (UsageError if the database has none by
    that name); ``capacity_va`` is the contract (VA) that bounds a day's usage, applied to
    every meter checked (consistency.day_limit_e4; None: each meter's own baseline).
    """
    path = Path(db_path)
    conn = _raw_connection(path)
    try:
        pragma = "quick_check" if quick else "integrity_check"
        try:
            integrity = tuple(str(r[0]) for r in conn.execute(f"PRAGMA {pragma}"))
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            journal = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            return CheckReport(path, -1, latest_version(), "unknown", (f"{exc}",))
    finally:
        conn.close()
    base = CheckReport(path, version, latest_version(), journal, integrity)
    if integrity != ("ok",):
        return base
    try:
        store = SqliteStore(path, read_only=True)
    except SchemaVersionError as exc:
        return CheckReport(
            path, version, latest_version(), journal, integrity, problems=(str(exc),)
        )
    with store:
        conn = store.connection
        foreign = tuple(
            f"{table} row {rowid} → {parent}"
            for table, rowid, parent, _ in conn.execute("PRAGMA foreign_key_check")
        )
        duplicates: list[str] = []
        for what, sql in _DUPLICATES:
            rows = conn.execute(sql).fetchall()
            if rows:
                duplicates.append(f"{what}: {len(rows)} duplicated keys")
        problems: list[str] = []
        sequence = int(conn.execute("SELECT value FROM sequence WHERE id = 1").fetchone()[0])
        highest = conn.execute(_MAX_SEQ).fetchone()[0]
        if highest is not None and int(highest) > sequence:
            problems.append(f"sequence {sequence} is below the highest seq in use ({highest})")
        keys = [m.meter for m in store.meters()]
        if meter is not None:
            if meter not in keys:
                known = ", ".join(keys) or "none"
                raise UsageError(f"no meter {meter!r} in {path} (meters: {known})")
            keys = [meter]
        meters = tuple(_meter_check(store, key, capacity_va) for key in keys)
        counts = MappingProxyType(store.counts())
    return CheckReport(
        path,
        version,
        latest_version(),
        journal,
        integrity,
        foreign,
        tuple(duplicates),
        tuple(problems),
        counts,
        meters,
    )
