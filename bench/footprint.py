"""Resident memory and CPU of `routeb run` polling every 10 s, against the emulator.

Starts `routeb emulate` (real radio timing) and `routeb run` on it with a temporary config,
samples /proc every 10 s for ``--minutes`` (default 10), and reports RSS (median, max) and CPU
as a percentage of one core — overall, and in the steady state after the start-up backfill.
In the same run, on a second emulator, a momonga 0.7 loop that only reads instantaneous power
every 10 s and cumulative energy every minute (no storage, no HTTP, no backfill) is measured
the same way, for scale.

    python bench/footprint.py [--minutes 10]
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

TICKS = os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


MOMONGA_LOOP = """
import sys, time, momonga
with momonga.Momonga(sys.argv[1], sys.argv[2], sys.argv[3]) as m:
    n = 0
    while True:
        m.get_instantaneous_power()
        if n % 6 == 0:
            m.get_measured_cumulative_energy()
        n += 1
        time.sleep(10)
"""


def _emulator() -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen([sys.executable, "-m", "routeb", "emulate"], stdout=subprocess.PIPE)
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())["serial"]


def _report(name: str, minutes: float, samples: list[tuple[float, float, float]]) -> None:
    rss = [s[1] for s in samples]
    total_cpu = samples[-1][2] / samples[-1][0] * 100
    steady = [s for s in samples if s[0] >= samples[-1][0] / 2]
    steady_cpu = (steady[-1][2] - steady[0][2]) / (steady[-1][0] - steady[0][0]) * 100
    print(f"{name}, polling every 10 s, {minutes:g} min, {len(samples)} samples")
    print(f"  RSS : median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB")
    print(f"  CPU : {total_cpu:.2f}% of one core overall (start-up included)")
    print(f"  CPU : {steady_cpu:.2f}% of one core in the second half (steady state)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="routeb-footprint-"))
    children: list[subprocess.Popen[bytes]] = []
    try:
        emulator, device = _emulator()
        children.append(emulator)
        config = work / "config.toml"
        config.write_text(
            f'[meter]\nid = "{DEFAULT_ID}"\npassword = "{DEFAULT_PASSWORD}"\n'
            f'device = "{device}"\nstate_dir = "{work / "state"}"\n'
            f'[storage]\ndb = "{work / "db.sqlite3"}"\n[http]\nlisten = "127.0.0.1:0"\n',
            encoding="utf-8",
        )
        config.chmod(0o600)
        run = subprocess.Popen(
            [sys.executable, "-m", "routeb", "run", "--config", str(config)],
            stderr=open(work / "run.log", "wb"),  # noqa: SIM115 - closed with the process
        )
        children.append(run)
        other, other_device = _emulator()
        children.append(other)
        peer = subprocess.Popen(
            [sys.executable, "-c", MOMONGA_LOOP, DEFAULT_ID, DEFAULT_PASSWORD, other_device],
            stdout=subprocess.DEVNULL,
            stderr=open(work / "momonga.log", "wb"),  # noqa: SIM115 - closed with the process
        )
        children.append(peer)
        samples: dict[str, list[tuple[float, float, float]]] = {"routeb": [], "momonga": []}
        start = time.monotonic()
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(10)
            for name, child in (("routeb run", run), ("momonga 0.7", peer)):
                if child.poll() is not None:
                    log = (work / ("run.log" if child is run else "momonga.log")).read_text()
                    raise SystemExit(f"{name} exited with {child.returncode}: {log[-2000:]}")
            elapsed = time.monotonic() - start
            samples["routeb"].append((elapsed, _rss_mb(run.pid), _cpu_seconds(run.pid)))
            samples["momonga"].append((elapsed, _rss_mb(peer.pid), _cpu_seconds(peer.pid)))
    finally:
        for child in reversed(children):
            child.terminate()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()
        shutil.rmtree(work, ignore_errors=True)
    _report("routeb run (recording, HTTP, backfill)", args.minutes, samples["routeb"])
    _report("momonga 0.7 loop (reads only)", args.minutes, samples["momonga"])


if __name__ == "__main__":
    main()
