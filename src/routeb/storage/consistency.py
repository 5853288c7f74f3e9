"""Does one meter's stored data make sense? The data half of ``routeb db check`` (issue 17 §5).

A sound file can still hold wrong data: two daemons recording one meter interleave two
histories (conflicting sources, counters that step back, a 442 kWh day beside days of
9–17 kWh). Four findings, each from the rows alone, each a reason for ``result: DAMAGED``:

1. **Backward steps**: a cumulative counter only grows (protocol.md §B, E0/E3/EA/EB/E2/E4),
   except a wrap at 10^D7 — the storage's own rule decides (``model.slot_usage_e4``: a step
   down is a wrap only with D7 known and under half the modulus). Checked along the slots
   and along the raw cumulative readings (E0/E3), each in time order, per direction, between
   rows read with the same D3 × E1 scale.
2. **Disagreement with the counters**: a slot's stored usage must be what its two boundary
   counters give (``model.boundary_usage``, the rule the writer applies), and an E0/E3
   reading taken at ``ts`` must lie between the boundary counters before and after it.
   Readings within :data:`CLOCK_SLACK` of a boundary are compared with the boundary one
   further away, since the meter's clock and ours differ a little (the push comes up to 5
   minutes after the boundary, AIF 3.2.1). A meter clock that is off by more puts every
   disagreeing reading on the *same side* — all ahead of the boundaries or all behind them —
   which is a clock difference, reported as a note and not as damage (an emulator whose clock
   runs faster than ours gives exactly that). Two histories interleaved put readings on
   *both* sides, which no clock explains: that is damage.
3. **Conflicting sources**: a boundary read twice with different values (``slots.conflicts``;
   all sources read the same register, docs/storage.md "Sources and precedence").
4. **Impossible days**: a JST day whose usage no service could deliver — see
   :func:`day_limit_e4`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from statistics import median
from typing import Final

from routeb.meter_time import SLOT_SECONDS, SLOTS_PER_DAY
from routeb.storage.model import boundary_usage, slot_usage_e4
from routeb.storage.times import from_epoch

__all__ = [
    "BASELINE_FACTOR",
    "CLOCK_SLACK",
    "DEFAULT_CAPACITY_VA",
    "LIMITER_MARGIN",
    "BackwardStep",
    "CounterMismatch",
    "ImpossibleDay",
    "MeterFindings",
    "UsageMismatch",
    "day_limit_e4",
    "find",
]

# Host clock vs meter clock: a reading this close to a boundary is compared one boundary out.
CLOCK_SLACK: Final = 600
# Without a contract: 60 A (6 kVA), the largest 従量電灯B contract, TEPCO's ampere plans
# (1 A of contract = 100 VA; docs/tariffs.md contract_amperes).
DEFAULT_CAPACITY_VA: Final = 6000
# A current limiter (SB) carries up to ~125–145 % of its rating for minutes before it opens;
# 1.5 × the contract is therefore more than any service delivers for a half-hour or longer.
LIMITER_MARGIN: Final = 1.5
# Without a contract a day is impossible only above this many times the meter's median day.
BASELINE_FACTOR: Final = 10
# 0.0001 kWh = 0.1 Wh per VA·half-hour: VA × 0.5 h × 10 (docs/storage.md, Units).
_E4_PER_VA_SLOT: Final = 5
# How many findings of one kind keep their details (the rest are counted).
KEEP: Final = 20
# direction → (slot counters, cumulative readings) in time order: ts, raw, D3, E1, D7.
_SERIES: Final = {
    direction: (
        f"SELECT slot_start, {direction}_raw, coefficient, unit_code, digits FROM slots "  # noqa: S608 - a constant column name
        "WHERE meter_id = ? ORDER BY slot_start",
        f"SELECT ts, {direction}_raw, coefficient, unit_code, digits FROM cumulative "  # noqa: S608 - a constant column name
        "WHERE meter_id = ? ORDER BY ts",
    )
    for direction in ("import", "export")
}


@dataclass(frozen=True, slots=True)
class BackwardStep:
    """A counter that went down without a wrap: ``before`` at ``earlier`` → ``after`` at ``at``."""

    table: str  # "slots" or "cumulative"
    direction: str  # "import" or "export"
    earlier: datetime
    at: datetime
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class CounterMismatch:
    """An E0/E3 reading outside the boundary counters around it (``ahead``: above the later)."""

    direction: str
    at: datetime
    raw: int
    boundary: datetime
    boundary_raw: int
    ahead: bool


@dataclass(frozen=True, slots=True)
class UsageMismatch:
    """A slot whose stored usage is not what its boundary counters give."""

    direction: str
    at: datetime
    stored_e4: int | None
    expected_e4: int | None


@dataclass(frozen=True, slots=True)
class ImpossibleDay:
    """A JST day whose usage is above what :func:`day_limit_e4` allows."""

    day: date
    direction: str
    used_e4: int
    limit_e4: int
    rule: str  # "contract" or "baseline"


@dataclass(frozen=True, slots=True)
class MeterFindings:
    """Everything wrong with one meter's data (empty tuples and zero counts when clean)."""

    backward: tuple[BackwardStep, ...] = ()
    backward_count: int = 0
    mismatches: tuple[CounterMismatch, ...] = ()
    readings_ahead: int = 0
    readings_behind: int = 0
    usage: tuple[UsageMismatch, ...] = ()
    usage_count: int = 0
    impossible_days: tuple[ImpossibleDay, ...] = ()
    baseline_e4: tuple[int | None, int | None] = (None, None)

    @property
    def mismatch_count(self) -> int:
        """E0/E3 readings outside the boundary counters around them."""
        return self.readings_ahead + self.readings_behind

    @property
    def clock_difference(self) -> bool:
        """Readings disagree, all on one side: the meter's clock and ours differ (a note)."""
        return self.mismatch_count > 0 and not (self.readings_ahead and self.readings_behind)

    @property
    def clean(self) -> bool:
        """No finding (conflicting sources are counted by the caller)."""
        return not (
            self.backward_count
            or (self.readings_ahead and self.readings_behind)
            or self.usage_count
            or self.impossible_days
        )


