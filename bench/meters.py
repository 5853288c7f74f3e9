"""Several meters on one dongle at real radio timing: what a visit costs and what is lost.

For 1, 2 and 3 meters around one emulated module (``--meters N``) whose radio runs at real
timing (time scale 1: scans, joins, answers as protocol.md §E and the emulator's fidelity
bench measure them), routeb's own supervisor — the code ``routeb run`` runs, with the
config's default visit timing (switch pause 10 s, visits of 20..120 s) and pacing (1 s
between requests) — records into a real SQLite store. The meters' calendars run
``--clock-speed`` times real time (default 60: a half-hour every 30 s) so that half-hours
accrue between visits. Measured, per meter:

- the interval between live readings (E7), median and max: one meter is polled every 10 s;
  meters sharing the dongle are read once per visit, so this is the round's length;
- the backfill lag: real seconds from a half-hour boundary on the meter to its reading in
  the store (median and max), with pushes lost between visits and fetched from history;
- per visit: the connect (open, configure, join from the cache, AIF start-up), and every
  backfill pass against what it needs — its requests × (the emulator's mean answer delay of
  0.65 s + the 1 s gap), live polls interleaved included (target ≤ 1.2×); the round trip
  measured here is shown beside it.

    python bench/meters.py [--rounds 3] [--clock-speed 60] [--meters 1 2 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from routeb._redact import Secret
from routeb.collector import daemon as daemon_module
from routeb.collector import supervisor as supervisor_module
from routeb.collector.links import Endpoint, open_link
from routeb.collector.recording import StoreRecorder
from routeb.collector.supervisor import Supervisor, client_settings, meter_plans
from routeb.config import Config, MeterConfig, PollingConfig
from routeb.driver.session import SessionSettings
from routeb.emulator.app import (
    DEFAULT_ID,
    DEFAULT_PASSWORD,
    Emulator,
    EmulatorOptions,
    meter_credentials,
)
from routeb.emulator.profile import MeterProfile
from routeb.emulator.radio import ANSWER_DELAY
from routeb.live import LiveHub
from routeb.storage import AsyncStore, SqliteStore, utc_to_jst

NAMES = ("house", "rental", "ev")
_CURRENT: list[Probe] = []
_INSTALLED: list[bool] = []


class Probe:
    """Timings taken around the supervisor's connector and the collector's backfill."""

    def __init__(self) -> None:
        self.connects: list[float] = []
        self.backfills: list[tuple[str, float, int]] = []  # meter, seconds, requests
        self.readings: dict[str, list[float]] = defaultdict(list)
        self.lags: dict[str, list[float]] = defaultdict(list)
        self.visits: dict[str, int] = defaultdict(int)
        self.stored: dict[str, set[datetime]] = {}
        self.since: dict[str, datetime] = {}  # each meter's clock when the run began

    def install(self) -> None:
        """Route the timings to this probe (the wrappers are installed once per process)."""
        _CURRENT[:] = [self]
        if _INSTALLED:
            return
        _INSTALLED.append(True)
        real_open = supervisor_module.open_link
        real_backfill = daemon_module.Collector.backfill
        real_visit = daemon_module.Collector.visit

        async def counted_visit(self: daemon_module.Collector, *args: Any) -> bool:
            reached = await real_visit(self, *args)
            _CURRENT[0].visits[self.settings.meter] += 1
            return reached

        @contextlib.asynccontextmanager
        async def timed_open(endpoint: Endpoint, **kw: Any) -> AsyncIterator[Any]:
            start = time.perf_counter()
            async with real_open(endpoint, **kw) as link:
                _CURRENT[0].connects.append(time.perf_counter() - start)
                yield link

        async def timed_backfill(self: daemon_module.Collector, link: Any) -> int:
            before = link.client.stats.requests
            start = time.perf_counter()
            filled = await real_backfill(self, link)
            requests = link.client.stats.requests - before
            if filled:
                _CURRENT[0].backfills.append(
                    (self.settings.meter, time.perf_counter() - start, requests)
                )
            return filled

        supervisor_module.open_link = timed_open  # type: ignore[assignment]
        daemon_module.Collector.backfill = timed_backfill  # type: ignore[method-assign]
        daemon_module.Collector.visit = counted_visit  # type: ignore[method-assign]


async def _round_trip(device: str) -> float:
    """One Get round trip on this emulator, no gap (median of 5; shown, not used)."""
    endpoint = Endpoint(
        device,
        Secret(DEFAULT_ID),
        Secret(DEFAULT_PASSWORD),
        session_settings=SessionSettings(),
        client_settings=replace(client_settings(PollingConfig()), min_gap=0.0),
    )
    times = []
    async with open_link(endpoint) as link:
        for _ in range(5):
            start = time.perf_counter()
            await link.reader.read([0xE7])
            times.append(time.perf_counter() - start)
    return statistics.median(times)


async def _watch(probe: Probe, hub: LiveHub) -> None:
    seen: dict[str, datetime] = {}
    async for state in hub.updates():
        if state.power_at is not None and seen.get(state.meter) != state.power_at:
            seen[state.meter] = state.power_at
            probe.readings[state.meter].append(time.monotonic())


def _sample_lags(probe: Probe, db: Path, emulator: Emulator, names: tuple[str, ...]) -> None:
    stored = probe.stored
    with SqliteStore(db, read_only=True) as store:
        for name, meter in zip(names, emulator.meters, strict=True):
            start = datetime(2000, 1, 1).astimezone()
            end = datetime(2100, 1, 1).astimezone()
            slots = {utc_to_jst(s.at) for s in store.slots(name, start, end)}
            known = stored.setdefault(name, slots)
            for at in slots - known:
                if at <= probe.since[name]:
                    continue  # history from before the run (the first backfill)
                # Real seconds since the meter crossed this boundary.
                ago = (meter.now() - at).total_seconds() / emulator.options.clock_speed
                probe.lags[name].append(ago)
            known |= slots


async def _run(count: int, rounds: int, speed: float, work: Path) -> dict[str, Any]:
    profile = replace(MeterProfile(), installed_days_ago=Decimal("0.25"), seed=5)
    emulator = Emulator(
        EmulatorOptions(time_scale=1.0, clock_speed=speed, profile=profile, meters=count)
    )
    ready = await emulator.start()
    device = str(ready["serial"])
    rtt = await _round_trip(device)
    await asyncio.sleep(PollingConfig().switch_pause)  # the meter's clean-up after SKTERM
    names = NAMES[:count]
    tables = []
    for index, name in enumerate(names, start=1):
        rbid, password = meter_credentials(DEFAULT_ID, DEFAULT_PASSWORD, index)
        tables.append(
            MeterConfig(
                name=name,
                id=Secret(rbid),
                password=Secret(password),
                device=device,
                state_dir=work / "state",
            )
        )
    config = Config(meters=tuple(tables))
    first = Endpoint(
        device,
        Secret(DEFAULT_ID),
        Secret(DEFAULT_PASSWORD),
        state_dir=work / "state",
        session_settings=SessionSettings(),
        client_settings=client_settings(config.polling),
    )
    plans = meter_plans(config, first=first, name=names[0] if count == 1 else None)
    db = work / f"meters-{count}.sqlite3"
    store = AsyncStore(db)
    await store.open()
    hub = LiveHub()
    probe = Probe()
    probe.install()
    supervisor = Supervisor(
        plans, StoreRecorder(store), hub, supervisor_module.rotation_settings(config.polling)
    )
    for name, meter in zip(names, emulator.meters, strict=True):
        probe.since[name] = meter.now()
    watcher = asyncio.create_task(_watch(probe, hub))
    running = asyncio.create_task(supervisor.run())
    started = time.monotonic()

    # One meter: 9 live readings (and the pushes); several: ``rounds`` visits of every meter
    # after the first (which fetches the history since installation and scans).
    def done() -> bool:
        if count == 1:
            return min(len(probe.readings[n]) for n in names) >= 9 * rounds
        return min(probe.visits[n] for n in names) >= rounds + 1

    try:
        while not done():
            await asyncio.sleep(1.0)
            await store.flush()
            _sample_lags(probe, db, emulator, names)
            if time.monotonic() - started > 1800:
                raise SystemExit("no progress in 30 minutes")
    finally:
        running.cancel()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await store.close()
        await emulator.close()
    gaps = [
        b - a for n in names for a, b in zip(probe.readings[n], probe.readings[n][1:], strict=False)
    ]
    lags = [lag for n in names for lag in probe.lags[n]]
    # What each request needs: the emulator's mean answer delay (protocol.md §E, 0.3–1.0 s
    # after SKSENDTO; the fidelity bench measures a 0.64 s median) and the 1 s gap.
    needed = sum(ANSWER_DELAY) / 2 + PollingConfig().min_gap
    ratios = [seconds / (requests * needed) for _, seconds, requests in probe.backfills]
    return {
        "meters": count,
        "rtt": rtt,
        # Between visits: gaps longer than 1.5 × the 10 s poll (none with one meter).
        "reading_interval": (
            statistics.median(gaps),
            statistics.median([g for g in gaps if g > 15.0] or [float("nan")]),
            max(gaps),
        ),
        "lag": (statistics.median(lags), max(lags)) if lags else (float("nan"),) * 2,
        # The first connect of each meter scans; the rest join from the cache.
        "connect": (
            statistics.median(probe.connects[count:] or probe.connects),
            max(probe.connects),
        ),
        "backfill_ratio": (statistics.median(ratios), min(ratios), max(ratios))
        if ratios
        else (float("nan"),) * 3,
        "backfills": len(ratios),
        "wall": time.monotonic() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clock-speed", type=float, default=60.0)
    parser.add_argument("--meters", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="routeb-bench-meters-"))
    print(
        "| meters | live reading interval s (median / between visits / max) "
        "| backfill lag s (median / max) | connect s (median / max) "
        "| backfill ÷ needed (median, min–max, passes) | Get round trip ms | run s |"
    )
    print("|---|---|---|---|---|---|---|")
    for count in args.meters:
        r = asyncio.run(_run(count, args.rounds, args.clock_speed, work))
        ratio = r["backfill_ratio"]
        print(
            f"| {count} | {r['reading_interval'][0]:.1f} / {r['reading_interval'][1]:.1f} / "
            f"{r['reading_interval'][2]:.1f} "
            f"| {r['lag'][0]:.1f} / {r['lag'][1]:.1f} "
            f"| {r['connect'][0]:.1f} / {r['connect'][1]:.1f} "
            f"| {ratio[0]:.2f}×, {ratio[1]:.2f}–{ratio[2]:.2f}, {r['backfills']} "
            f"| {r['rtt'] * 1000:.0f} | {r['wall']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
