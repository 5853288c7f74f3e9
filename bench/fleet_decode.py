"""What validating a fleet message costs a worker: ``schema.decode`` (bounds before parsing,
the parse, the column checks, the window and days) against the bare ``json.loads`` of the same
payloads, and optionally against another version of the schema module (``--baseline``).

Payloads: the simulator's messages (one per home and hour, ~420 readings) and the publisher's
largest default message (2,000 readings). Rounds are interleaved; medians and ranges.

    python bench/fleet_decode.py [--homes 200] [--rounds 9]
    git show REV:src/routeb/fleet/schema.py > /tmp/schema_old.py
    python bench/fleet_decode.py --baseline /tmp/schema_old.py
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).parents[1] / "src"))

from routeb.fleet import schema
from routeb.fleet.schema import FleetMessage, encode
from routeb.fleet.simulator import FleetSimulator


def _payloads(homes: int) -> list[bytes]:
    sim = FleetSimulator(homes, poll=10, max_rows=5000)
    sim.advance(3600)
    messages = [m for home in sim.homes for m in home.backlog]
    now = int(time.time())
    big = FleetMessage(
        "site-big",
        "meter-1",
        [(now - 10 * i, 500 + i, 50, None) for i in range(1500)],
        [(now - 60 * i, 123456, 0, 1, 2, 6) for i in range(250)],
        [(now - now % 1800 - 1800 * i, 123456, 0, 1, 2, 6, 1500, 0, i) for i in range(250)],
        sent=now,
    )
    out = []
    for message in [*messages, big]:
        message.sent = time.time()
        out.append(encode(message))
    return out


def _load(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_schema", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--homes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--baseline", help="another schema.py to compare (its decode(payload))")
    args = parser.parse_args()
    payloads = _payloads(args.homes)
    readings = sum(schema.decode(p).readings for p in payloads)
    ways: dict[str, Callable[[bytes], object]] = {
        "json.loads": json.loads,
        "schema.decode": schema.decode,
    }
    if args.baseline:
        ways["baseline decode"] = _load(args.baseline).decode
    times: dict[str, list[float]] = {name: [] for name in ways}
    for round_ in range(args.rounds):
        order = list(ways.items())
        for name, way in order if round_ % 2 else order[::-1]:
            started = time.perf_counter()
            for payload in payloads:
                way(payload)
            times[name].append(time.perf_counter() - started)
    print(
        f"{len(payloads)} messages, {readings} readings, "
        f"{sum(map(len, payloads)) / len(payloads) / 1024:.1f} KiB each on average"
    )
    if args.baseline:
        ratios = [
            n / o for n, o in zip(times["schema.decode"], times["baseline decode"], strict=True)
        ]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        print(
            f"schema.decode / baseline: median of per-round ratios {statistics.median(ratios):.3f}"
            f" (quartiles {q1:.3f}–{q3:.3f})"
        )
    base = statistics.median(times["json.loads"])
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(
            f"{name:16} {median / len(payloads) * 1e6:8.1f} µs/message "
            f"({min(seconds) / len(payloads) * 1e6:.1f}–{max(seconds) / len(payloads) * 1e6:.1f})"
            f"  {readings / median / 1e6:6.2f} M readings/s  {median / base:4.2f}× json.loads"
        )


if __name__ == "__main__":
    main()
