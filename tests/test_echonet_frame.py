"""The ECHONET Lite frame codec: golden bytes, round trips, strictness, totality (§A)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.echonet import (
    EOJ,
    ESV,
    Format2Frame,
    Frame,
    Property,
    decode_frame,
    decode_property_map,
    encode_frame,
    encode_property_map,
)
from routeb.errors import EchonetDecodeError, RouteBError, UsageError

METER = EOJ(0x02, 0x88, 0x01)
CONTROLLER = EOJ(0x05, 0xFF, 0x01)
NODE = EOJ(0x0E, 0xF0, 0x01)


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# protocol.md §F — real meter frames.
def test_get_request_e7() -> None:
    frame = decode_frame(h("1081 5253 05FF01 028801 62 01 E7 00"))
    assert frame == Frame(0x5253, CONTROLLER, METER, ESV.GET, (Property(0xE7),))
    assert len(encode_frame(frame)) == 14  # §A.1: minimum meaningful frame


def test_get_res_e7() -> None:
    frame = decode_frame(h("1081 0001 028801 05FF01 72 01 E7 04 00000278"))
    assert isinstance(frame, Frame)
    assert frame.esv is ESV.GET_RES
    assert frame.seoj == METER
    assert frame.deoj == CONTROLLER
    assert frame.properties == (Property(0xE7, h("00000278")),)
    assert frame.first(0xE7) == Property(0xE7, h("00000278"))
    assert frame.first(0xE8) is None


def test_get_sna_d3_keeps_pdc_zero() -> None:
    frame = decode_frame(h("1081 0001 028801 05FF01 52 01 D3 00"))
    assert isinstance(frame, Frame)
    assert frame.esv is ESV.GET_SNA
    assert frame.esv.is_sna
    assert frame.properties[0].pdc == 0


def test_inf_ea_eb_push_two_properties() -> None:
    raw = h(
        "1081 0001 028801 05FF01 73 02 EA 0B 07E70C13001E00 0000458E EB 0B 07E70C13001E00 00000015"
    )
    frame = decode_frame(raw)
    assert isinstance(frame, Frame)
    assert [p.epc for p in frame.properties] == [0xEA, 0xEB]
    assert encode_frame(frame) == raw


def test_d5_inf_from_node_profile() -> None:
    frame = decode_frame(h("1081 0000 0EF001 0EF001 73 01 D5 04 01 028801"))
    assert isinstance(frame, Frame)
    assert frame.seoj == NODE
    assert frame.deoj.class_id == 0x0EF0


def test_repeated_epc_kept_in_order() -> None:
    raw = h("1081 0001 05FF01 028801 62 03 E7 00 E8 00 E7 00")
    frame = decode_frame(raw)
    assert isinstance(frame, Frame)
    assert [p.epc for p in frame.properties] == [0xE7, 0xE8, 0xE7]
    assert encode_frame(frame) == raw


def test_setget_two_lists() -> None:
    raw = h("1081 0102 05FF01 028801 6E 01 E5 01 02 01 E2 00")
    frame = decode_frame(raw)
    assert isinstance(frame, Frame)
    assert frame.esv.is_setget
    assert frame.properties == (Property(0xE5, b"\x02"),)
    assert frame.get_properties == (Property(0xE2),)
    assert encode_frame(frame) == raw


def test_setget_with_empty_set_list() -> None:
    raw = h("1081 0102 05FF01 028801 6E 00 01 E7 00")
    frame = decode_frame(raw)
    assert isinstance(frame, Frame)
    assert frame.properties == ()
    assert encode_frame(frame) == raw


def test_format2_is_opaque_never_parsed_as_format1() -> None:
    raw = h("1082 0007 05FF01 028801 62 01 E7 00 FF FF")
    frame = decode_frame(raw)
    assert frame == Format2Frame(7, raw[4:])
    assert encode_frame(frame) == raw


@pytest.mark.parametrize(
    ("hexdata", "offset", "reason"),
    [
        ("", 0, "shorter"),
        ("1081 00", 3, "shorter"),
        ("8081 0001 05FF01 028801 62 01 E7 00", 0, "EHD1"),
        ("1083 0001 05FF01 028801 62 01 E7 00", 1, "EHD2"),
        ("1081 0001 05FF01 0288", 9, "truncated"),
        ("1081 0001 05FF01 028801 64 01 E7 00", 10, "unknown ESV"),
        ("1081 0001 05FF01 028801 62 00", 11, "OPC is 0"),
        ("1081 0001 05FF01 028801 62 02 E7 00", 14, "OPC announced"),
        ("1081 0001 028801 05FF01 72 01 E7 04 000002", 13, "runs past"),
        ("1081 0001 05FF01 028801 62 01 E7 00 00", 14, "trailing"),
        ("1081 0001 05FF01 028801 6E 01 E5 01 02", 15, "OPCGet"),
    ],
)
def test_strict_errors_carry_offset(hexdata: str, offset: int, reason: str) -> None:
    with pytest.raises(EchonetDecodeError) as info:
        decode_frame(h(hexdata))
    assert info.value.offset == offset
    assert reason in info.value.reason
    assert isinstance(info.value, RouteBError)


def test_encoder_refuses_impossible_frames() -> None:
    with pytest.raises(UsageError):
        Frame(1, CONTROLLER, METER, ESV.GET, ())
    with pytest.raises(UsageError):
        Frame(70000, CONTROLLER, METER, ESV.GET, (Property(0xE7),))
    with pytest.raises(UsageError):
        Frame(1, CONTROLLER, METER, ESV.GET, (Property(0xE7),), (Property(0xE8),))
    with pytest.raises(UsageError):
        Property(0xE7, bytes(256))
    with pytest.raises(UsageError):
        EOJ(0x100, 0, 0)


def test_eoj_text_forms() -> None:
    assert EOJ.parse("0x028801") == METER
    assert str(METER) == "028801"
    assert EOJ.from_bytes(b"\x05\xff\x01") == CONTROLLER
    with pytest.raises(UsageError):
        EOJ.parse("0288")
    with pytest.raises(UsageError):
        EOJ.parse("zz8801")


# protocol.md §A.5 — property maps.
def test_property_map_list_form_real_meter() -> None:
    assert decode_property_map(h("03808188")) == (0x80, 0x81, 0x88)
    assert decode_property_map(h("0381E5ED")) == (0x81, 0xE5, 0xED)
    assert encode_property_map([0x88, 0x80, 0x81]) == h("03808188")


def test_property_map_bitmap_real_meter() -> None:
    edt = h("19 41414160404000624300414040430202")
    epcs = decode_property_map(edt)
    assert epcs == tuple(
        h("80 81 82 88 8A 8D 97 98 9D 9E 9F D3 D7 E0 E1 E2 E3 E4 E5 E7 E8 EA EB EC ED")
    )
    assert encode_property_map(epcs) == edt  # re-encodes byte for byte (§A.5)


def test_property_map_switches_form_at_16() -> None:
    fifteen = list(range(0x80, 0x8F))
    sixteen = list(range(0x80, 0x90))
    assert len(encode_property_map(fifteen)) == 16
    assert len(encode_property_map(sixteen)) == 17
    assert decode_property_map(encode_property_map(sixteen)) == tuple(sixteen)


@pytest.mark.parametrize(
    "hexdata",
    ["", "03 80 81", "02 80 80", "01 10", "10 00", "11" + "00" * 16, "10" + "FF" * 16],
)
def test_property_map_malformed(hexdata: str) -> None:
    with pytest.raises(EchonetDecodeError):
        decode_property_map(h(hexdata), epc=0x9F)


def test_property_map_encoder_rejects_low_epc() -> None:
    with pytest.raises(UsageError):
        encode_property_map([0x10])


# Hypothesis: decode(encode(f)) == f and encode(decode(b)) == b.
eojs = st.builds(EOJ, st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
props = st.builds(Property, st.integers(0, 255), st.binary(max_size=255))
plain_esvs = st.sampled_from([e for e in ESV if not e.is_setget])
setget_esvs = st.sampled_from([e for e in ESV if e.is_setget])
frames = st.one_of(
    st.builds(
        Frame,
        st.integers(0, 0xFFFF),
        eojs,
        eojs,
        plain_esvs,
        st.lists(props, min_size=1, max_size=8).map(tuple),
    ),
    st.builds(
        Frame,
        st.integers(0, 0xFFFF),
        eojs,
        eojs,
        setget_esvs,
        st.lists(props, max_size=4).map(tuple),
        st.lists(props, max_size=4).map(tuple),
    ),
    st.builds(Format2Frame, st.integers(0, 0xFFFF), st.binary(max_size=64)),
)


@given(frames)
def test_round_trip_frame(frame: Frame | Format2Frame) -> None:
    raw = encode_frame(frame)
    assert decode_frame(raw) == frame
    assert decode_frame(bytearray(raw)) == frame
    assert decode_frame(memoryview(raw)) == frame
    assert encode_frame(decode_frame(raw)) == raw


@given(st.sets(st.integers(0x80, 0xFF)))
def test_round_trip_property_map(epcs: set[int]) -> None:
    assert decode_property_map(encode_property_map(epcs)) == tuple(sorted(epcs))


def _check_total(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except EchonetDecodeError:
        return
    assert encode_frame(frame) == data  # every accepted input is canonical


@settings(max_examples=2000)
@given(st.binary(max_size=80))
def test_totality_random(data: bytes) -> None:
    _check_total(data)


@settings(max_examples=2000)
@given(frames, st.data())
def test_totality_mutated(frame: Frame | Format2Frame, data: st.DataObject) -> None:
    raw = bytearray(encode_frame(frame))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "add"]))
        if op == "flip" and raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
        elif op == "cut" and raw:
            del raw[data.draw(st.integers(0, len(raw) - 1)) :]
        else:
            raw += data.draw(st.binary(min_size=1, max_size=3))
    _check_total(bytes(raw))