def day_limit_e4(
    slots: int, capacity_va: int | None, baseline_e4: int | None
) -> tuple[int, str] | None:
    """The most a day with ``slots`` known half-hours can use, and the rule that says so.

    - With the contract (``capacity_va`` from the tariff's contract_amperes × 100 V or
      contract_kva): :data:`LIMITER_MARGIN` × the contract for every known half-hour.
    - Without it, a robust per-meter baseline: the median of the meter's complete days (a
      median ignores up to half the days being wrong), and a day is impossible only when it
      is above :data:`BASELINE_FACTOR` × that median scaled to its known half-hours **and**
      above the largest household contract (:data:`DEFAULT_CAPACITY_VA`) — so an empty
      holiday home's busy weekend or an EV's first charge is not "impossible", and a shop on
      a larger contract is judged by its own median. No complete day yet: no baseline.
    """
    if slots <= 0:
        return None
    if capacity_va is not None:
        return int(LIMITER_MARGIN * capacity_va * _E4_PER_VA_SLOT * slots), "contract"
    if baseline_e4 is None:
        return None
    relative = BASELINE_FACTOR * baseline_e4 * slots // SLOTS_PER_DAY
    absolute = int(LIMITER_MARGIN * DEFAULT_CAPACITY_VA * _E4_PER_VA_SLOT * slots)
    return max(relative, absolute), "baseline"


def _backward(
    table: str, direction: str, rows: Iterable[tuple[int, int | None, int, int | None, int | None]]
) -> Iterator[BackwardStep]:
    """Steps down along (ts, raw, coefficient, unit_code, digits) rows in time order."""
    last: tuple[int, int, int, int | None] | None = None
    for ts, raw, coefficient, unit, digits in rows:
        if raw is None:
            continue
        if (
            last is not None
            and last[2:] == (coefficient, unit)
            and raw < last[1]
            and slot_usage_e4(last[1], raw, coefficient, unit, digits) is None
        ):
            yield BackwardStep(table, direction, from_epoch(last[0]), from_epoch(ts), last[1], raw)
        last = (ts, raw, coefficient, unit)


def _forward(
    earlier: int, later: int, coefficient: int, unit: int | None, digits: int | None
) -> bool:
    """``later`` is at or after ``earlier`` on the counter (a wrap counts, a step back not)."""
    return later >= earlier or slot_usage_e4(earlier, later, coefficient, unit, digits) is not None


_BoundaryRow = tuple[int, int, int | None, int | None]  # raw, coefficient, unit, digits


