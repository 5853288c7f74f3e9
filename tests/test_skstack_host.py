"""The host-side SKSTACK parser and builders: golden lines from real traces (protocol.md §D.5,
§F), both dialects, binary data with CR LF inside, CR-only lines, echo masking, totality."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb._redact import Secret
from routeb.errors import SkstackProtocolError, UsageError
from routeb.skstack import commands
from routeb.skstack.erxudp import format_erxudp, parse_erxudp_line
from routeb.skstack.events import (
    EchoLine,
    FailLine,
    InfoLine,
    LinkLocalAddress,
    ModuleEvent,
    OkLine,
    PanDescriptor,
    RegisterValue,
    UdpReceived,
    UnknownLine,
    VersionLine,
)
from routeb.skstack.parser import OutputParser

METER = "FE80:0000:0000:0000:021D:1290:1234:5678"
ME = "FE80:0000:0000:0000:021D:1290:0003:C890"
MULTICAST = "FF02:0000:0000:0000:0000:0000:0000:0001"
E7_RES = bytes.fromhex("1081000102880105FF017201E704000004A8")
D5_INF = bytes.fromhex("108100000EF0010EF0017301D50401028801")

A1_TRACE = (
    b"OK\r\n"
    b"EVENT 20 " + ME.encode() + b"\r\n"
    b"EPANDESC\r\n  Channel:3B\r\n  Channel Page:09\r\n  Pan ID:5678\r\n"
    b"  Addr:001D129012345678\r\n  LQI:B2\r\n  PairID:00ABCDEF\r\n"
    b"EVENT 22 " + ME.encode() + b"\r\n" + METER.encode() + b"\r\n"
    b"EVENT 25 " + METER.encode() + b"\r\n"
    b"EVENT 21 " + METER.encode() + b" 00\r\n"
    b"OK\r\n"
    b"ERXUDP "
    + METER.encode()
    + b" "
    + ME.encode()
    + b" 0E1A 0E1A 001D129012345678 1 0012 "
    + E7_RES.hex().upper().encode()
    + b"\r\n"
)


def parse_all(data: bytes, chunk: int | None = None) -> list[object]:
    parser = OutputParser()
    if chunk is None:
        return list(parser.feed(data))
    out: list[object] = []
    for i in range(0, len(data), chunk):
        out += parser.feed(data[i : i + chunk])
    return out


def test_bp35a1_trace() -> None:
    items = parse_all(A1_TRACE)
    assert items == [
        OkLine(),
        ModuleEvent(0x20, ME),
        PanDescriptor(0x3B, 0x09, 0x5678, "001D129012345678", 0xB2, "00ABCDEF"),
        ModuleEvent(0x22, ME),
        LinkLocalAddress(METER),
        ModuleEvent(0x25, METER),
        ModuleEvent(0x21, METER, None, 0x00),
        OkLine(),
        UdpReceived(METER, ME, 0x0E1A, 0x0E1A, "001D129012345678", 1, E7_RES),
    ]
    assert items[2].rssi == pytest.approx(0.275 * 0xB2 - 104.27)  # type: ignore[attr-defined]


def test_bp35c2_trace_with_side_echo_and_lqi() -> None:
    trace = (
        b"SKSCAN 2 FFFFFFFF 6 0 \r\nOK\r\n"
        b"EVENT 20 " + ME.encode() + b" 0\r\nEPANDESC\r\n  Channel:31\r\n  Channel Page:09\r\n"
        b"  Pan ID:B5FB\r\n  Addr:0011223344556677\r\n  LQI:DD\r\n  Side:0\r\n"
        b"  PairID:0194BFAD\r\n"
        b"EVENT 21 " + METER.encode() + b" 0 02\r\n"
        b"EVENT 25 " + METER.encode() + b" 0\r\n"
        b"ERXUDP " + METER.encode() + b" " + MULTICAST.encode() + b" 0E1A 0E1A 0011223344556677 "
        b"1 0 0012 " + D5_INF.hex().upper().encode() + b"\r\n"
        b"ERXUDP " + METER.encode() + b" " + ME.encode() + b" 0E1A 0E1A 0011223344556677 "
        b"C8 1 0 0012 " + E7_RES.hex().upper().encode() + b"\r\n"
    )
    items = parse_all(trace)
    assert items[0] == EchoLine("SKSCAN 2 FFFFFFFF 6 0 ")
    assert items[2] == ModuleEvent(0x20, ME, 0)
    assert items[3] == PanDescriptor(0x31, 9, 0xB5FB, "0011223344556677", 0xDD, "0194BFAD", 0)
    assert items[4] == ModuleEvent(0x21, METER, 0, 0x02)
    assert items[5] == ModuleEvent(0x25, METER, 0)
    assert items[6] == UdpReceived(
        METER, MULTICAST, 0x0E1A, 0x0E1A, "0011223344556677", 1, D5_INF, side=0
    )
    assert items[7] == UdpReceived(
        METER, ME, 0x0E1A, 0x0E1A, "0011223344556677", 1, E7_RES, side=0, lqi=0xC8
    )


def test_binary_data_may_contain_crlf_and_is_read_by_length() -> None:
    data = b"\x10\x81\r\n\x02\x88\x01\x05\xff\x01\x72\x01\xe7\x04\x00\x00\r\n"
    line = (
        b"ERXUDP "
        + METER.encode()
        + b" "
        + ME.encode()
        + b" 0E1A 0E1A 001D129012345678 1 "
        + f"{len(data):04X} ".encode()
        + data
        + b"\r\nOK\r\n"
    )
    for chunk in (None, 1, 3, 7):
        items = parse_all(line, chunk)
        assert items == [
            UdpReceived(METER, ME, 0x0E1A, 0x0E1A, "001D129012345678", 1, data),
            OkLine(),
        ]


def test_cr_only_lines_are_not_held_back() -> None:
    parser = OutputParser()
    assert parser.feed(b"OK 01\r") == [OkLine("01")]
    assert parser.feed(b"\nFAIL ER04\r\n") == [FailLine(4)]
    assert FailLine(4).meaning == "command not supported"


def test_echoed_secrets_are_masked() -> None:
    items = parse_all(b"SKSETRBID 0123456789ABCDEF0123456789ABCDEF\r\nSKSETPWD C PASSWORD1234\r\n")
    text = repr(items)
    assert "0123456789ABCDEF" not in text
    assert "PASSWORD1234" not in text
    assert all(isinstance(i, EchoLine) for i in items)


def test_info_version_register_lines() -> None:
    items = parse_all(
        b"EVER 1.2.10\r\nEAPPVER rev26e\r\nESREG 21\r\n"
        b"EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 8888 FFFE\r\n"
        b"EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 8888 0\r\n"
    )
    assert items == [
        VersionLine("EVER", "1.2.10"),
        VersionLine("EAPPVER", "rev26e"),
        RegisterValue("21"),
        InfoLine(METER, "001D129012345678", 0x21, 0x8888, 0xFFFE, None),
        InfoLine(METER, "001D129012345678", 0x21, 0x8888, None, 0),
    ]


def test_garbage_is_unknown_and_resynchronises() -> None:
    items = parse_all(
        b"\x00\xffnoise\r\nERXUDP broken header\r\nEVENT ZZ x\r\n" + b"X" * 2000 + b"\r\nOK\r\n"
    )
    assert items[-1] == OkLine()
    assert all(isinstance(i, UnknownLine) for i in items[:-1])
    assert all(len(i.raw) <= 120 for i in items[:-1])  # type: ignore[attr-defined]


@pytest.mark.parametrize("hex_data", [True, False])
@pytest.mark.parametrize(("side", "lqi"), [(None, None), (0, None), (1, 0x80)])
def test_erxudp_line_roundtrip(hex_data: bool, side: int | None, lqi: int | None) -> None:
    rx = UdpReceived(METER, ME, 0x0E1A, 0x0E1A, "001D129012345678", 1, E7_RES, side, lqi)
    line = format_erxudp(rx, hex_data=hex_data)
    assert parse_erxudp_line(line) == rx
    assert parse_erxudp_line(line[:-2]) == rx
    assert parse_all(line) == [rx]


def test_erxudp_errors_carry_offsets() -> None:
    good = format_erxudp(
        UdpReceived(METER, ME, 0x0E1A, 0x0E1A, "001D129012345678", 1, E7_RES), hex_data=True
    )
    with pytest.raises(SkstackProtocolError) as caught:
        parse_erxudp_line(good[:-6])
    assert caught.value.offset > 100
    with pytest.raises(SkstackProtocolError):
        parse_erxudp_line(good.replace(b"0E1A 0E1A", b"0E1A 0EXA"))
    with pytest.raises(SkstackProtocolError):
        parse_erxudp_line(b"EVENT 21 x")


def test_commands_are_exact_and_mask_secrets() -> None:
    rbid = Secret("0123456789ABCDEF0123456789ABCDEF")
    assert commands.sksetrbid(rbid).wire == b"SKSETRBID 0123456789ABCDEF0123456789ABCDEF\r\n"
    assert "0123456789" not in commands.sksetrbid(rbid).log_text
    pwd = commands.sksetpwd(Secret("0123456789AB"))
    assert pwd.wire == b"SKSETPWD C 0123456789AB\r\n"
    assert "0123456789AB" not in pwd.log_text + repr(pwd)
    assert commands.skscan(2, 0xFFFFFFFF, 6).wire == b"SKSCAN 2 FFFFFFFF 6\r\n"
    assert commands.skscan(2, 0xFFFFFFFF, 6, side=0).wire == b"SKSCAN 2 FFFFFFFF 6 0\r\n"
    get = bytes.fromhex("1081525305FF010288016201E700")
    assert commands.sksendto(1, METER, 0x0E1A, 1, get, side=0).wire == (
        f"SKSENDTO 1 {METER} 0E1A 1 0 000E ".encode() + get
    )
    assert commands.sksendto(1, METER, 0x0E1A, 1, get).wire.endswith(b" 000E " + get)
    assert commands.ropt().wire == b"ROPT\r"
    assert commands.wopt(1).wire == b"WOPT 01\r"
    assert commands.sksreg("s2", "3b").wire == b"SKSREG S2 3B\r\n"
    for bad in (
        lambda: commands.skscan(2, 0xFFFFFFFF, 15),
        lambda: commands.sksendto(1, METER, 0x0E1A, 1, b""),
        lambda: commands.sksetrbid(Secret("short")),
        lambda: commands.skll64("XYZ"),
        lambda: commands.skjoin("not-an-address"),
    ):
        with pytest.raises(UsageError):
            bad()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_total_on_random_bytes_and_chunking(noise: bytes, chunk: int) -> None:
    data = noise + A1_TRACE
    parse_all(data, chunk)  # never raises


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=40))
def test_chunking_invariance(chunk: int) -> None:
    assert parse_all(A1_TRACE, chunk) == parse_all(A1_TRACE)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, len(A1_TRACE) - 1), st.integers(0, 255)), max_size=8),
    st.integers(min_value=1, max_value=50),
)
def test_total_on_mutated_traces(flips: list[tuple[int, int]], chunk: int) -> None:
    data = bytearray(A1_TRACE)
    for index, value in flips:
        data[index] = value
    parse_all(bytes(data), chunk)
