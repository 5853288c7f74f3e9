"""SKSTACK golden lines: every example and flow quoted in protocol.md §D.0–§D.5 and the real
meter frames of §F, in both directions (host parser / command builders, module-side command
parser / output builders), cross-checked against momonga's parsers where it has one."""

from __future__ import annotations

import pytest
from momonga.momonga_device import BP35A1Strategy, BP35C2Strategy, parse_sk_line
from momonga.momonga_response import SkInfoResponse, SkScanResponse

from routeb._redact import Secret
from routeb.errors import SkstackProtocolError, UsageError
from routeb.skstack import commands
from routeb.skstack import module_output as out
from routeb.skstack.erxudp import format_erxudp, parse_erxudp_line
from routeb.skstack.events import (
    Dialect,
    EchoLine,
    EventNumber,
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
from routeb.skstack.module_commands import (
    AddNeighbourCommand,
    BadCommand,
    BareCommand,
    CommandParser,
    JoinCommand,
    Ll64Command,
    RegisterCommand,
    ScanCommand,
    SendToCommand,
    SetPassword,
    SetRouteBId,
    WriteOptCommand,
)
from routeb.skstack.parser import OutputParser

A1 = Dialect.BP35A1
C2 = Dialect.BP35C2
RL = Dialect.RL7023

# §D.1 SKLL64 / SKINFO example addresses.
MAC = "001D129012345678"
LL = "FE80:0000:0000:0000:021D:1290:1234:5678"
ME = "FE80:0000:0000:0000:021D:1290:0003:C890"
METER_MAC = "0011223344556677"
METER = "FE80:0000:0000:0000:0211:2233:4455:6677"
MULTICAST = "FF02:0000:0000:0000:0000:0000:0000:0001"

# §D.5 payloads (hex as printed in the traces).
A1_E7_RES = "1081000102880105FF017201E704000004A8"
C2_D5_INF = "108100000EF0010EF0017301D50401028801"
C2_E7_RES = "1081525302880105FF017201E704000000E4"
GET_E7 = bytes.fromhex("1081525305FF010288016201E700")  # §F "Get request E7", 14 bytes


def parse(data: bytes) -> list[object]:
    return list(OutputParser().feed(data))


def parse_bytewise(data: bytes) -> list[object]:
    parser = OutputParser()
    items: list[object] = []
    for i in range(len(data)):
        items += parser.feed(data[i : i + 1])
    return items


# --- §D.0 line discipline ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"OK\r\n", OkLine()),
        (b"OK 01\r", OkLine("01")),  # ROPT answer, CR only
        (b"OK 00\r", OkLine("00")),
        (b"OK 80\r", OkLine("80")),  # RUART on RS-WSUHA-P
        (b"OK\r", OkLine()),  # WOPT answer
        (b"FAIL ER04\r\n", FailLine(4)),
        (b"FAIL ER05\r\n", FailLine(5)),
        (b"FAIL ER06\r\n", FailLine(6)),
        (b"FAIL ER09\r\n", FailLine(9)),
        (b"FAIL ER10\r\n", FailLine(10)),
        (b"FAIL ER04\r", FailLine(4)),  # ROPT unsupported (MOMONGA README)
    ],
)
def test_status_lines(line: bytes, expected: object) -> None:
    assert parse(line) == [expected]


def test_fail_meanings_follow_d0() -> None:
    assert FailLine(4).meaning == "command not supported"
    assert FailLine(5).meaning == "wrong number of arguments or invalid argument"
    assert FailLine(6).meaning == "argument out of range or invalid format"
    assert FailLine(9).meaning == "UART input error"
    assert FailLine(10).meaning == "command accepted but execution failed"
    assert FailLine(2).meaning == "reserved error code"


def test_cr_only_answer_is_emitted_without_waiting() -> None:
    parser = OutputParser()
    assert parser.feed(b"OK 01\r") == [OkLine("01")]
    assert parser.buffered == 0
    assert parser.feed(b"\n") == []  # a late LF is swallowed, not a blank line event
    assert parser.feed(b"OK\r") == [OkLine()]
    assert parser.feed(b"EVENT 22 " + LL.encode() + b"\r\n") == [ModuleEvent(0x22, LL)]


def test_overlong_lines_are_unknown_even_when_they_look_valid() -> None:
    long_ok = b"OK " + b"A" * 600
    expected = [UnknownLine(long_ok[:120]), OkLine()]
    assert parse(long_ok + b"\r\nOK\r\n") == expected
    assert parse_bytewise(long_ok + b"\r\nOK\r\n") == expected
    assert parse(b"OK " + b"A" * 509 + b"\r\n") == [OkLine("A" * 509)]  # 512: the limit


def test_sksendto_bare_crlf_is_skipped() -> None:
    trace = b"\r\nEVENT 21 " + LL.encode() + b" 00\r\nOK\r\n"
    assert parse(trace) == [ModuleEvent(0x21, LL, None, 0), OkLine()]


# --- §D.1 commands (host builders → exact bytes; module parser → typed) --------------------------


