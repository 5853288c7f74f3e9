"""SKSTACK totality fuzz: whatever bytes arrive, in whatever chunks, the parsers of both sides
return values (never raise), keep their buffers bounded, and give the same result however the
input is split. The strict ERXUDP line parser raises SkstackProtocolError and nothing else.

The quick hypothesis tests run by default; ``make fuzz`` runs the slow one over more than a
million generated inputs (mutated golden transcripts and noise)."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeb._redact import Secret
from routeb.errors import SkstackProtocolError
from routeb.skstack import commands
from routeb.skstack import module_output as out
from routeb.skstack.erxudp import HEADER_LIMIT, format_erxudp, parse_erxudp_line
from routeb.skstack.events import Dialect, ModuleOutput, OkLine, UdpReceived, UnknownLine
from routeb.skstack.module_commands import (
    MAX_LINE,
    SENDTO_HEADER_LIMIT,
    BadCommand,
    CommandParser,
    ParsedCommand,
)
from routeb.skstack.parser import DEFAULT_MAX_BUFFER, DEFAULT_MAX_LINE, UNKNOWN_KEEP, OutputParser

A1, C2 = Dialect.BP35A1, Dialect.BP35C2
LL = "FE80:0000:0000:0000:021D:1290:1234:5678"
METER = "FE80:0000:0000:0000:0211:2233:4455:6677"
METER_MAC = "0011223344556677"
E7 = bytes.fromhex("1081525302880105FF017201E704000000E4")
GET = bytes.fromhex("1081525305FF010288016201E700")


def _module_transcript(dialect: Dialect, *, hex_data: bool) -> bytes:
    side = 0 if dialect.has_side else None
    return b"".join(
        [
            b"SKSCAN 2 FFFFFFFF 6 0 \r\n",
            out.ok(),
            out.ok("01", cr_only=True),
            out.fail(4, cr_only=True),
            out.ever("1.5.2"),
            out.eappver("rev26e"),
            out.einfo(LL, "001D129012345678", 0x21, 0x8888, dialect),
            out.esreg("21"),
            out.event(0x20, LL, dialect),
            out.epandesc(0x31, 0xB5FB, METER_MAC, 0xDD, "0194BFAD", dialect),
            out.event(0x22, LL, dialect),
            out.ll64_line(METER_MAC),
            out.event(0x21, METER, dialect, param=2),
            format_erxudp(
                UdpReceived(METER, LL, 0x2CC, 0x2CC, METER_MAC, 0, bytes(range(40)), side),
                hex_data=hex_data,
            ),
            out.event(0x25, METER, dialect),
            b"\r\n",
            out.event(0x21, METER, dialect, param=0),
            out.ok(),
            format_erxudp(
                UdpReceived(METER, LL, 0xE1A, 0xE1A, METER_MAC, 1, E7 + b"\r\n", side, 0xC8)
                if side is not None
                else UdpReceived(METER, LL, 0xE1A, 0xE1A, METER_MAC, 1, E7 + b"\r\n"),
                hex_data=hex_data,
            ),
            out.fail(10),
            b"SKSETPWD C 0123456789AB\r\n",
        ]
    )


def _host_transcript(dialect: Dialect) -> bytes:
    return b"".join(
        c.wire
        for c in [
            commands.sksreg("SFE", "0"),
            commands.ropt(),
            commands.wopt(1),
            commands.skver(),
            commands.skinfo(),
            commands.sksetrbid(Secret("00112233445566778899AABBCCDDEEFF")),
            commands.sksetpwd(Secret("0123456789AB")),
            commands.skscan(2, 0xFFFFFFFF, 6, dialect=dialect),
            commands.skll64(METER_MAC),
            commands.sksreg("S2", 0x31),
            commands.sksreg("S3", 0xB5FB),
            commands.skjoin(METER),
            commands.sksendto(1, METER, 0x0E1A, 1, GET + b"\r\n", dialect=dialect),
            commands.skaddnbr(METER, METER_MAC),
            commands.skterm(),
        ]
    )


MODULE_TRANSCRIPTS = [_module_transcript(d, hex_data=h) for d in (A1, C2) for h in (True, False)]
HOST_TRANSCRIPTS = {d: _host_transcript(d) for d in (A1, C2)}
OUTPUT_BOUND = max(DEFAULT_MAX_LINE, DEFAULT_MAX_BUFFER)
COMMAND_BOUND = max(MAX_LINE, SENDTO_HEADER_LIMIT + 0x4D0)


def feed_output(data: bytes, pieces: list[bytes] | None = None) -> list[ModuleOutput]:
    """Parse ``data`` (or its ``pieces``) and check the invariants on the way."""
    parser = OutputParser()
    items: list[ModuleOutput] = []
    for piece in pieces if pieces is not None else [data]:
        items += parser.feed(piece)
        assert parser.buffered <= OUTPUT_BOUND
    for item in items:
        if isinstance(item, UnknownLine):
            assert len(item.raw) <= UNKNOWN_KEEP
    return items


def feed_commands(
    dialect: Dialect, data: bytes, pieces: list[bytes] | None = None
) -> list[ParsedCommand | BadCommand]:
    parser = CommandParser(dialect)
    items: list[ParsedCommand | BadCommand] = []
    for piece in pieces if pieces is not None else [data]:
        items += parser.feed(piece)
        assert parser.buffered <= COMMAND_BOUND
    for item in items:
        if isinstance(item, BadCommand):
            assert item.code in (4, 5, 6, 9)
    return items


def split(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


def mutate(rng: random.Random, data: bytes, count: int) -> bytes:
    buf = bytearray(data)
    for _ in range(count):
        op = rng.randrange(5)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            buf[at:at] = bytes([rng.choice(b"\r\n 0F:ERXUDPSKSENDTO\x00\xff")])
        elif op == 2 and buf:
            del buf[at : at + rng.randrange(1, 8)]
        elif op == 3:
            buf[at:at] = rng.choice(MODULE_TRANSCRIPTS)[: rng.randrange(200)]
        else:
            buf[at:at] = rng.randbytes(rng.randrange(1, 16))
    return bytes(buf)


# --- quick (every run) ---------------------------------------------------------------------------

mutations = st.lists(
    st.tuples(st.integers(0, 100_000), st.integers(0, 255), st.integers(0, 2)), max_size=10
)


def apply(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    buf = bytearray(data)
    for index, value, op in edits:
        at = index % (len(buf) + 1)
        if op == 0 and buf:
            buf[min(at, len(buf) - 1)] = value
        elif op == 1:
            buf.insert(at, value)
        else:
            del buf[at : at + 1 + value % 4]
    return bytes(buf)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(0, 10_000), max_size=10))
def test_output_parser_is_total_on_noise(noise: bytes, points: list[int]) -> None:
    whole = feed_output(noise)
    assert feed_output(noise, split(noise, points)) == whole


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(MODULE_TRANSCRIPTS), mutations, st.lists(st.integers(0, 10_000), max_size=12)
)
def test_output_parser_is_total_on_mutated_transcripts(
    transcript: bytes, edits: list[tuple[int, int, int]], points: list[int]
) -> None:
    data = apply(transcript, edits)
    whole = feed_output(data)
    assert feed_output(data, split(data, points)) == whole
    assert feed_output(data, [data[i : i + 1] for i in range(len(data))]) == whole


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([A1, C2]),
    st.binary(max_size=600),
    st.lists(st.integers(0, 10_000), max_size=10),
)
def test_command_parser_is_total_on_noise(
    dialect: Dialect, noise: bytes, points: list[int]
) -> None:
    whole = feed_commands(dialect, noise)
    assert feed_commands(dialect, noise, split(noise, points)) == whole


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([A1, C2]), mutations, st.lists(st.integers(0, 10_000), max_size=12))
def test_command_parser_is_total_on_mutated_transcripts(
    dialect: Dialect, edits: list[tuple[int, int, int]], points: list[int]
) -> None:
    data = apply(HOST_TRANSCRIPTS[dialect], edits)
    whole = feed_commands(dialect, data)
    assert feed_commands(dialect, data, split(data, points)) == whole
    assert feed_commands(dialect, data, [data[i : i + 1] for i in range(len(data))]) == whole


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MODULE_TRANSCRIPTS), mutations)
def test_strict_erxudp_parser_raises_only_its_own_error(
    transcript: bytes, edits: list[tuple[int, int, int]]
) -> None:
    start = transcript.find(b"ERXUDP ")
    line = apply(transcript[start : start + 300], edits)
    error: SkstackProtocolError | None = None
    try:
        rx = parse_erxudp_line(line)
    except SkstackProtocolError as exc:
        error = exc
    if error is None:
        assert isinstance(rx, UdpReceived)
    else:
        assert 0 <= error.offset <= len(line)


def test_overlong_and_endless_input_stays_bounded() -> None:
    parser = OutputParser()
    items: list[ModuleOutput] = []
    for _ in range(100):
        items += parser.feed(b"Z" * 997)
        assert parser.buffered <= DEFAULT_MAX_LINE
    items += parser.feed(b"\r\nOK\r\n")
    assert len(items) == 2
    assert items[0] == UnknownLine(b"Z" * UNKNOWN_KEEP)
    # An ERXUDP header that never ends, and one whose data never comes.
    parser = OutputParser()
    assert parser.feed(b"ERXUDP " + b"F" * 1000) == [UnknownLine(b"ERXUDP " + b"F" * 113)]
    assert parser.buffered <= HEADER_LIMIT
    commands_parser = CommandParser(A1)
    for _ in range(100):
        assert all(isinstance(c, BadCommand) for c in commands_parser.feed(b"\x01" * 997))
        assert commands_parser.buffered <= MAX_LINE


def test_a_smaller_max_buffer_rejects_long_erxudp() -> None:
    rx = UdpReceived(METER, LL, 0xE1A, 0xE1A, METER_MAC, 1, bytes(600))
    line = format_erxudp(rx, hex_data=True)
    assert OutputParser().feed(line) == [rx]
    small = OutputParser(max_buffer=1024)
    items = small.feed(line + b"OK\r\n")
    assert len(items) == 2  # the line, reported (truncated) as unknown, then OK
    assert isinstance(items[0], UnknownLine)
    assert items[0].raw == line[:UNKNOWN_KEEP]
    assert items[1] == OkLine()
    assert small.buffered == 0


# --- slow (make fuzz) ----------------------------------------------------------------------------

SLOW_INPUTS = int(os.environ.get("ROUTEB_FUZZ_INPUTS", "1000000"))


@pytest.mark.slow
def test_a_million_inputs() -> None:
    rng = random.Random(20261123)  # fixed: a failure reproduces
    started = time.monotonic()
    pool = [*MODULE_TRANSCRIPTS]
    hosts = list(HOST_TRANSCRIPTS.items())
    for index in range(SLOW_INPUTS):
        kind = index % 4
        if kind == 3:
            dialect, transcript = hosts[index % 2]
            data = mutate(rng, transcript[: rng.randrange(40, len(transcript) + 1)], 3)
            whole_c = feed_commands(dialect, data)
            if index % 16 == 3:
                points = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 12))]
                assert feed_commands(dialect, data, split(data, points)) == whole_c, data
            continue
        if kind == 2:
            data = rng.randbytes(rng.randrange(0, 200))
        else:
            source = rng.choice(pool)
            begin = rng.randrange(len(source))
            data = mutate(rng, source[begin : begin + rng.randrange(20, 400)], rng.randrange(1, 5))
        whole = feed_output(data)
        if index % 8 == 0:
            points = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 12))]
            assert feed_output(data, split(data, points)) == whole, data
        if index % 64 == 1:
            start = data.find(b"ERXUDP ")
            if start >= 0:
                with contextlib.suppress(SkstackProtocolError):
                    parse_erxudp_line(data[start:])
    assert time.monotonic() - started < 1800
