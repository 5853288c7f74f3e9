"""Recorded real-module transcripts (tests/fixtures/transcripts, redacted) replayed through the
host parser: whole, byte by byte and cut at random points, always the same events."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from routeb.skstack.events import (
    EchoLine,
    LinkLocalAddress,
    ModuleEvent,
    ModuleOutput,
    OkLine,
    PanDescriptor,
    UdpReceived,
)
from routeb.skstack.parser import OutputParser

TRANSCRIPTS = Path(__file__).parent / "fixtures" / "transcripts"
_BINARY = re.compile(r"\[\[([0-9A-Fa-f]*)\]\]")

ME = "FE80:0000:0000:0000:021D:1290:0003:C890"
METER = "FE80:0000:0000:0000:0211:2233:4455:6677"
METER_MAC = "0011223344556677"
MULTICAST = "FF02:0000:0000:0000:0000:0000:0000:0001"
RBID = "00112233445566778899AABBCCDDEEFF"
PANA = bytes(range(0x28))
# protocol.md §D.5 / §F: Get_Res E7 of each trace, and the meter's D5 INF.
A1_E7_RES = bytes.fromhex("1081000102880105FF017201E704000004A8")
C2_E7_RES = bytes.fromhex("1081525302880105FF017201E704000000E4")
C2_D5_INF = bytes.fromhex("108100000EF0010EF0017301D50401028801")


def _bytes(text: str) -> bytes:
    """A transcript line's bytes: the text, with each ``[[HEX]]`` as those raw bytes."""
    out = bytearray()
    pos = 0
    for match in _BINARY.finditer(text):
        out += text[pos : match.start()].encode("ascii")
        out += bytes.fromhex(match.group(1))
        pos = match.end()
    return bytes(out + text[pos:].encode("ascii"))


def load(name: str) -> tuple[list[bytes], bytes]:
    """(the host's lines, everything the module sent) of a transcript file."""
    host: list[bytes] = []
    module = bytearray()
    for line in (TRANSCRIPTS / name).read_text(encoding="utf-8").splitlines():
        if line.startswith("> "):
            host.append(_bytes(line[2:]))
        elif line.startswith("< "):
            module += _bytes(line[2:]) + b"\r\n"
        else:
            assert not line.strip() or line.startswith("#"), f"{name}: bad line {line!r}"
    return host, bytes(module)


def replay(data: bytes, cuts: list[int]) -> list[ModuleOutput]:
    """``data`` fed to one parser in pieces cut at ``cuts``."""
    parser = OutputParser()
    items: list[ModuleOutput] = []
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        items += parser.feed(data[start:cut])
        start = cut
    return items


def _replays(data: bytes) -> list[list[ModuleOutput]]:
    rng = random.Random(len(data))  # a fixed set of random cuts per transcript
    cut_sets = [[], list(range(1, len(data)))]  # whole; byte by byte
    cut_sets += [rng.sample(range(1, len(data)), k) for k in (1, 3, 17, 200)]
    return [replay(data, cuts) for cuts in cut_sets]


EXPECTED: dict[str, list[ModuleOutput]] = {
    "bp35a1-aklog.txt": [
        OkLine(),  # SKSREG SFE 0
        OkLine(),  # SKSETPWD
        OkLine(),  # SKSETRBID
        OkLine(),  # SKSCAN
        ModuleEvent(0x20, ME),
        PanDescriptor(0x3B, 9, 0x6677, METER_MAC, 0xB2, "0194BFAD"),
        ModuleEvent(0x22, ME),
        LinkLocalAddress(METER),  # SKLL64: the address alone
        OkLine(),  # SKSREG S2
        OkLine(),  # SKSREG S3
        OkLine(),  # SKJOIN
        ModuleEvent(0x25, METER),
        ModuleEvent(0x21, METER, None, 0x00),
        OkLine(),
        UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, A1_E7_RES),
    ],
    "bp35c2-qiita.txt": [
        EchoLine("SKSETRBID ********"),
        OkLine(),
        EchoLine("SKSCAN 2 FFFFFFFF 6 0 "),
        OkLine(),
        ModuleEvent(0x20, ME, 0),
        PanDescriptor(0x31, 9, 0xB5FB, METER_MAC, 0xDD, "0194BFAD", 0),
        ModuleEvent(0x22, ME, 0),
        ModuleEvent(0x21, METER, 0, 0x02),
        ModuleEvent(0x02, METER, 0),
        *[
            item
            for _ in range(4)
            for item in (
                UdpReceived(METER, ME, 0x02CC, 0x02CC, METER_MAC, 0, PANA, side=0),
                ModuleEvent(0x21, METER, 0, 0x00),
            )
        ],
        ModuleEvent(0x25, METER, 0),
        UdpReceived(METER, MULTICAST, 0x0E1A, 0x0E1A, METER_MAC, 1, C2_D5_INF, side=0),
        EchoLine(f"SKSENDTO 1 {METER} 0E1A 1 0 000E "),
        ModuleEvent(0x21, METER, 0, 0x00),
        OkLine(),
        UdpReceived(METER, ME, 0x0E1A, 0x0E1A, METER_MAC, 1, C2_E7_RES, side=0),
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_recorded_transcript_parses_to_its_events_however_it_is_cut(name: str) -> None:
    _, module = load(name)
    for items in _replays(module):
        assert items == EXPECTED[name]


def test_every_transcript_file_is_replayed() -> None:
    assert sorted(p.name for p in TRANSCRIPTS.glob("*.txt")) == sorted(EXPECTED)


def test_echoes_mask_the_route_b_id_and_repeat_the_host_line() -> None:
    host, module = load("bp35c2-qiita.txt")
    items = replay(module, [])
    assert RBID.encode() in module  # the recording holds the (placeholder) ID …
    assert RBID not in repr(items)  # … which the parser never hands on
    echoes = [item.text for item in items if isinstance(item, EchoLine)]
    rbid, scan, _join, sendto = host
    assert rbid.startswith(b"SKSETRBID ")
    assert echoes[0] == "SKSETRBID ********"
    assert echoes[1] == scan.decode("ascii") + " "  # SKSCAN is echoed with a trailing space
    header = sendto[: sendto.index(b" 000E ") + len(b" 000E ")]
    assert echoes[2] == header.decode("ascii")  # SKSENDTO: its header, not its binary data
