"""Frames decoded per second, values included: routeb's codec next to pychonet's, same inputs;
and the start-up of ``routeb decode HEX`` as a fresh process next to ``python -c pass``.

The mix is what a B-route controller receives (protocol.md §C, §F): a Get_Res of E7+E8+E0+E3,
an EA+EB INF push, an E2 history (194-byte EDT) and the node profile's D5 INF. Each frame is
decoded and every property's value decoded. What each side does, exactly:

- routeb: ``decode_frame`` (strict: every length, the OPC and every PDC checked, unknown ESVs
  refused), the decoder table picked by the SEOJ's class, and the typed decoder of each EPC
  (``SMART_METER_DECODERS`` / ``NODE_PROFILE_DECODERS``) with the D3 × E1 scale bound: sizes,
  ranges and sentinels checked, date-times built, E8 in Decimal amperes. kWh is *not* computed:
  the values keep the raw count and the scale, and ``kwh()`` multiplies exact Decimals when
  asked (the check below asks once).
- pychonet 2.8.2: ``decodeEchonetMsg`` (no length checks) and its 0x0288 value functions, which
  exist for E0/E3/E7/E8/EA/EB/E2 (E2's returns "Not implemented") and not for D5, so pychonet
  does no value work at all for two of the four frames.

Rounds are interleaved so machine noise hits both alike; medians and the ratios are reported,
with a per-frame breakdown (best of three short runs).

Start-up: ``routeb decode HEX`` (the console script of this interpreter's environment),
``python -c pass`` and a bare import of the standard-library modules it needs run as fresh
processes in interleaved rounds, with byte-code caches (as an installed wheel has them:
written to a temporary ``PYTHONPYCACHEPREFIX`` by a first run).

    python bench/codec.py [--rounds 9] [--seconds 0.5] [--starts 31] [--compare-src DIR]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from pychonet.lib.functions import decodeEchonetMsg

from routeb.echonet import decode_frame
from routeb.echonet.energy import EnergyScale
from routeb.echonet.frame import Format2Frame, Frame
from routeb.echonet.nodeprofile import NODE_PROFILE_DECODERS
from routeb.echonet.objects import NODE_PROFILE_CLASS
from routeb.echonet.smartmeter import SMART_METER_DECODERS, FixedTimeEnergy

E2_EDT = "000B" + "".join(f"{0xF766 + 9 * i:08X}" for i in range(48))
MIX = [
    bytes.fromhex("1081000102880105FF017204E70400000278E804001E0032E0040000FE73E30400000015"),
    bytes.fromhex("1081000102880105FF017302EA0B07E70C13001E000000458EEB0B07E70C13001E0000000015"),
    bytes.fromhex("1081000202880105FF017201E2C2" + E2_EDT),
    bytes.fromhex("108100000EF0010EF0017301D50401028801"),
]
NAMES = ["Get_Res E7+E8+E0+E3", "INF EA+EB", "Get_Res E2 (194 B)", "INF D5 (node profile)"]
SCALE = EnergyScale(1, Decimal("0.01"))

# The library's own value decoders: module-level functions of its 0x0288 class module (the
# package re-exports the class under the module's name, hence import_module).
pychonet_meter = importlib.import_module("pychonet.LowVoltageSmartElectricEnergyMeter")
_PYCHONET = {
    epc: getattr(pychonet_meter, f"_0288{name}")  # its module-private functions, by name
    for epc, name in (
        (0xE0, "E0"),
        (0xE3, "E0"),
        (0xE7, "E7"),
        (0xE8, "E8"),
        (0xEA, "EA"),
        (0xEB, "EA"),
        (0xE2, "E2"),
    )
}


def values_with(
    decode_frame: Callable[[bytes], Frame | Format2Frame],
    meter: Mapping[int, Callable[[bytes, EnergyScale | None], object]],
) -> Callable[[bytes], list[object]]:
    """Frame and values through ``decode_frame`` and the smart meter's ``meter`` decoders."""

    def values(data: bytes) -> list[object]:
        frame = decode_frame(data)
        assert isinstance(frame, Frame)
        decoders = NODE_PROFILE_DECODERS if frame.seoj.class_id == NODE_PROFILE_CLASS else meter
        out: list[object] = []
        for epc, edt in frame.properties:
            decode = decoders.get(epc)
            if decode is not None and edt:
                out.append(decode(edt, SCALE))
        return out

    return values


routeb_values = values_with(decode_frame, SMART_METER_DECODERS)


def pychonet_values(data: bytes) -> list[object]:
    message = decodeEchonetMsg(data)
    out: list[object] = []
    for prop in message["OPC"]:
        function = _PYCHONET.get(prop["EPC"])
        if function is not None and prop["PDC"]:
            out.append(function(prop["EDT"]))
    return out


