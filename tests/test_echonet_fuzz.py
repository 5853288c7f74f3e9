"""Totality fuzz: for any input, ``decode_frame`` and every property decoder (super class, node
profile, smart meter) return a value or raise EchonetDecodeError — nothing else ever escapes,
and whatever decodes encodes back to a value that decodes the same.

A quick hypothesis run by default; ``make fuzz`` (marker ``slow``) runs 2,000,000 random and
mutated inputs: the protocol.md §F vectors and one valid EDT per EPC, bit-flipped, truncated,
extended, with bytes inserted and with their OPC / PDC / count bytes tweaked.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.echonet import Frame, decode_frame, encode_frame
from routeb.echonet.energy import EnergyScale
from routeb.echonet.nodeprofile import NODE_PROFILE_PROPERTIES
from routeb.echonet.smartmeter import SMART_METER_PROPERTIES
from routeb.echonet.spec import PropertySpec
from routeb.echonet.superclass import SUPER_CLASS_PROPERTIES
from routeb.errors import EchonetDecodeError

SCALES = (None, EnergyScale(1, Decimal("0.01")), EnergyScale(999_999, Decimal("10000")))
REGISTRIES: tuple[Mapping[int, PropertySpec[Any]], ...] = (
    SUPER_CLASS_PROPERTIES,
    NODE_PROFILE_PROPERTIES,
    SMART_METER_PROPERTIES,
)
SPECS: list[PropertySpec[Any]] = [spec for registry in REGISTRIES for spec in registry.values()]


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# protocol.md §F (and §A.5, §B.2): the seeds of the frame mutations.
FRAME_SEEDS = [
    _hex(text)
    for text in (
        "1081 0001 028801 05FF01 72 01 D3 04 00000001",
        "1081 0001 028801 05FF01 52 01 D3 00",
        "1081 0001 028801 05FF01 72 01 D7 01 06",
        "1081 0001 028801 05FF01 72 01 E1 01 02",
        "1081 0001 028801 05FF01 72 01 E0 04 0000FE73",
        "1081 0001 028801 05FF01 72 01 E7 04 00000278",
        "1081 0001 028801 05FF01 72 01 E8 04 001E 0032",
        "1081 0001 028801 05FF01 72 01 EA 0B 07EA 05 14 0E 00 00 0000FE68",
        "1081 0001 028801 05FF01 72 01 82 04 00 00 46 00",
        "1081 0001 028801 05FF01 72 01 8A 03 000016",
        "1081 0001 028801 05FF01 72 03 9D 04 03808188 9E 04 0381E5ED"
        " 9F 11 19 41414160404000624300414040430202",
        "1081 0001 028801 05FF01 72 01 E2 C2 000B" + " 0000F766 0000F768" * 24,
        "1081 0000 0EF001 0EF001 73 01 D5 04 01 028801",
        "1081 0362 028801 05FF01 73 01 EA 0B 07E6 08 01 14 1E 00 00012D02",
        "1081 0001 028801 05FF01 73 02 EA 0B 07E70C13001E00 0000458E EB 0B 07E70C13001E00 00000015",
        "1081 5253 05FF01 028801 62 01 E7 00",
        "1081 1234 0EF001 028801 60 01 E5 01 02",  # SetI E5 = 2 (§B.2, SKYWEB)
        "1081 0001 05FF01 028801 6E 01 E5 01 01 02 E2 00 E4 00",  # SetGet (§A.4)
        "1081 0001 028801 05FF01 72 04 E7 04 00000278 E8 04 001E0032 E0 04 0000FE73 E3 04 00000015",
        "1082 0001 DEADBEEF",  # format 2
    )
]
# One valid EDT per EPC and class (the seeds of the EDT mutations).
EDT_SEEDS: dict[int, list[bytes]] = {
    0x80: [_hex("30")],
    0x81: [_hex("61"), _hex("01" + "00" * 16)],
    0x82: [_hex("00004600"), _hex("010D0100")],
    0x83: [_hex("FE000016" + "00" * 13)],
    0x88: [_hex("42")],
    0x8A: [_hex("000016")],
    0x8D: [_hex("463234473336363530350000")],
    0x97: [_hex("0E1A")],
    0x98: [_hex("07EA0514")],
    0x9D: [_hex("03808188")],
    0x9E: [_hex("0381E5ED")],
    0x9F: [_hex("1941414160404000624300414040430202")],
    0xBF: [_hex("1234")],
    0xC0: [_hex("00000016" + "00" * 12)],
    0xD0: [_hex("07EA05140E1E00 0000000A FFFFFFFE")],
    0xD3: [_hex("00000001"), _hex("000001")],
    0xD4: [_hex("0002")],
    0xD5: [_hex("01028801")],
    0xD6: [_hex("02 028801 05FF01")],
    0xD7: [_hex("06"), _hex("010288")],
    0xE0: [_hex("0000FE73")],
    0xE1: [_hex("02")],
    0xE2: [_hex("000B" + "0000F766" * 48)],
    0xE3: [_hex("00000015")],
    0xE4: [_hex("00FF" + "FFFFFFFE" * 48)],
    0xE5: [_hex("01")],
    0xE7: [_hex("00000278")],
    0xE8: [_hex("001E0032")],
    0xEA: [_hex("07EA05140E000000 00FE68")],
    0xEB: [_hex("07E70C13001E0000000015")],
    0xEC: [_hex("07EA05140E1E 02 00000002 00000001 00000001 00000000")],
    0xED: [_hex("07EA05140E1E0C")],
    0xEE: [_hex("07EA05140E2F 02 00000002 00000001 00000001 00000000")],
    0xEF: [_hex("07EA05140E2F0A")],
}


def check_edt(spec: PropertySpec[Any], edt: bytes, scale: EnergyScale | None = None) -> bool:
    """Decode ``edt``; only EchonetDecodeError may escape. True when it decoded."""
    try:
        value = spec.decode(edt, scale)
    except EchonetDecodeError as exc:
        if exc.epc != spec.epc:
            raise AssertionError(f"error for 0x{spec.epc:02X} names {exc.epc}: {exc}") from exc
        return False
    # What decodes must encode (no UsageError) to bytes that decode to the same value.
    assert spec.decode(spec.encode(value), scale) == value
    return True


def check_frame(data: bytes, scale: EnergyScale | None = None) -> bool:
    """Decode a frame and every property with every class's decoder for its EPC."""
    try:
        frame = decode_frame(data)
    except EchonetDecodeError:
        return False
    assert encode_frame(frame) == data
    if isinstance(frame, Frame):
        for prop in (*frame.properties, *frame.get_properties):
            for registry in REGISTRIES:
                spec = registry.get(prop.epc)
                if spec is not None:
                    check_edt(spec, prop.edt, scale)
    return True


