"""The household model behind the emulated meter: load shape, solar, exact energy, counters."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from routeb.emulator.household import Direction, Household
from routeb.emulator.profile import MeterProfile
from routeb.errors import UsageError

EPOCH = datetime(2026, 5, 20, 14, 26, 13)
UNIT = Decimal("0.01")


def home(seed: int = 1, **kwargs: object) -> Household:
    return Household(seed, epoch=EPOCH, **kwargs)  # type: ignore[arg-type]


def mean_power(
    h: Household, first: date, days: int, hours: tuple[float, float], keep: Callable[[date], bool]
) -> float:
    total = count = 0
    for n in range(days):
        d = first + timedelta(days=n)
        if not keep(d):
            continue
        t = datetime(d.year, d.month, d.day) + timedelta(hours=hours[0])
        end = datetime(d.year, d.month, d.day) + timedelta(hours=hours[1])
        while t < end:
            total += h.power_at(t)
            count += 1
            t += timedelta(minutes=1)
    return total / count


def integral_wh(h: Household, start: datetime, seconds: int) -> tuple[Fraction, Fraction]:
    """(bought, sold) Wh from summing E7 once a second (power is constant within a second)."""
    bought = sold = 0
    for s in range(seconds):
        p = h.power_at(start + timedelta(seconds=s))
        if p > 0:
            bought += p
        else:
            sold -= p
    return Fraction(bought, 3600), Fraction(sold, 3600)


# --- load shape --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_night_is_below_the_evening(seed: int) -> None:
    h = home(seed)
    first = date(2026, 4, 6)
    night = mean_power(h, first, 28, (2, 4), lambda d: True)
    evening = mean_power(h, first, 28, (19, 22), lambda d: True)
    assert 80 < night < 400  # standby + refrigerator
    assert evening > 2 * night


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_weekdays_and_weekends_differ(seed: int) -> None:
    h = home(seed)
    first = date(2026, 4, 6)  # a Monday; eight weeks
    weekday = lambda d: d.weekday() < 5  # noqa: E731
    weekend = lambda d: d.weekday() >= 5  # noqa: E731
    # Up early on workdays, later at the weekend; at home in the daytime at the weekend.
    assert mean_power(h, first, 56, (6, 7.5), weekday) > 1.5 * mean_power(
        h, first, 56, (6, 7.5), weekend
    )
    assert mean_power(h, first, 56, (10, 16), weekend) > 1.1 * mean_power(
        h, first, 56, (10, 16), weekday
    )


def test_appliance_spikes_and_noise() -> None:
    h = home(3)
    day = datetime(2026, 5, 16)
    watts = [h.power_at(day + timedelta(minutes=m)) for m in range(24 * 60)]
    ordered = sorted(watts)
    median = ordered[len(ordered) // 2]
    assert ordered[-1] > median + 1000  # kettles, hobs, dryers
    assert len(set(watts[: 4 * 60])) > 20  # minute-to-minute noise even at night
    assert min(watts) >= 0  # nothing to sell without PV


def test_daily_energy_is_plausible() -> None:
    h = home(1)
    for n in range(14):
        d = datetime(2026, 5, 1) + timedelta(days=n)
        kwh = (h.import_wh_at(d + timedelta(days=1)) - h.import_wh_at(d)) / 1000
        assert 4 < kwh < 30
        assert h.export_wh_at(d + timedelta(days=1)) == h.export_wh_at(d)


def test_currents_match_the_power() -> None:
    h = home(2)
    for m in range(0, 24 * 60, 7):
        t = datetime(2026, 5, 12) + timedelta(minutes=m)
        p = h.power_at(t)
        r, t_ = h.currents_at(t)
        assert t_ is not None
        volt_amperes = (r + t_) * 10  # 0.1 A on 100 V lines
        # P = V × I × pf with 0.88 ≤ pf ≤ 0.96; the rounding of each line is ±0.05 A (±5 VA).
        assert p - 10 <= volt_amperes <= p / 0.88 + 10


def test_two_wire_has_no_t_current() -> None:
    h = home(2, three_wire=False)
    for m in range(0, 24 * 60, 31):
        t = datetime(2026, 5, 12) + timedelta(minutes=m)
        r, t_ = h.currents_at(t)
        assert t_ is None
        assert h.power_at(t) - 5 <= r * 10 <= h.power_at(t) / 0.88 + 5


# --- solar -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_solar_sells_at_noon_and_e3_grows(seed: int) -> None:
    h = home(seed, pv_watts=4500, initial_export_kwh=1000)
    sunny = 0
    for n in range(14):
        d = datetime(2026, 5, 1) + timedelta(days=n)
        noon = [h.power_at(d + timedelta(hours=11.5, minutes=m)) for m in range(60)]
        if sum(noon) / len(noon) < -1000:  # a clear day: selling well over a kilowatt
            sunny += 1
            before = h.counter_at(d + timedelta(hours=10), Direction.REVERSE, 1, UNIT, 6)
            after = h.counter_at(d + timedelta(hours=14), Direction.REVERSE, 1, UNIT, 6)
            assert after - before > 200  # > 2 kWh sold around noon
        # Nothing is sold at night, and the reverse counter stands still.
        assert min(h.power_at(d + timedelta(minutes=m)) for m in range(0, 240, 3)) >= 0
        assert h.export_wh_at(d + timedelta(hours=4)) == h.export_wh_at(d)
    assert sunny >= 4  # May in Kanto has sunny days


def test_solar_is_weak_at_midnight_and_in_winter_rain() -> None:
    h = home(1, pv_watts=4500)
    june = [
        h.export_wh_at(datetime(2026, 6, 1) + timedelta(days=n + 1))
        - h.export_wh_at(datetime(2026, 6, 1) + timedelta(days=n))
        for n in range(30)
    ]
    assert max(june) > 10_000  # a clear June day sells > 10 kWh
    assert max(june) < 4.5 * 8 * 1000  # below the 8 kWh/kW/day bound the profile relies on
    assert min(june) < max(june) / 3  # and the rainy season shows


# --- exact energy ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 5, 19, 11, 0, 0),  # PV selling
        datetime(2026, 5, 19, 18, 29, 0),  # across a slot boundary in the evening peak
        datetime(2026, 5, 20, 14, 0, 0),  # across the epoch
    ],
)
def test_energy_is_the_integral_of_power(start: datetime) -> None:
    h = home(7, pv_watts=4500, initial_export_kwh=500)
    seconds = 3600
    bought, sold = integral_wh(h, start, seconds)
    end = start + timedelta(seconds=seconds)
    assert h.import_wh_at(end) - h.import_wh_at(start) == bought
    assert h.export_wh_at(end) - h.export_wh_at(start) == sold
    # The counters (0.01 kWh = 10 Wh) agree with ∫E7 dt within one count each.
    de0 = h.counter_at(end, Direction.NORMAL, 1, UNIT, 6) - h.counter_at(
        start, Direction.NORMAL, 1, UNIT, 6
    )
    de3 = h.counter_at(end, Direction.REVERSE, 1, UNIT, 6) - h.counter_at(
        start, Direction.REVERSE, 1, UNIT, 6
    )
    assert abs((de0 - de3) * 10 - (bought - sold)) <= 20


def test_energy_within_a_second_is_proportional() -> None:
    h = home(7, pv_watts=4500)
    t = datetime(2026, 5, 19, 12, 0, 0)
    half = t + timedelta(microseconds=500_000)
    p = h.power_at(t)
    delta = (h.import_wh_at(half) - h.import_wh_at(t)) - (h.export_wh_at(half) - h.export_wh_at(t))
    assert delta == Fraction(p, 2 * 3600)


def test_counter_is_the_floor_of_exact_energy_and_wraps() -> None:
    initial = 999_990
    h = home(4, initial_import_kwh=Decimal(initial) * UNIT)
    assert h.counter_at(EPOCH, Direction.NORMAL, 1, UNIT, 6) == initial
    wrapped = False
    for hours in range(1, 30):
        t = EPOCH + timedelta(hours=hours)
        raw = h.counter_at(t, Direction.NORMAL, 1, UNIT, 6)
        exact = initial + (h.import_wh_at(t) / 10).__floor__()
        assert raw == exact % 10**6
        assert 0 <= raw < 10**6
        wrapped |= raw < initial
    assert wrapped


@pytest.mark.parametrize("digits", [1, 4, 8])
def test_counters_stay_below_ten_to_the_digits(digits: int) -> None:
    h = home(5)
    for hours in range(0, 24 * 5, 5):
        t = EPOCH - timedelta(days=3) + timedelta(hours=hours)
        assert 0 <= h.counter_at(t, Direction.NORMAL, 1, Decimal("0.001"), digits) < 10**digits


def test_scaling_by_coefficient_and_unit() -> None:
    h = home(5, initial_import_kwh=100)
    t = EPOCH + timedelta(days=2)
    wh = h.import_wh_at(t)
    for coefficient, unit in ((1, Decimal("0.1")), (10, Decimal("0.01")), (3, Decimal("1"))):
        per_count = Fraction(coefficient) * Fraction(unit) * 1000  # Wh per count
        expected = (Fraction(100_000) + wh) // per_count
        assert h.counter_at(t, Direction.NORMAL, coefficient, unit, 8) == expected


# --- history -----------------------------------------------------------------------------------


def test_history_slots_are_the_counters_at_the_boundaries() -> None:
    h = home(6, pv_watts=3000, initial_export_kwh=800, installed=EPOCH - timedelta(days=30))
    now = EPOCH + timedelta(hours=3)
    for day, direction in (
        (date(2026, 5, 10), Direction.NORMAL),
        (date(2026, 5, 19), Direction.REVERSE),
    ):
        slots = h.slot_counters(day, direction, now=now, coefficient=1, unit=UNIT, digits=6)
        start = datetime(day.year, day.month, day.day)
        expected = [
            h.counter_at(start + timedelta(minutes=30 * i), direction, 1, UNIT, 6)
            for i in range(48)
        ]
        assert slots == expected
    today = h.slot_counters(now.date(), Direction.NORMAL, now=now, unit=UNIT)
    for i, raw in enumerate(today):
        at = datetime(2026, 5, 20) + timedelta(minutes=30 * i)
        assert (raw is None) == (at > now)
    # before the installation, and older than the history depth: no data
    assert set(h.slot_counters(date(2026, 4, 19), Direction.NORMAL, now=now, unit=UNIT)) == {None}
    shallow = home(6, history_days=5)
    assert set(shallow.slot_counters(date(2026, 5, 14), Direction.NORMAL, now=now, unit=UNIT)) == {
        None
    }
    assert None not in shallow.slot_counters(
        date(2026, 5, 15), Direction.NORMAL, now=now, unit=UNIT
    )


def test_counters_back_step_through_the_timeline() -> None:
    h = home(6)
    at = datetime(2026, 5, 20, 14, 0)
    values = h.counters_back(at, 12, timedelta(minutes=30), Direction.NORMAL, now=EPOCH, unit=UNIT)
    assert values == [
        h.counter_at(at - timedelta(minutes=30 * i), Direction.NORMAL, 1, UNIT, 6)
        for i in range(12)
    ]
    future = h.counters_back(
        EPOCH + timedelta(minutes=2),
        3,
        timedelta(minutes=1),
        Direction.NORMAL,
        now=EPOCH,
        unit=UNIT,
    )
    assert future[:2] == [None, None]
    assert future[2] is not None
    with pytest.raises(UsageError):
        h.counters_back(at, -1, timedelta(minutes=1), Direction.NORMAL, now=EPOCH)


def test_fixed_time_reading_is_the_latest_boundary() -> None:
    h = home(6)
    at, raw = h.fixed_time_reading(EPOCH, Direction.NORMAL, 1, UNIT, 6)
    assert at == datetime(2026, 5, 20, 14, 0)
    assert raw == h.counter_at(at, Direction.NORMAL, 1, UNIT, 6)


def test_auto_initial_export_keeps_solar_history_above_zero() -> None:
    profile = MeterProfile(solar=True)  # initial_export = "auto"
    h = profile.build_household(EPOCH)
    oldest = datetime(2026, 5, 20) - timedelta(days=99)
    first = h.counter_at(oldest, Direction.REVERSE, 1, UNIT, 6)
    last = h.counter_at(EPOCH, Direction.REVERSE, 1, UNIT, 6)
    assert last == profile.effective_initial_export
    assert 0 <= first <= last  # never ran below zero and wrapped
    assert last - first > 50_000  # > 500 kWh sold in 99 days of spring


# --- determinism and input checks -------------------------------------------------------------


def test_same_seed_same_home_in_any_query_order() -> None:
    times = [
        EPOCH + timedelta(seconds=random.Random(9).randrange(-86400 * 40, 86400 * 3))
        for _ in range(60)
    ]
    a = home(11, pv_watts=4000, initial_export_kwh=900)
    b = home(11, pv_watts=4000, initial_export_kwh=900)

    def probe(h: Household, t: datetime) -> tuple[object, ...]:
        return (
            h.power_at(t),
            h.currents_at(t),
            h.counter_at(t, Direction.NORMAL, 1, UNIT, 6),
            h.counter_at(t, Direction.REVERSE, 1, UNIT, 6),
        )

    forward = [probe(a, t) for t in times]
    backward = [probe(b, t) for t in reversed(times)]
    assert forward == list(reversed(backward))
    other = home(12, pv_watts=4000, initial_export_kwh=900)
    assert forward != [probe(other, t) for t in times]


def test_bad_inputs_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        home(1).power_at(datetime(2026, 5, 20, tzinfo=None).astimezone())
    with pytest.raises(UsageError):
        home(1, pv_watts=-1)
    with pytest.raises(UsageError):
        home(1, history_days=100)
    with pytest.raises(UsageError):
        home(1).counter_at(EPOCH, Direction.NORMAL, 1, UNIT, 9)
