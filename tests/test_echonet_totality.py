"""Totality of the ECHONET Lite codec: for any input whatsoever, decode_frame and every property
decoder return a value or raise EchonetDecodeError — nothing else escapes. A quick hypothesis
run by default; ≥ 1,000,000 random and mutated inputs with `make fuzz` (marker `slow`)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.echonet import decode_frame, encode_frame
from routeb.echonet.energy import EnergyScale
from routeb.echonet.frame import Frame
from routeb.echonet.nodeprofile import NODE_PROFILE_PROPERTIES
from routeb.echonet.smartmeter import SMART_METER_PROPERTIES
from routeb.errors import EchonetDecodeError

SCALE = EnergyScale(1, None)
# protocol.md §F vectors (and a SetGet): the seeds of the mutation fuzz.
SEEDS = [
    bytes.fromhex(h)
    for h in (
        "1081000102880105FF017201D30400000001",
        "1081000102880105FF015201D300",
        "1081000102880105FF017201E70400000278",
        "1081000102880105FF017201E804001E0032",
        "1081000102880105FF017201EA0B07EA05140E00000000FE68",
        "1081000102880105FF0172019F111941414160404000624300414040430202",
        "108100000EF0010EF0017301D50401028801",
        "1081036202880105FF017301EA0B07E6080114" + "1E0000012D02",
        "10815253" + "05FF010288016201E700",
        "1081000105FF010288016E01E5010102E200E400",
        "1081000102880105FF017201E2C2000B" + "0000F766" * 48,
        "108200011234",
    )
]


def _decode_everything(data: bytes) -> None:
    try:
        frame = decode_frame(data)
    except EchonetDecodeError:
        return
    if not isinstance(frame, Frame):
        return
    assert decode_frame(encode_frame(frame)) == frame
    for prop in (*frame.properties, *frame.get_properties):
        for registry in (SMART_METER_PROPERTIES, NODE_PROFILE_PROPERTIES):
            spec = registry.get(prop.epc)
            if spec is None:
                continue
            try:
                value = spec.decode(prop.edt, SCALE)
            except EchonetDecodeError:
                continue
            assert spec.decode(spec.encode(value), SCALE) == value


def _mutate(rng: random.Random, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        if kind == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:
            del data[rng.randrange(len(data)) :]
        elif kind == 2:
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        elif kind == 3 and len(data) > 12:
            data[rng.randrange(11, len(data))] = rng.randrange(256)  # OPC / PDC / EDT
        elif data:
            data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    _decode_everything(data)
    _decode_everything(b"\x10\x81" + data)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False))
def test_mutated_vectors(seed: bytes, rng: random.Random) -> None:
    _decode_everything(_mutate(rng, seed))


@pytest.mark.slow
def test_a_million_inputs() -> None:
    rng = random.Random(20261123)
    for i in range(1_000_000):
        if i % 4 == 0:
            data = rng.randbytes(rng.randrange(64))
            if i % 8 == 0:
                data = b"\x10\x81" + data
        else:
            data = _mutate(rng, SEEDS[i % len(SEEDS)])
        _decode_everything(data)