@pytest.mark.parametrize(
    ("command", "wire"),
    [
        (commands.skver(), b"SKVER\r\n"),
        (commands.skappver(), b"SKAPPVER\r\n"),
        (commands.skinfo(), b"SKINFO\r\n"),
        (commands.skreset(), b"SKRESET\r\n"),
        (commands.skterm(), b"SKTERM\r\n"),
        (commands.skrejoin(), b"SKREJOIN\r\n"),
        (commands.sksreg("SFE", "0"), b"SKSREG SFE 0\r\n"),
        (commands.sksreg("S2", "21"), b"SKSREG S2 21\r\n"),
        (commands.sksreg("S02", "21"), b"SKSREG S02 21\r\n"),
        (commands.sksreg("S2", 0x3B), b"SKSREG S2 3B\r\n"),
        (commands.sksreg("S3", 0x00B5), b"SKSREG S3 00B5\r\n"),
        (commands.sksreg("SA2", "1"), b"SKSREG SA2 1\r\n"),
        (commands.sksreg("S16"), b"SKSREG S16\r\n"),
        (commands.sksetpwd(Secret("0123456789AB")), b"SKSETPWD C 0123456789AB\r\n"),
        (commands.sksetpwd(Secret("000000000000")), b"SKSETPWD C 000000000000\r\n"),
        (commands.sksetrbid(Secret("0" * 32)), b"SKSETRBID " + b"0" * 32 + b"\r\n"),
        (commands.skscan(2, 0xFFFFFFFF, 6), b"SKSCAN 2 FFFFFFFF 6\r\n"),
        (commands.skscan(2, 0xFFFFFFFF, 6, side=0), b"SKSCAN 2 FFFFFFFF 6 0\r\n"),
        (commands.skscan(2, 0xFFFFFFFF, 6, dialect=A1), b"SKSCAN 2 FFFFFFFF 6\r\n"),
        (commands.skscan(2, 0xFFFFFFFF, 6, dialect=RL), b"SKSCAN 2 FFFFFFFF 6\r\n"),
        (commands.skscan(2, 0xFFFFFFFF, 6, dialect=C2), b"SKSCAN 2 FFFFFFFF 6 0\r\n"),
        (commands.skscan(0, 0x00000001, 14), b"SKSCAN 0 00000001 E\r\n"),
        (commands.skll64(MAC), b"SKLL64 001D129012345678\r\n"),
        (commands.skll64(MAC.lower()), b"SKLL64 001D129012345678\r\n"),
        (commands.skjoin(LL), b"SKJOIN " + LL.encode() + b"\r\n"),
        (commands.skjoin("fe80::21d:1290:1234:5678"), b"SKJOIN " + LL.encode() + b"\r\n"),
        (commands.skaddnbr(LL, MAC), f"SKADDNBR {LL} {MAC}\r\n".encode()),
        (commands.ropt(), b"ROPT\r"),
        (commands.wopt(1), b"WOPT 01\r"),
        (commands.wopt(0), b"WOPT 00\r"),
        (commands.ruart(), b"RUART\r"),
        (commands.wuart(0x80), b"WUART 80\r"),
    ],
)
def test_command_wire_bytes(command: commands.Command, wire: bytes) -> None:
    assert command.wire == wire


def test_sksendto_wire_per_dialect() -> None:
    # §D.1: QIITA-C2 `SKSENDTO 1 <addr> 0E1A 1 0 000E <14 bytes>`; AKLOG `… 0E1A 1 000E <bin>`.
    c2 = commands.sksendto(1, METER, 0x0E1A, 1, GET_E7, dialect=C2)
    assert c2.wire == f"SKSENDTO 1 {METER} 0E1A 1 0 000E ".encode() + GET_E7
    a1 = commands.sksendto(1, METER, 0x0E1A, 1, GET_E7, dialect=A1)
    assert a1.wire == f"SKSENDTO 1 {METER} 0E1A 1 000E ".encode() + GET_E7
    assert commands.sksendto(1, METER, 0x0E1A, 1, GET_E7).wire == a1.wire
    assert commands.sksendto(1, METER, 0x0E1A, 1, GET_E7, side=1).wire == (
        f"SKSENDTO 1 {METER} 0E1A 1 1 000E ".encode() + GET_E7
    )
    assert not c2.wire.endswith(b"\r\n")  # no line end after the payload (§D.1)
    assert a1.log_text == f"SKSENDTO 1 {METER} 0E1A 1 000E " + GET_E7.hex().upper()


def test_secrets_never_reach_log_text_or_repr() -> None:
    rbid = "00112233445566778899AABBCCDDEEFF"
    password = "AbCdEfGh1234"
    for command in (commands.sksetrbid(Secret(rbid)), commands.sksetpwd(Secret(password))):
        visible = command.log_text + repr(command) + str(command)
        assert rbid not in visible
        assert password not in visible
        assert "********" in command.log_text
    assert commands.sksetpwd(Secret(password)).log_text == "SKSETPWD C ********"


