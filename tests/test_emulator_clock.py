"""The emulated meter's clock and the module's delay scale, driven by a fake time source."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from routeb.emulator.clock import (
    JST,
    MINUTE,
    SLOT,
    DelayScale,
    EmulatorClock,
    floor_minute,
    floor_slot,
    jst_now,
    next_slot,
)
from routeb.errors import ConfigError

START = datetime(2026, 5, 20, 14, 26, 0)


class FakeMonotonic:
    """A monotonic source that only moves when told to."""

    def __init__(self, value: float = 5000.0) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value

    def advance(self, seconds: float) -> None:
        self.value += seconds


def make(
    speed: float = 1.0, offset: timedelta = timedelta(0)
) -> tuple[EmulatorClock, FakeMonotonic]:
    source = FakeMonotonic()
    return EmulatorClock(START, speed=speed, offset=offset, monotonic=source), source


def test_clock_starts_at_start_and_follows_real_time() -> None:
    clock, source = make()
    assert clock.now() == START
    assert clock.true_now() == START
    source.advance(90.5)
    assert clock.elapsed() == 90.5
    assert clock.now() == START + timedelta(seconds=90.5)


def test_clock_speed_scales_the_calendar() -> None:
    clock, source = make(speed=3600)
    source.advance(1.0)
    assert clock.now() == START + timedelta(hours=1)
    source.advance(23.0)
    assert clock.now() == START + timedelta(days=1)
    assert clock.to_meter(0.5) == timedelta(minutes=30)
    assert clock.to_real(SLOT) == 0.5


def test_clock_offset_skews_the_meter_but_not_true_time() -> None:
    offset = timedelta(minutes=-3, seconds=-20)
    clock, source = make(speed=60, offset=offset)
    source.advance(10)
    assert clock.true_now() == START + timedelta(minutes=10)
    assert clock.now() == START + timedelta(minutes=10) + offset
    assert clock.now() - clock.true_now() == offset


def test_seconds_until_a_meter_time() -> None:
    clock, source = make(speed=60)
    boundary = next_slot(clock.now())  # 14:30:00
    assert boundary == datetime(2026, 5, 20, 14, 30)
    # 4 meter minutes at 60x are 4 real seconds
    assert clock.seconds_until(boundary) == pytest.approx(4.0)
    assert clock.seconds_until(boundary + timedelta(minutes=2)) == pytest.approx(6.0)
    source.advance(4.0)
    assert clock.now() == boundary
    assert clock.seconds_until(boundary) == 0.0
    source.advance(1.0)
    assert clock.seconds_until(boundary) == 0.0  # already past: never negative


def test_seconds_until_uses_the_meter_clock_not_true_time() -> None:
    clock, _ = make(speed=1, offset=timedelta(seconds=30))
    # the meter already reads 14:26:30, so 14:27:00 on its clock is 30 real seconds away
    assert clock.seconds_until(datetime(2026, 5, 20, 14, 27)) == pytest.approx(30.0)


def test_aware_datetimes_are_converted_to_jst() -> None:
    utc = datetime(2026, 5, 20, 5, 26, tzinfo=UTC)
    clock = EmulatorClock(utc, monotonic=FakeMonotonic())
    assert clock.start == START
    assert clock.now().tzinfo is None
    assert clock.seconds_until(datetime(2026, 5, 20, 5, 27, tzinfo=UTC)) == 60.0


def test_default_start_is_now_in_japan() -> None:
    clock = EmulatorClock(monotonic=FakeMonotonic())
    expected = datetime.now(JST).replace(tzinfo=None)
    assert abs(clock.now() - expected) < timedelta(seconds=5)
    assert abs(jst_now() - expected) < timedelta(seconds=5)


def test_default_source_is_the_real_monotonic_clock() -> None:
    clock = EmulatorClock(START)
    assert START <= clock.now() < START + timedelta(seconds=5)


@pytest.mark.parametrize("speed", [0.0, -1.0, math.inf, math.nan])
def test_bad_speed_names_its_key(speed: float) -> None:
    with pytest.raises(ConfigError) as info:
        EmulatorClock(START, speed=speed, monotonic=FakeMonotonic())
    assert info.value.key == "clock_speed"


def test_delay_scale_is_separate_from_the_clock() -> None:
    assert DelayScale().scale(17.5) == 17.5
    fast = DelayScale(0.01)
    assert fast.scale(17.5) == pytest.approx(0.175)
    assert fast.scale_timedelta(timedelta(seconds=3)) == pytest.approx(0.03)
    assert DelayScale(0.0).scale(38.0) == 0.0  # zero: every delay vanishes (unit tests)
    # a fast calendar does not shorten module delays, and vice versa
    clock, source = make(speed=3600)
    source.advance(DelayScale(1.0).scale(0.3))
    assert clock.now() == START + timedelta(seconds=0.3 * 3600)


@pytest.mark.parametrize("factor", [-0.5, math.inf, math.nan])
def test_bad_delay_scale_names_its_key(factor: float) -> None:
    with pytest.raises(ConfigError) as info:
        DelayScale(factor)
    assert info.value.key == "delay_scale"


@pytest.mark.parametrize(
    ("t", "floor", "after"),
    [
        (datetime(2026, 5, 20, 14, 26, 59, 999999), datetime(2026, 5, 20, 14), (14, 30)),
        (datetime(2026, 5, 20, 14, 30), datetime(2026, 5, 20, 14, 30), (15, 0)),
        (datetime(2026, 5, 20, 23, 59, 59), datetime(2026, 5, 20, 23, 30), (24, 0)),
        (datetime(1999, 12, 31, 0, 0, 1), datetime(1999, 12, 31), (0, 30)),
    ],
)
def test_half_hour_grid(t: datetime, floor: datetime, after: tuple[int, int]) -> None:
    assert floor_slot(t) == floor
    midnight = datetime(t.year, t.month, t.day)
    assert next_slot(t) == midnight + timedelta(hours=after[0], minutes=after[1])
    assert next_slot(t) - floor_slot(t) == SLOT


def test_minute_grid() -> None:
    t = datetime(2026, 5, 20, 14, 26, 41, 123)
    assert floor_minute(t) == datetime(2026, 5, 20, 14, 26)
    assert floor_minute(floor_minute(t)) + MINUTE == datetime(2026, 5, 20, 14, 27)
