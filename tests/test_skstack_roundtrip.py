"""SKSTACK round trips (hypothesis): what one side builds, the other side parses back to the
same values, in every dialect, however the bytes are split into reads."""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from routeb._redact import Secret
from routeb.skstack import commands
from routeb.skstack import module_output as out
from routeb.skstack.erxudp import format_erxudp, parse_erxudp_line
from routeb.skstack.events import (
    Dialect,
    EchoLine,
    FailLine,
    InfoLine,
    LinkLocalAddress,
    ModuleEvent,
    OkLine,
    PanDescriptor,
    RegisterValue,
    UdpReceived,
    VersionLine,
)
from routeb.skstack.module_commands import (
    AddNeighbourCommand,
    BareCommand,
    CommandParser,
    JoinCommand,
    Ll64Command,
    ParsedCommand,
    RegisterCommand,
    ScanCommand,
    SendToCommand,
    SetPassword,
    SetRouteBId,
    WriteOptCommand,
    WriteUartCommand,
)
from routeb.skstack.parser import OutputParser

DIALECTS = st.sampled_from(list(Dialect))
HEX = "0123456789ABCDEF"
ipv6 = st.binary(min_size=16, max_size=16).map(
    lambda raw: ":".join(raw[i : i + 2].hex().upper() for i in range(0, 16, 2))
)
mac = st.text(HEX, min_size=16, max_size=16)
word = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=16)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at the given positions (taken modulo its length)."""
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


# --- ERXUDP --------------------------------------------------------------------------------------


@st.composite
def udp_received(draw: st.DrawFn) -> UdpReceived:
    layout = draw(st.sampled_from(["a1", "c2", "c2-lqi"]))
    return UdpReceived(
        sender=draw(ipv6),
        destination=draw(ipv6),
        remote_port=draw(st.integers(0, 0xFFFF)),
        local_port=draw(st.integers(0, 0xFFFF)),
        sender_mac=draw(mac),
        secured=draw(st.integers(0, 1)),
        data=draw(
            st.one_of(
                st.binary(max_size=64),
                st.lists(st.sampled_from(b"\r\n\x00 0A"), max_size=32).map(bytes),
                st.binary(min_size=0x4C0, max_size=0x4D0),
            )
        ),
        side=None if layout == "a1" else draw(st.integers(0, 1)),
        lqi=draw(st.integers(0, 0xFF)) if layout == "c2-lqi" else None,
    )


@settings(max_examples=300, deadline=None)
@given(udp_received(), st.booleans(), cuts)
def test_erxudp_round_trip(rx: UdpReceived, hex_data: bool, splits: list[int]) -> None:
    line = format_erxudp(rx, hex_data=hex_data)
    assert parse_erxudp_line(line) == rx
    assert parse_erxudp_line(line[:-2]) == rx
    parser = OutputParser()
    items = [item for chunk in chunked(line + b"OK\r\n", splits) for item in parser.feed(chunk)]
    assert items == [rx, OkLine()]
    assert parser.buffered == 0


# --- module output: builders → host parser -------------------------------------------------------

Built = tuple[bytes, list[object]]


@st.composite
def module_output(draw: st.DrawFn, dialect: Dialect) -> Built:
    side = draw(st.integers(0, 1)) if dialect.has_side else None
    kind = draw(
        st.sampled_from(
            ["ok", "ok-cr", "fail", "event", "epandesc", "einfo", "ever", "esreg", "ll64", "udp"]
        )
    )
    if kind == "ok":
        text = draw(st.one_of(st.just(""), word))
        return out.ok(text), [OkLine(text)]
    if kind == "ok-cr":
        text = draw(st.sampled_from(["", "00", "01", "80"]))
        return out.ok(text, cr_only=True), [OkLine(text)]
    if kind == "fail":
        code = draw(st.integers(0, 99))
        return out.fail(code, cr_only=draw(st.booleans())), [FailLine(code)]
    if kind == "event":
        number = draw(st.integers(0, 0xFF))
        address = draw(ipv6)
        param = draw(st.one_of(st.none(), st.integers(0, 0xFF)))
        wire = out.event(number, address, dialect, side=side or 0, param=param)
        return wire, [ModuleEvent(number, address, side, param)]
    if kind == "epandesc":
        values = (
            draw(st.integers(0, 0xFF)),
            draw(st.integers(0, 0xFFFF)),
            draw(mac),
            draw(st.integers(0, 0xFF)),
            draw(st.text(HEX + "GHJKxyz", min_size=8, max_size=8)),
        )
        page = draw(st.integers(0, 0xFF))
        channel, pan_id, address, lqi, pair_id = values
        wire = out.epandesc(*values, dialect, side=side or 0, channel_page=page)
        return wire, [PanDescriptor(channel, page, pan_id, address, lqi, pair_id, side)]
    if kind == "einfo":
        address, module_mac = draw(ipv6), draw(mac)
        channel, pan_id = draw(st.integers(0, 0xFF)), draw(st.integers(0, 0xFFFF))
        wire = out.einfo(address, module_mac, channel, pan_id, dialect, side=side or 0)
        addr16 = None if dialect.has_side else 0xFFFE
        return wire, [InfoLine(address, module_mac, channel, pan_id, addr16, side)]
    if kind == "ever":
        version = draw(word)
        if draw(st.booleans()):
            return out.ever(version), [VersionLine("EVER", version)]
        return out.eappver(version), [VersionLine("EAPPVER", version)]
    if kind == "esreg":
        value = draw(st.text(HEX, min_size=1, max_size=8))
        return out.esreg(value), [RegisterValue(value)]
    if kind == "ll64":
        module_mac = draw(mac)
        return out.ll64_line(module_mac), [LinkLocalAddress(out.ll64_address(module_mac))]
    rx = draw(udp_received())
    rx = UdpReceived(
        rx.sender,
        rx.destination,
        rx.remote_port,
        rx.local_port,
        rx.sender_mac,
        rx.secured,
        rx.data,
        side,
        rx.lqi if dialect.has_side else None,
    )
    return out.erxudp(rx, hex_data=draw(st.booleans())), [rx]


@st.composite
def module_transcript(draw: st.DrawFn) -> Built:
    dialect = draw(DIALECTS)
    wire = b""
    expected: list[object] = []
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.integers(0, 5)) == 0:
            wire += b"\r\n"  # SKSENDTO's bare CRLF (§D.0): nothing
        chunk, items = draw(module_output(dialect))
        wire += chunk
        expected += items
    return wire, expected


@settings(max_examples=400, deadline=None)
@given(module_transcript(), cuts)
def test_module_output_round_trip_any_chunking(built: Built, splits: list[int]) -> None:
    wire, expected = built
    assert OutputParser().feed(wire) == expected
    parser = OutputParser()
    items = [item for chunk in chunked(wire, splits) for item in parser.feed(chunk)]
    assert items == expected
    bytewise = OutputParser()
    assert [item for i in range(len(wire)) for item in bytewise.feed(wire[i : i + 1])] == expected


# --- commands: host builders → module-side parser ------------------------------------------------

Pair = tuple[commands.Command, ParsedCommand]


def _pick(draw: st.DrawFn, dialect: Dialect) -> Pair:
    kind = draw(st.integers(0, 13))
    side = draw(st.integers(0, 1)) if dialect.has_side else None
    if kind == 0:
        name, build = draw(
            st.sampled_from(
                [
                    ("SKVER", commands.skver),
                    ("SKAPPVER", commands.skappver),
                    ("SKINFO", commands.skinfo),
                    ("SKRESET", commands.skreset),
                    ("SKTERM", commands.skterm),
                    ("SKREJOIN", commands.skrejoin),
                    ("ROPT", commands.ropt),
                    ("RUART", commands.ruart),
                ]
            )
        )
        build_: Callable[[], commands.Command] = build
        return build_(), BareCommand(name)
    if kind == 1:
        register, value = draw(
            st.sampled_from(
                [
                    ("S2", st.integers(0x21, 0x3C)),
                    ("S02", st.integers(0x21, 0x3C)),
                    ("S3", st.integers(0, 0xFFFF)),
                    ("S16", st.integers(0x3C, 0xFFFFFFFF)),
                    ("SFE", st.integers(0, 1)),
                    ("SA2", st.integers(0, 1)),
                    ("s17", st.integers(0, 1)),
                ]
            )
        )
        number = draw(value)
        command = commands.sksreg(register, number)
        printed = command.log_text.split(" ")[-1]
        assert int(printed, 16) == number
        normal = commands.normalise_register(register)
        assert normal is not None
        return command, RegisterCommand(normal, printed)
    if kind == 2:
        register = draw(st.sampled_from(["S1", "S02", "S0A", "SFD", "SFB"]))
        normal = commands.normalise_register(register)
        assert normal is not None
        return commands.sksreg(register), RegisterCommand(normal)
    if kind == 3:
        password = draw(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=32)
        )
        return commands.sksetpwd(Secret(password)), SetPassword(Secret(password))
    if kind == 4:
        rbid = draw(
            st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=32, max_size=32)
        )
        return commands.sksetrbid(Secret(rbid)), SetRouteBId(Secret(rbid))
    if kind == 5:
        mode = draw(st.sampled_from([0, 2, 3]))
        mask = draw(st.integers(0, 0xFFFFFFFF))
        duration = draw(st.integers(0, 14))
        command = commands.skscan(mode, mask, duration, side=side, dialect=dialect)
        return command, ScanCommand(mode, mask, duration, side)
    if kind == 6:
        module_mac = draw(mac)
        return commands.skll64(module_mac), Ll64Command(module_mac)
    if kind == 7:
        address = draw(ipv6)
        compressed = draw(st.booleans())
        text = str(ipaddress.IPv6Address(address)) if compressed else address
        return commands.skjoin(text), JoinCommand(address)
    if kind == 8:
        address, module_mac = draw(ipv6), draw(mac)
        return commands.skaddnbr(address, module_mac), AddNeighbourCommand(address, module_mac)
    if kind == 9:
        return commands.wopt(mode := draw(st.integers(0, 1))), WriteOptCommand(mode)
    if kind == 10:
        setting = draw(st.integers(0, 6)) | draw(st.sampled_from([0, 0x80]))
        return commands.wuart(setting), WriteUartCommand(setting)
    handle = draw(st.integers(1, 6))
    address = draw(ipv6)
    port = draw(st.integers(0, 0xFFFF))
    sec = draw(st.integers(0, 2))
    data = draw(
        st.one_of(
            st.binary(min_size=1, max_size=64),
            st.lists(st.sampled_from(b"\r\n SKVER"), min_size=1, max_size=40).map(bytes),
            st.binary(min_size=0x4C0, max_size=0x4D0),
        )
    )
    command = commands.sksendto(handle, address, port, sec, data, side=side, dialect=dialect)
    return command, SendToCommand(handle, address, port, sec, side, data)


@st.composite
def host_session(draw: st.DrawFn) -> tuple[Dialect, bytes, list[ParsedCommand]]:
    dialect = draw(DIALECTS)
    wire = b""
    expected: list[ParsedCommand] = []
    for _ in range(draw(st.integers(1, 10))):
        command, parsed = _pick(draw, dialect)
        wire += command.wire
        if command.name == "SKSENDTO" and draw(st.booleans()):
            wire += b"\r\n"  # NODE-WRB's extra CRLF after the payload (§D.1)
        expected.append(parsed)
    return dialect, wire, expected


@settings(max_examples=400, deadline=None)
@given(host_session(), cuts)
def test_commands_round_trip_any_chunking(
    session: tuple[Dialect, bytes, list[ParsedCommand]], splits: list[int]
) -> None:
    dialect, wire, expected = session
    assert CommandParser(dialect).feed(wire) == expected
    parser = CommandParser(dialect)
    assert [c for chunk in chunked(wire, splits) for c in parser.feed(chunk)] == expected
    bytewise = CommandParser(dialect)
    assert [c for i in range(len(wire)) for c in bytewise.feed(wire[i : i + 1])] == expected
    assert parser.buffered == 0


@settings(max_examples=200, deadline=None)
@given(host_session())
def test_echoes_parse_as_masked_echo_lines(
    session: tuple[Dialect, bytes, list[ParsedCommand]],
) -> None:
    dialect, wire, expected = session
    parsed = CommandParser(dialect).feed(wire)
    assert parsed == expected
    echoes = b"".join(out.echo(command) for command in parsed)
    seen = OutputParser().feed(echoes)
    assert len(seen) == len(parsed)
    assert all(isinstance(item, EchoLine) for item in seen)
    for command, item in zip(parsed, seen, strict=True):
        assert isinstance(item, EchoLine)
        if isinstance(command, SetPassword):
            assert item.text == f"SKSETPWD {len(command.password):X} ********"
        elif isinstance(command, SetRouteBId):
            assert item.text == "SKSETRBID ********"
        else:
            assert item.text == command.line
