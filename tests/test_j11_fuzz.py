"""J11 totality fuzz: whatever bytes arrive, in whatever chunks, the readers of both directions
return messages or our own errors as values (never raise), keep their buffers bounded, and give
the same result however the input is split; ``decode_bytes`` raises J11FrameError or
J11DecodeError and nothing else.

The quick hypothesis tests run by default; ``make fuzz`` runs the slow one over a million
generated inputs (mutated golden streams and noise)."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeb.errors import J11DecodeError, J11FrameError
from routeb.j11 import MessageReader, Origin, decode_bytes, encode
from routeb.j11.frame import MAX_FRAME
from routeb.j11.messages import Message
from tests.j11_strategies import host_messages
from tests.test_j11_golden import AN_FRAMES, VECTORS

Item = Message | J11FrameError | J11DecodeError


def _key(item: Item) -> object:
    if isinstance(item, J11FrameError):
        return ("frame", item.kind, item.command, item.skipped)
    if isinstance(item, J11DecodeError):
        return ("decode", item.command, item.result)
    return item


def feed(origin: Origin, pieces: list[bytes], *, expire: bool = False) -> list[object]:
    reader = MessageReader(origin)
    out: list[Item] = []
    for piece in pieces:
        out += reader.feed(piece)
        assert reader.buffered <= MAX_FRAME
    while expire and reader.pending:  # a stalled frame may hide another one: each waits 1 s
        out += reader.expire()
    for item in out:
        assert isinstance(item, J11FrameError | J11DecodeError) or hasattr(item, "frame")
    return [_key(item) for item in out]


def split(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(cuts)]


def _golden(origin_hex: str) -> bytes:
    return b"".join(
        bytes.fromhex(text.replace(" ", ""))
        for _, text, _ in AN_FRAMES + VECTORS
        if text.startswith(origin_hex)
    )


STREAMS = {Origin.HOST: _golden("D0EA83FC"), Origin.MODULE: _golden("D0F9EE5D")}
mutations = st.lists(
    st.tuples(st.integers(0, 10_000), st.integers(0, 3), st.integers(0, 255)), max_size=8
)


def apply(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for pos, op, value in edits:
        at = pos % (len(out) + 1)
        if op == 0 and at < len(out):
            out[at] = value  # flip a byte
        elif op == 1:
            out.insert(at, value)  # insert one
        elif op == 2 and at < len(out):
            del out[at]  # lose one
        else:
            out[at:at] = out[at : at + 12]  # duplicate a stretch
    return bytes(out)


origins = st.sampled_from([Origin.HOST, Origin.MODULE])


@settings(max_examples=300, deadline=None)
@given(origins, st.binary(max_size=800), st.lists(st.integers(0, 10_000), max_size=10))
def test_readers_are_total_on_noise(origin: Origin, noise: bytes, points: list[int]) -> None:
    whole = feed(origin, [noise])
    assert feed(origin, split(noise, points)) == whole


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(origins, mutations, st.lists(st.integers(0, 10_000), max_size=12))
def test_readers_are_total_on_mutated_golden_streams(
    origin: Origin, edits: list[tuple[int, int, int]], points: list[int]
) -> None:
    data = apply(STREAMS[origin], edits)
    whole = feed(origin, [data], expire=True)
    assert feed(origin, split(data, points), expire=True) == whole
    assert feed(origin, [data[i : i + 1] for i in range(len(data))], expire=True) == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(host_messages, min_size=1, max_size=5), mutations)
def test_a_damaged_frame_costs_at_most_its_neighbours(
    sent: list[Message], edits: list[tuple[int, int, int]]
) -> None:
    # One corrupted byte somewhere: every frame it does not touch still arrives.
    wire = [encode(m) for m in sent]
    victim = len(edits) % len(wire)
    if edits:
        pos, _, value = edits[0]
        frame = bytearray(wire[victim])
        frame[pos % len(frame)] ^= value or 1
        wire[victim] = bytes(frame)
    got = feed(Origin.HOST, [b"".join(wire)], expire=True)
    survivors = [m for i, m in enumerate(sent) if i not in (victim, victim + 1) or not edits]
    for message in survivors:
        assert message in got


@settings(max_examples=500, deadline=None)
@given(origins, mutations)
def test_decode_bytes_raises_only_our_errors(
    origin: Origin, edits: list[tuple[int, int, int]]
) -> None:
    stream = STREAMS[origin]
    data = apply(stream[: 12 + len(edits) * 7], edits)
    with contextlib.suppress(J11FrameError, J11DecodeError):
        decode_bytes(data, origin)


# --- slow (make fuzz) ----------------------------------------------------------------------------

SLOW_INPUTS = int(os.environ.get("ROUTEB_FUZZ_INPUTS", "1000000"))


def mutate(rng: random.Random, data: bytes, count: int) -> bytes:
    edits = [(rng.randrange(10_000), rng.randrange(4), rng.randrange(256)) for _ in range(count)]
    return apply(data, edits)


@pytest.mark.slow
def test_a_million_inputs() -> None:
    rng = random.Random(20260516)  # fixed: a failure reproduces
    started = time.monotonic()
    streams = list(STREAMS.items())
    for index in range(SLOW_INPUTS):
        origin, stream = streams[index % 2]
        if index % 4 == 3:
            data = rng.randbytes(rng.randrange(0, 300))
        else:
            begin = rng.randrange(len(stream))
            data = mutate(rng, stream[begin : begin + rng.randrange(12, 600)], rng.randrange(1, 5))
        whole = feed(origin, [data], expire=True)
        if index % 8 == 0:
            points = [rng.randrange(len(data) + 1) for _ in range(rng.randrange(1, 12))]
            assert feed(origin, split(data, points), expire=True) == whole, data.hex()
        if index % 16 == 1:
            with contextlib.suppress(J11FrameError, J11DecodeError):
                decode_bytes(data[: rng.randrange(len(data) + 1)])
    assert time.monotonic() - started < 1800