@pytest.mark.parametrize(
    "build",
    [
        lambda: commands.skscan(1, 0xFFFFFFFF, 6),
        lambda: commands.skscan(2, 0x1_0000_0000, 6),
        lambda: commands.skscan(2, 0xFFFFFFFF, 15),
        lambda: commands.skscan(2, 0xFFFFFFFF, -1),
        lambda: commands.skscan(2, 0xFFFFFFFF, 6, side=2),
        lambda: commands.skscan(2, 0xFFFFFFFF, 6, side=0, dialect=A1),
        lambda: commands.sksreg("S2", "20"),  # channel 0x21..0x3C (§D.3)
        lambda: commands.sksreg("S2", 0x3D),
        lambda: commands.sksreg("S3", 0x10000),
        lambda: commands.sksreg("S16", "3B"),  # lifetime ≥ 0x3C
        lambda: commands.sksreg("SFE", "2"),
        lambda: commands.sksreg("X2", "1"),
        lambda: commands.sksreg("S2", "GG"),
        lambda: commands.sksreg("SA2", "123456789"),
        lambda: commands.sksetrbid(Secret("0" * 31)),
        lambda: commands.sksetrbid(Secret("0" * 33)),
        lambda: commands.sksetrbid(Secret("0" * 31 + " ")),
        lambda: commands.sksetrbid(Secret("0" * 31 + "\u00e9")),
        lambda: commands.sksetpwd(Secret("")),
        lambda: commands.sksetpwd(Secret("x" * 33)),
        lambda: commands.sksetpwd(Secret("with space")),
        lambda: commands.skll64("001D12901234567"),
        lambda: commands.skll64("001D12901234567G"),
        lambda: commands.skjoin("not-an-address"),
        lambda: commands.skjoin("fe80::1%eth0"),
        lambda: commands.skjoin("192.168.0.1"),
        lambda: commands.skaddnbr(LL, "XYZ"),
        lambda: commands.sksendto(0, METER, 0x0E1A, 1, GET_E7),
        lambda: commands.sksendto(7, METER, 0x0E1A, 1, GET_E7),
        lambda: commands.sksendto(1, METER, 0x10000, 1, GET_E7),
        lambda: commands.sksendto(1, METER, 0x0E1A, 3, GET_E7),
        lambda: commands.sksendto(1, METER, 0x0E1A, 1, b""),
        lambda: commands.sksendto(1, METER, 0x0E1A, 1, b"x" * 0x4D1),
        lambda: commands.sksendto(1, METER, 0x0E1A, 1, GET_E7, side=0, dialect=RL),
        lambda: commands.wopt(2),
        lambda: commands.wuart(0x07),
        lambda: commands.wuart(0x100),
    ],
)
def test_command_builders_reject_what_the_protocol_forbids(build: object) -> None:
    with pytest.raises(UsageError):
        build()  # type: ignore[operator]


def test_sendto_limits_are_inclusive() -> None:
    assert commands.sksendto(6, METER, 0, 2, b"x" * 0x4D0).wire.startswith(
        f"SKSENDTO 6 {METER} 0000 2 04D0 ".encode()
    )
    assert commands.sksreg("S2", 0x21).wire == b"SKSREG S2 21\r\n"
    assert commands.sksreg("S2", 0x3C).wire == b"SKSREG S2 3C\r\n"
    assert commands.sksetpwd(Secret("x" * 32)).wire.startswith(b"SKSETPWD 20 ")


@pytest.mark.parametrize(
    ("dialect", "wire", "expected"),
    [
        (A1, b"SKVER\r\n", BareCommand("SKVER")),
        (A1, b"ROPT\r", BareCommand("ROPT")),
        (A1, b"RUART\r", BareCommand("RUART")),
        (A1, b"WOPT 01\r", WriteOptCommand(1)),
        (A1, b"SKSREG SFE 0\r\n", RegisterCommand("SFE", "0")),
        (A1, b"SKSREG S2 21\r\n", RegisterCommand("S02", "21")),
        (A1, b"SKSREG S02 21\r\n", RegisterCommand("S02", "21")),
        (A1, b"SKSREG S3 8888\r\n", RegisterCommand("S03", "8888")),
        (A1, b"SKSREG S16\r\n", RegisterCommand("S16")),
        (A1, b"SKSETPWD C 0123456789AB\r\n", SetPassword(Secret("0123456789AB"))),
        (A1, b"SKSETRBID " + b"0" * 32 + b"\r\n", SetRouteBId(Secret("0" * 32))),
        (A1, b"SKSCAN 2 FFFFFFFF 6\r\n", ScanCommand(2, 0xFFFFFFFF, 6)),
        (C2, b"SKSCAN 2 FFFFFFFF 6 0\r\n", ScanCommand(2, 0xFFFFFFFF, 6, 0)),
        (C2, b"SKSCAN 2 FFFFFFFF 6\r\n", ScanCommand(2, 0xFFFFFFFF, 6)),
        (A1, b"SKLL64 001D129012345678\r\n", Ll64Command(MAC)),
        (A1, b"SKJOIN " + LL.encode() + b"\r\n", JoinCommand(LL)),
        (A1, f"SKADDNBR {LL} {MAC}\r\n".encode(), AddNeighbourCommand(LL, MAC)),
        (
            C2,
            f"SKSENDTO 1 {METER} 0E1A 1 0 000E ".encode() + GET_E7,
            SendToCommand(1, METER, 0x0E1A, 1, 0, GET_E7),
        ),
        (
            A1,
            f"SKSENDTO 1 {METER} 0E1A 1 000E ".encode() + GET_E7,
            SendToCommand(1, METER, 0x0E1A, 1, None, GET_E7),
        ),
        (
            # NODE-WRB appends CRLF after the payload: harmless (§D.1).
            RL,
            f"SKSENDTO 1 {METER} 0E1A 1 000E ".encode() + GET_E7 + b"\r\n",
            SendToCommand(1, METER, 0x0E1A, 1, None, GET_E7),
        ),
    ],
)
def test_module_side_parses_golden_commands(
    dialect: Dialect, wire: bytes, expected: object
) -> None:
    assert CommandParser(dialect).feed(wire) == [expected]
    parser = CommandParser(dialect)
    bytewise: list[object] = []
    for i in range(len(wire)):
        bytewise += parser.feed(wire[i : i + 1])
    assert bytewise == [expected]


