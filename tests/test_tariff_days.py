"""``Tariff.bill_days`` (day totals, for plans without time of use) gives exactly the bill that
``Tariff.bill`` gives from the same half-hours: every line, rounding, proration, missing count."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.errors import UsageError
from routeb.tariff import JST, DayUsage, HalfHour, load_tariff

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tariffs"
STANDARD = load_tariff(EXAMPLES / "standard-tiered.toml")
FIRST = date(2025, 12, 20)

# kWh per half-hour with 0.0001 steps (what the store keeps), or None = no reading.
_kwh = st.one_of(st.none(), st.integers(0, 40_000).map(lambda e4: Decimal(e4).scaleb(-4)))


def _days(half_hours: list[HalfHour]) -> list[DayUsage]:
    by_day: dict[date, list[HalfHour]] = {}
    for h in half_hours:
        by_day.setdefault(h.start.date(), []).append(h)
    out = []
    for day, items in by_day.items():
        imports = [h.import_kwh for h in items if h.import_kwh is not None]
        exports = [h.export_kwh for h in items if h.export_kwh is not None]
        out.append(
            DayUsage(
                day,
                sum(imports, Decimal("0.0000")) if imports else None,
                sum(exports, Decimal("0.0000")) if exports else None,
                sum(1 for h in items if h.import_kwh is None),
                len(imports),
            )
        )
    return out


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    offset=st.integers(0, 60),
    length=st.integers(1, 70),
)
def test_day_totals_give_the_same_bill(data: st.DataObject, offset: int, length: int) -> None:
    start = FIRST + timedelta(days=offset)
    end = start + timedelta(days=length)
    # Sparse half-hours (a few per day keep it fast) with gaps, sold energy and missing ones.
    half_hours: list[HalfHour] = []
    day = start
    while day < end:
        for slot in data.draw(st.sets(st.integers(0, 47), max_size=4), label=str(day)):
            at = datetime(day.year, day.month, day.day, tzinfo=JST) + timedelta(minutes=30 * slot)
            half_hours.append(HalfHour(at, data.draw(_kwh), data.draw(_kwh)))
        day += timedelta(days=1)
    assert STANDARD.bill_days(_days(half_hours), start, end) == STANDARD.bill(
        half_hours, start, end
    )


def test_time_of_use_plans_need_the_half_hours() -> None:
    tou = load_tariff(EXAMPLES / "time-of-use.toml")
    with pytest.raises(UsageError, match="time of use"):
        tou.bill_days([], FIRST, FIRST + timedelta(days=1))


def test_bad_input_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        STANDARD.bill_days([], FIRST, FIRST)
    with pytest.raises(UsageError):
        STANDARD.bill_days(["x"], FIRST, FIRST + timedelta(days=1))  # type: ignore[list-item]
