"""Resident memory and CPU of `routeb run` polling every 10 s, against the emulator.

Starts `routeb emulate` (real radio timing) and `routeb run` on it with a temporary config,
samples /proc every 10 s for ``--minutes`` (default 10), and reports RSS (median, max) and CPU
as a percentage of one core — overall, and in the steady state after the start-up backfill.

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="routeb-footprint-"))
    emulator = subprocess.Popen([sys.executable, "-m", "routeb", "emulate"], stdout=subprocess.PIPE)
    run: subprocess.Popen[bytes] | None = None
    try:
        assert emulator.stdout is not None
        device = json.loads(emulator.stdout.readline())["serial"]
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
        samples: list[tuple[float, float, float]] = []  # (elapsed, rss MB, cpu s)
        start = time.monotonic()
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(10)
            if run.poll() is not None:
                raise SystemExit(f"routeb run exited with {run.returncode}")
            samples.append((time.monotonic() - start, _rss_mb(run.pid), _cpu_seconds(run.pid)))
    finally:
        for child in (run, emulator):
            if child is not None:
                child.terminate()
                child.wait()
        if emulator.stdout is not None:
            emulator.stdout.close()
        shutil.rmtree(work, ignore_errors=True)
    rss = [s[1] for s in samples]
    total_cpu = samples[-1][2] / samples[-1][0] * 100
    steady = [s for s in samples if s[0] >= samples[-1][0] / 2]
    steady_cpu = (steady[-1][2] - steady[0][2]) / (steady[-1][0] - steady[0][0]) * 100
    print(f"routeb run, polling every 10 s, {args.minutes:g} min, {len(samples)} samples")
    print(f"RSS   : median {statistics.median(rss):.1f} MB, max {max(rss):.1f} MB")
    print(f"CPU   : {total_cpu:.2f}% of one core overall (start-up backfill included)")
    print(f"CPU   : {steady_cpu:.2f}% of one core in the second half (steady state)")


if __name__ == "__main__":
    main()