@pytest.mark.parametrize(
    ("dialect", "wire", "code"),
    [
        (A1, b"SKSCAN 2 FFFFFFFF 6 0\r\n", 5),  # BP35A1: the 4th SKSCAN argument is ER05
        (C2, b"SKSCAN 2 FFFFFFFF 6 0 0\r\n", 5),
        (A1, b"SKSCAN 2 FFFFFFFF F\r\n", 6),  # DURATION 0..14
        (A1, b"SKSCAN 1 FFFFFFFF 6\r\n", 6),
        (A1, b"SKSCAN 2 FFFFFFF 6\r\n", 6),
        (C2, b"SKSCAN 2 FFFFFFFF 6 2\r\n", 6),
        (A1, b"SKFOO\r\n", 4),
        (A1, b"HELLO WORLD\r\n", 4),
        (A1, b"\xff\xfe\r\n", 4),
        (A1, b"SKVER 1\r\n", 5),
        (A1, b"SKSREG\r\n", 5),
        (A1, b"SKSREG S2 20\r\n", 6),  # channel out of 0x21..0x3C
        (A1, b"SKSREG S3 10000\r\n", 6),
        (A1, b"SKSREG S16 3B\r\n", 6),
        (A1, b"SKSREG Q2 1\r\n", 6),
        (A1, b"SKSETPWD C 0123456789A\r\n", 6),  # LEN does not match
        (A1, b"SKSETPWD 21 " + b"x" * 33 + b"\r\n", 6),
        (A1, b"SKSETPWD C\r\n", 5),
        (A1, b"SKSETRBID 0123\r\n", 6),
        (A1, b"SKLL64 XYZ\r\n", 6),
        (A1, b"SKJOIN nowhere\r\n", 6),
        (A1, b"WOPT 02\r", 6),
        (A1, b"WOPT\r", 5),
        (A1, b"X" * 600 + b"\r\n", 9),
        (A1, f"SKSENDTO 7 {METER} 0E1A 1 0001 x".encode(), 6),  # handle 1..6
        (A1, f"SKSENDTO 1 {METER} 0E1A 3 0001 x".encode(), 6),  # SEC 0..2
        (A1, f"SKSENDTO 1 {METER} E1A 1 0001 x".encode(), 6),
        (A1, b"SKSENDTO 1 nowhere 0E1A 1 0001 x", 6),
        (C2, f"SKSENDTO 1 {METER} 0E1A 1 2 0001 x".encode(), 6),
        (A1, f"SKSENDTO 1 {METER} 0E1A 1 0000 \r\n".encode(), 6),  # DATALEN 1..04D0
        (A1, f"SKSENDTO 1 {METER} 0E1A 1 04D1 \r\n".encode(), 6),
        (A1, f"SKSENDTO 1 {METER} 0E1A\r\n".encode(), 5),
        (A1, b"SKSENDTO\r\n", 5),
    ],
)
def test_module_side_rejects_with_the_modules_fail_code(
    dialect: Dialect, wire: bytes, code: int
) -> None:
    parsed = CommandParser(dialect).feed(wire)
    assert len(parsed) == 1
    assert isinstance(parsed[0], BadCommand)
    assert parsed[0].code == code


def test_dialect_mismatched_sendto_keeps_the_stream_in_step() -> None:
    # A BP35C2 header (with SIDE) sent to a BP35A1 and the reverse: ER05, the payload (which
    # contains a line end) is skipped, and the next command is still understood.
    payload = b"\x10\x81\r\nSKVER\r\n"
    c2_style = f"SKSENDTO 1 {METER} 0E1A 1 0 {len(payload):04X} ".encode() + payload
    a1_style = f"SKSENDTO 1 {METER} 0E1A 1 {len(payload):04X} ".encode() + payload
    for dialect, wire in ((A1, c2_style), (C2, a1_style)):
        parsed = CommandParser(dialect).feed(wire + b"SKINFO\r\n")
        assert [type(p) for p in parsed] == [BadCommand, BareCommand]
        assert isinstance(parsed[0], BadCommand)
        assert parsed[0].code == 5
        assert parsed[1] == BareCommand("SKINFO")


