"""The emulated meter driven with real encoded ECHONET Lite frames (protocol.md §A, §B, §C, §F).

Every expectation is computed independently of the meter's own code path: property sets come
from protocol.md (§A.5, §B.1), values from the household model and the fake clock, wire bytes
from the §F vectors.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from routeb.echonet import EOJ, ESV, Frame, Property, decode_frame, encode_frame
from routeb.echonet.nodeprofile import NODE_PROFILE_PROPERTIES
from routeb.echonet.propmap import decode_property_map
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
    build_e5,
    build_ed,
    build_ef,
)
from routeb.emulator.clock import EmulatorClock, floor_slot
from routeb.emulator.household import Direction
from routeb.emulator.meter import CONTROLLER, METER, NODE_PROFILE, EmulatedMeter
from routeb.emulator.profile import MeterProfile
from routeb.errors import UsageError

START = datetime(2026, 5, 20, 14, 26, 13)  # a Wednesday
SOURCE = "FE80:0000:0000:0000:021D:1290:1234:5678"
NO_DATA = b"\xff\xff\xff\xfe"
# protocol.md §A.5 / §B.1: the 25 Get EPCs of a real Release-F meter, its Set and announce maps.
RELEASE_F_GET = frozenset(
    {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F, 0xD3, 0xD7}
    | {0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE7, 0xE8, 0xEA, 0xEB, 0xEC, 0xED}
)
RELEASE_R_GET = RELEASE_F_GET | {0xC0, 0xD0, 0xEE, 0xEF}
RELEASE_F_SET = frozenset({0x81, 0xE5, 0xED})
RELEASE_R_SET = RELEASE_F_SET | {0xEF}
ANNOUNCED = frozenset({0x80, 0x81, 0x88})
SOLAR = MeterProfile(solar=True, initial_export=5_000)


class FakeMonotonic:
    """A monotonic source that only moves when told to."""

    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value

    def advance(self, delta: timedelta) -> None:
        self.value += delta.total_seconds()


def make(
    profile: MeterProfile | None = None, *, start: datetime = START, **kwargs: object
) -> tuple[EmulatedMeter, FakeMonotonic]:
    profile = profile or MeterProfile()
    source = FakeMonotonic()
    clock = EmulatorClock(start, offset=profile.clock_offset, monotonic=source)
    return EmulatedMeter(profile, clock, **kwargs), source  # type: ignore[arg-type]


def frame(
    esv: ESV,
    props: list[Property],
    *,
    deoj: EOJ = METER,
    seoj: EOJ = CONTROLLER,
    tid: int = 0x1234,
    get_props: list[Property] | None = None,
) -> bytes:
    return encode_frame(Frame(tid, seoj, deoj, esv, tuple(props), tuple(get_props or ())))


def ask(meter: EmulatedMeter, data: bytes) -> Frame:
    replies = meter.handle(data, SOURCE)
    assert len(replies) == 1, replies
    reply = decode_frame(replies[0])
    assert isinstance(reply, Frame)
    return reply


def get(meter: EmulatedMeter, *epcs: int, deoj: EOJ = METER) -> Frame:
    return ask(meter, frame(ESV.GET, [Property(e) for e in epcs], deoj=deoj))


def value(meter: EmulatedMeter, epc: int) -> object:
    reply = get(meter, epc)
    assert reply.esv is ESV.GET_RES, reply
    return SMART_METER_PROPERTIES[epc].decode(reply.properties[0].edt)


def set_c(meter: EmulatedMeter, epc: int, edt: bytes) -> Frame:
    return ask(meter, frame(ESV.SETC, [Property(epc, edt)]))


def maps(meter: EmulatedMeter, deoj: EOJ = METER) -> tuple[set[int], set[int], set[int]]:
    reply = get(meter, 0x9D, 0x9E, 0x9F, deoj=deoj)
    assert reply.esv is ESV.GET_RES
    anno, set_, get_ = (set(decode_property_map(p.edt)) for p in reply.properties)
    return anno, set_, get_


def boundaries(day: date) -> list[datetime]:
    start = datetime(day.year, day.month, day.day)
    return [start + timedelta(minutes=30 * i) for i in range(48)]


# --- property sets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("release", "get_set", "set_set"),
    [("F", RELEASE_F_GET, RELEASE_F_SET), ("R", RELEASE_R_GET, RELEASE_R_SET)],
)
def test_property_maps_per_release(
    release: str, get_set: frozenset[int], set_set: frozenset[int]
) -> None:
    meter, _ = make(MeterProfile(release=release))
    anno, set_, get_ = maps(meter)
    assert get_ == get_set
    assert set_ == set_set
    assert anno == ANNOUNCED
    version = value(meter, 0x82)
    assert get(meter, 0x82).properties[0].edt == bytes((0, 0, ord(release), 0))
    assert str(getattr(version, "release", "")) == release


@pytest.mark.parametrize("release", ["F", "R"])
@pytest.mark.parametrize("profile", [MeterProfile(), SOLAR], ids=["plain", "solar"])
def test_every_epc_of_the_release_decodes(release: str, profile: MeterProfile) -> None:
    meter, clock = make(replace(profile, release=release))
    clock.advance(timedelta(hours=2))
    # Make the settable history selectors point at data, so E2/E4/EC/EE carry real readings.
    assert set_c(meter, 0xE5, build_e5(1)).esv is ESV.SET_RES
    assert set_c(meter, 0xED, build_ed(meter.now() - timedelta(hours=1), 12)).esv is ESV.SET_RES
    if release == "R":
        assert set_c(meter, 0xEF, build_ef(meter.now(), 10)).esv is ESV.SET_RES
    _, _, get_set = maps(meter)
    epcs = sorted(get_set)
    for i in range(0, len(epcs), 6):
        chunk = epcs[i : i + 6]
        reply = get(meter, *chunk)
        assert reply.esv is ESV.GET_RES
        assert [p.epc for p in reply.properties] == chunk
        for prop in reply.properties:
            assert prop.pdc > 0
            SMART_METER_PROPERTIES[prop.epc].decode(prop.edt)  # raises if malformed
    # E2 carries the 48 readings of yesterday, none missing (installed 400 days ago).
    history = value(meter, 0xE2)
    assert isinstance(history, DailyHistory)
    assert history.day == 1
    assert None not in history.raw


def test_node_profile_answers() -> None:
    meter, _ = make()
    reply = get(meter, 0x80, 0x82, 0x8A, 0xD3, 0xD4, 0xD6, deoj=NODE_PROFILE)
    assert reply.esv is ESV.GET_RES
    assert reply.seoj == NODE_PROFILE
    edts = {p.epc: p.edt for p in reply.properties}
    assert edts[0x8A] == b"\x00\x00\x16"
    assert edts[0xD3] == b"\x00\x00\x01"  # §A.6: excludes the node profile
    assert edts[0xD4] == b"\x00\x02"  # §A.6: includes the node profile class
    assert edts[0xD6] == bytes.fromhex("01028801")
    reply = get(meter, 0xD7, 0x83, deoj=NODE_PROFILE)
    edts = {p.epc: p.edt for p in reply.properties}
    assert edts[0xD7] == bytes.fromhex("010288")
    assert edts[0x83][:4] == bytes.fromhex("FE000016")
    assert len(edts[0x83]) == 17
    for prop in reply.properties:
        NODE_PROFILE_PROPERTIES[prop.epc].decode(prop.edt)


# --- live values -------------------------------------------------------------------------------


def test_live_values_are_the_households() -> None:
    meter, clock = make(SOLAR)
    clock.advance(timedelta(hours=1, minutes=3, seconds=7))
    now = START + timedelta(hours=1, minutes=3, seconds=7)
    assert meter.now() == now
    household = meter.household
    assert value(meter, 0xE7) == household.power_at(now)
    r, t = household.currents_at(now)
    assert t is not None
    assert value(meter, 0xE8) == InstantaneousCurrents(Decimal(r) / 10, Decimal(t) / 10)
    unit = Decimal("0.01")
    normal = household.counter_at(now, Direction.NORMAL, 1, unit, 6)
    reverse = household.counter_at(now, Direction.REVERSE, 1, unit, 6)
    assert getattr(value(meter, 0xE0), "raw", None) == normal
    assert getattr(value(meter, 0xE3), "raw", None) == reverse
    slot = datetime(2026, 5, 20, 15, 0)
    assert value(meter, 0xEA) == FixedTimeEnergy(
        slot, household.counter_at(slot, Direction.NORMAL, 1, unit, 6)
    )
    assert value(meter, 0xEB) == FixedTimeEnergy(
        slot, household.counter_at(slot, Direction.REVERSE, 1, unit, 6)
    )
    assert value(meter, 0x97) == time(15, 29)
    assert value(meter, 0x98) == date(2026, 5, 20)
    assert value(meter, 0xD7) == 6
    assert value(meter, 0xD3) == 1
    assert getattr(value(meter, 0xE1), "code", None) == 0x02
    assert get(meter, 0x8D).properties[0].edt == b"EMU000000001"
    assert get(meter, 0x81).properties[0].edt == b"\x61"


def test_counters_start_at_the_profiles_initial_values() -> None:
    meter, _ = make(replace(SOLAR, initial_import=123_456, initial_export=7_890))
    assert getattr(value(meter, 0xE0), "raw", None) == 123_456
    assert getattr(value(meter, 0xE3), "raw", None) == 7_890


def test_real_meter_get_vector() -> None:
    # §F: "Get request E7 1081 5253 05FF01 028801 62 01 E7 00" → "…72 01 E7 04 <s32>".
    meter, _ = make()
    replies = meter.handle(bytes.fromhex("1081525305FF0102880162 01E700".replace(" ", "")), SOURCE)
    watts = meter.household.power_at(START)
    expected = bytes.fromhex("1081525302880105FF017201E704") + watts.to_bytes(4, "big", signed=True)
    assert replies == [expected]


def test_single_phase_two_wire_reports_t_as_no_data() -> None:
    meter, _ = make(MeterProfile(wiring="1P2W"))
    edt = get(meter, 0xE8).properties[0].edt
    assert edt[2:] == b"\x7f\xfe"  # §B.1 E8, §G.7
    currents = value(meter, 0xE8)
    assert isinstance(currents, InstantaneousCurrents)
    assert currents.single_phase_two_wire


def test_without_reverse_measurement_e3_e4_eb_are_absent() -> None:
    meter, _ = make(MeterProfile(reverse_measurement=False))
    _, _, get_set = maps(meter)
    assert get_set == RELEASE_F_GET - {0xE3, 0xE4, 0xEB}
    reply = get(meter, 0xE3, 0xE4, 0xEB, 0xE0)
    assert reply.esv is ESV.GET_SNA
    assert [p.pdc for p in reply.properties[:3]] == [0, 0, 0]
    assert reply.properties[3].pdc == 4


def test_scaling_and_absent_unit() -> None:
    meter, clock = make(MeterProfile(coefficient=10, unit_code=0x01, initial_import=5_000))
    assert value(meter, 0xD3) == 10
    start_import = meter.household.import_wh_at(START)
    clock.advance(timedelta(days=1))
    raw = getattr(value(meter, 0xE0), "raw", None)
    # one count = 10 × 0.1 kWh = 1 kWh = 1000 Wh
    used = meter.household.import_wh_at(START + timedelta(days=1)) - start_import
    assert raw == 5_000 + int(used // 1000)


# --- quirks ------------------------------------------------------------------------------------


def test_meter_without_d3_answers_get_sna() -> None:
    meter, _ = make(MeterProfile(coefficient=None))
    replies = meter.handle(frame(ESV.GET, [Property(0xD3)], tid=1), SOURCE)
    assert replies == [bytes.fromhex("10810001028801 05FF01 5201D300".replace(" ", ""))]  # §F
    _, _, get_set = maps(meter)
    assert 0xD3 not in get_set
    assert value(meter, 0xE1) is not None


def test_meter_without_e1_answers_get_sna_and_counts_kwh() -> None:
    meter, _ = make(MeterProfile(unit_code=None, initial_import=4_321))
    reply = get(meter, 0xE1, 0xE0)
    assert reply.esv is ESV.GET_SNA
    assert reply.properties[0] == Property(0xE1)
    assert int.from_bytes(reply.properties[1].edt, "big") == 4_321
    _, _, get_set = maps(meter)
    assert 0xE1 not in get_set


SEVEN = [0xE7, 0xE8, 0xE0, 0xD7, 0xE1, 0x8A, 0x82]


def test_seven_epcs_give_six_answers_and_one_empty() -> None:
    meter, _ = make()
    reply = get(meter, *SEVEN)
    assert reply.esv is ESV.GET_SNA
    assert [p.epc for p in reply.properties] == SEVEN  # OPC and order kept (§A.3)
    assert all(p.pdc > 0 for p in reply.properties[:6])
    assert reply.properties[6] == Property(0x82)


def test_no_limit_when_configured() -> None:
    meter, _ = make(max_properties=None)
    reply = get(meter, *SEVEN, 0x8D, 0x80)
    assert reply.esv is ESV.GET_RES
    assert all(p.pdc > 0 for p in reply.properties)


def test_partial_get_sna_quirk() -> None:
    meter, _ = make(max_properties=2)
    reply = get(meter, 0xE7, 0xE0, 0xD7)
    assert reply.esv is ESV.GET_SNA
    assert [p.pdc for p in reply.properties] == [4, 4, 0]
    assert get(meter, 0xE7, 0xE0).esv is ESV.GET_RES


@pytest.mark.parametrize("bad", [0, 256])
def test_max_properties_is_checked(bad: int) -> None:
    with pytest.raises(UsageError):
        make(max_properties=bad)


# --- history 1: E5 / E2 / E4 -----------------------------------------------------------------


def test_e5_default_gives_the_unset_e2() -> None:
    meter, _ = make()
    assert get(meter, 0xE5).properties[0].edt == b"\xff"  # §B.1 E5 default
    edt = get(meter, 0xE2).properties[0].edt
    assert edt == b"\x00\xff" + NO_DATA * 48  # §B.1 E2: day 0x00FF = unset


def test_set_e5_then_e2_is_yesterday_at_slot_boundaries() -> None:
    meter, _ = make(SOLAR)
    reply = set_c(meter, 0xE5, build_e5(1))
    assert reply.esv is ESV.SET_RES
    assert reply.properties == (Property(0xE5),)  # §A.3: accepted → PDC 0
    assert get(meter, 0xE5).properties[0].edt == b"\x01"
    yesterday = START.date() - timedelta(days=1)
    for epc, direction in ((0xE2, Direction.NORMAL), (0xE4, Direction.REVERSE)):
        history = value(meter, epc)
        assert isinstance(history, DailyHistory)
        assert history.day == 1
        expected = [meter.truth_counter(t, direction) for t in boundaries(yesterday)]
        assert list(history.raw) == expected
        assert history.history_date(START.date()) == yesterday
    normal = value(meter, 0xE2)
    assert isinstance(normal, DailyHistory)
    assert all(b is not None and a is not None and b >= a for a, b in pairwise(normal.raw))


def test_e2_today_has_no_data_after_now() -> None:
    meter, _ = make()
    set_c(meter, 0xE5, build_e5(0))
    history = value(meter, 0xE2)
    assert isinstance(history, DailyHistory)
    for when, raw in zip(boundaries(START.date()), history.raw, strict=True):
        if when <= START:
            assert raw == meter.truth_counter(when)
        else:
            assert raw is None


@pytest.mark.parametrize(
    "start",
    [
        START,  # mid-afternoon: 14:00 is the last slot with a reading
        datetime(2026, 5, 20, 0, 0, 0),  # exactly midnight: only 00:00 is past
        datetime(2026, 5, 20, 23, 29, 59),  # the last slot (23:30) is still 1 s away
        datetime(2026, 5, 20, 10, 30, 0),  # on a boundary: 10:30 itself has its reading
    ],
)
@pytest.mark.parametrize("offset", [timedelta(0), timedelta(minutes=7)])
def test_e2_e4_today_future_slots_are_no_data_on_the_wire(
    start: datetime, offset: timedelta
) -> None:
    # protocol.md §B "0xFFFFFFFE = not measured / no data applies to … each E2/E4 slot", §B.1
    # E2: 194 bytes = day u16 + 48 × u32, slot i = the reading at 00:00 + 30 min × i. A slot
    # that the meter's own clock (skew included) has not reached yet has no reading.
    meter, _ = make(replace(SOLAR, clock_offset=offset), start=start)
    set_c(meter, 0xE5, build_e5(0))
    now = meter.now()
    for epc, direction in ((0xE2, Direction.NORMAL), (0xE4, Direction.REVERSE)):
        expected = b"\x00\x00" + b"".join(
            meter.truth_counter(when, direction).to_bytes(4, "big") if when <= now else NO_DATA
            for when in boundaries(now.date())
        )
        edt = get(meter, epc).properties[0].edt
        assert len(edt) == 194
        assert edt == expected
        future = sum(1 for when in boundaries(now.date()) if when > now)
        assert edt.count(NO_DATA) == future


def test_e2_before_installation_and_beyond_history_depth() -> None:
    meter, _ = make(MeterProfile(installed_days_ago=Decimal("1.5"), history_days=99))
    set_c(meter, 0xE5, build_e5(2))
    history = value(meter, 0xE2)
    assert isinstance(history, DailyHistory)
    assert set(history.raw) == {None}
    set_c(meter, 0xE5, build_e5(1))
    history = value(meter, 0xE2)
    assert isinstance(history, DailyHistory)
    installed = START - timedelta(days=1.5)
    for when, raw in zip(boundaries(START.date() - timedelta(days=1)), history.raw, strict=True):
        assert (raw is None) == (when < installed)

    shallow, _ = make(MeterProfile(history_days=3))
    set_c(shallow, 0xE5, build_e5(4))
    assert set(getattr(value(shallow, 0xE2), "raw", ())) == {None}
    set_c(shallow, 0xE5, build_e5(3))
    assert None not in getattr(value(shallow, 0xE2), "raw", (None,))


def test_e5_follows_the_day_at_read_time() -> None:
    meter, clock = make()
    set_c(meter, 0xE5, build_e5(1))
    clock.advance(timedelta(days=1))  # E5 = 1 now means the day of START
    history = value(meter, 0xE2)
    assert isinstance(history, DailyHistory)
    assert list(history.raw) == [meter.truth_counter(t) for t in boundaries(START.date())]


@pytest.mark.parametrize(
    ("epc", "edt"),
    [
        (0xE5, b"\x64"),  # 100 days back (§B.2: 0..99)
        (0xE5, b"\xff"),  # the unset default is not writable
        (0xE5, b"\x01\x00"),  # wrong length
        (0xE5, b""),  # PDC 0
        (0xED, bytes.fromhex("07EA0514 0F0F 01".replace(" ", ""))),  # minute 15 (§B.2)
        (0xED, bytes.fromhex("07EA0514 0E00 0D".replace(" ", ""))),  # 13 pairs (max 12)
        (0xED, bytes.fromhex("07EA0514 0E00 00".replace(" ", ""))),  # 0 pairs
        (0xED, bytes.fromhex("07EA0D14 0E00 01".replace(" ", ""))),  # month 13
        (0xED, bytes.fromhex("FFFFFFFFFFFF01")),  # the default is not writable
        (0xED, bytes.fromhex("07EA05140E00")),  # wrong length
        (0x81, b"\x03"),  # L = 0, N = 3: undefined
        (0x81, b"\x01\x00"),  # position needs 16 bytes
        (0xE7, b"\x00\x00\x00\x01"),  # read-only
        (0x97, b"\x0e\x1a"),  # the clock is Get-only
        (0xEF, bytes.fromhex("07EA05140E0001")),  # Release F has no EF
        (0xD1, b"\x00"),  # not a property of this meter
    ],
)
def test_bad_setc_is_sna_with_the_edt_echoed(epc: int, edt: bytes) -> None:
    meter, _ = make()
    before = get(meter, 0xE5, 0xED, 0x81)
    reply = set_c(meter, epc, edt)
    assert reply.esv is ESV.SETC_SNA
    assert reply.properties == (Property(epc, edt),)  # §A.3: request PDC and EDT echoed
    assert get(meter, 0xE5, 0xED, 0x81) == before  # nothing changed


def test_set_installation_location() -> None:
    meter, _ = make()
    assert set_c(meter, 0x81, b"\x08").esv is ESV.SET_RES  # living room no. 0
    assert get(meter, 0x81).properties[0].edt == b"\x08"
    position = b"\x01" + bytes(range(16))
    assert set_c(meter, 0x81, position).esv is ESV.SET_RES
    assert get(meter, 0x81).properties[0].edt == position


def test_seti_success_is_silent_and_failure_is_seti_sna() -> None:
    meter, _ = make()
    # §B.2 SKYWEB: SetI from 0EF001, E5 = 2, accepted without a reply.
    assert meter.handle(bytes.fromhex("108112340EF0010288016001E50102"), SOURCE) == []
    assert get(meter, 0xE5).properties[0].edt == b"\x02"
    reply = ask(meter, frame(ESV.SETI, [Property(0xE5, b"\x64")]))
    assert reply.esv is ESV.SETI_SNA
    assert reply.properties == (Property(0xE5, b"\x64"),)
    assert get(meter, 0xE5).properties[0].edt == b"\x02"


def test_setget_sets_then_reads() -> None:
    meter, _ = make()
    reply = ask(
        meter,
        frame(ESV.SETGET, [Property(0xE5, b"\x01")], get_props=[Property(0xE2), Property(0xE5)]),
    )
    assert reply.esv is ESV.SETGET_RES
    assert reply.properties == (Property(0xE5),)
    assert reply.get_properties[1] == Property(0xE5, b"\x01")
    history = SMART_METER_PROPERTIES[0xE2].decode(reply.get_properties[0].edt)
    assert isinstance(history, DailyHistory)
    assert history.day == 1
    bad = ask(meter, frame(ESV.SETGET, [Property(0xE5, b"\x99")], get_props=[Property(0xE7)]))
    assert bad.esv is ESV.SETGET_SNA
    assert bad.properties == (Property(0xE5, b"\x99"),)
    assert bad.get_properties[0].pdc == 4


# --- history 2 and 3: ED / EC, EF / EE -------------------------------------------------------


def test_ec_default() -> None:
    meter, _ = make()
    assert get(meter, 0xED).properties[0].edt == bytes.fromhex("FFFFFFFFFFFF01")
    assert get(meter, 0xEC).properties[0].edt == bytes.fromhex("FFFFFFFFFFFF01") + NO_DATA * 2


def test_set_ed_then_ec_goes_back_in_half_hours() -> None:
    meter, _ = make(SOLAR)
    target = datetime(2026, 5, 20, 14, 0)  # pairs at 14:00, 13:30, … 08:30
    assert set_c(meter, 0xED, build_ed(target, 12)).esv is ESV.SET_RES
    assert value(meter, 0xED) == HistoryTarget(target, 12)
    history = value(meter, 0xEC)
    assert isinstance(history, HalfHourlyHistory)
    assert history.timestamp == target
    expected = tuple(
        (
            meter.truth_counter(target - timedelta(minutes=30 * i)),
            meter.truth_counter(target - timedelta(minutes=30 * i), Direction.REVERSE),
        )
        for i in range(12)
    )
    assert history.pairs == expected


def test_ec_pairs_after_now_have_no_data() -> None:
    meter, _ = make(MeterProfile(reverse_measurement=False))
    target = datetime(2026, 5, 20, 15, 0)  # 15:00 and 14:30 are after START (14:26)
    set_c(meter, 0xED, build_ed(target, 3))
    history = value(meter, 0xEC)
    assert isinstance(history, HalfHourlyHistory)
    assert history.pairs[0] == (None, None)
    assert history.pairs[1] == (None, None)
    assert history.pairs[2] == (meter.truth_counter(datetime(2026, 5, 20, 14, 0)), None)


def test_release_r_ef_ee_and_d0_c0() -> None:
    meter, clock = make(replace(SOLAR, release="R", serial_number="F24G366505"))
    clock.advance(timedelta(minutes=10))
    now = START + timedelta(minutes=10)
    assert get(meter, 0xEF).properties[0].edt == bytes.fromhex("FFFFFFFFFFFF01")
    assert get(meter, 0xEE).properties[0].edt == bytes.fromhex("FFFFFFFFFFFF01") + NO_DATA * 2
    target = datetime(2026, 5, 20, 14, 37)  # one minute ahead of now (14:36:13)
    assert set_c(meter, 0xEF, build_ef(target, 10)).esv is ESV.SET_RES
    history = value(meter, 0xEE)
    assert isinstance(history, MinuteHistory)
    assert history.pairs[0] == (None, None)
    for i in range(1, 10):
        at = target - timedelta(minutes=i)
        assert history.pairs[i] == (
            meter.truth_counter(at),
            meter.truth_counter(at, Direction.REVERSE),
        )
    minute = now.replace(second=0)
    assert value(meter, 0xD0) == OneMinuteEnergy(
        minute, meter.truth_counter(minute), meter.truth_counter(minute, Direction.REVERSE)
    )
    assert value(meter, 0xC0) == RouteBIdentification(0x000016, b"F24G366505\x00\x00")


def test_release_f_lacks_the_release_r_properties() -> None:
    meter, _ = make()
    reply = get(meter, 0xC0, 0xD0, 0xEE, 0xEF)
    assert reply.esv is ESV.GET_SNA
    assert all(p.pdc == 0 for p in reply.properties)


# --- other services and silence -------------------------------------------------------------


def test_inf_req_d5_is_answered_with_the_instance_list() -> None:
    meter, _ = make()
    replies = meter.handle(
        frame(ESV.INF_REQ, [Property(0xD5)], deoj=NODE_PROFILE, tid=0x0042), SOURCE
    )
    assert replies == [bytes.fromhex("108100420EF00105FF017301D50401028801")]


def test_infc_gets_infc_res() -> None:
    meter, _ = make()
    reply = ask(meter, frame(ESV.INFC, [Property(0x80, b"\x30")]))
    assert reply.esv is ESV.INFC_RES
    assert reply.properties == (Property(0x80),)


@pytest.mark.parametrize(
    "data",
    [
        frame(ESV.GET, [Property(0xE7)], deoj=EOJ(0x01, 0x30, 0x01)),  # an air conditioner
        frame(ESV.GET, [Property(0xE7)], deoj=EOJ(0x02, 0x88, 0x02)),  # a second meter
        frame(ESV.GET_RES, [Property(0xE7, b"\x00\x00\x00\x01")]),  # a response
        frame(ESV.INF, [Property(0xE7, b"\x00\x00\x00\x01")]),  # a notification
    ],
    ids=["other-class", "other-instance", "response", "inf"],
)
def test_silent_cases(data: bytes) -> None:
    meter, _ = make()
    assert meter.handle(data, SOURCE) == []
    assert meter.requests == 1


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x10\x81",
        bytes.fromhex("1081000105FF0102880162 02E700".replace(" ", "")),
        b"\x00" * 14,
    ],
)
def test_malformed_input_is_counted_and_unanswered(data: bytes) -> None:
    meter, _ = make()
    assert meter.handle(data, SOURCE) == []
    assert meter.malformed == 1
    assert meter.requests == 0


def test_format2_frames_are_ignored() -> None:
    meter, _ = make()
    assert meter.handle(bytes.fromhex("10820001AABB"), SOURCE) == []
    assert meter.ignored == 1


def test_all_instances_deoj_reaches_the_meter() -> None:
    meter, _ = make()
    reply = get(meter, 0xD7, deoj=EOJ(0x02, 0x88, 0x00))
    assert reply.seoj == METER
    assert reply.properties == (Property(0xD7, b"\x06"),)


# --- frames the meter sends on its own -------------------------------------------------------


def test_startup_notification_and_own_tids() -> None:
    meter, _ = make()
    assert meter.startup_notification() == bytes.fromhex("108100000EF0010EF0017301D50401028801")
    again = decode_frame(meter.startup_notification())
    assert isinstance(again, Frame)
    assert again.tid == 1
    other, _ = make(first_tid=0x0361)
    assert decode_frame(other.startup_notification()).tid == 0x0361


def collect_pushes(
    meter: EmulatedMeter, clock: FakeMonotonic, hours: int, step: timedelta
) -> list[tuple[datetime, Frame]]:
    out: list[tuple[datetime, Frame]] = []
    for _ in range(int(timedelta(hours=hours) / step)):
        clock.advance(step)
        now = meter.clock.now()
        for data in meter.due_pushes():
            decoded = decode_frame(data)
            assert isinstance(decoded, Frame)
            out.append((now, decoded))
    return out


def test_pushes_within_five_minutes_of_every_half_hour() -> None:
    meter, clock = make(SOLAR)
    step = timedelta(seconds=20)
    pushes = collect_pushes(meter, clock, 12, step)
    first = datetime(2026, 5, 20, 14, 30)
    slots = [first + timedelta(minutes=30 * i) for i in range(24)]
    assert len(pushes) == len(slots)
    tids = []
    for (sent, push), slot in zip(pushes, slots, strict=True):
        assert push.esv is ESV.INF
        assert (push.seoj, push.deoj) == (METER, CONTROLLER)  # unicast to the controller (§C)
        assert [p.epc for p in push.properties] == [0xEA, 0xEB]
        ea = SMART_METER_PROPERTIES[0xEA].decode(push.properties[0].edt)
        eb = SMART_METER_PROPERTIES[0xEB].decode(push.properties[1].edt)
        assert ea == FixedTimeEnergy(slot, meter.truth_counter(slot))
        assert eb == FixedTimeEnergy(slot, meter.truth_counter(slot, Direction.REVERSE))
        when = meter.push_time(slot)
        assert slot <= when < slot + timedelta(minutes=5)
        assert when <= sent < when + step  # emitted at the first poll after its time
        tids.append(push.tid)
    assert tids == list(range(len(slots)))
    delays = {meter.push_time(s) - s for s in slots}
    assert len(delays) > 10  # seeded, not constant


def test_push_without_reverse_carries_ea_only() -> None:
    meter, clock = make(MeterProfile(reverse_measurement=False))
    pushes = collect_pushes(meter, clock, 1, timedelta(minutes=1))
    assert pushes
    for _, push in pushes:
        assert [p.epc for p in push.properties] == [0xEA]


def test_due_pushes_returns_each_push_once_even_after_a_long_gap() -> None:
    meter, clock = make()
    clock.advance(timedelta(hours=3))
    frames = [decode_frame(f) for f in meter.due_pushes()]
    assert len(frames) == 6
    assert meter.due_pushes() == []


def test_next_push_matches_due_pushes() -> None:
    meter, _ = make()
    when, frames = meter.next_push(START)
    slot = datetime(2026, 5, 20, 14, 30)
    assert when == meter.push_time(slot)
    push = decode_frame(frames[0])
    assert isinstance(push, Frame)
    ea = SMART_METER_PROPERTIES[0xEA].decode(push.properties[0].edt)
    assert getattr(ea, "timestamp", None) == slot
    # Called back at the push time (or a hair before it), the next one is the following slot.
    for after in (when, when - timedelta(microseconds=1)):
        later, _ = meter.next_push(after)
        assert later == meter.push_time(slot + timedelta(minutes=30))


def test_push_slot_must_be_a_boundary() -> None:
    meter, _ = make()
    with pytest.raises(UsageError):
        meter.push_frames(datetime(2026, 5, 20, 14, 31))


# --- clock skew and determinism ---------------------------------------------------------------


def test_clock_offset_shows_in_the_clock_and_the_stamps() -> None:
    offset = timedelta(hours=10, minutes=2, seconds=5)  # 14:26:13 → 00:28:18 the next day
    meter, clock = make(MeterProfile(clock_offset=offset))
    skewed = START + offset
    assert value(meter, 0x97) == time(0, 28)
    assert value(meter, 0x98) == date(2026, 5, 21)
    ea = value(meter, 0xEA)
    assert ea == FixedTimeEnergy(
        datetime(2026, 5, 21, 0, 0), meter.truth_counter(floor_slot(skewed))
    )
    set_c(meter, 0xE5, build_e5(0))
    assert getattr(value(meter, 0xE2), "raw", (None,))[0] == meter.truth_counter(
        datetime(2026, 5, 21)
    )
    pushes = collect_pushes(meter, clock, 1, timedelta(minutes=1))
    ea = SMART_METER_PROPERTIES[0xEA].decode(pushes[0][1].properties[0].edt)
    assert getattr(ea, "timestamp", None) == datetime(2026, 5, 21, 0, 30)


def test_clock_must_carry_the_profiles_offset() -> None:
    profile = MeterProfile(clock_offset=timedelta(minutes=3))
    with pytest.raises(UsageError):
        EmulatedMeter(profile, EmulatorClock(START))
    assert EmulatedMeter(profile).clock.offset == timedelta(minutes=3)


def run_session(profile: MeterProfile) -> list[bytes]:
    meter, clock = make(profile)
    out = [meter.startup_notification()]
    requests = [
        frame(ESV.GET, [Property(e) for e in (0xE7, 0xE8, 0xE0, 0xE3, 0xEA, 0xEB)]),
        frame(ESV.SETC, [Property(0xE5, b"\x03")]),
        frame(ESV.GET, [Property(0xE2)]),
        frame(ESV.SETC, [Property(0xED, build_ed(START - timedelta(hours=5), 12))]),
        frame(ESV.GET, [Property(0xEC)]),
    ]
    for i in range(40):
        clock.advance(timedelta(minutes=7, seconds=13))
        out += meter.handle(requests[i % len(requests)], SOURCE)
        out += meter.due_pushes()
    return out


def test_deterministic_given_the_seed() -> None:
    first = run_session(SOLAR)
    assert first == run_session(SOLAR)
    assert first != run_session(replace(SOLAR, seed=2))


# --- counters near the wrap ----------------------------------------------------------------


def test_counter_just_below_its_wrap_wraps() -> None:
    meter, clock = make(MeterProfile(initial_import=999_995, digits=6))
    assert getattr(value(meter, 0xE0), "raw", None) == 999_995
    clock.advance(timedelta(hours=6))
    raw = getattr(value(meter, 0xE0), "raw", None)
    assert raw is not None
    assert raw < 999_995  # wrapped past 10^6
    set_c(meter, 0xE5, build_e5(0))
    history = value(meter, 0xE2)
    assert isinstance(history, DailyHistory)
    known = [r for r in history.raw if r is not None]
    assert max(known) < 10**6
    assert any(b < a for a, b in pairwise(known))  # the wrap shows in the history
    assert known[-1] == meter.truth_counter(floor_slot(meter.now()))


def test_a_meter_installed_at_the_start_has_no_earlier_readings() -> None:
    meter, clock = make(replace(SOLAR, release="R", installed_days_ago=Decimal(0)))
    assert value(meter, 0xEA) == FixedTimeEnergy(datetime(2026, 5, 20, 14, 0), None)
    assert value(meter, 0xEB) == FixedTimeEnergy(datetime(2026, 5, 20, 14, 0), None)
    assert value(meter, 0xD0) == OneMinuteEnergy(datetime(2026, 5, 20, 14, 26), None, None)
    assert getattr(value(meter, 0xE0), "raw", None) == 432_100  # live values exist
    clock.advance(timedelta(minutes=4))
    slot = datetime(2026, 5, 20, 14, 30)
    assert value(meter, 0xEA) == FixedTimeEnergy(slot, meter.truth_counter(slot))
