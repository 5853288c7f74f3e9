"""Storage units, times and records: exact conversions, validation, the wrap rule."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routeb.echonet.energy import ENERGY_UNITS, EnergyScale, usage_between
from routeb.errors import UsageError
from routeb.storage import (
    JST,
    CumulativeReading,
    DayGaps,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterUpdate,
    PowerStats,
    RetentionPolicy,
    SlotReading,
    SlotSource,
    e4_to_kwh,
    jst_to_utc,
    kwh_to_e4,
    utc_to_jst,
)
from routeb.storage.model import UNIT_E4_FACTORS, counter_e4, slot_usage_e4
from routeb.storage.times import from_epoch, jst_day, jst_day_start, slots_in, to_epoch

AT = datetime(2026, 5, 20, 5, 0, tzinfo=UTC)
SCALE = EnergyScale(1, Decimal("0.01"))


# --- units -------------------------------------------------------------------------------------


def test_kwh_to_e4_is_exact_and_rejects_finer_values() -> None:
    assert kwh_to_e4(Decimal("769.99")) == 7_699_900
    assert kwh_to_e4(Decimal("0.0001")) == 1
    assert kwh_to_e4(Decimal("-1.5")) == -15_000
    assert kwh_to_e4(Decimal("12345678901234.5678")) == 123_456_789_012_345_678
    for bad in (Decimal("0.00001"), Decimal("1.23456"), Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(UsageError):
            kwh_to_e4(bad)
    with pytest.raises(UsageError):
        kwh_to_e4(1.5)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        kwh_to_e4(Decimal("1E+20"))  # beyond int64


@given(st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1))
def test_e4_round_trips_through_decimal(e4: int) -> None:
    kwh = e4_to_kwh(e4)
    assert kwh is not None
    assert kwh_to_e4(kwh) == e4
    assert kwh.as_tuple().exponent == -4


def test_every_e1_unit_gives_an_integer_factor() -> None:
    # protocol.md §B.1 0xE1: 1 kWh … 0.0001 kWh and 10 … 10000 kWh.
    assert UNIT_E4_FACTORS == {
        0x00: 10_000,
        0x01: 1000,
        0x02: 100,
        0x03: 10,
        0x04: 1,
        0x0A: 100_000,
        0x0B: 1_000_000,
        0x0C: 10_000_000,
        0x0D: 100_000_000,
    }


@given(
    st.integers(min_value=0, max_value=99_999_999),
    st.integers(min_value=0, max_value=999_999),
    st.sampled_from(sorted(ENERGY_UNITS)),
)
def test_counter_e4_matches_the_echonet_scale(raw: int, coefficient: int, code: int) -> None:
    scale = EnergyScale(coefficient, ENERGY_UNITS[code])
    expected = scale.kwh(raw)
    assert expected is not None
    exact = expected.scaleb(4)
    if exact > 2**63 - 1:  # beyond SQLite's int64: the raw counter is kept, the e4 is not
        assert counter_e4(raw, coefficient, code) is None
    else:
        assert counter_e4(raw, coefficient, code) == kwh_to_e4(expected) == int(exact)


def test_counter_e4_unknowns_are_none() -> None:
    assert counter_e4(None, 1, 2) is None
    assert counter_e4(5, 1, None) is None
    assert counter_e4(5, 1, 0x05) is None  # undefined E1 code


# --- the wrap rule -----------------------------------------------------------------------------


def test_usage_forward_and_across_the_wrap() -> None:
    assert slot_usage_e4(100, 130, 1, 0x02, 6) == 3000  # 0.30 kWh
    assert slot_usage_e4(999_990, 5, 1, 0x02, 6) == 1500  # wrapped at 10^6
    assert slot_usage_e4(999_990, 5, 1, 0x02, None) is None  # digits unknown
    assert slot_usage_e4(500_000, 100, 1, 0x02, 6) is None  # backwards: meter reset, no wrap
    assert slot_usage_e4(100, 99, 1, 0x02, 6) is None
    assert slot_usage_e4(1_000_000, 5, 1, 0x02, 6) is None  # counter beyond its digits
    assert slot_usage_e4(100, 130, 40, 0x01, 6) == 30 * 40 * 1000
    assert slot_usage_e4(None, 130, 1, 0x02, 6) is None
    assert slot_usage_e4(100, 130, 1, None, 6) is None


@given(
    st.integers(min_value=1, max_value=8).flatmap(
        lambda d: st.tuples(
            st.just(d),
            st.integers(min_value=0, max_value=10**d - 1),
            st.integers(min_value=0, max_value=(10**d - 1) // 2),
        )
    ),
    st.sampled_from(sorted(ENERGY_UNITS)),
)
def test_usage_agrees_with_echonet_usage_between(case: tuple[int, int, int], code: int) -> None:
    digits, earlier, used = case
    later = (earlier + used) % 10**digits
    counts = usage_between(earlier, later, digits)
    assert counts == used
    expected = EnergyScale(3, ENERGY_UNITS[code]).kwh(counts)
    assert expected is not None
    assert slot_usage_e4(earlier, later, 3, code, digits) == kwh_to_e4(expected)


# --- times -------------------------------------------------------------------------------------


def test_jst_conversions() -> None:
    meter = datetime(2026, 5, 20, 0, 0)
    utc = jst_to_utc(meter)
    assert utc == datetime(2026, 5, 19, 15, 0, tzinfo=UTC)
    assert utc_to_jst(utc) == meter
    assert utc_to_jst(utc.astimezone(timezone(timedelta(hours=-5)))) == meter
    with pytest.raises(UsageError):
        jst_to_utc(utc)
    with pytest.raises(UsageError):
        utc_to_jst(meter)


def test_epoch_and_days() -> None:
    assert to_epoch(datetime(1970, 1, 1, 0, 0, 1, 999_999, tzinfo=UTC)) == 1
    assert from_epoch(1) == datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    with pytest.raises(UsageError):
        to_epoch(datetime(2026, 1, 1))
    with pytest.raises(UsageError):
        to_epoch(datetime(1969, 12, 31, 23, 59, tzinfo=UTC))
    start = jst_day_start(date(2026, 5, 20))
    assert from_epoch(start) == datetime(2026, 5, 20, tzinfo=JST)
    assert jst_day(start) == date(2026, 5, 20)
    assert jst_day(start - 1) == date(2026, 5, 19)
    assert jst_day(start + 86_399) == date(2026, 5, 20)
    assert list(slots_in(start + 1, start + 3601)) == [start + 1800, start + 3600]
    assert list(slots_in(start, start)) == []


# --- records -----------------------------------------------------------------------------------


def test_records_normalise_time_to_utc_seconds() -> None:
    local = datetime(2026, 5, 20, 14, 0, 0, 500_000, tzinfo=JST)
    reading = InstantReading("m", local, 500)
    assert reading.at == datetime(2026, 5, 20, 5, 0, tzinfo=UTC)
    assert reading.at.tzinfo is UTC


def test_instant_currents_are_exact_tenths() -> None:
    reading = InstantReading("m", AT, -1200, Decimal("9.8"), None)
    assert reading.current_r_da == 98
    assert reading.current_t_da is None
    assert InstantReading("m", AT, 0, 3).current_r == Decimal("3.0")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"0\.1 A"):
        InstantReading("m", AT, 0, Decimal("1.25"))
    with pytest.raises(UsageError):
        InstantReading("m", AT, 0, Decimal("3276.6"))  # 0x7FFE is the no-data code
    with pytest.raises(UsageError):
        InstantReading("m", AT, 2**31)
    with pytest.raises(UsageError):
        InstantReading("m", AT, True)


@pytest.mark.parametrize(
    "build",
    [
        lambda: InstantReading("", AT, 1),
        lambda: InstantReading("m\n", AT, 1),
        lambda: InstantReading("m", datetime(2026, 5, 20), 1),
        lambda: CumulativeReading("m", AT, 100_000_000),
        lambda: CumulativeReading("m", AT, 1, digits=9),
        lambda: CumulativeReading("m", AT, 1, scale=EnergyScale(1, Decimal("0.5"))),
        lambda: SlotReading("m", AT + timedelta(minutes=1), 1, None, SlotSource.PUSH),
        lambda: SlotReading("m", AT, 1, None, "history3"),  # type: ignore[arg-type]
        lambda: LinkEvent("m", AT, ""),
        lambda: MeterMetadata(digits=0),
        lambda: MeterMetadata(get_map=(0x100,)),
        lambda: RetentionPolicy(0),
    ],
)
def test_invalid_records_are_usage_errors(build: object) -> None:
    with pytest.raises(UsageError):
        build()  # type: ignore[operator]


def test_slot_reading_parses_source_names() -> None:
    slot = SlotReading("m", AT, 1, None, "history2")  # type: ignore[arg-type]
    assert slot.source is SlotSource.HISTORY2


def test_cumulative_kwh_uses_the_scale() -> None:
    reading = CumulativeReading("m", AT, 76_999, 15, scale=SCALE, digits=6)
    assert reading.import_kwh == Decimal("769.99")
    assert reading.export_kwh == Decimal("0.15")
    assert reading.unit_code == 0x02
    assert CumulativeReading("m", AT, 5).import_kwh is None  # unit unknown


def test_meter_metadata_json_round_trip_and_tolerance() -> None:
    meta = MeterMetadata(
        maker_code=0x16,
        serial="F24G366505",
        release="F",
        coefficient=1,
        unit_code=2,
        digits=6,
        get_map=(0x80, 0xE7),
        extra={"transport": "wisun"},
    )
    assert MeterMetadata.from_json(json.dumps(meta.to_json())) == meta
    assert MeterMetadata.from_json("not json") == MeterMetadata()
    assert MeterMetadata.from_json('{"digits": 99, "serial": 5}') == MeterMetadata()
    assert MeterMetadata.from_json('{"future_key": [1], "digits": 7}').digits == 7
    update = MeterUpdate("m", AT, meta)
    assert update.metadata.extra["transport"] == "wisun"


def test_power_stats_average_and_day_gap_ranges() -> None:
    stats = PowerStats("m", AT, 60, 3, 100, 201, 502)
    assert stats.avg_w == Decimal("167.3")
    base = datetime(2026, 5, 20, tzinfo=JST)
    gaps = DayGaps(
        "m",
        date(2026, 5, 20),
        tuple(base + timedelta(minutes=30 * i) for i in (0, 1, 2, 5, 47)),
    )
    assert [(a.hour, a.minute, b.hour, b.minute) for a, b in gaps.ranges()] == [
        (0, 0, 1, 0),
        (2, 30, 2, 30),
        (23, 30, 23, 30),
    ]