def test_module_side_secret_commands_hide_their_values() -> None:
    parsed = CommandParser(A1).feed(
        b"SKSETPWD C 0123456789AB\r\nSKSETRBID 00112233445566778899AABBCCDDEEFF\r\n"
    )
    text = repr(parsed) + " ".join(p.log_text for p in parsed)
    assert "0123456789AB" not in text
    assert "00112233445566778899" not in text
    assert isinstance(parsed[0], SetPassword)
    assert parsed[0].password.reveal() == "0123456789AB"
    assert parsed[0].line == "SKSETPWD C 0123456789AB"  # exact, for the echo


def test_cr_only_answers_follow_the_command_name() -> None:
    parsed = CommandParser(A1).feed(b"ROPT\rWOPT 05\rSKVER\r\n")
    assert [p.cr_only for p in parsed] == [True, True, False]


# --- §D.1 output lines (module builders → host parser) -------------------------------------------


def test_versions_registers_and_info() -> None:
    wire = (
        out.ever("1.2.10")
        + out.ever("1.5.2")
        + out.eappver("rev26e")
        + out.esreg("21")
        + out.einfo(LL, MAC, 0x21, 0x8888, A1)
        + out.einfo(LL, MAC, 0x21, 0x8888, C2)
        + out.einfo(LL, MAC, 0x21, 0xFFFF, C2)
    )
    assert wire == (
        b"EVER 1.2.10\r\nEVER 1.5.2\r\nEAPPVER rev26e\r\nESREG 21\r\n"
        b"EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 8888 FFFE\r\n"
        b"EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 8888 0\r\n"
        b"EINFO FE80:0000:0000:0000:021D:1290:1234:5678 001D129012345678 21 FFFF 0\r\n"
    )
    assert parse(wire) == [
        VersionLine("EVER", "1.2.10"),
        VersionLine("EVER", "1.5.2"),
        VersionLine("EAPPVER", "rev26e"),
        RegisterValue("21"),
        InfoLine(LL, MAC, 0x21, 0x8888, 0xFFFE, None),
        InfoLine(LL, MAC, 0x21, 0x8888, None, 0),
        InfoLine(LL, MAC, 0x21, 0xFFFF, None, 0),
    ]


def test_einfo_is_what_momonga_reads() -> None:
    # MOMONGA tells BP35A1 (last field 0xFFFE) from BP35C2 (SIDE < 2) by EINFO (§D.1).
    a1 = SkInfoResponse([out.einfo(LL, MAC, 0x21, 0x8888, A1).decode().strip(), "OK"])
    c2 = SkInfoResponse([out.einfo(LL, MAC, 0x3B, 0xB5FB, C2).decode().strip(), "OK"])
    assert (a1.ip6_addr, a1.mac_addr.hex().upper(), a1.channel, a1.side) == (LL, MAC, 0x21, 0xFFFE)
    assert (c2.channel, c2.pan_id, c2.side) == (0x3B, bytes.fromhex("B5FB"), 0)


def test_ll64_address_example() -> None:
    # §D.1: `SKLL64 001D129012345678` → `FE80:0000:0000:0000:021D:1290:1234:5678`.
    assert out.ll64_address(MAC) == LL
    assert out.ll64_address("021D129012345678") == "FE80:0000:0000:0000:001D:1290:1234:5678"
    assert out.ll64_line(MAC) == LL.encode() + b"\r\n"
    assert parse(out.ll64_line(MAC)) == [LinkLocalAddress(LL)]
    with pytest.raises(UsageError):
        out.ll64_address("XYZ")


def test_epandesc_blocks_from_d1() -> None:
    a1 = out.epandesc(0x21, 0x8888, "12345678ABCDEF01", 0xE1, "AABBCCDD", A1)
    assert a1 == (
        b"EPANDESC\r\n  Channel:21\r\n  Channel Page:09\r\n  Pan ID:8888\r\n"
        b"  Addr:12345678ABCDEF01\r\n  LQI:E1\r\n  PairID:AABBCCDD\r\n"
    )
    c2 = out.epandesc(0x21, 0x8888, "12345678ABCDEF01", 0xE1, "AABBCCDD", C2)
    assert c2 == a1.replace(b"  PairID", b"  Side:0\r\n  PairID")
    expected = PanDescriptor(0x21, 9, 0x8888, "12345678ABCDEF01", 0xE1, "AABBCCDD")
    assert parse(a1) == [expected]
    descriptor = parse(c2)[0]
    assert descriptor == PanDescriptor(0x21, 9, 0x8888, "12345678ABCDEF01", 0xE1, "AABBCCDD", 0)
    assert isinstance(descriptor, PanDescriptor)
    assert descriptor.rssi == pytest.approx(0.275 * 0xE1 - 104.27)
    assert "AABBCCDD" not in repr(descriptor)  # the pairing ID stays out of reprs
    scan = SkScanResponse(
        ["OK", f"EVENT 20 {LL} 0", *c2.decode().split("\r\n")[:-1], f"EVENT 22 {LL} 0"],
        BP35C2Strategy().decode_scan_side,
    )
    assert (scan.channel, scan.pan_id, scan.lqi, scan.side) == (0x21, b"\x88\x88", 0xE1, 0)
    assert scan.pair_id == bytes.fromhex("AABBCCDD")


