"""Crash safety: a writer SIGKILLed at random moments loses only uncommitted rows, never the file.

A child process writes continuously through AsyncStore (instantaneous readings every second,
a slot every 30 minutes of its timeline, an event now and then) and appends the last flushed
second to a progress file after every ``flush()``. The test kills it 20 times at random
moments — during start-up and migrations too — restarting it on the same database each time;
afterwards the database must pass ``check()``, hold no duplicate, and contain every reading up
to the last second a child reported as flushed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from routeb.storage import RetentionPolicy, SqliteStore, check

ROUNDS = 20
# Recent, so the default retention would keep it; the child disables retention anyway.
_NOW = datetime.now(UTC)
BASE = _NOW.replace(minute=_NOW.minute // 30 * 30, second=0, microsecond=0) - timedelta(days=3)

CHILD = """
import asyncio, sys
from datetime import datetime, timedelta
from decimal import Decimal
from routeb.echonet.energy import EnergyScale
from routeb.storage import (
    AsyncStore, InstantReading, LinkEvent, RetentionPolicy, SlotReading, SlotSource,
)

db, progress, base = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
SCALE = EnergyScale(1, Decimal("0.1"))

def last_second(store):
    row = store.connection.execute("SELECT max(ts) FROM instant").fetchone()[0]
    return -1 if row is None else row - int(base.timestamp())

async def main():
    async with AsyncStore(db, commit_interval=0.02, max_batch=64,
                          retention=RetentionPolicy(None)) as store:
        i = await store.call(last_second) + 1
        with open(progress, "a") as out:
            out.write("ready\\n"); out.flush()
            while True:
                for _ in range(40):
                    # The instant goes last: it is what a restart resumes after, and commits
                    # keep submission order, so everything before it is in by then.
                    at = base + timedelta(seconds=i)
                    if i % 1800 == 0:
                        store.submit(SlotReading("home", at, (i // 1800 * 7) % 10**6, None,
                                                 SlotSource.PUSH, SCALE, 6))
                    if i % 500 == 0:
                        store.submit(LinkEvent("home", at, "tick", str(i)))
                    store.submit(InstantReading("home", at, i % 4000, Decimal(i % 300) / 10))
                    i += 1
                await store.flush()
                out.write(f"{i - 1}\\n"); out.flush()

asyncio.run(main())
"""


def _last_flushed(progress: Path) -> int:
    if not progress.exists():
        return -1
    numbers = [int(line) for line in progress.read_text().split() if line.isdigit()]
    return max(numbers, default=-1)


def _wait_ready(progress: Path, lines_before: int, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if progress.exists() and progress.read_text().count("ready") > lines_before:
            return
        if child.poll() is not None:
            raise AssertionError(f"the writer exited: {child.stderr.read().decode()}")  # type: ignore[union-attr]
        time.sleep(0.005)
    raise AssertionError("the writer did not start")


def test_sigkill_at_random_moments_never_loses_committed_rows(tmp_path: Path) -> None:
    db = tmp_path / "routeb.sqlite3"
    progress = tmp_path / "progress"
    rng = random.Random(20260520)
    for round_ in range(ROUNDS):
        started = progress.read_text().count("ready") if progress.exists() else 0
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(progress), BASE.isoformat()],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            if round_ % 4 == 0:
                # Kill anywhere, including while the database is being created or migrated.
                time.sleep(rng.uniform(0.0, 0.35))
            else:
                _wait_ready(progress, started, child)
                time.sleep(rng.uniform(0.01, 0.2))
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            assert child.stderr is not None
            errors = child.stderr.read().decode(errors="replace")
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL, errors
        # Every reading up to the last reported flush survived this kill.
        flushed = _last_flushed(progress)
        if db.exists() and flushed >= 0:
            with SqliteStore(db, read_only=True, retention=RetentionPolicy(None)) as reader:
                kept = reader.counts()["instant"]
            assert kept >= flushed + 1

    flushed = _last_flushed(progress)
    assert flushed > 100, "the writer never got going; the test proves nothing"
    report = check(db)
    assert report.ok, report.summary()
    with SqliteStore(db, read_only=True, retention=RetentionPolicy(None)) as store:
        readings = store.instant("home", BASE, BASE + timedelta(days=10))
        seconds = [int((r.at - BASE).total_seconds()) for r in readings]
        # Contiguous from 0: the child resumes after the last committed second, no holes.
        assert seconds == list(range(len(seconds)))
        assert len(seconds) >= flushed + 1
        slots = store.slots("home", BASE, BASE + timedelta(days=10))
        assert [int((s.at - BASE).total_seconds()) for s in slots] == list(
            range(0, len(seconds), 1800)
        )
        assert [s.import_use_e4 for s in slots[:-1]] == [7 * 1000] * (len(slots) - 1)
        events = store.events("home", BASE, BASE + timedelta(days=10))
        assert [e.detail for e in events] == [str(i) for i in range(0, len(seconds), 500)]
        minutes = store.power("home", BASE, BASE + timedelta(days=10))
        # The aggregates count every stored reading exactly once, kills notwithstanding.
        assert sum(m.samples for m in minutes) == len(seconds)
        assert sum(m.sum_w for m in minutes) == sum(r.power_w or 0 for r in readings)