def mutate(rng: random.Random, seed: bytes, *, frame: bool) -> bytes:
    """1–4 mutations: bit flips, truncation, extension, insertion, deletion, OPC/PDC tweaks."""
    data = bytearray(seed)
    for _ in range(rng.choice((1, 1, 1, 2, 3, 4))):  # mostly one change: stay near valid
        kind = rng.randrange(9)
        if kind == 0 and data:  # bit flip
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:  # truncation
            del data[rng.randrange(len(data)) :]
        elif kind == 2:  # insertion
            data.insert(rng.randrange(len(data) + 1), rng.randrange(256))
        elif kind == 3 and data:  # deletion
            del data[rng.randrange(len(data))]
        elif kind == 4:  # extension
            data += rng.randbytes(rng.randint(1, 8))
        elif kind == 5 and data:  # a byte replaced by an edge value
            data[rng.randrange(len(data))] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF))
        elif kind == 6 and frame and len(data) > 11:  # OPC tweak
            data[11] = (data[11] + rng.choice((-1, 1, 2, 255))) & 0xFF
        elif kind == 7 and frame and len(data) > 13:  # PDC tweak of the first property
            data[13] = (data[13] + rng.choice((-1, 1, -4, 4, 128))) & 0xFF
        elif kind == 8 and data:  # a count or length byte inside the EDT (n, N, day)
            index = rng.choice((0, 1, 6)) if not frame else rng.randrange(12, len(data) + 12)
            if index < len(data):
                data[index] = rng.randrange(256)
    return bytes(data)


