"""Property codecs of the super class (§A.7), the node profile (§A.6) and the smart meter (§B):
the real-meter vectors of protocol.md §F, one canonical EDT per EPC decoded and re-encoded byte
for byte, every "no data" sentinel, every wrong EDT length naming its EPC, the set-value
builders (§B.2) and the counter wrap at 10^D7."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from routeb.echonet import EOJ, ESV, Frame, decode_frame
from routeb.echonet.energy import (
    CumulativeEnergy,
    EnergyScale,
    EnergyUnit,
    usage_between,
    usage_kwh_between,
)
from routeb.echonet.nodeprofile import (
    NODE_PROFILE_DECODERS,
    NODE_PROFILE_PROPERTIES,
    IdentificationNumber,
    VersionInfo,
    decode_node_profile_property,
    lookup_node_profile_property,
)
from routeb.echonet.smartmeter import (
    SMART_METER_DECODERS,
    SMART_METER_PROPERTIES,
    DailyHistory,
    FixedTimeEnergy,
    HalfHourlyHistory,
    HistoryTarget,
    InstantaneousCurrents,
    MinuteHistory,
    OneMinuteEnergy,
    RouteBIdentification,
    build_e5,
    build_ed,
    build_ef,
    decode_property,
    lookup_property,
)
from routeb.echonet.spec import PropertySpec
from routeb.echonet.superclass import (
    SUPER_CLASS_PROPERTIES,
    FaultStatus,
    InstallationLocation,
    LocationCode,
    ManufacturerCode,
    OperationStatus,
    StandardVersion,
)
from routeb.errors import EchonetDecodeError, UsageError

REGISTRIES: dict[str, Mapping[int, PropertySpec[Any]]] = {
    "super": SUPER_CLASS_PROPERTIES,
    "node": NODE_PROFILE_PROPERTIES,
    "meter": SMART_METER_PROPERTIES,
}
# The list: the B-route service data list plus the Release R additions (§B.1).
B_ROUTE = {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F, 0xD3, 0xD7,
           0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE7, 0xE8, 0xEA, 0xEB, 0xEC, 0xED}  # fmt: skip
RELEASE_R = {0xC0, 0xD0, 0xEE, 0xEF}
NODE_PROFILE = {0x80, 0x82, 0x83, 0x8A, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7}
UNIT_001 = EnergyScale(1, Decimal("0.01"))


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def meter(epc: int, edt: str, scale: EnergyScale | None = None) -> Any:
    return SMART_METER_PROPERTIES[epc].decode(h(edt), scale)


# --- protocol.md §F: real meter frames -----------------------------------------------------------


def only_value(frame_hex: str, scale: EnergyScale | None = None) -> Any:
    frame = decode_frame(h(frame_hex))
    assert isinstance(frame, Frame)
    assert len(frame.properties) == 1
    (epc, edt) = frame.properties[0]
    registry = NODE_PROFILE_DECODERS if frame.seoj.class_id == 0x0EF0 else SMART_METER_DECODERS
    return registry[epc](edt, scale)


def test_section_f_coefficient_digits_unit() -> None:
    assert only_value("1081 0001 028801 05FF01 72 01 D3 04 00000001") == 1
    assert only_value("1081 0001 028801 05FF01 72 01 D7 01 06") == 6
    unit = only_value("1081 0001 028801 05FF01 72 01 E1 01 02")
    assert unit == EnergyUnit(0x02)
    assert unit.multiplier == Decimal("0.01")
    sna = decode_frame(h("1081 0001 028801 05FF01 52 01 D3 00"))
    assert isinstance(sna, Frame)
    assert sna.esv is ESV.GET_SNA
    assert sna.properties[0].pdc == 0  # the meter has no D3: the coefficient counts as 1
    assert EnergyScale.from_meter(None, 0x02).kwh(0xFE73) == Decimal("651.39")


def test_section_f_energy_power_currents() -> None:
    energy = only_value("1081 0001 028801 05FF01 72 01 E0 04 0000FE73", UNIT_001)
    assert energy == CumulativeEnergy(65139)
    assert energy.kwh() == Decimal("651.39")
    assert only_value("1081 0001 028801 05FF01 72 01 E7 04 00000278") == 632
    currents = only_value("1081 0001 028801 05FF01 72 01 E8 04 001E 0032")
    assert currents == InstantaneousCurrents(Decimal("3.0"), Decimal("5.0"))
    assert not currents.single_phase_two_wire


def test_section_f_fixed_time_energy() -> None:
    ea = only_value("1081 0001 028801 05FF01 72 01 EA 0B 07EA 05 14 0E 00 00 0000FE68", UNIT_001)
    assert ea == FixedTimeEnergy(datetime(2026, 5, 20, 14, 0, 0), 65128)
    assert ea.kwh() == Decimal("651.28")
    push = only_value("1081 0362 028801 05FF01 73 01 EA 0B 07E6 08 01 14 1E 00 00012D02")
    assert push == FixedTimeEnergy(datetime(2022, 8, 1, 20, 30), 0x12D02)
    assert push.kwh() is None  # no scale bound: unknown, not guessed
    assert push.kwh(UNIT_001) == Decimal("770.58")
    both = decode_frame(
        h(
            "1081 0001 028801 05FF01 73 02"
            " EA 0B 07E70C13001E00 0000458E EB 0B 07E70C13001E00 00000015"
        )
    )
    assert isinstance(both, Frame)
    ea2, eb2 = (SMART_METER_DECODERS[p.epc](p.edt, UNIT_001) for p in both.properties)
    assert ea2 == FixedTimeEnergy(datetime(2023, 12, 19, 0, 30), 0x458E)
    assert eb2 == FixedTimeEnergy(datetime(2023, 12, 19, 0, 30), 0x15)
    assert eb2.kwh() == Decimal("0.21")


def test_section_f_super_class() -> None:
    version = only_value("1081 0001 028801 05FF01 72 01 82 04 00 00 46 00")
    assert version == StandardVersion("F", 0)
    assert str(version) == "Release F rev 0"
    assert only_value("1081 0001 028801 05FF01 72 01 8A 03 000016") == ManufacturerCode(0x16)


def test_section_f_and_a5_property_maps() -> None:
    assert meter(0x9D, "03808188") == (0x80, 0x81, 0x88)
    assert meter(0x9E, "0381E5ED") == (0x81, 0xE5, 0xED)
    get_map = meter(0x9F, "19 41414160404000624300414040430202")
    assert set(get_map) == B_ROUTE  # §A.5: the 25 EPCs of a real Release-F meter
    assert SMART_METER_PROPERTIES[0x9F].encode(get_map) == h("19 41414160404000624300414040430202")


def test_section_f_history_header() -> None:
    edt = "000B" + "0000F766" + "0000F768" + "".join(f"{0xF768 + i:08X}" for i in range(46))
    history = meter(0xE2, edt, UNIT_001)
    assert isinstance(history, DailyHistory)
    assert history.day == 11
    assert history.raw[:2] == (0xF766, 0xF768)
    assert len(history.raw) == 48
    assert history.kwh()[0] == Decimal("633.34")  # 0xF766 = 63334 counts of 0.01 kWh


def test_section_f_node_profile_instance_list() -> None:
    instances = only_value("1081 0000 0EF001 0EF001 73 01 D5 04 01 028801")
    assert instances == (EOJ(0x02, 0x88, 0x01),)


# --- one canonical EDT per EPC: decode, then encode gives the same bytes -------------------------

CANONICAL: dict[str, dict[int, list[str]]] = {
    "super": {
        0x80: ["30", "31", "35"],
        0x81: ["61", "00", "FF", "82", "01" + "00112233445566778899AABBCCDDEEFF"],
        0x82: ["00004600", "00006100", "00005203", "00004201"],
        0x88: ["42", "41"],
        0x8A: ["000016", "FFFFFF"],
        0x8D: ["463234473336363530350000", "414243444546474849505152", "000000000000000000000000"],
        0x97: ["0E1A", "0000", "173B", "FFFF"],
        0x98: ["07EA0514", "07E8021D", "FFFFFFFF"],
        0x9D: ["03808188", "00"],
        0x9E: ["0381E5ED"],
        0x9F: ["1941414160404000624300414040430202", "10" + "01" * 16],
    },
    "node": {
        0x80: ["30", "31"],
        0x82: ["010D0100", "010C0300"],
        0x83: ["FE000016" + "00" * 12 + "01"],
        0x88: ["42"],
        0x8A: ["000016"],
        0x8D: ["463234473336363530350000"],
        0x9D: ["02 80 D5"],
        0x9E: ["00"],
        0x9F: ["0A 80 82 83 8A 9D 9E 9F D3 D4 D5"],
        0xBF: ["1234"],
        0xD3: ["000001", "FFFFFF"],
        0xD4: ["0002", "00FD", "0001"],
        0xD5: ["01028801", "00", "02 028801 028802"],
        0xD6: ["01028801"],
        0xD7: ["010288", "00", "02 0288 0130"],
    },
    "meter": {
        0xC0: ["00000016" + "0123456789ABCDEF01234567"],
        0xD0: ["07EA05140E1E00 0000000A FFFFFFFE", "FFFFFFFFFFFFFF FFFFFFFE FFFFFFFE"],
        0xD3: ["00000001", "000F423F", "00000000"],
        0xD7: ["06", "01", "08"],
        0xE0: ["0000FE73", "FFFFFFFE", "05F5E0FF", "00000000"],
        0xE1: ["00", "01", "02", "03", "04", "0A", "0B", "0C", "0D", "05", "FF"],
        0xE2: ["000B" + "0000F766" * 48, "00FF" + "FFFFFFFE" * 48, "0063" + "05F5E0FF" * 48],
        0xE3: ["00000015", "FFFFFFFE"],
        0xE4: ["0000" + "00000001" * 47 + "FFFFFFFE"],
        0xE5: ["00", "63", "FF"],
        0xE7: ["00000278", "FFFFFE0C", "7FFFFFFE", "80000001", "7FFFFFFD"],
        0xE8: ["001E0032", "00627FFE", "7FFE7FFE", "80017FFD", "FFF6000A"],
        0xEA: ["07EA05140E00000000FE68", "07E6080114000000012CC7"],
        0xEB: ["07E70C13001E0000000015", "FFFFFFFFFFFFFFFFFFFFFE"],
        0xEC: [
            "07EA05140E1E 02 00000002 00000001 00000001 00000000",
            "FFFFFFFFFFFF 01 FFFFFFFE FFFFFFFE",
            "07EA051400000C" + "0000000100000002" * 12,
        ],
        0xED: ["07EA05140E1E01", "07EA05140C000C", "FFFFFFFFFFFF01"],
        0xEE: [
            "07EA05140E2F 01 00000010 00000000",
            "FFFFFFFFFFFF01FFFFFFFEFFFFFFFE",
            "07EA05140E2F0A" + "0000000100000002" * 10,
        ],
        0xEF: ["07EA05140E2F0A", "FFFFFFFFFFFF01"],
    },
}
_CASES = [
    (name, epc, edt)
    for name, table in CANONICAL.items()
    for epc, edts in table.items()
    for edt in edts
]


@pytest.mark.parametrize(("registry", "epc", "edt"), _CASES)
def test_canonical_edts_round_trip_byte_for_byte(registry: str, epc: int, edt: str) -> None:
    spec = REGISTRIES[registry][epc]
    raw = h(edt)
    value = spec.decode(raw, UNIT_001)
    assert spec.encode(value) == raw
    assert spec.decode(spec.encode(value), UNIT_001) == value


def test_every_required_epc_has_a_codec_names_and_an_example() -> None:
    assert set(SMART_METER_PROPERTIES) >= B_ROUTE | RELEASE_R
    assert set(NODE_PROFILE_PROPERTIES) >= NODE_PROFILE
    for name, registry in REGISTRIES.items():
        exercised = set(CANONICAL[name]) | (set(CANONICAL["super"]) if name == "meter" else set())
        assert exercised == set(registry), name  # every EPC is exercised above
        keys = [spec.key for spec in registry.values()]
        assert len(keys) == len(set(keys))
        for epc, spec in registry.items():
            assert spec.epc == epc
            assert spec.name_en.isascii()
            assert spec.name_ja
            assert not spec.name_ja.isascii()
            assert 0 < spec.min_size <= spec.max_size <= 255


def test_names_in_both_languages() -> None:
    assert SMART_METER_PROPERTIES[0xE7].name_en == "Measured instantaneous electric power"
    assert SMART_METER_PROPERTIES[0xE7].name_ja == "瞬時電力計測値"
    assert SMART_METER_PROPERTIES[0xE1].name_ja == "積算電力量単位（正方向、逆方向計測値）"
    assert SMART_METER_PROPERTIES[0xC0].name_ja == "Bルート識別番号"
    assert NODE_PROFILE_PROPERTIES[0xD5].name_ja == "インスタンスリスト通知"
    assert lookup_property("0xe7") is SMART_METER_PROPERTIES[0xE7]
    assert lookup_property("E7") is lookup_property("instantaneous_power")
    assert lookup_node_profile_property("d5") is NODE_PROFILE_PROPERTIES[0xD5]
    with pytest.raises(UsageError):
        lookup_property("0x07")
    with pytest.raises(UsageError):
        lookup_property("no_such_property")


# --- wrong EDT lengths: always a typed error naming the EPC --------------------------------------


@pytest.mark.parametrize("registry", sorted(REGISTRIES))
def test_every_wrong_length_is_a_typed_error_naming_the_epc(registry: str) -> None:
    for epc, spec in REGISTRIES[registry].items():
        for size in range(256):
            if spec.min_size <= size <= spec.max_size:
                continue
            for filler in (0x00, 0x01, 0xFF):
                with pytest.raises(EchonetDecodeError) as caught:
                    spec.decode(bytes([filler]) * size, UNIT_001)
                assert caught.value.epc == epc, (registry, hex(epc), size)
                assert f"EPC 0x{epc:02X}" in str(caught.value)
                assert 0 <= caught.value.offset <= max(size, spec.max_size)


def test_lengths_inside_the_range_that_break_the_layout_name_the_epc() -> None:
    cases = [
        (0x81, "61 00"),  # a location code is one byte unless it is 0x01 + 16 bytes
        (0x81, "01 0011"),
        (0x9D, "03 8081"),  # list form announces 3 EPCs
        (0x9F, "10 0102"),  # bitmap form is 17 bytes
        (0xEC, "07EA05140E1E 02 00000001 00000002"),  # 2 pairs announced, 1 given
        (0xEE, "07EA05140E2F 01 00000001 00000002 00000003"),
    ]
    for epc, edt in cases:
        with pytest.raises(EchonetDecodeError) as caught:
            meter(epc, edt)
        assert caught.value.epc == epc
    for epc, edt in [(0xD5, "02 028801"), (0xD7, "02 0288"), (0xD5, "55" + "028801" * 84)]:
        with pytest.raises(EchonetDecodeError) as caught:
            decode_node_profile_property(epc, h(edt))
        assert caught.value.epc == epc


# --- "no data" sentinels -------------------------------------------------------------------------


def test_no_data_sentinels_are_none() -> None:
    assert meter(0xE0, "FFFFFFFE") == CumulativeEnergy(None)
    assert meter(0xE3, "FFFFFFFE").kwh(UNIT_001) is None
    assert meter(0xE7, "7FFFFFFE") is None
    assert meter(0xE8, "7FFE0032") == InstantaneousCurrents(None, Decimal("5.0"))
    assert meter(0xE8, "001E7FFE") == InstantaneousCurrents(Decimal("3.0"), None)
    assert meter(0xEA, "07EA05140E0000FFFFFFFE") == FixedTimeEnergy(datetime(2026, 5, 20, 14), None)
    assert meter(0xEB, "07EA05140E0000FFFFFFFE").raw is None
    assert meter(0xD0, "07EA05140E1E00FFFFFFFEFFFFFFFE") == OneMinuteEnergy(
        datetime(2026, 5, 20, 14, 30), None, None
    )
    for slot in (0, 23, 47):
        values = ["00000010"] * 48
        values[slot] = "FFFFFFFE"
        for epc in (0xE2, 0xE4):
            history = meter(epc, "0001" + "".join(values), UNIT_001)
            assert history.raw[slot] is None
            assert history.kwh()[slot] is None
            assert history.raw.count(None) == 1
            assert history.kwh()[slot - 1] == Decimal("0.16")
    pairs = meter(0xEC, "07EA05140E00 02 FFFFFFFE 00000001 00000002 FFFFFFFE")
    assert pairs.pairs == ((None, 1), (2, None))
    minutes = meter(0xEE, "07EA05140E2F 01 FFFFFFFE FFFFFFFE")
    assert minutes.pairs == ((None, None),)


def test_e8_t_phase_marker_means_single_phase_two_wire() -> None:
    single = meter(0xE8, "00627FFE")
    assert single.single_phase_two_wire
    assert single.r == Decimal("9.8")
    three = meter(0xE8, "00620022")
    assert not three.single_phase_two_wire
    assert three.t == Decimal("3.4")


def test_e7_is_signed_and_its_overflow_codes_are_errors() -> None:
    assert meter(0xE7, "FFFFFE0C") == -500  # reverse flow (selling)
    assert meter(0xE7, "80000001") == -2_147_483_647
    assert meter(0xE7, "7FFFFFFD") == 2_147_483_645
    for code in ("7FFFFFFF", "80000000"):
        with pytest.raises(EchonetDecodeError) as caught:
            meter(0xE7, code)
        assert caught.value.epc == 0xE7
    for code in ("7FFF0000", "00008000"):
        with pytest.raises(EchonetDecodeError) as caught:
            meter(0xE8, code)
        assert caught.value.epc == 0xE8
        assert caught.value.offset == (0 if code.startswith("7FFF") else 2)


def test_counts_outside_the_range_are_errors_at_their_offset() -> None:
    with pytest.raises(EchonetDecodeError) as caught:
        meter(0xE0, "05F5E100")  # 100,000,000: above the 8-digit counter
    assert (caught.value.epc, caught.value.offset) == (0xE0, 0)
    values = ["00000001"] * 48
    values[5] = "FFFFFFFF"
    with pytest.raises(EchonetDecodeError) as caught:
        meter(0xE2, "0000" + "".join(values))
    assert (caught.value.epc, caught.value.offset) == (0xE2, 2 + 4 * 5)
    values[5] = "05F5E100"  # top byte 0x05 passes the quick check; the full one catches it
    with pytest.raises(EchonetDecodeError) as caught:
        meter(0xE4, "0000" + "".join(values))
    assert (caught.value.epc, caught.value.offset) == (0xE4, 22)
    with pytest.raises(EchonetDecodeError) as caught:
        meter(0xEA, "07EA05140E0000FFFFFFFF")
    assert (caught.value.epc, caught.value.offset) == (0xEA, 7)
    with pytest.raises(EchonetDecodeError) as caught:
        meter(0xD0, "07EA05140E1E00 00000001 FFFFFFFF")
    assert (caught.value.epc, caught.value.offset) == (0xD0, 11)
    with pytest.raises(EchonetDecodeError):
        meter(0xE2, "0064" + "00000000" * 48)  # day 100
    with pytest.raises(EchonetDecodeError):
        meter(0xE5, "64")
    with pytest.raises(EchonetDecodeError):
        meter(0xD3, "000F4240")  # coefficient 1,000,000
    for digits in ("00", "09"):
        with pytest.raises(EchonetDecodeError):
            meter(0xD7, digits)


# --- energy: Decimal kWh = raw × D3 × E1 ---------------------------------------------------------


def test_energy_scale_is_exact_and_never_guessed() -> None:
    for code, kwh in (
        (0x00, "651.39E2"),
        (0x01, "6513.9"),
        (0x02, "651.39"),
        (0x03, "65.139"),
        (0x04, "6.5139"),
        (0x0A, "651390"),
        (0x0B, "6513900"),
        (0x0C, "65139000"),
        (0x0D, "651390000"),
    ):
        assert EnergyScale.from_meter(None, code).kwh(65139) == Decimal(kwh)
    for undefined in (0x05, 0x09, 0x0E, 0xFF):
        unit = meter(0xE1, f"{undefined:02X}")
        assert unit.multiplier is None
        assert EnergyScale.from_meter(1, undefined).kwh(65139) is None
    assert EnergyScale.from_meter(None, None).kwh(65139) is None  # E1 missing
    big = EnergyScale.from_meter(999_999, 0x0D)
    assert big.kwh(99_999_999) == Decimal(99_999_999) * 999_999 * 10_000  # no rounding at all
    assert EnergyScale(3, Decimal("0.1")).kwh(7) == Decimal("2.1")
    energy = meter(0xE0, "0000FE73", EnergyScale(10, Decimal("0.1")))
    assert energy.kwh() == Decimal("65139.0")
    assert energy.kwh(UNIT_001) == Decimal("651.39")  # an explicit scale wins
    assert str(energy.kwh(EnergyScale(1, Decimal("0.0001")))) == "6.5139"


def test_energy_scale_rejects_impossible_values() -> None:
    for coefficient, unit in ((-1, None), (1_000_000, None), (1, Decimal(0)), (1, Decimal("NaN"))):
        with pytest.raises(UsageError):
            EnergyScale(coefficient, unit)
    assert EnergyUnit.from_kwh(Decimal("0.010")).code == 0x02
    with pytest.raises(UsageError):
        EnergyUnit.from_kwh(Decimal("0.02"))


def test_counters_wrap_at_ten_to_the_d7() -> None:
    for digits in range(1, 9):
        modulus = 10**digits
        assert usage_between(modulus - 1, 0, digits) == 1
        assert usage_between(0, modulus - 1, digits) == modulus - 1
        assert usage_between(3, 3, digits) == 0
        with pytest.raises(UsageError):
            usage_between(modulus, 0, digits)
    assert usage_between(999_990, 5, 6) == 15
    assert usage_kwh_between(999_990, 5, 6, UNIT_001) == Decimal("0.15")
    assert usage_kwh_between(1, 2, 6, EnergyScale()) is None  # unit unknown
    for digits in (0, 9, True):
        with pytest.raises(UsageError):
            usage_between(0, 1, digits)


# --- timestamps come from the meter's own fields -------------------------------------------------


def test_history1_slots_are_half_hours_of_the_requested_day() -> None:
    history = meter(0xE2, "0002" + "".join(f"{i:08X}" for i in range(48)), UNIT_001)
    readings = history.readings(date(2026, 3, 1))
    assert [when for when, _ in readings[:3]] == [
        datetime(2026, 2, 27, 0, 0),
        datetime(2026, 2, 27, 0, 30),
        datetime(2026, 2, 27, 1, 0),
    ]
    assert readings[47] == (datetime(2026, 2, 27, 23, 30), 47)
    assert history.kwh_readings(date(2026, 3, 1))[10] == (datetime(2026, 2, 27, 5), Decimal("0.1"))
    unset = meter(0xE2, "00FF" + "FFFFFFFE" * 48)
    assert unset.day is None
    with pytest.raises(UsageError):
        unset.readings(date(2026, 3, 1))


def test_history2_and_3_step_back_from_the_target_time() -> None:
    ec = meter(0xEC, "07EA0101 001E 03" + "0000000100000000" * 3, UNIT_001)
    assert isinstance(ec, HalfHourlyHistory)
    assert [r[0] for r in ec.readings()] == [
        datetime(2026, 1, 1, 0, 30),
        datetime(2026, 1, 1, 0, 0),
        datetime(2025, 12, 31, 23, 30),  # across midnight and the year
    ]
    assert ec.kwh_readings()[0] == (datetime(2026, 1, 1, 0, 30), Decimal("0.01"), Decimal("0.00"))
    ee = meter(0xEE, "07EA05140E05 03" + "0000000200000001" * 3)
    assert isinstance(ee, MinuteHistory)
    assert [r[0] for r in ee.readings()] == [
        datetime(2026, 5, 20, 14, 5),
        datetime(2026, 5, 20, 14, 4),
        datetime(2026, 5, 20, 14, 3),
    ]
    assert timedelta(minutes=1) == MinuteHistory.STEP
    assert timedelta(minutes=30) == HalfHourlyHistory.STEP
    with pytest.raises(UsageError):
        meter(0xEC, "FFFFFFFFFFFF01FFFFFFFEFFFFFFFE").readings()
    with pytest.raises(EchonetDecodeError) as caught:
        meter(0xEC, "07EA05140E0F 01 0000000100000000")  # EC times are :00 or :30
    assert (caught.value.epc, caught.value.offset) == (0xEC, 5)


def test_date_time_fields_are_strict() -> None:
    bad = {
        "0000 05 14 0E 00 00": 0,  # year 0
        "07EA 0D 14 0E 00 00": 2,  # month 13
        "07EA 02 1D 0E 00 00": 3,  # 2026-02-29
        "07EA 05 14 18 00 00": 4,  # hour 24
        "07EA 05 14 0E 3C 00": 5,  # minute 60
        "07EA 05 14 0E 00 3C": 6,  # second 60
        "FFFF FF FF FF FF FE": 0,  # not quite the unset value
    }
    for stamp, offset in bad.items():
        with pytest.raises(EchonetDecodeError) as caught:
            meter(0xEA, stamp + "00000001")
        assert (caught.value.epc, caught.value.offset) == (0xEA, offset), stamp
    assert meter(0xEA, "07E8021D000000 00000001").timestamp == datetime(2024, 2, 29)  # leap day
    assert meter(0xEA, "FFFFFFFFFFFFFF 00000001").timestamp is None
    with pytest.raises(EchonetDecodeError):
        meter(0x97, "1800")
    with pytest.raises(EchonetDecodeError):
        meter(0x98, "07E9021D")  # 2025-02-29


# --- super class specifics -----------------------------------------------------------------------


def test_standard_version_release_letters() -> None:
    assert meter(0x82, "00006100") == StandardVersion("a", 0)  # Release A: lowercase
    assert meter(0x82, "00006100").release_letter == "A"
    assert str(meter(0x82, "00005203")) == "Release R rev 3"
    spec = SMART_METER_PROPERTIES[0x82]
    assert spec.encode(StandardVersion("A", 1)) == h("00006101")
    for edt in ("00004100", "00006200", "00005B00", "01004600"):  # 'A', 'b', '[', byte 1
        with pytest.raises(EchonetDecodeError):
            spec.decode(h(edt))
    for bad in (StandardVersion("b", 0), StandardVersion("FF", 0), StandardVersion("F", 256)):
        with pytest.raises(UsageError):
            spec.encode(bad)


def test_installation_location_codes() -> None:
    for code in LocationCode:
        for number in (0, 7):
            location = meter(0x81, f"{code << 3 | number:02X}")
            assert location.location is code
            assert location.number == number
            assert str(location) == f"{code.name.lower()} {number}"
    assert meter(0x81, "61").location is LocationCode.GARDEN  # the real meter (§A.7)
    assert str(meter(0x81, "00")) == "not set"
    assert not meter(0x81, "00").is_set
    assert str(meter(0x81, "FF")) == "not fixed"
    assert not meter(0x81, "FF").is_fixed
    free = meter(0x81, "9A")
    assert free.is_free_definition
    assert free.location is None
    position = meter(0x81, "01" + "AB" * 16)
    assert position == InstallationLocation(0x01, b"\xab" * 16)
    spec = SMART_METER_PROPERTIES[0x81]
    for bad in (InstallationLocation(0x01), InstallationLocation(0x61, b"\x00" * 16), 0x61):
        with pytest.raises(UsageError):
            spec.encode(bad)


def test_production_number_is_nul_padded_ascii() -> None:
    assert meter(0x8D, "463234473336363530350000") == "F24G366505"
    spec = SMART_METER_PROPERTIES[0x8D]
    assert spec.encode("F24G366505") == h("463234473336363530350000")
    with pytest.raises(EchonetDecodeError) as caught:
        meter(0x8D, "4632344733363635303500FF")
    assert (caught.value.epc, caught.value.offset) == (0x8D, 11)
    for bad in ("F" * 13, "ü", "F\0", 12):
        with pytest.raises(UsageError):
            spec.encode(bad)


def test_clock_and_status_codes() -> None:
    assert meter(0x97, "0E1A") == time(14, 26)
    assert meter(0x98, "07EA0514") == date(2026, 5, 20)
    assert meter(0x97, "FFFF") is None
    assert meter(0x80, "30") is OperationStatus.ON
    assert meter(0x80, "31") is OperationStatus.OFF
    assert meter(0x88, "41") is FaultStatus.FAULT
    assert meter(0x88, "42") is FaultStatus.NO_FAULT
    assert meter(0x88, "43") == 0x43  # tolerated, kept as the code
    with pytest.raises(UsageError):
        SMART_METER_PROPERTIES[0x97].encode(time(14, 26, 30))
    with pytest.raises(UsageError):
        SMART_METER_PROPERTIES[0x98].encode(datetime(2026, 5, 20))


# --- node profile --------------------------------------------------------------------------------


def test_node_profile_values() -> None:
    version = decode_node_profile_property(0x82, h("010D0100"))
    assert version == VersionInfo(1, 13, 0x01)
    assert str(version) == "1.13"
    assert version.specified_format
    assert not version.arbitrary_format
    ident = decode_node_profile_property(0x83, h("FE000016" + "00" * 12 + "2A"))
    assert ident == IdentificationNumber(0x16, bytes(12) + b"\x2a")
    assert decode_node_profile_property(0xD3, h("000001")) == 1
    assert decode_node_profile_property(0xD4, h("0002")) == 2
    assert decode_node_profile_property(0xD7, h("010288")) == (0x0288,)
    assert decode_node_profile_property(0xD6, h("02 028801 05FF01")) == (
        EOJ(2, 0x88, 1),
        EOJ(5, 0xFF, 1),
    )
    assert decode_node_profile_property(0xF0, h("1234")) == h("1234")  # unknown: raw bytes
    for epc, edt in ((0x82, "010D0101"), (0x83, "FD" + "00" * 16), (0xD4, "0000"), (0xD4, "00FE")):
        with pytest.raises(EchonetDecodeError) as caught:
            decode_node_profile_property(epc, h(edt))
        assert caught.value.epc == epc
    with pytest.raises(EchonetDecodeError):
        decode_node_profile_property(0xD7, h("09" + "0288" * 8))  # at most 8 classes


# --- set-value builders (§B.2) -------------------------------------------------------------------


def test_build_e5() -> None:
    assert [build_e5(d) for d in (0, 1, 99)] == [b"\x00", b"\x01", b"\x63"]
    for bad in (-1, 100, 0xFF, True, 1.0, "1"):
        with pytest.raises(UsageError):
            build_e5(bad)  # type: ignore[arg-type]


def test_build_ed_floors_the_minute_to_the_half_hour() -> None:
    for minute, floored in ((0, 0x00), (1, 0x00), (29, 0x00), (30, 0x1E), (59, 0x1E)):
        edt = build_ed(datetime(2026, 5, 20, 14, minute, 59, 999), 6)
        assert edt == h(f"07EA05140E{floored:02X}06")
        assert SMART_METER_PROPERTIES[0xED].decode(edt) == HistoryTarget(
            datetime(2026, 5, 20, 14, floored), 6
        )
    assert build_ed(datetime(2026, 5, 20), 1)[-1] == 1
    assert build_ed(datetime(2026, 5, 20), 12)[-1] == 12
    for count in (0, 13):
        with pytest.raises(UsageError):
            build_ed(datetime(2026, 5, 20), count)
    with pytest.raises(UsageError):
        build_ed(datetime(2026, 5, 20, tzinfo=None).astimezone(), 1)  # aware: not the meter clock
    with pytest.raises(UsageError):
        build_ed(date(2026, 5, 20), 1)  # type: ignore[arg-type]


def test_build_ef_keeps_the_minute() -> None:
    edt = build_ef(datetime(2026, 5, 20, 14, 47, 12), 10)
    assert edt == h("07EA05140E2F0A")
    assert SMART_METER_PROPERTIES[0xEF].decode(edt) == HistoryTarget(
        datetime(2026, 5, 20, 14, 47), 10
    )
    for count in (0, 11):
        with pytest.raises(UsageError):
            build_ef(datetime(2026, 5, 20), count)


def test_route_b_id_and_one_minute_energy() -> None:
    route_b = meter(0xC0, "00000016" + "00112233445566778899AABB")
    assert route_b == RouteBIdentification(0x16, h("00112233445566778899AABB"))
    assert str(route_b) == "00000016" + "00112233445566778899AABB"
    with pytest.raises(EchonetDecodeError):
        meter(0xC0, "01000016" + "00" * 12)
    one = meter(0xD0, "07EA05140E2F00 00000064 00000001", UNIT_001)
    assert one.normal_kwh() == Decimal("1.00")
    assert one.reverse_kwh() == Decimal("0.01")
    assert decode_property(0xD0, h("07EA05140E2F00 00000064 00000001")).normal_kwh() is None


def test_encoders_refuse_wrong_types_with_usage_error_only() -> None:
    cases = [
        (0x82, StandardVersion(None, 0)),  # type: ignore[arg-type]
        (0x81, InstallationLocation(0x01, "0123456789ABCDEF")),  # type: ignore[arg-type]
        (0xE8, InstantaneousCurrents(Decimal("sNaN"), None)),  # scaleb would trap
        (0xE8, InstantaneousCurrents(None, Decimal("Infinity"))),
        (0xE8, InstantaneousCurrents(Decimal("0.05"), None)),
        (0xED, HistoryTarget(False, 1)),  # type: ignore[arg-type]
        (0xEC, HalfHourlyHistory(None, None)),  # type: ignore[arg-type]
        (0xEC, HalfHourlyHistory(None, ((1,),))),  # type: ignore[arg-type]
        (0xEC, MinuteHistory(datetime(2026, 5, 20, 14, 1), ((1, 2),))),  # wrong class for EC
        (0xE2, DailyHistory(1, None)),  # type: ignore[arg-type]
        (0xE2, DailyHistory(1, (1,) * 47)),
        (0xE0, CumulativeEnergy(100_000_000)),
        (0xE7, 0x7FFFFFFE),  # the no-data code is sent as None, not as a number
        (0xE5, 100),
        (0x9F, (0x7F,)),
        (0x8A, 0x16),
    ]
    for epc, value in cases:
        with pytest.raises(UsageError):
            SMART_METER_PROPERTIES[epc].encode(value)
