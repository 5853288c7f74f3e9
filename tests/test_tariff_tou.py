"""Time-of-use plans: which period a half-hour belongs to, and hand-computed bills."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from routeb.errors import UsageError
from routeb.tariff import JST, HalfHour, Tariff, load_tariff, parse_tariff

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tariffs"
D = Decimal


@pytest.fixture(scope="module")
def tou() -> Tariff:
    # night 23:00–07:00 every day 28.85; holiday day 07:00–23:00 33.20 (Sat, Sun, listed
    # holidays); weekday day 07:00–23:00 42.60. 40 A = 1247.00. read_day = 1.
    return load_tariff(EXAMPLES / "time-of-use.toml")


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=JST)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("when", "period"),
    [
        (jst(2026, 5, 8, 6, 30), "night"),  # Fri: the 06:30 slot starts before 07:00
        (jst(2026, 5, 8, 7, 0), "day"),  # Fri 07:00 starts the day period
        (jst(2026, 5, 8, 22, 30), "day"),
        (jst(2026, 5, 8, 23, 0), "night"),
        (jst(2026, 5, 8, 7, 29), "day"),  # inside the 07:00 slot
        (jst(2026, 5, 9, 12, 0), "holiday day"),  # Saturday
        (jst(2026, 5, 10, 0, 0), "night"),  # Sunday night
        (jst(2026, 5, 6, 10, 0), "holiday day"),  # Wednesday, a listed holiday
        (jst(2026, 5, 7, 10, 0), "day"),  # Thursday
        (datetime(2026, 5, 8, 1, 0, tzinfo=UTC), "day"),  # 10:00 JST Friday
        (datetime(2026, 5, 8, 14, 0, tzinfo=UTC), "night"),  # 23:00 JST Friday
    ],
)
def test_period_at(tou: Tariff, when: datetime, period: str) -> None:
    assert tou.period_at(when).name == period


def test_tou_bill_across_a_weekend(tou: Tariff) -> None:
    usage = [
        HalfHour(jst(2026, 5, 8, 6, 30), D("1.0")),  # Fri night
        HalfHour(jst(2026, 5, 8, 7, 0), D("1.0")),  # Fri day
        HalfHour(jst(2026, 5, 8, 22, 30), D("0.5")),  # Fri day
        HalfHour(jst(2026, 5, 8, 23, 0), D("0.5")),  # Fri night
        HalfHour(datetime(2026, 5, 8, 1, 0, tzinfo=UTC), D("1.5")),  # Fri 10:00 JST: day
        HalfHour(jst(2026, 5, 9, 12, 0), D("2.0")),  # Sat: holiday day
        HalfHour(jst(2026, 5, 9, 23, 30), D("1.0")),  # Sat night
        HalfHour(datetime(2026, 5, 9, 15, 0, tzinfo=UTC), D("0.5")),  # Sun 00:00 JST: night
        HalfHour(jst(2026, 5, 6, 10, 0), D("1.0")),  # Wed, listed holiday: holiday day
        # 2026-06-01 00:00 JST is in the next period: not billed.
        HalfHour(datetime(2026, 5, 31, 15, 0, tzinfo=UTC), D("9.9")),
    ]
    start, end = tou.billing_period(date(2026, 5, 8))
    assert (start, end) == (date(2026, 5, 1), date(2026, 6, 1))
    bill = tou.bill(usage, start, end)
    got = {ln.key: (ln.quantity, ln.amount) for ln in bill.lines}
    assert got == {
        # 40 A, charged for the 9 of 1,488 half-hours of May that have a reading:
        # 1247.00 × 9/1488 = 7.542… → 7.54
        "base_charge": (None, D("7.54")),
        "energy:night": (D("3.0"), D("86.550")),  # (1.0 + 0.5 + 1.0 + 0.5) × 28.85
        "energy:holiday day": (D("3.0"), D("99.600")),  # (2.0 + 1.0) × 33.20
        "energy:day": (D("3.0"), D("127.800")),  # (1.0 + 0.5 + 1.5) × 42.60
        # May (last day 05-31): 9.0 × −0.95 = −8.55 → floor −9
        "fuel_adjustment": (D("9.0"), D("-9")),
        # FY2026: 9.0 × 3.98 = 35.82 → floor 35
        "renewable_surcharge": (D("9.0"), D("35")),
    }
    # floor(7.54 + 86.55 + 99.60 + 127.80 − 9 + 35) = floor(347.49) = 347
    assert bill.total == D("347")
    labels = {ln.key: ln.label_ja for ln in bill.lines}
    assert labels["energy:night"] == "電力量料金（夜間）"


def test_a_jst_day_has_48_slots_whatever_the_zone_of_the_readings(tou: Tariff) -> None:
    # JST Sunday 2026-03-08 spans New York's switch to daylight saving time (02:00 EST =
    # 16:00 JST). Readings stamped in New York time still fill 48 JST half-hours.
    new_york = ZoneInfo("America/New_York")
    first = jst(2026, 3, 8, 0, 0)
    usage = [
        HalfHour((first + timedelta(minutes=30 * i)).astimezone(new_york), D("0.5"))
        for i in range(48)
    ]
    assert len({h.start_jst for h in usage}) == 48
    bill = tou.bill(usage, date(2026, 3, 8), date(2026, 3, 9))
    got = {ln.key: ln.quantity for ln in bill.lines if ln.key.startswith("energy")}
    # Sunday: night 23:00–07:00 = 16 slots, holiday day 07:00–23:00 = 32 slots.
    assert got == {"energy:night": D("8.0"), "energy:holiday day": D("16.0"), "energy:day": 0}
    # energy_cost (unrounded, no base charge), March period (last day 03-31), FY2025:
    #   8 × 28.85 = 230.80; 16 × 33.20 = 531.20; fuel 24 × −1.50 = −36.00;
    #   renewables 24 × 3.98 = 95.52 → 230.80 + 531.20 − 36.00 + 95.52 = 821.52
    assert tou.energy_cost(usage) == D("821.52")
    # One whole day (48 of 1,488 half-hours): base 1247.00 × 48/1488 = 40.225… → 40.23
    assert bill.lines[0].amount == D("40.23")
    # floor(40.23 + 230.80 + 531.20 + floor(−36.00) + floor(95.52)) = floor(861.23) = 861
    assert bill.total == D("861")


def test_energy_cost_of_single_slots_adds_up(tou: Tariff) -> None:
    # TOU prices do not depend on the rest of the period: per-slot costs add up.
    slots = [
        HalfHour(jst(2026, 5, 8, 6, 30), D("1.0")),  # night: 28.85 − 0.95 + 3.98 = 31.88
        HalfHour(jst(2026, 5, 8, 12, 0), D("2.0")),  # day: 2 × (42.60 − 0.95 + 3.98) = 91.26
    ]
    assert tou.energy_cost(slots[:1]) == D("31.88")
    assert tou.energy_cost(slots[1:]) == D("91.26")
    assert tou.energy_cost(slots) == D("123.14")
    assert tou.energy_cost([]) == 0


def test_first_matching_period_wins_and_weekend_is_configurable() -> None:
    t = parse_tariff(
        {
            "name": "weekday/holiday",
            "base_charge": {"monthly": 0},
            "weekend": ["sun"],
            "holidays": ["2026-05-05"],
            "period": [
                {"name": "free sunday", "hours": "00:00-24:00", "days": ["sun"], "price": 0},
                {"name": "peak", "hours": ["13:00-16:00"], "days": ["平日"], "price": 50},
                {"name": "rest", "hours": "00:00-24:00", "days": "毎日", "price": 25},
            ],
        }
    )
    assert t.period_at(jst(2026, 5, 10, 14)).name == "free sunday"  # Sunday
    assert t.period_at(jst(2026, 5, 9, 14)).name == "peak"  # Saturday is a weekday here
    assert t.period_at(jst(2026, 5, 5, 14)).name == "rest"  # listed holiday (Tuesday)
    assert t.period_at(jst(2026, 5, 11, 12, 30)).name == "rest"
    assert t.period_at(jst(2026, 5, 11, 15, 30)).name == "peak"


def test_period_at_needs_aware_time_and_a_tou_plan(tou: Tariff) -> None:
    with pytest.raises(UsageError):
        tou.period_at(datetime(2026, 5, 8, 12))
    tiered = load_tariff(EXAMPLES / "standard-tiered.toml")
    with pytest.raises(UsageError):
        tiered.period_at(jst(2026, 5, 8, 12))
