"""Time from process start to the first instantaneous-power value: routeb cold and warm,
momonga 0.7, and the floor the emulator imposes — same emulator, same run.

The emulator runs at ``--time-scale`` (default 0.1: every radio delay is a tenth of real; the
figures are also shown scaled back to real timing). The floor is what no client can beat:
the active scan up to the meter's channel (cold only), the PANA join, and one request/answer
(protocol.md §E), plus the Python interpreter's own start-up measured with ``python -c pass``.

    python bench/connect.py [--rounds 3] [--time-scale 0.1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD
from routeb.emulator.module import ANSWER_DELAY, JOIN_OK_SECONDS, SCAN_SLOT, SEND_DONE
from routeb.emulator.profile import MeterProfile

MOMONGA = """
import sys, momonga
with momonga.Momonga(sys.argv[1], sys.argv[2], sys.argv[3]) as m:
    m.internal_xmit_interval = 0
    print(m.get_instantaneous_power())
"""


def _timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{command[:4]} failed: {result.stderr.decode(errors='replace')}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.1)
    args = parser.parse_args()
    scale = args.time_scale
    work = Path(tempfile.mkdtemp(prefix="routeb-bench-"))
    emulator = subprocess.Popen(
        [sys.executable, "-m", "routeb", "emulate", "--time-scale", str(scale)],
        stdout=subprocess.PIPE,
    )
    try:
        assert emulator.stdout is not None
        device = json.loads(emulator.stdout.readline())["serial"]
        env = {
            **os.environ,
            "ROUTEB_ID": DEFAULT_ID,
            "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
            "ROUTEB_DEVICE": device,
            "ROUTEB_CONFIG": os.devnull,
        }
        read = [sys.executable, "-m", "routeb", "read", "0xE7", "--json"]
        python = [_timed([sys.executable, "-c", "pass"], env) for _ in range(5)]
        cold: list[float] = []
        warm: list[float] = []
        momonga: list[float] = []
        for round_ in range(args.rounds):
            state = work / f"state-{round_}"
            env["ROUTEB_STATE_DIR"] = str(state)
            cold.append(_timed(read, env))
            warm.append(_timed(read, env))
            momonga.append(
                _timed([sys.executable, "-c", MOMONGA, DEFAULT_ID, DEFAULT_PASSWORD, device], env)
            )
    finally:
        emulator.terminate()
        emulator.wait()
        if emulator.stdout is not None:
            emulator.stdout.close()
        shutil.rmtree(work, ignore_errors=True)
    profile = MeterProfile()
    channel_index = profile.channel - 0x21
    scan = SCAN_SLOT * (2**6 + 1) * (channel_index + 1) * scale
    # The emulator draws EVENT 21 and the answer delay uniformly (protocol.md §E): a median run
    # meets their means, so the floor of a median uses the means too.
    round_trip = (sum(SEND_DONE) / 2 + sum(ANSWER_DELAY) / 2) * scale
    join = JOIN_OK_SECONDS * scale
    interpreter = statistics.median(python)
    floor_warm = interpreter + join + round_trip
    floor_cold = floor_warm + scan
    med = {
        name: statistics.median(v)
        for name, v in (("cold", cold), ("warm", warm), ("momonga", momonga))
    }
    print(f"emulator time scale {scale}; {args.rounds} rounds; medians (seconds)")
    print(f"python start-up        : {interpreter:7.3f}")
    print(f"floor, warm (join+RTT) : {floor_warm:7.3f}")
    print(f"floor, cold (+scan N=6): {floor_cold:7.3f}")
    print(f"routeb warm (cache)    : {med['warm']:7.3f}  = {med['warm'] / floor_warm:.2f}× floor")
    print(f"routeb cold (scan)     : {med['cold']:7.3f}  = {med['cold'] / floor_cold:.2f}× floor")
    print(
        f"momonga 0.7 (always scans): {med['momonga']:7.3f}  "
        f"= {med['momonga'] / med['warm']:.1f}× routeb warm"
    )


if __name__ == "__main__":
    main()