def test_epandesc_tolerates_field_order_and_unknown_fields() -> None:
    block = (
        b"EPANDESC\r\n  PairID:AABBCCDD\r\n  LQI:E1\r\n  Future:1\r\n  Side:1\r\n  Addr:"
        b"12345678ABCDEF01\r\n  Pan ID: 8888\r\n  Channel Page:09\r\n  Channel:21\r\n"
    )
    assert parse(block) == [PanDescriptor(0x21, 9, 0x8888, "12345678ABCDEF01", 0xE1, "AABBCCDD", 1)]


def test_epandesc_cut_short_is_an_unknown_line_then_parsing_goes_on() -> None:
    block = b"EPANDESC\r\n  Channel:21\r\n  Channel Page:09\r\n  Pan ID:8888\r\n"
    items = parse(block + b"EVENT 22 " + LL.encode() + b"\r\n")
    assert len(items) == 2
    assert isinstance(items[0], UnknownLine)
    assert items[0].raw.startswith(b"EPANDESC")
    assert items[1] == ModuleEvent(0x22, LL)
    bad = parse(
        block.replace(b"8888", b"88G8") + b"  Addr:12345678ABCDEF01\r\n  LQI:E1\r\n"
        b"  PairID:AABBCCDD\r\n"
    )
    assert len(bad) == 1
    assert isinstance(bad[0], UnknownLine)
    assert b"AABBCCDD" not in bad[0].raw


# --- §D.2 events ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"EVENT 21 {LL} 00", ModuleEvent(0x21, LL, None, 0x00)),  # BP35A1
        (f"EVENT 21 {LL} 0 00", ModuleEvent(0x21, LL, 0, 0x00)),  # BP35C2
        (f"EVENT 21 {LL} 0 02", ModuleEvent(0x21, LL, 0, 0x02)),
        (f"EVENT 21 {LL} 01", ModuleEvent(0x21, LL, None, 0x01)),
        (f"EVENT 25 {LL} 0", ModuleEvent(0x25, LL, 0)),
        (f"EVENT 25 {LL}", ModuleEvent(0x25, LL)),
        (f"EVENT 02 {LL} 0", ModuleEvent(0x02, LL, 0)),
        (f"EVENT 20 {LL} 1", ModuleEvent(0x20, LL, 1)),
        (f"EVENT 32 {LL}", ModuleEvent(EventNumber.TX_LIMIT_ACTIVE, LL)),
        ("EVENT C0", ModuleEvent(0xC0, "")),
    ],
)
def test_event_lines(line: str, expected: ModuleEvent) -> None:
    assert parse(line.encode() + b"\r\n") == [expected]


def test_event_builder_per_dialect_matches_momonga() -> None:
    assert out.event(0x21, LL, A1, param=0) == f"EVENT 21 {LL} 00\r\n".encode()
    assert out.event(0x21, LL, C2, param=0) == f"EVENT 21 {LL} 0 00\r\n".encode()
    assert out.event(0x25, LL, C2) == f"EVENT 25 {LL} 0\r\n".encode()
    assert out.event(0x25, LL, RL) == f"EVENT 25 {LL}\r\n".encode()
    assert out.event(0xC0, "", A1) == b"EVENT C0\r\n"
    assert out.event(0x21, "fe80::21d:1290:1234:5678", A1, param=2) == (
        f"EVENT 21 {LL} 02\r\n".encode()
    )
    for dialect, strategy in ((A1, BP35A1Strategy()), (C2, BP35C2Strategy())):
        for number, param in ((0x21, 0x02), (0x25, None), (0x29, None)):
            line = out.event(number, LL, dialect, param=param).decode().rstrip()
            theirs = parse_sk_line(line, strategy)
            ours = parse(line.encode() + b"\r\n")[0]
            assert isinstance(ours, ModuleEvent)
            assert theirs is not None
            assert (theirs.num, theirs.src_addr, theirs.side, theirs.param) == (  # type: ignore[union-attr]
                ours.number,
                ours.address,
                ours.side,
                ours.param,
            )


@pytest.mark.parametrize(
    "line",
    [
        b"EVENT",
        b"EVENT 2",
        b"EVENT ZZ " + LL.encode(),
        b"EVENT 21 nowhere 00",
        b"EVENT 21 " + LL.encode() + b" 000",
        b"EVENT 21 " + LL.encode() + b" 2 00",
        b"EVENT 21 " + LL.encode() + b" 0 00 00",
        b"EVENT 21",
        b"FAIL ER4",
        b"FAIL",
        b"EVER",
        b"EINFO 1 2 3",
        b"  Channel:21",  # an EPANDESC field outside a block
        b"ERXUDP",
    ],
)
def test_malformed_lines_are_unknown(line: bytes) -> None:
    assert parse(line + b"\r\n") == [UnknownLine(line)]


