"""Every property value of the 0x0288 class, the node profile and the super class: sentinels,
scaling, timestamps, builders, wrong lengths, and encode/decode round trips (hypothesis)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.echonet.energy import CumulativeEnergy, EnergyScale, EnergyUnit, usage_between
from routeb.echonet.nodeprofile import NODE_PROFILE_PROPERTIES
from routeb.echonet.smartmeter import (
    SMART_METER_PROPERTIES,
    DailyHistory,
    FixedTimeEnergy,
    HalfHourlyHistory,
    HistoryTarget,
    InstantaneousCurrents,
    MinuteHistory,
    OneMinuteEnergy,
    build_e5,
    build_ed,
    build_ef,
    decode_property,
    lookup_property,
)
from routeb.errors import EchonetDecodeError, UsageError

SCALE = EnergyScale(1, Decimal("0.01"))
B_ROUTE_SET = {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F, 0xD3, 0xD7,
               0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE7, 0xE8, 0xEA, 0xEB, 0xEC, 0xED}  # fmt: skip
RELEASE_R = {0xC0, 0xD0, 0xEE, 0xEF}


def test_every_b_route_property_has_codec_and_names() -> None:
    assert set(SMART_METER_PROPERTIES) >= B_ROUTE_SET | RELEASE_R
    for epc in B_ROUTE_SET | RELEASE_R:
        spec = SMART_METER_PROPERTIES[epc]
        assert spec.name_en
        assert spec.name_ja
        assert lookup_property(f"0x{epc:02X}") is spec
        assert lookup_property(spec.key) is spec
    assert set(NODE_PROFILE_PROPERTIES) >= {0x80, 0x82, 0x83, 0x8A, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7}


def test_sentinels_are_none_never_numbers() -> None:
    assert decode_property(0xE0, bytes.fromhex("FFFFFFFE")) == CumulativeEnergy(None)
    assert decode_property(0xE7, bytes.fromhex("7FFFFFFE")) is None
    currents = decode_property(0xE8, bytes.fromhex("00627FFE"))
    assert currents == InstantaneousCurrents(Decimal("9.8"), None)
    assert isinstance(currents, InstantaneousCurrents)
    assert currents.single_phase_two_wire
    assert decode_property(0xE7, bytes.fromhex("FFFFFE0C")) == -500  # selling to the grid
    history = decode_property(0xE2, bytes.fromhex("0001" + "FFFFFFFE" * 47 + "00000010"))
    assert isinstance(history, DailyHistory)
    assert history.raw[:47] == (None,) * 47
    assert history.raw[47] == 16
    for bad in ("7FFFFFFF", "80000000"):  # overflow/underflow codes are not values (§B)
        with pytest.raises(EchonetDecodeError):
            decode_property(0xE7, bytes.fromhex(bad))


def test_energy_is_exact_decimal_with_d3_and_unknown_unit() -> None:
    energy = decode_property(0xE0, bytes.fromhex("0000FE73"), SCALE)
    assert isinstance(energy, CumulativeEnergy)
    assert energy.kwh() == Decimal("651.39")
    assert energy.kwh(EnergyScale(10, Decimal("0.1"))) == Decimal("65139.0")  # 65139 × 10 × 0.1
    assert energy.kwh(EnergyScale.from_meter(None, 0x02)) == Decimal("651.39")  # no D3 → 1
    assert EnergyScale.from_meter(1, 0x05).kwh(100) is None  # undefined E1: unknown, not guessed
    assert EnergyScale.from_meter(1, None).kwh(100) is None
    unit = decode_property(0xE1, b"\x0d")
    assert isinstance(unit, EnergyUnit)
    assert unit.multiplier == Decimal(10000)


def test_timestamps_come_from_the_meter() -> None:
    fixed = decode_property(0xEA, bytes.fromhex("07EA05140E00000000FE68"), SCALE)
    assert isinstance(fixed, FixedTimeEnergy)
    assert fixed.timestamp == datetime(2026, 5, 20, 14, 0)
    history = decode_property(0xE2, bytes.fromhex("0001" + "00000001" * 48))
    assert isinstance(history, DailyHistory)
    readings = history.readings(date(2026, 5, 20))
    assert readings[0][0] == datetime(2026, 5, 19, 0, 0)
    assert readings[47][0] == datetime(2026, 5, 19, 23, 30)
    pairs = decode_property(
        0xEC, bytes.fromhex("07EA0514 0E1E 02 00000002 00000001 00000001 00000000".replace(" ", ""))
    )
    assert isinstance(pairs, HalfHourlyHistory)
    assert [r[0] for r in pairs.readings()] == [
        datetime(2026, 5, 20, 14, 30),
        datetime(2026, 5, 20, 14, 0),
    ]
    minutes = decode_property(
        0xEE, bytes.fromhex("07EA05140E1E02" + "00000002" * 2 + "00000001" * 2)
    )
    assert isinstance(minutes, MinuteHistory)
    assert minutes.readings()[1][0] == datetime(2026, 5, 20, 14, 29)
    one = decode_property(0xD0, bytes.fromhex("07EA05140E1E00" + "0000000A" + "FFFFFFFE"))
    assert one == OneMinuteEnergy(datetime(2026, 5, 20, 14, 30), 10, None)


def test_wrap_at_ten_to_the_d7() -> None:
    assert usage_between(999_990, 5, 6) == 15
    assert usage_between(5, 999_990, 6) == 999_985
    assert usage_between(10, 25, 8) == 15
    with pytest.raises(UsageError):
        usage_between(1_000_000, 5, 6)  # not a 6-digit counter


def test_superclass_values() -> None:
    release = decode_property(0x82, bytes.fromhex("00006100"))
    assert str(release) == "Release A rev 0"  # Release A is lowercase 'a' (§A.7)
    assert str(decode_property(0x82, bytes.fromhex("00004601"))) == "Release F rev 1"
    assert str(decode_property(0x81, b"\x61")) == "garden 1"
    assert decode_property(0x8D, bytes.fromhex("463234473336363530350000")) == "F24G366505"
    assert decode_property(0x97, bytes.fromhex("0E1A")) == time(14, 26)
    assert decode_property(0x98, bytes.fromhex("07EA0514")) == date(2026, 5, 20)


def test_builders_reject_out_of_range() -> None:
    assert build_e5(0) == b"\x00"
    assert build_e5(99) == b"\x63"
    assert build_ed(datetime(2026, 5, 20, 14, 47, 12), 12) == bytes.fromhex("07EA05140E1E0C")
    assert build_ef(datetime(2026, 5, 20, 14, 47, 12), 10) == bytes.fromhex("07EA05140E2F0A")
    for bad in (
        lambda: build_e5(100),
        lambda: build_e5(-1),
        lambda: build_ed(datetime(2026, 5, 20), 13),
        lambda: build_ed(datetime(2026, 5, 20), 0),
        lambda: build_ef(datetime(2026, 5, 20), 11),
    ):
        with pytest.raises(UsageError):
            bad()


@pytest.mark.parametrize("epc", sorted(B_ROUTE_SET | RELEASE_R))
def test_a_wrong_length_names_the_epc(epc: int) -> None:
    spec = SMART_METER_PROPERTIES[epc]
    too_long = bytes(spec.max_size + 1)
    with pytest.raises(EchonetDecodeError) as caught:
        spec.decode(too_long)
    assert caught.value.epc == epc
    assert f"0x{epc:02X}" in str(caught.value)


_counts = st.one_of(st.none(), st.integers(0, 99_999_999))
_times30 = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
    lambda t: t.replace(minute=t.minute // 30 * 30, second=0, microsecond=0)
)
_times1 = st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31)).map(
    lambda t: t.replace(second=0, microsecond=0)
)
_tenths = st.one_of(st.none(), st.integers(-32767, 32765).map(lambda n: Decimal(n).scaleb(-1)))
VALUES = {
    0xE0: _counts.map(CumulativeEnergy),
    0xE7: st.one_of(st.none(), st.integers(-2_147_483_647, 2_147_483_645)),
    0xE8: st.builds(InstantaneousCurrents, _tenths, _tenths),
    0xEA: st.builds(FixedTimeEnergy, st.one_of(st.none(), _times30.map(lambda t: t)), _counts),
    0xE2: st.builds(
        DailyHistory,
        st.one_of(st.none(), st.integers(0, 99)),
        st.lists(_counts, min_size=48, max_size=48).map(tuple),
    ),
    0xEC: st.builds(
        HalfHourlyHistory,
        _times30,
        st.lists(st.tuples(_counts, _counts), min_size=1, max_size=12).map(tuple),
    ),
    0xEE: st.builds(
        MinuteHistory,
        _times1,
        st.lists(st.tuples(_counts, _counts), min_size=1, max_size=10).map(tuple),
    ),
    0xED: st.builds(HistoryTarget, _times30, st.integers(1, 12)),
    0xEF: st.builds(HistoryTarget, _times1, st.integers(1, 10)),
    0xD0: st.builds(OneMinuteEnergy, _times1, _counts, _counts),
    0xE5: st.one_of(st.none(), st.integers(0, 99)),
    0xD7: st.integers(1, 8),
    0xD3: st.integers(0, 999_999),
}


@pytest.mark.parametrize("epc", sorted(VALUES))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_values_round_trip(epc: int, data: st.DataObject) -> None:
    spec = SMART_METER_PROPERTIES[epc]
    value = data.draw(VALUES[epc])
    edt = spec.encode(value)
    assert spec.min_size <= len(edt) <= spec.max_size
    assert spec.decode(edt) == value
    assert spec.encode(spec.decode(edt)) == edt


def test_unset_defaults_decode() -> None:
    # §B.1 defaults: E5 0xFF, ED FFFFFFFFFFFF01, EC FFFFFFFFFFFF 01 FFFFFFFE FFFFFFFE
    assert decode_property(0xE5, b"\xff") is None
    assert decode_property(0xED, bytes.fromhex("FFFFFFFFFFFF01")) == HistoryTarget(None, 1)
    ec = decode_property(0xEC, bytes.fromhex("FFFFFFFFFFFF01FFFFFFFEFFFFFFFE"))
    assert ec == HalfHourlyHistory(None, ((None, None),))
    assert timedelta(minutes=30) == HalfHourlyHistory.STEP