def check() -> None:
    """Every side really decodes the mix (a benchmark of nothing would be fast too)."""
    e7, e8, e0, e3 = routeb_values(MIX[0])
    assert (e7, str(e8), e0.kwh(), e3.raw) == (  # type: ignore[attr-defined]
        632,
        "InstantaneousCurrents(r=Decimal('3.0'), t=Decimal('5.0'))",
        Decimal("651.39"),
        21,
    )
    ea, _ = routeb_values(MIX[1])
    assert ea == FixedTimeEnergy(datetime(2023, 12, 19, 0, 30), 0x458E)
    (e2,) = routeb_values(MIX[2])
    assert e2.raw[47] == 0xF766 + 9 * 47  # type: ignore[attr-defined]
    (d5,) = routeb_values(MIX[3])
    assert str(d5[0]) == "028801"  # type: ignore[index]
    assert pychonet_values(MIX[0])[0] == 632


def rate(decode: Callable[[bytes], object], frames: list[bytes], seconds: float) -> float:
    """Frames per second over about ``seconds`` of work."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            for data in frames:
                decode(data)
        done += 100 * len(frames)
        if time.perf_counter() >= deadline:
            break
    return done / (time.perf_counter() - start)


_DECODE_STDLIB = ("argparse", "dataclasses", "datetime", "decimal", "enum", "json", "struct")


# What the console script runs, for a source tree given with --compare-src.
_CONSOLE = "import sys; from routeb.cli import main; sys.exit(main())"


def start_times(rounds: int, compare: Path | None = None) -> dict[str, list[float]]:
    """Wall seconds of ``routeb decode HEX`` and ``python -c pass`` as fresh processes."""
    routeb = Path(sys.executable).with_name("routeb")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        # The interpreter without site (no .pth files, no site-packages): the physical floor.
        "python -S -c pass": [sys.executable, "-S", "-c", "pass"],
        # The standard-library modules `routeb decode` cannot do without, alone: the floor
        # of this design (dataclasses brings inspect, ast, dis; argparse brings re, gettext).
        "stdlib it imports": [sys.executable, "-c", f"import {', '.join(_DECODE_STDLIB)}"],
        "routeb decode HEX": [str(routeb), "decode", MIX[0].hex().upper()],
    }
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        envs = dict.fromkeys(commands, env)
        if compare is not None:
            name = f"… from {compare}"
            commands[name] = [sys.executable, "-c", _CONSOLE, "decode", MIX[0].hex().upper()]
            envs[name] = {**env, "PYTHONPATH": str(compare)}
        times: dict[str, list[float]] = {name: [] for name in commands}
        for name, command in commands.items():  # writes the byte-code caches, untimed
            subprocess.run(command, env=envs[name], check=True, stdout=subprocess.DEVNULL)
        for _ in range(rounds):
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, env=envs[name], check=True, stdout=subprocess.DEVNULL)
                times[name].append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--starts", type=int, default=31, help="start-up rounds (0: skip)")
    parser.add_argument(
        "--compare-src",
        type=Path,
        help="also start routeb decode from this source tree (e.g. an older checkout's src)",
    )
    args = parser.parse_args()
    check()
    sides = {
        "routeb": routeb_values,
        "pychonet 2.8.2": pychonet_values,
    }
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(args.rounds):  # interleaved, so machine noise hits every side alike
        for name, values in sides.items():
            rates[name].append(rate(values, MIX, args.seconds))
    theirs = rates["pychonet 2.8.2"]
    print(f"mix of {len(MIX)} frames, {args.rounds} interleaved rounds of {args.seconds} s")
    for name, side in rates.items():
        ratios = [a / b for a, b in zip(side, theirs, strict=True)]
        print(
            f"{name:32s} {statistics.median(side):10,.0f} frames/s (median; min "
            f"{min(side):,.0f}); {statistics.median(ratios):.2f}× pychonet (median of per-round "
            f"ratios; range {min(ratios):.2f}–{max(ratios):.2f})"
        )
    print("per frame (µs, best of 3 short runs): " + " / ".join(sides))
    for name, data in zip(NAMES, MIX, strict=True):
        us = [
            1e6 / max(rate(values, [data], args.seconds / 5) for _ in range(3))
            for values in sides.values()
        ]
        print(f"  {name:24s} " + " / ".join(f"{u:5.2f}" for u in us))
    if args.starts:
        times = start_times(args.starts, args.compare_src)
        print(f"start-up, fresh process, {args.starts} interleaved rounds (ms):")
        bare = statistics.median(times["python -c pass"])
        for name, side in times.items():
            ms = sorted(t * 1e3 for t in side)
            print(
                f"  {name:24s} median {statistics.median(ms):6.1f}  min {ms[0]:6.1f}  "
                f"p90 {ms[int(0.9 * (len(ms) - 1))]:6.1f}  "
                f"(median − python -c pass: {statistics.median(ms) - bare * 1e3:5.1f})"
            )


if __name__ == "__main__":
    main()