# --- §D.4 ERXUDP and §D.5 flows ------------------------------------------------------------------


def _erxudp(*fields: str, data: bytes) -> bytes:
    return ("ERXUDP " + " ".join(fields) + " ").encode() + data + b"\r\n"


# The §D.5 flows themselves are recorded transcripts: tests/test_skstack_transcripts.py.


def test_the_host_commands_of_the_c2_flow_parse_on_the_module_side() -> None:
    host = (
        commands.sksreg("SFE", "0").wire
        + commands.sksetrbid(Secret("00112233445566778899AABBCCDDEEFF")).wire
        + commands.sksetpwd(Secret("0123456789AB")).wire
        + commands.skscan(2, 0xFFFFFFFF, 6, dialect=C2).wire
        + commands.skll64(METER_MAC).wire
        + commands.sksreg("S2", 0x31).wire
        + commands.sksreg("S3", 0xB5FB).wire
        + commands.skjoin(METER).wire
        + commands.sksendto(1, METER, 0x0E1A, 1, GET_E7, dialect=C2).wire
        + commands.skterm().wire
    )
    parsed = CommandParser(C2).feed(host)
    assert parsed == [
        RegisterCommand("SFE", "0"),
        SetRouteBId(Secret("00112233445566778899AABBCCDDEEFF")),
        SetPassword(Secret("0123456789AB")),
        ScanCommand(2, 0xFFFFFFFF, 6, 0),
        Ll64Command(METER_MAC),
        RegisterCommand("S02", "31"),
        RegisterCommand("S03", "B5FB"),
        JoinCommand(METER),
        SendToCommand(1, METER, 0x0E1A, 1, 0, GET_E7),
        BareCommand("SKTERM"),
    ]
    # With SFE = 1 the module echoes each line (SKSENDTO: the header only); the host parser
    # sees EchoLines with the secrets masked.
    echoes = b"".join(out.echo(p) for p in parsed)
    assert echoes.count(b"\r\n") == len(parsed)
    assert GET_E7 not in echoes
    seen = parse(echoes)
    assert all(isinstance(item, EchoLine) for item in seen)
    assert "0123456789AB" not in repr(seen)
    assert seen[-2] == EchoLine(f"SKSENDTO 1 {METER} 0E1A 1 0 000E ")


@pytest.mark.parametrize(
    ("line", "expected", "hex_data"),
    [
        (
            _erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0012", data=A1_E7_RES.encode()),
            UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, bytes.fromhex(A1_E7_RES)),
            True,
        ),
        (
            _erxudp(
                METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0", "0012", data=C2_E7_RES.encode()
            ),
            UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, bytes.fromhex(C2_E7_RES), 0),
            True,
        ),
        (
            _erxudp(
                METER,
                ME,
                "0E1A",
                "0E1A",
                METER_MAC,
                "C8",
                "1",
                "0",
                "0012",
                data=C2_E7_RES.encode(),
            ),
            UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, bytes.fromhex(C2_E7_RES), 0, 0xC8),
            True,
        ),
        (
            _erxudp(
                METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0012", data=bytes.fromhex(A1_E7_RES)
            ),
            UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, bytes.fromhex(A1_E7_RES)),
            False,
        ),
    ],
)
def test_erxudp_layouts_of_d4(line: bytes, expected: UdpReceived, hex_data: bool) -> None:
    assert parse_erxudp_line(line) == expected
    assert parse_erxudp_line(line[:-2]) == expected
    assert parse(line) == [expected]
    assert parse_bytewise(line) == [expected]
    assert format_erxudp(expected, hex_data=hex_data) == line


def test_erxudp_with_lqi_is_what_momonga_reads() -> None:
    # MOMONGA sets SA2 = 1 on BP35C2 and expects 11 tokens: … SENDERLLA LQI SECURED SIDE … .
    rx = UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, bytes.fromhex(C2_E7_RES), 0, 0xC8)
    theirs = parse_sk_line(format_erxudp(rx, hex_data=True).decode().rstrip(), BP35C2Strategy())
    assert theirs is not None
    assert theirs.data == rx.data  # type: ignore[union-attr]
    assert theirs.lqi == 0xC8  # type: ignore[union-attr]
    assert theirs.rssi == pytest.approx(rx.rssi)  # type: ignore[union-attr]
    assert (theirs.side, theirs.sec, theirs.src_addr) == (0, 1, METER)  # type: ignore[union-attr]
    a1 = UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, rx.data)
    theirs = parse_sk_line(format_erxudp(a1, hex_data=True).decode().rstrip(), BP35A1Strategy())
    assert theirs is not None
    assert theirs.data == a1.data  # type: ignore[union-attr]