def _mismatches(
    direction: str,
    boundaries: dict[int, _BoundaryRow],
    readings: Iterable[tuple[int, int | None, int, int | None, int | None]],
) -> Iterator[CounterMismatch]:
    for ts, raw, coefficient, unit, digits in readings:
        if raw is None:
            continue
        floor = ts - ts % SLOT_SECONDS
        before = floor if ts - floor >= CLOCK_SLACK else floor - SLOT_SECONDS
        after = floor + SLOT_SECONDS
        if after - ts < CLOCK_SLACK:
            after += SLOT_SECONDS
        low = boundaries.get(before)
        if (
            low is not None
            and low[1:3] == (coefficient, unit)
            and not _forward(low[0], raw, coefficient, unit, digits)
        ):
            yield CounterMismatch(
                direction, from_epoch(ts), raw, from_epoch(before), low[0], ahead=False
            )
            continue
        high = boundaries.get(after)
        if (
            high is not None
            and high[1:3] == (coefficient, unit)
            and not _forward(raw, high[0], coefficient, unit, digits)
        ):
            yield CounterMismatch(
                direction, from_epoch(ts), raw, from_epoch(after), high[0], ahead=True
            )


def _usage(conn: sqlite3.Connection, meter_id: int) -> Iterator[UsageMismatch]:
    rows = {
        int(r[0]): r
        for r in conn.execute(
            "SELECT slot_start, import_raw, export_raw, coefficient, unit_code, digits, "
            "import_use_e4, export_use_e4 FROM slots WHERE meter_id = ? ORDER BY slot_start",
            (meter_id,),
        )
    }
    for start, here in rows.items():
        after = rows.get(start + SLOT_SECONDS)
        expected = boundary_usage(here[1:6], None if after is None else after[1:6])
        for direction, stored, want in zip(("import", "export"), here[6:8], expected, strict=True):
            if stored != want:
                yield UsageMismatch(direction, from_epoch(start), stored, want)


def _days(
    conn: sqlite3.Connection, meter_id: int, capacity_va: int | None
) -> tuple[tuple[ImpossibleDay, ...], tuple[int | None, int | None]]:
    rows = conn.execute(
        "SELECT day, import_use_e4, import_n, export_use_e4, export_n FROM slot_days "
        "WHERE meter_id = ? ORDER BY day",
        (meter_id,),
    ).fetchall()
    found: list[ImpossibleDay] = []
    baselines: list[int | None] = []
    for direction, used_col, n_col in (("import", 1, 2), ("export", 3, 4)):
        complete = [int(r[used_col]) for r in rows if r[n_col] == SLOTS_PER_DAY]
        baseline = int(median(complete)) if complete else None
        baselines.append(baseline)
        for row in rows:
            if row[used_col] is None:
                continue
            limit = day_limit_e4(int(row[n_col]), capacity_va, baseline)
            if limit is not None and int(row[used_col]) > limit[0]:
                day = date.fromordinal(date(1970, 1, 1).toordinal() + int(row[0]))
                found.append(ImpossibleDay(day, direction, int(row[used_col]), *limit))
    found.sort(key=lambda d: (d.day, d.direction))
    return tuple(found), (baselines[0], baselines[1])


def find(
    conn: sqlite3.Connection, meter_id: int, *, capacity_va: int | None = None
) -> MeterFindings:
    """The findings for meter ``meter_id`` (read in the caller's snapshot)."""
    backward: list[BackwardStep] = []
    mismatches: list[CounterMismatch] = []
    backward_count = ahead = behind = 0
    for direction in ("import", "export"):
        slot_sql, cumulative_sql = _SERIES[direction]
        slot_rows = conn.execute(slot_sql, (meter_id,)).fetchall()
        cumulative_rows = conn.execute(cumulative_sql, (meter_id,)).fetchall()
        for step in (
            *_backward("slots", direction, slot_rows),
            *_backward("cumulative", direction, cumulative_rows),
        ):
            backward_count += 1
            if len(backward) < KEEP:
                backward.append(step)
        boundaries = {
            int(ts): (int(raw), int(c), u, d) for ts, raw, c, u, d in slot_rows if raw is not None
        }
        for mismatch in _mismatches(direction, boundaries, cumulative_rows):
            if mismatch.ahead:
                ahead += 1
            else:
                behind += 1
            if len(mismatches) < KEEP:
                mismatches.append(mismatch)
    usage: list[UsageMismatch] = []
    usage_count = 0
    for wrong in _usage(conn, meter_id):
        usage_count += 1
        if len(usage) < KEEP:
            usage.append(wrong)
    days, baselines = _days(conn, meter_id, capacity_va)
    return MeterFindings(
        backward=tuple(backward),
        backward_count=backward_count,
        mismatches=tuple(mismatches),
        readings_ahead=ahead,
        readings_behind=behind,
        usage=tuple(usage),
        usage_count=usage_count,
        impossible_days=days,
        baseline_e4=baselines,
    )
