"""Frames decoded per second, values included: routeb's codec next to pychonet's, same inputs.

The mix is what a B-route controller receives (protocol.md §C, §F): a Get_Res of E7+E8+E0+E3,
an EA+EB INF push, an E2 history (194-byte EDT) and the node profile's D5 INF. Each frame is
decoded and every property's value decoded (routeb: ``decode_frame`` + the typed property
registry with the energy scale; pychonet 2.8.2: ``decodeEchonetMsg`` + its 0x0288 value
functions, which exist for E0/E3/E7/E8/EA/EB/E2 but not for D5 — that frame is only parsed
there, which favours pychonet). Repeated rounds; the median is reported with the ratio.

    python bench/codec.py [--rounds 9] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

from pychonet.lib.functions import decodeEchonetMsg

from routeb.echonet import decode_frame
from routeb.echonet.energy import EnergyScale
from routeb.echonet.frame import Frame
from routeb.echonet.nodeprofile import NODE_PROFILE_PROPERTIES
from routeb.echonet.smartmeter import SMART_METER_PROPERTIES

E2_EDT = "000B" + "".join(f"{0xF766 + 9 * i:08X}" for i in range(48))
MIX = [
    bytes.fromhex("1081000102880105FF017204E70400000278E804001E0032E0040000FE73E30400000015"),
    bytes.fromhex("1081000102880105FF017302EA0B07E70C13001E000000458EEB0B07E70C13001E0000000015"),
    bytes.fromhex("1081000202880105FF017201E2C2" + E2_EDT),
    bytes.fromhex("108100000EF0010EF0017301D50401028801"),
]
SCALE = EnergyScale(1, Decimal("0.01"))

# The library's own value decoders: module-level functions of its 0x0288 class module (the
# package re-exports the class under the module's name, hence import_module).
pychonet_meter = importlib.import_module("pychonet.LowVoltageSmartElectricEnergyMeter")
_PYCHONET = {
    0xE0: pychonet_meter._0288E0,
    0xE3: pychonet_meter._0288E0,
    0xE7: pychonet_meter._0288E7,
    0xE8: pychonet_meter._0288E8,
    0xEA: pychonet_meter._0288EA,
    0xEB: pychonet_meter._0288EA,
    0xE2: pychonet_meter._0288E2,
}


def routeb_decode(data: bytes) -> int:
    frame = decode_frame(data)
    assert isinstance(frame, Frame)
    registry = NODE_PROFILE_PROPERTIES if frame.seoj.class_code == 0xF0 else SMART_METER_PROPERTIES
    count = 0
    for prop in frame.properties:
        spec = registry.get(prop.epc)
        if spec is not None and prop.pdc:
            spec.decode(prop.edt, SCALE)
            count += 1
    return count


def pychonet_decode(data: bytes) -> int:
    message = decodeEchonetMsg(data)
    count = 0
    for prop in message["OPC"]:
        function = _PYCHONET.get(prop["EPC"])
        if function is not None and prop["PDC"]:
            function(prop["EDT"])
            count += 1
    return count


def rate(decode: Callable[[bytes], int], seconds: float) -> float:
    """Frames per second over about ``seconds`` of work."""
    frames = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for data in MIX:
            decode(data)
        frames += len(MIX)
        if frames % 400 == 0 and time.perf_counter() >= deadline:
            break
    return frames / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--seconds", type=float, default=0.5)
    args = parser.parse_args()
    routeb_rates: list[float] = []
    pychonet_rates: list[float] = []
    for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
        routeb_rates.append(rate(routeb_decode, args.seconds))
        pychonet_rates.append(rate(pychonet_decode, args.seconds))
    ours = statistics.median(routeb_rates)
    theirs = statistics.median(pychonet_rates)
    ratios = [a / b for a, b in zip(routeb_rates, pychonet_rates, strict=True)]
    print(f"mix of {len(MIX)} frames, {args.rounds} interleaved rounds of {args.seconds} s")
    print(f"routeb   : {ours:12,.0f} frames/s (median; min {min(routeb_rates):,.0f})")
    print(f"pychonet : {theirs:12,.0f} frames/s (median; min {min(pychonet_rates):,.0f})")
    print(
        f"ratio    : {statistics.median(ratios):.2f}× (median of per-round ratios; "
        f"range {min(ratios):.2f}–{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
