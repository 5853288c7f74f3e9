"""The C fast paths (``_speedups.c``) against the Python codec they wrap: same values, same
types, same errors with the same offsets, for every input; no reference leaks; and a clean
fallback to pure Python when the extension is missing or ``ROUTEB_PURE_PYTHON`` is set.

CI builds the extension and sets ROUTEB_REQUIRE_SPEEDUPS=1, so these tests cannot skip there.
``make fuzz`` runs a million random and mutated inputs through both paths.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import random
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.echonet import frame as frame_module
from routeb.echonet._native import SPEEDUPS, load_speedups
from routeb.echonet.energy import EnergyScale
from routeb.echonet.smartmeter import SMART_METER_DECODERS, InstantaneousCurrents
from routeb.errors import EchonetDecodeError
from tests.test_echonet_fuzz import EDT_SEEDS, FRAME_SEEDS, SCALES, mutate

pytestmark = pytest.mark.skipif(
    SPEEDUPS is None and not os.environ.get("ROUTEB_REQUIRE_SPEEDUPS"),
    reason="the C extension is not built (pure-Python install)",
)

# EPC → the size of its EDT; the accelerated decoders.
ACCELERATED = {0xE0: 4, 0xE2: 194, 0xE3: 4, 0xE4: 194, 0xE7: 4, 0xE8: 4, 0xEA: 11, 0xEB: 11}


def outcome(call: Callable[[], object]) -> tuple[str, Any]:
    """What a call did: ("value", v) or ("error", (message, offset, epc))."""
    try:
        return "value", call()
    except EchonetDecodeError as exc:
        return "error", (str(exc), exc.offset, exc.epc)


def same_value(a: object, b: object) -> bool:
    """Equal, of the same type all the way down, with the same (compare=False) scale."""
    if type(a) is not type(b):
        return False
    if dataclasses.is_dataclass(a):
        return all(
            same_value(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, EnergyScale | None):
        return a is b
    return a == b


def check_frame(data: bytes | bytearray | memoryview) -> None:
    fast = outcome(lambda: frame_module.decode_frame(data))
    slow = outcome(lambda: frame_module._decode_frame(data))
    assert fast[0] == slow[0], (bytes(data).hex(), fast, slow)
    assert same_value(fast[1], slow[1]), (bytes(data).hex(), fast, slow)


def check_edt(epc: int, edt: bytes, scale: EnergyScale | None) -> None:
    decoder: Any = SMART_METER_DECODERS[epc]
    fast = outcome(lambda: decoder(edt, scale))
    slow = outcome(lambda: decoder.fallback(edt, scale))
    assert fast[0] == slow[0], (hex(epc), edt.hex(), fast, slow)
    assert same_value(fast[1], slow[1]), (hex(epc), edt.hex(), fast, slow)
    if scale is None:  # the one-argument call takes the same path
        assert same_value(outcome(lambda: decoder(edt))[1], slow[1])


def test_the_fast_paths_are_in_place() -> None:
    assert SPEEDUPS is not None
    assert frame_module.decode_frame is not frame_module._decode_frame
    for epc in ACCELERATED:
        decoder: Any = SMART_METER_DECODERS[epc]
        assert decoder.fallback is not None, hex(epc)
        assert decoder.__doc__ == decoder.fallback.__doc__
    assert frame_module.decode_frame.__doc__ == frame_module._decode_frame.__doc__
    assert repr(frame_module.decode_frame).startswith("<C fast path of <function _decode_frame")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=80))
def test_random_frames_decode_alike(data: bytes) -> None:
    check_frame(data)
    check_frame(b"\x10\x81" + data)
    check_frame(b"\x10\x81\x00\x01\x02\x88\x01\x05\xff\x01\x72" + data)


@settings(max_examples=800, deadline=None)
@given(st.sampled_from(FRAME_SEEDS), st.randoms(use_true_random=False))
def test_mutated_frames_decode_alike(seed: bytes, rng: random.Random) -> None:
    check_frame(mutate(rng, seed, frame=True))


def test_every_seed_decodes_alike_in_every_buffer_type() -> None:
    for seed in FRAME_SEEDS:
        for data in (seed, bytearray(seed), memoryview(seed)):
            check_frame(data)


def edt_for(epc: int, fill: bytes) -> bytes:
    """An EDT of the right size for ``epc`` from ``fill`` (repeated)."""
    size = ACCELERATED[epc]
    return (fill * (size // max(len(fill), 1) + 1))[:size] if fill else bytes(size)


# Values at every boundary of the fast paths: sentinels, counts around 99,999,999, dates.
EDGE_WORDS = [
    b"\x00\x00\x00\x00",
    b"\x05\xf5\xe0\xff",  # 99,999,999
    b"\x05\xf5\xe1\x00",  # 100,000,000
    b"\xff\xff\xff\xfe",  # no data
    b"\xff\xff\xff\xff",
    b"\x7f\xff\xff\xfe",  # E7 no data
    b"\x7f\xff\xff\xfd",
    b"\x7f\xff\xff\xff",
    b"\x80\x00\x00\x00",
    b"\x80\x00\x00\x01",
    b"\x7f\xfe\x7f\xfe",  # E8 no data twice
    b"\x7f\xff\x80\x00",
    b"\x80\x01\x00\x1e",
    b"\xff\xf6\x7f\xfe",  # -1.0 A, single-phase
]


@pytest.mark.parametrize("epc", sorted(ACCELERATED))
def test_edge_values_decode_alike(epc: int) -> None:
    for word in EDGE_WORDS:
        for scale in SCALES:
            check_edt(epc, edt_for(epc, word), scale)
            check_edt(epc, word, scale)  # wrong size unless the EDT is 4 bytes
    for seed in EDT_SEEDS[epc]:
        check_edt(epc, seed, SCALES[1])
        check_edt(epc, seed[:-1], None)
        check_edt(epc, seed + b"\x00", None)


DATE_TIMES = [
    b"\x07\xea\x05\x14\x0e\x00\x00",
    b"\xff\xff\xff\xff\xff\xff\xff",  # unset
    b"\xff\xff\x05\x14\x0e\x00\x00",
    b"\x00\x00\x05\x14\x0e\x00\x00",  # year 0
    b"\x07\xea\x02\x1e\x0e\x00\x00",  # 30 February
    b"\x07\xea\x05\x14\x18\x00\x00",  # 24:00
    b"\x07\xea\x05\x14\x0e\x3c\x00",  # minute 60
    b"\x07\xea\x0d\x01\x00\x00\x00",  # month 13
]


@pytest.mark.parametrize("epc", [0xEA, 0xEB])
def test_fixed_time_edges_decode_alike(epc: int) -> None:
    for when in DATE_TIMES:
        for word in EDGE_WORDS[:5]:
            check_edt(epc, when + word, SCALES[1])


@pytest.mark.parametrize("epc", [0xE2, 0xE4])
def test_history_days_and_slots_decode_alike(epc: int) -> None:
    for day in (0, 1, 99, 100, 0xFE, 0xFF, 0x0100, 0xFFFF):
        check_edt(epc, day.to_bytes(2, "big") + b"\x00\x00\x12\x34" * 48, SCALES[1])
    rng = random.Random(7)
    for _ in range(200):  # one bad or sentinel slot somewhere among good ones
        slots = [rng.randrange(100_000_000).to_bytes(4, "big") for _ in range(48)]
        slots[rng.randrange(48)] = rng.choice(EDGE_WORDS)
        check_edt(epc, b"\x00\x03" + b"".join(slots), None)


@settings(max_examples=800, deadline=None)
@given(
    st.sampled_from(sorted(ACCELERATED)),
    st.binary(min_size=0, max_size=200),
    st.sampled_from(SCALES),
)
def test_random_edts_decode_alike(epc: int, fill: bytes, scale: EnergyScale | None) -> None:
    check_edt(epc, edt_for(epc, fill), scale)
    check_edt(epc, fill, scale)


def test_currents_use_the_shared_amperes_cache() -> None:
    # A count the cache has not seen goes to Python (which memoises it); then C finds it.
    decoder: Any = SMART_METER_DECODERS[0xE8]
    edt = (-3276).to_bytes(2, "big", signed=True) + b"\x7f\xfe"
    first = decoder(edt)
    second = decoder(edt)
    assert first == second == InstantaneousCurrents(Decimal("-327.6"), None)
    assert first.r is second.r


def test_keyword_and_odd_calls_take_the_python_path() -> None:
    decoder: Any = SMART_METER_DECODERS[0xE0]
    assert decoder(edt=b"\x00\x00\x00\x05").raw == 5
    assert decoder(bytearray(b"\x00\x00\x00\x05"), None).raw == 5
    with pytest.raises(TypeError):
        decoder()
    with pytest.raises(TypeError):
        frame_module.decode_frame()


def test_the_c_types_refuse_value_classes_they_cannot_fill() -> None:
    assert SPEEDUPS is not None

    class Open:  # has a __dict__
        pass

    @dataclasses.dataclass(slots=True)
    class TwoSlots:
        a: object
        b: object

    def fallback(edt: bytes, scale: EnergyScale | None = None) -> object:
        return edt

    with pytest.raises(TypeError):
        SPEEDUPS.value_decoder("energy", fallback, Open, ("raw", "scale"))
    with pytest.raises(TypeError):
        SPEEDUPS.value_decoder("fixed_time", fallback, TwoSlots, ("a", "b", "c"))
    with pytest.raises(TypeError):
        SPEEDUPS.value_decoder("energy", fallback, TwoSlots, ("a", "missing"))
    with pytest.raises(ValueError, match="unknown decoder kind"):
        SPEEDUPS.value_decoder("nonsense", fallback)
    with pytest.raises(TypeError):
        SPEEDUPS.frame_decoder(Open, tuple, {}, fallback)
    # A class it can fill: built without __init__, every slot set.
    decoder = SPEEDUPS.value_decoder("energy", fallback, TwoSlots, ("a", "b"))
    value = decoder(b"\x00\x00\x00\x2a", "scale")
    assert (type(value), value.a, value.b) == (TwoSlots, 42, "scale")


def test_no_references_or_memory_leak() -> None:
    frames = [seed for seed in FRAME_SEEDS if seed[1] == 0x81]
    edts = [(epc, seed) for epc in ACCELERATED for seed in EDT_SEEDS[epc]]
    bad = [b"\x10\x81\x00\x01\x02\x88\x01\x05\xff\x01\x72\x02\xe7\x04"]  # errors too

    def work() -> None:
        for data in frames + bad:
            outcome(lambda data=data: frame_module.decode_frame(data))
        for epc, edt in edts:
            SMART_METER_DECODERS[epc](edt, SCALES[1])

    work()  # warm the caches
    gc.collect()
    shared = [
        SCALES[1],
        *FRAME_SEEDS,
        *(part for h in frame_module._HEADER_CACHE.values() for part in h),
    ]
    refs = [sys.getrefcount(obj) for obj in shared]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for _ in range(2000):
            work()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 64 * 1024, grown
    assert [sys.getrefcount(obj) for obj in shared] == refs


def test_pure_python_when_asked() -> None:
    code = (
        "from routeb.echonet import frame, smartmeter\n"
        "from routeb.echonet._native import SPEEDUPS\n"
        "assert SPEEDUPS is None\n"
        "assert frame.decode_frame is frame._decode_frame\n"
        "assert not hasattr(smartmeter.SMART_METER_DECODERS[0xE7], 'fallback')\n"
        "print(frame.decode_frame(bytes.fromhex('1081000102880105FF017201E70400000278')))\n"
    )
    env = {**os.environ, "ROUTEB_PURE_PYTHON": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert "Property(epc=0xE7" in out.stdout


def test_routeb_decode_prints_the_same_with_and_without_the_fast_paths() -> None:
    # What a user runs: every §F frame, and a broken one (stderr line, exit status 2).
    inputs = [seed.hex() for seed in FRAME_SEEDS] + ["1081 0001 028801 05FF01 72 02 E7 04"]
    runs = []
    for pure in ("0", "1"):
        env = {**os.environ, "ROUTEB_PURE_PYTHON": pure}
        runs.append(
            subprocess.run(
                [sys.executable, "-m", "routeb", "decode", "--json", *inputs],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
        )
    fast, pure_python = runs
    assert fast.returncode == pure_python.returncode == 2
    assert fast.stdout == pure_python.stdout
    assert fast.stderr == pure_python.stderr
    assert len(fast.stdout.splitlines()) == len(FRAME_SEEDS)


def test_a_missing_build_is_an_error_only_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "routeb.echonet._speedups", None)  # import fails
    monkeypatch.delenv("ROUTEB_PURE_PYTHON", raising=False)
    monkeypatch.delenv("ROUTEB_REQUIRE_SPEEDUPS", raising=False)
    assert load_speedups() is None
    monkeypatch.setenv("ROUTEB_REQUIRE_SPEEDUPS", "1")
    with pytest.raises(ImportError):
        load_speedups()


# --- make fuzz ------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_million_inputs_decode_alike() -> None:
    rng = random.Random(20261202)
    epcs = sorted(ACCELERATED)
    for i in range(500_000):
        seed = FRAME_SEEDS[i % len(FRAME_SEEDS)]
        check_frame(mutate(rng, seed, frame=True) if i % 5 else rng.randbytes(rng.randrange(40)))
    for i in range(500_000):
        epc = epcs[i % len(epcs)]
        if i % 7 == 0:
            edt = rng.randbytes(ACCELERATED[epc])
        else:
            edt = mutate(rng, rng.choice(EDT_SEEDS[epc]), frame=False)
        check_edt(epc, edt, SCALES[i % 3])
