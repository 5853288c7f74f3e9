"""Soak: `routeb run` against the emulator through 90 simulated days, every half-hour checked.

The emulated meter's calendar runs ``--speed`` times faster than real time from ``--days``
days ago (``routeb emulate --clock-speed S --clock-start …``), so it reaches the present at
the end of the run and every boundary stays in the recorder's past, where its backfill looks.
Everything on the meter's side happens at its simulated rate: the :00/:30 pushes (every
1800/S real seconds), the PANA lifetime (the module's S16 default of 900 s, then EVENT 29 and
re-authentication: every radio delay is scaled by 1/S), and answers lost with probability
``--drop``. ``routeb run`` itself runs unmodified, in real time, with its default schedules.

Sampled every ``--sample`` real seconds: resident memory and open file descriptors of the
`routeb run` process (/proc), its asyncio tasks (the process is started through a small
wrapper that counts them on the loop's own thread), and the database size (with its WAL).
At the end `routeb run` is sent SIGHUP (a reload runs its start-up backfill again) and given
``--settle`` seconds to fill what was lost; then every boundary of the simulated days must be
stored exactly once, with an import counter, no conflict, and counters that never go down.
Reported: the counts, and the least-squares slope of each sample per simulated 30 days over
the second half of the run (the first half holds the start-up backfill).

    python bench/soak.py [--days 90] [--speed 3600] [--drop 0.02] [--sample 30] [--settle 600]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD
from routeb.meter_time import JST, SLOT, SLOT_SECONDS

# `routeb run` as the console script runs it, plus a thread that asks the loop (on its own
# thread) how many tasks and live Python objects (gc-tracked) it holds and appends
# "unix-time tasks objects" lines to a file. Objects flat while RSS rises: not a Python leak.
WRAPPER = """
import asyncio, gc, sys, threading, time
from routeb.cli import main
out, interval = sys.argv[1], float(sys.argv[2])
loops = []
class Policy(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self):
        loop = super().new_event_loop()
        loops.append(loop)
        return loop
asyncio.set_event_loop_policy(Policy())
def count(loop):
    with open(out, "a") as f:
        f.write(f"{time.time():.1f} {len(asyncio.all_tasks(loop))} {len(gc.get_objects())}\\n")
def sample():
    while True:
        time.sleep(interval)
        for loop in list(loops):
            if not loop.is_closed() and loop.is_running():
                loop.call_soon_threadsafe(count, loop)
