"""Round trips (hypothesis): ``decode(encode(x)) == x`` for frames and for every property value
type of the super class, the node profile and the smart meter, and ``encode(decode(b)) == b``
for any bytes that decode (property maps come back in their canonical, ascending form)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.echonet import (
    EOJ,
    ESV,
    Frame,
    Property,
    decode_frame,
    encode_frame,
)
from routeb.echonet.energy import CumulativeEnergy, EnergyScale, EnergyUnit
from routeb.echonet.nodeprofile import (
    NODE_PROFILE_PROPERTIES,
    IdentificationNumber,
    VersionInfo,
)
from routeb.echonet.smartmeter import (
    SMART_METER_PROPERTIES,
    DailyHistory,
    FixedTimeEnergy,
    HalfHourlyHistory,
    HistoryTarget,
    InstantaneousCurrents,
    MinuteHistory,
    OneMinuteEnergy,
    RouteBIdentification,
)
from routeb.echonet.spec import PropertySpec
from routeb.echonet.superclass import (
    SUPER_CLASS_PROPERTIES,
    InstallationLocation,
    ManufacturerCode,
    StandardVersion,
)
from routeb.errors import EchonetDecodeError, UsageError

SCALE = EnergyScale(1, Decimal("0.01"))
MAPS = {0x9D, 0x9E, 0x9F}

# --- frames --------------------------------------------------------------------------------------

eojs = st.builds(EOJ, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
props = st.builds(Property, st.integers(0, 255), st.binary(max_size=255))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_any_bytes_that_decode_re_encode_exactly(tail: bytes) -> None:
    for data in (tail, b"\x10\x81" + tail, b"\x10\x81\x00\x01\x02\x88\x01\x05\xff\x01" + tail):
        try:
            frame = decode_frame(data)
        except EchonetDecodeError:
            continue
        assert encode_frame(frame) == data


@settings(max_examples=200, deadline=None)
@given(st.lists(props, min_size=1, max_size=12), st.integers(0, 0xFFFF), eojs, eojs)
def test_property_order_and_repeats_survive(
    properties: list[Property], tid: int, seoj: EOJ, deoj: EOJ
) -> None:
    frame = Frame(tid, seoj, deoj, ESV.GET_RES, tuple(properties))
    decoded = decode_frame(encode_frame(frame))
    assert isinstance(decoded, Frame)
    assert list(decoded.properties) == properties
    assert [p.pdc for p in decoded.properties] == [len(p.edt) for p in properties]


# --- property values -----------------------------------------------------------------------------

counts = st.one_of(st.none(), st.integers(0, 99_999_999))
naive = st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59)).map(
    lambda t: t.replace(microsecond=0)
)
minutes = naive.map(lambda t: t.replace(second=0))
half_hours = minutes.map(lambda t: t.replace(minute=t.minute // 30 * 30))
tenths = st.one_of(st.none(), st.integers(-32767, 32765).map(lambda n: Decimal(n).scaleb(-1)))
epc_sets = st.frozensets(st.integers(0x80, 0xFF), max_size=128).map(lambda s: tuple(sorted(s)))


def pairs(max_pairs: int) -> st.SearchStrategy[tuple[tuple[int | None, int | None], ...]]:
    return st.lists(st.tuples(counts, counts), min_size=1, max_size=max_pairs).map(tuple)


SUPER_VALUES: dict[int, st.SearchStrategy[Any]] = {
    0x80: st.integers(0, 255).map(lambda c: SUPER_CLASS_PROPERTIES[0x80].decode(bytes((c,)))),
    0x81: st.one_of(
        st.integers(0, 255).filter(lambda c: c != 1).map(InstallationLocation),
        st.binary(min_size=16, max_size=16).map(lambda p: InstallationLocation(1, p)),
    ),
    0x82: st.builds(
        StandardVersion,
        st.sampled_from(["a", *(chr(c) for c in range(ord("B"), ord("Z") + 1))]),
        st.integers(0, 255),
    ),
    0x88: st.integers(0, 255).map(lambda c: SUPER_CLASS_PROPERTIES[0x88].decode(bytes((c,)))),
    0x8A: st.integers(0, 0xFFFFFF).map(ManufacturerCode),
    0x8D: st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=12).filter(
        lambda t: not t.endswith("\0")
    ),
    0x97: st.one_of(st.none(), st.times().map(lambda t: time(t.hour, t.minute))),
    0x98: st.one_of(st.none(), st.dates(date(1, 1, 1), date(9999, 12, 31))),
    0x9D: epc_sets,
    0x9E: epc_sets,
    0x9F: epc_sets,
}
NODE_VALUES: dict[int, st.SearchStrategy[Any]] = {
    **{epc: SUPER_VALUES[epc] for epc in (0x80, 0x88, 0x8A, 0x8D, 0x9D, 0x9E, 0x9F)},
    0x82: st.builds(VersionInfo, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
    0x83: st.builds(
        IdentificationNumber, st.integers(0, 0xFFFFFF), st.binary(min_size=13, max_size=13)
    ),
    0xBF: st.integers(0, 0xFFFF),
    0xD3: st.integers(0, 0xFFFFFF),
    0xD4: st.integers(1, 253),
    0xD5: st.lists(eojs, max_size=84).map(tuple),
    0xD6: st.lists(eojs, max_size=84).map(tuple),
    0xD7: st.lists(st.integers(0, 0xFFFF), max_size=8).map(tuple),
}
METER_VALUES: dict[int, st.SearchStrategy[Any]] = {
    **SUPER_VALUES,
    0xC0: st.builds(
        RouteBIdentification, st.integers(0, 0xFFFFFF), st.binary(min_size=12, max_size=12)
    ),
    0xD0: st.builds(OneMinuteEnergy, st.one_of(st.none(), naive), counts, counts),
    0xD3: st.integers(0, 999_999),
    0xD7: st.integers(1, 8),
    0xE0: counts.map(CumulativeEnergy),
    0xE1: st.integers(0, 255).map(EnergyUnit),
    0xE2: st.builds(
        DailyHistory,
        st.one_of(st.none(), st.integers(0, 99)),
        st.lists(counts, min_size=48, max_size=48).map(tuple),
    ),
    0xE3: counts.map(CumulativeEnergy),
    0xE4: st.builds(
        DailyHistory,
        st.one_of(st.none(), st.integers(0, 99)),
        st.lists(counts, min_size=48, max_size=48).map(tuple),
    ),
    0xE5: st.one_of(st.none(), st.integers(0, 99)),
    0xE7: st.one_of(st.none(), st.integers(-2_147_483_647, 2_147_483_645)),
    0xE8: st.builds(InstantaneousCurrents, tenths, tenths),
    0xEA: st.builds(FixedTimeEnergy, st.one_of(st.none(), naive), counts),
    0xEB: st.builds(FixedTimeEnergy, st.one_of(st.none(), naive), counts),
    0xEC: st.builds(HalfHourlyHistory, st.one_of(st.none(), half_hours), pairs(12)),
    0xED: st.builds(HistoryTarget, st.one_of(st.none(), half_hours), st.integers(1, 12)),
    0xEE: st.builds(MinuteHistory, st.one_of(st.none(), minutes), pairs(10)),
    0xEF: st.builds(HistoryTarget, st.one_of(st.none(), minutes), st.integers(1, 10)),
}
TABLES: dict[str, tuple[Mapping[int, PropertySpec[Any]], dict[int, st.SearchStrategy[Any]]]] = {
    "super": (SUPER_CLASS_PROPERTIES, SUPER_VALUES),
    "node": (NODE_PROFILE_PROPERTIES, NODE_VALUES),
    "meter": (SMART_METER_PROPERTIES, METER_VALUES),
}
CASES = [(name, epc) for name, (registry, _) in TABLES.items() for epc in sorted(registry)]


def test_every_epc_has_a_value_strategy() -> None:
    for registry, values in TABLES.values():
        assert set(values) == set(registry)


@pytest.mark.parametrize(("table", "epc"), CASES)
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_value_encode_decode(table: str, epc: int, data: st.DataObject) -> None:
    registry, values = TABLES[table]
    spec = registry[epc]
    value = data.draw(values[epc])
    edt = spec.encode(value)
    assert spec.min_size <= len(edt) <= spec.max_size
    decoded = spec.decode(edt, SCALE)
    assert decoded == value
    assert type(decoded) is type(value)
    assert spec.encode(decoded) == edt


@pytest.mark.parametrize(("table", "epc"), CASES)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_edt_decode_encode(table: str, epc: int, data: st.DataObject) -> None:
    registry, values = TABLES[table]
    spec = registry[epc]
    # Half the time bytes near a valid EDT (one byte changed), half any bytes of a legal size.
    if data.draw(st.booleans()):
        edt = bytearray(spec.encode(data.draw(values[epc])))
        index = data.draw(st.integers(0, len(edt) - 1))
        edt[index] = data.draw(st.integers(0, 255))
        raw = bytes(edt)
    else:
        raw = data.draw(st.binary(min_size=spec.min_size, max_size=spec.max_size))
    try:
        value = spec.decode(raw, SCALE)
    except EchonetDecodeError as exc:
        epc_named = exc.epc
        assert epc_named == epc  # totality: the error names the EPC
        return
    again = spec.encode(value)
    if epc in MAPS and raw[0] < 16 and list(raw[1:]) != sorted(raw[1:]):
        # A list-form map is a set: it comes back as the same set, in ascending order (§A.5).
        assert spec.decode(again) == value
        assert list(again[1:]) == sorted(raw[1:])
    else:
        assert again == raw


# --- encoders refuse what cannot be sent, with UsageError only ------------------------------------

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(),
    st.just(()),
    st.lists(st.one_of(st.none(), st.integers(), st.tuples(st.integers())), max_size=50).map(tuple),
)
VALUE_CLASSES = [
    InstallationLocation,
    StandardVersion,
    ManufacturerCode,
    VersionInfo,
    IdentificationNumber,
    CumulativeEnergy,
    FixedTimeEnergy,
    OneMinuteEnergy,
    InstantaneousCurrents,
    DailyHistory,
    HalfHourlyHistory,
    MinuteHistory,
    HistoryTarget,
    RouteBIdentification,
]


@st.composite
def anything(draw: st.DrawFn) -> object:
    if draw(st.booleans()):
        return draw(junk)
    cls = draw(st.sampled_from(VALUE_CLASSES))
    arity = len(dataclasses.fields(cls))
    try:
        return cls(*(draw(junk) for _ in range(arity)))
    except UsageError:
        return draw(junk)


@pytest.mark.parametrize(("table", "epc"), CASES)
@settings(max_examples=120, deadline=None)
@given(value=anything())
def test_encoders_refuse_junk_with_usage_error(table: str, epc: int, value: object) -> None:
    spec = TABLES[table][0][epc]
    try:
        edt = spec.encode(value)
    except UsageError:
        return
    assert spec.min_size <= len(edt) <= spec.max_size
    spec.decode(edt)  # whatever is sent decodes