# --- quick runs (every `make test`) ------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=260))
def test_random_bytes_through_the_frame_decoder(data: bytes) -> None:
    check_frame(data)
    check_frame(b"\x10\x81" + data)
    check_frame(b"\x10\x81\x00\x01\x02\x88\x01\x05\xff\x01\x72\x01" + data)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(FRAME_SEEDS), st.randoms(use_true_random=False))
def test_mutated_section_f_frames(seed: bytes, rng: random.Random) -> None:
    check_frame(mutate(rng, seed, frame=True), rng.choice(SCALES))


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(SPECS), st.binary(max_size=260), st.sampled_from(SCALES))
def test_random_edts_through_every_decoder(
    spec: PropertySpec[Any], edt: bytes, scale: EnergyScale | None
) -> None:
    check_edt(spec, edt, scale)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(SPECS), st.randoms(use_true_random=False))
def test_mutated_edts_through_every_decoder(spec: PropertySpec[Any], rng: random.Random) -> None:
    seed = rng.choice(EDT_SEEDS[spec.epc])
    check_edt(spec, mutate(rng, seed, frame=False), rng.choice(SCALES))


def test_the_seeds_themselves_decode() -> None:
    # Mutations only find something if they start from inputs that decode.
    for seed in FRAME_SEEDS:
        assert check_frame(seed), seed.hex()
    for spec in SPECS:
        assert any(check_edt(spec, seed) for seed in EDT_SEEDS[spec.epc]), hex(spec.epc)


# --- make fuzz ------------------------------------------------------------------------------------

# ≥ 1,000,000 required; two million take about 15 s on the development machine.
INPUTS = 2_000_000


def _run(rng: random.Random, count: int, step: Callable[[random.Random, int], bool]) -> int:
    decoded = 0
    for i in range(count):
        decoded += step(rng, i)
    return decoded


def _frame_step(rng: random.Random, i: int) -> bool:
    if i % 5 == 0:  # random bytes, half of them behind a valid EHD
        data = rng.randbytes(rng.randrange(40))
        if i % 10 == 0:
            data = b"\x10\x81" + data
    else:
        data = mutate(rng, FRAME_SEEDS[i % len(FRAME_SEEDS)], frame=True)
    return check_frame(data, SCALES[i % 3])


def _edt_step(rng: random.Random, i: int) -> bool:
    spec = SPECS[i % len(SPECS)]
    if i % 7 == 0:
        edt = rng.randbytes(rng.randint(spec.min_size, spec.max_size))
    else:
        edt = mutate(rng, rng.choice(EDT_SEEDS[spec.epc]), frame=False)
    return check_edt(spec, edt, SCALES[i % 3])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_millions_of_random_and_mutated_inputs() -> None:
    rng = random.Random(20261123)
    started = time.monotonic()
    frames = INPUTS // 2
    edts = INPUTS - frames
    frames_decoded = _run(rng, frames, _frame_step)
    edts_decoded = _run(rng, edts, _edt_step)
    elapsed = time.monotonic() - started
    # The mutations must keep a good share of inputs decodable, or they test nothing deep.
    assert frames_decoded > frames // 10, frames_decoded
    assert edts_decoded > edts // 10, edts_decoded
    print(
        f"\n{frames + edts:,} inputs in {elapsed:.0f} s: {frames_decoded:,} frames and "
        f"{edts_decoded:,} EDTs decoded, the rest raised EchonetDecodeError"
    )