threading.Thread(target=sample, daemon=True).start()
sys.exit(main(["run", *sys.argv[3:]]))
"""


@dataclass(frozen=True, slots=True)
class Sample:
    real_s: float  # seconds since `routeb run` started
    rss_mb: float
    fds: int
    tasks: int | None
    objects: int | None  # gc-tracked Python objects in the process
    db_mb: float


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _db_mb(db: Path) -> float:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*")) / 1e6


def _tasks(path: Path) -> tuple[int | None, int | None]:
    """The latest (tasks, objects) the wrapper wrote."""
    if not path.exists():
        return None, None
    lines = [line for line in path.read_text().split("\n") if line.strip()]
    if not lines:
        return None, None
    _, tasks, objects = lines[-1].split()
    return int(tasks), int(objects)


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y)."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def check_slots(db: Path, first: datetime, end: datetime) -> dict[str, int]:
    """Every :00/:30 boundary in [first, end) stored once with an import counter, no conflict,
    and import counters that never go down."""
    low, high = int(first.timestamp()), int(end.timestamp())
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT slot_start, import_raw, conflicts FROM slots "
            "WHERE slot_start >= ? AND slot_start < ? ORDER BY slot_start",
            (low, high),
        ).fetchall()
    expected = (high - low) // SLOT_SECONDS
    starts = [r[0] for r in rows]
    with_counter = [r for r in rows if r[1] is not None]
    backwards = sum(1 for a, b in itertools.pairwise(with_counter) if b[1] < a[1])
    return {
        "expected": expected,
        "stored": len(set(starts)),
        "duplicates": len(starts) - len(set(starts)),
        "without_counter": len(rows) - len(with_counter),
        "conflicts": sum(int(r[2]) for r in rows),
        "backwards": backwards,
        "lost": expected - len({r[0] for r in with_counter}),
    }


def _config(work: Path, device: str) -> Path:
    config = work / "config.toml"
    config.write_text(
        f'[meter]\nid = "{DEFAULT_ID}"\npassword = "{DEFAULT_PASSWORD}"\n'
        f'device = "{device}"\nstate_dir = "{work / "state"}"\n'
        f'[storage]\ndb = "{work / "db.sqlite3"}"\n[http]\nlisten = "127.0.0.1:0"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--days", type=float, default=90.0, help="simulated days")
    parser.add_argument("--speed", type=float, default=3600.0, help="meter calendar speed")
    parser.add_argument("--drop", type=float, default=0.02, help="probability an answer is lost")
    parser.add_argument("--sample", type=float, default=30.0, help="real seconds between samples")
    parser.add_argument("--settle", type=float, default=600.0, help="real seconds for recovery")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="routeb-soak-"))
    db = work / "db.sqlite3"
    task_log = work / "tasks.txt"
    env = {**os.environ, "HOME": str(work)}
    # The meter's calendar: from --days (and an hour) ago, floored to a boundary, at --speed.
    now_jst = datetime.now(JST).replace(tzinfo=None)
    start_jst = now_jst - timedelta(days=args.days, hours=1)
    start_jst -= timedelta(minutes=start_jst.minute % 30, seconds=start_jst.second)
    start_jst = start_jst.replace(microsecond=0)
    first = (start_jst + SLOT).replace(tzinfo=JST).astimezone(UTC)  # the first whole boundary
    end = (start_jst + timedelta(days=args.days)).replace(tzinfo=JST).astimezone(UTC)
    emulate = [
        sys.executable, "-m", "routeb", "emulate",
        "--clock-speed", str(args.speed), "--clock-start", start_jst.isoformat(),
        "--time-scale", str(1 / args.speed), "--fault", f"drop={args.drop}",
        "--link", str(work / "tty"),
    ]  # fmt: skip
    emulator = subprocess.Popen(emulate, stdout=subprocess.PIPE, env=env)
    children: list[subprocess.Popen[bytes]] = [emulator]
    samples: list[Sample] = []
    try:
        assert emulator.stdout is not None
        json.loads(emulator.stdout.readline())
        config = _config(work, str(work / "tty"))
        run = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRAPPER,
                str(task_log),
                str(args.sample / 2),
                "--config",
                str(config),
            ],
            env=env,
            stderr=open(work / "run.log", "wb"),  # noqa: SIM115 - closed with the process
        )
        children.append(run)
        started = time.monotonic()
        duration = args.days * 86_400 / args.speed
        print(
            f"{args.days:g} simulated days at {args.speed:g}× = {duration / 60:.1f} min, "
            f"meter from {start_jst:%Y-%m-%d %H:%M} JST; work in {work}",
            flush=True,
        )
        while time.monotonic() - started < duration:
            time.sleep(args.sample)
            if run.poll() is not None:
                log = (work / "run.log").read_text(errors="replace")
                raise SystemExit(f"routeb run exited with {run.returncode}: {log[-2000:]}")
            samples.append(
                Sample(
                    time.monotonic() - started,
                    _rss_mb(run.pid),
                    len(os.listdir(f"/proc/{run.pid}/fd")),
                    *_tasks(task_log),
                    _db_mb(db),
                )
            )
            s = samples[-1]
            print(
                f"  {s.real_s / 60:6.1f} min ({s.real_s * args.speed / 86_400:5.1f} days): "
                f"RSS {s.rss_mb:5.1f} MB, {s.fds} fds, {s.tasks} tasks, {s.objects} objects, "
                f"db {s.db_mb:6.1f} MB",
                flush=True,
            )
        before = check_slots(db, first, end)
        print(f"at the end of the simulated days: {before}", flush=True)
        run.send_signal(signal.SIGHUP)  # a reload runs the start-up backfill again
        settle_end = time.monotonic() + args.settle
        after = before
        while time.monotonic() < settle_end:
            time.sleep(10)
            after = check_slots(db, first, end)
            if after["lost"] == 0:
                break
        print(f"after the reload's backfill: {after}", flush=True)
    finally:
        for child in reversed(children):
            child.terminate()
            child.wait(30)
            if child.stdout is not None:
                child.stdout.close()
    half = [s for s in samples if s.real_s >= samples[-1].real_s / 2] if samples else []
    per_month = 30 * 86_400 / args.speed  # real seconds per simulated 30 days
    print(f"\nsamples: {len(samples)}; slopes per simulated 30 days over the second half:")
    for name, values in (
        ("RSS (MB)", [(s.real_s / per_month, s.rss_mb) for s in half]),
        ("open fds", [(s.real_s / per_month, s.fds) for s in half]),
        ("tasks", [(s.real_s / per_month, s.tasks) for s in half if s.tasks is not None]),
        ("objects", [(s.real_s / per_month, s.objects) for s in half if s.objects is not None]),
        ("db (MB)", [(s.real_s / per_month, s.db_mb) for s in half]),
    ):
        if len(values) >= 2:
            ys = [v[1] for v in values]
            print(
                f"  {name:9} {_slope(values):+8.3f} per 30 days "
                f"(median {statistics.median(ys):.1f}, min {min(ys):.1f}, max {max(ys):.1f})"
            )
    if samples:
        print(f"  RSS max over the whole run: {max(s.rss_mb for s in samples):.1f} MB")
    print(f"slots of the simulated days: {after}")
    print(f"(work directory kept for inspection: {work})")


if __name__ == "__main__":
    main()