def test_binary_data_with_crlf_inside_is_read_by_length() -> None:
    # §D.4: "Binary data may contain 0x0D 0x0A, so length-driven parsing is mandatory".
    data = bytes.fromhex("1081000102880105FF017201E704") + b"\r\n\r\n"
    line = _erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0", f"{len(data):04X}", data=data)
    expected = UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, data, 0)
    assert parse(line + b"OK\r\n") == [expected, OkLine()]
    assert parse_bytewise(line + b"OK\r\n") == [expected, OkLine()]
    assert parse_erxudp_line(line) == expected
    assert parse_erxudp_line(line[:-2]) == expected


# §F: real meter frames (EDATA hex after the ERXUDP header). The elided ones get the usual
# header `1081 0001 028801 05FF01`; E2 is filled with 48 values as the vector describes.
_F_HEAD = "1081000102880105FF01"
F_VECTORS = [
    "1081 0001 028801 05FF01 72 01 D3 04 00000001",
    "1081 0001 028801 05FF01 52 01 D3 00",
    "1081 0001 028801 05FF01 72 01 D7 01 06",
    "1081 0001 028801 05FF01 72 01 E1 01 02",
    "1081 0001 028801 05FF01 72 01 E0 04 0000FE73",
    "1081 0001 028801 05FF01 72 01 E7 04 00000278",
    "1081 0001 028801 05FF01 72 01 E8 04 001E 0032",
    "1081 0001 028801 05FF01 72 01 EA 0B 07EA 05 14 0E 00 00 0000FE68",
    "1081 0001 028801 05FF01 72 01 82 04 00 00 46 00",
    _F_HEAD + "72 01 8A 03 000016",
    _F_HEAD + "72 01 9D 04 03808188",
    _F_HEAD + "72 01 9E 04 0381E5ED",
    _F_HEAD + "72 01 9F 11 19 41414160404000624300414040430202",
    _F_HEAD + "72 01 E2 C2 000B 0000F766 0000F768" + "FFFFFFFE" * 46,
    "1081 0000 0EF001 0EF001 73 01 D5 04 01 028801",
    "1081 0362 028801 05FF01 73 01 EA 0B 07E6 08 01 14 1E 00 00012D02",
    "1081 0001 028801 05FF01 73 02 EA 0B 07E70C13001E00 0000458E EB 0B 07E70C13001E00 00000015",
    "1081 5253 05FF01 028801 62 01 E7 00",
]


@pytest.mark.parametrize("vector", F_VECTORS)
@pytest.mark.parametrize("dialect", [A1, C2])
@pytest.mark.parametrize("hex_data", [True, False])
def test_f_vectors_travel_in_erxudp(vector: str, dialect: Dialect, hex_data: bool) -> None:
    data = bytes.fromhex(vector.replace(" ", ""))
    side = 0 if dialect.has_side else None
    rx = UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, data, side)
    line = format_erxudp(rx, hex_data=hex_data)
    assert line.endswith(data.hex().upper().encode() + b"\r\n" if hex_data else data + b"\r\n")
    assert parse_erxudp_line(line) == rx
    assert parse(line) == [rx]
    assert parse_bytewise(line) == [rx]


def test_e2_vector_length_is_the_one_quoted() -> None:
    e2 = bytes.fromhex(F_VECTORS[13].replace(" ", ""))
    assert len(e2) - 14 == 0xC2 == 194  # PDC C2 (194 bytes) as in §F


@pytest.mark.parametrize(
    ("line", "offset"),
    [
        (b"ERXUDP " + METER.encode() + b" " + ME.encode() + b" 0E1A 0E1A", 96),
        (_erxudp(METER, ME, "0E1A", "0EXA", METER_MAC, "1", "0001", data=b"AB"), 92),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC[:-1], "1", "0001", data=b"AB"), 97),
        (_erxudp(METER[:-1], ME, "0E1A", "0E1A", METER_MAC, "1", "0001", data=b"AB"), 7),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0003", data=b"AB"), 121),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0001", data=b"ABC"), 121),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0001", data=b"GG"), 121),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "04D1", data=b"x"), 116),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "11", "0001", data=b"x"), 123),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0", "0", "0", "0001", data=b"x"), 118),
        (_erxudp(METER, ME, "0E1A", "0E1A", METER_MAC, "1", "0001", data=b"x") + b"junk", 121),
        (b"EVENT 21 " + LL.encode(), 0),
    ],
)
def test_erxudp_errors_carry_offsets(line: bytes, offset: int) -> None:
    with pytest.raises(SkstackProtocolError) as caught:
        parse_erxudp_line(line)
    assert caught.value.offset == offset


def test_format_erxudp_rejects_impossible_layouts() -> None:
    with pytest.raises(UsageError):
        format_erxudp(UdpReceived(METER, ME, 1, 1, METER_MAC, 1, b"x", None, 0xC8), hex_data=True)
    with pytest.raises(UsageError):
        format_erxudp(UdpReceived("fe80::1", ME, 1, 1, METER_MAC, 1, b"x"), hex_data=True)
    with pytest.raises(UsageError):
        format_erxudp(UdpReceived(METER, ME, 1, 1, METER_MAC, 1, b"x" * 0x4D1), hex_data=False)
