"""Keep reading through a bad radio link: `routeb run`'s polling against the emulator at real
timing, with the meter's answers lost (``--fault drop``) — issue 16 §5.

Each round starts the emulator at real timing (``time_scale`` 1: scan, join and the meter's
0.3–1 s answers as in protocol.md §E) behind a pseudo-terminal, and runs the real collector
of `routeb run` on it: ``open_wisun`` (serial code, session, client, reader), ``Collector``
with the default ``[polling]`` settings and its SQLite recorder in a temporary directory
(so the start-up backfill competes with live polling, as on a first start). Reported per
drop rate, over ``--seconds`` of collecting (counted from the moment the collector serves):

* delivered: instantaneous readings (E7 present) recorded, over the 10-s polls scheduled;
* requests/hour sent over the air, and their airtime (the emulator's own ARIB accounting:
  (bytes + 60) × 8 / 100 kbit/s per frame, protocol.md §E) against the 360 s/h budget;
* the most requests in flight at the meter at once: answers the meter has scheduled and not
  yet sent (a lost answer is not in flight; a retransmission before a slow answer is).

Then, at drop 0, every answer is lost for each of ``--silences`` seconds in turn (a 60-s radio
silence, and a 45-s one that does not line up with the 60-s AIF Timer 2), and the time from
the end of each silence to the next recorded reading is measured.

    python bench/loss.py [--rounds 3] [--seconds 300] [--drops 0,0.1,0.3] [--silences 60,45]
                         [--parallel]

With ``--parallel`` the rounds run at once, each with its own emulator, pty, collector and
database, on one event loop: the radio delays are real seconds, so they barely interact.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import statistics
import sys
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from routeb._redact import Secret
from routeb.collector.daemon import Collector, CollectorSettings
from routeb.collector.links import open_wisun
from routeb.collector.recording import StoreRecorder
from routeb.collector.supervisor import client_settings
from routeb.config import PollingConfig
from routeb.driver.session import SessionSettings
from routeb.echonet.smartmeter import InstantaneousCurrents
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.radio import FRAME_OVERHEAD, PHY_BPS, TX_BUDGET, ModuleFaults, RadioModel
from routeb.live import LiveHub
from routeb.meter.reader import MeterInfo
from routeb.storage import AsyncStore


@dataclass
class Air:
    """What the emulated radio saw: sends, airtime, answers pending at the meter."""

    sends: int = 0
    airtime: float = 0.0
    pending: int = 0
    max_pending: int = 0


@dataclass
class Counts:
    started: float | None = None
    readings: list[float] = field(default_factory=list)
    serving: asyncio.Event = field(default_factory=asyncio.Event)
    reading: asyncio.Event = field(default_factory=asyncio.Event)


class CountingRecorder(StoreRecorder):
    """The daemon's recorder, noting when the collector serves and each reading's time."""

    def __init__(self, store: AsyncStore, counts: Counts) -> None:
        super().__init__(store)
        self.counts = counts

    async def record_meter(self, meter: str, info: MeterInfo) -> None:
        if self.counts.started is None:
            self.counts.started = asyncio.get_running_loop().time()
            self.counts.serving.set()
        await super().record_meter(meter, info)

    async def record_instant(
        self,
        meter: str,
        at: datetime,
        power_w: int | None,
        currents: InstantaneousCurrents | None,
    ) -> None:
        if power_w is not None:
            self.counts.readings.append(asyncio.get_running_loop().time())
            self.counts.reading.set()
        await super().record_instant(meter, at, power_w, currents)


def _instrument(air_model: RadioModel, air: Air) -> None:
    """Count sends and airtime, and answers scheduled but not yet sent (bench-only hooks)."""
    send, later = air_model.send, air_model.later

    def counted_send(
        address_mac: str | None, to_meter_port: bool, data: bytes, source: str = ""
    ) -> Any:
        result = send(address_mac, to_meter_port, data, source)
        if to_meter_port:
            air.sends += 1
            air.airtime += (len(data) + FRAME_OVERHEAD) * 8 / PHY_BPS
        return result

    def counted_later(seconds: float, action: Any, bucket: Any = None) -> None:
        if isinstance(action, functools.partial) and action.func == air_model._answer:  # noqa: SLF001
            air.pending += 1
            air.max_pending = max(air.max_pending, air.pending)

            def answered() -> None:
                air.pending -= 1
                action()

            later(seconds, answered, bucket)
            return
        later(seconds, action, bucket)

    air_model.send = counted_send  # type: ignore[method-assign]
    air_model.later = counted_later  # type: ignore[method-assign]


@dataclass(frozen=True)
class Result:
    drop: float
    scheduled: int
    delivered: int
    requests_per_hour: float
    airtime_per_hour: float
    max_in_flight: int
    silence_recovery: dict[float, float | None]


async def _round(
    drop: float, seconds: float, silences: list[float], seed: int, work: Path
) -> Result:
    options = EmulatorOptions(
        time_scale=1.0,
        faults=ModuleFaults(drop=drop),
        radio_seed=seed,
        link=work / "tty",
    )
    emulator = Emulator(options)
    await emulator.start()
    air = Air()
    _instrument(emulator.module.air, air)
    counts = Counts()
    store = AsyncStore(work / "db.sqlite3")
    await store.open()
    polling = PollingConfig()
    assert emulator.pty is not None

    def connect() -> contextlib.AbstractAsyncContextManager[Any]:
        return open_wisun(
            emulator.pty.client_path if emulator.pty else "",
            Secret(DEFAULT_ID),
            Secret(DEFAULT_PASSWORD),
            state_dir=work / "state",
            session_settings=SessionSettings(),
            client_settings=client_settings(polling),
        )

    settings = CollectorSettings(meter="bench", instant_interval=polling.instantaneous_interval)
    collector = Collector(connect, CountingRecorder(store, counts), LiveHub(), settings)
    task = asyncio.create_task(collector.run())
    loop = asyncio.get_running_loop()
    try:
        await counts.serving.wait()
        assert counts.started is not None
        start, sends0, air0 = counts.started, air.sends, air.airtime
        await asyncio.sleep(max(0.0, start + seconds - loop.time()))
        end = loop.time()
        delivered = sum(1 for t in counts.readings if start <= t < end)
        scheduled = int(seconds // settings.instant_interval)
        hours = (end - start) / 3600
        rate = (air.sends - sends0) / hours
        airtime = (air.airtime - air0) / hours
        recovery: dict[float, float | None] = {}
        if drop == 0:
            module = emulator.module
            for length in silences:
                await asyncio.sleep(15.0)  # polling settles between two silences
                module.air.faults = replace(module.air.faults, drop=1.0)
                await asyncio.sleep(length)
                module.air.faults = replace(module.air.faults, drop=0.0)
                back = loop.time()
                counts.reading.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(counts.reading.wait(), 300)
                later = [t for t in counts.readings if t > back]
                recovery[length] = later[0] - back if later else None
        return Result(drop, scheduled, delivered, rate, airtime, air.max_pending, recovery)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
        await emulator.close()


def _spread(values: list[float], unit: str = "", digits: int = 1) -> str:
    med = statistics.median(values)
    return f"{med:.{digits}f}{unit} [{min(values):.{digits}f}–{max(values):.{digits}f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--drops", default="0,0.1,0.3")
    parser.add_argument("--silences", default="60,45", help="seconds of total loss, at drop 0")
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run every round at once (one emulator and one collector each, one event loop)",
    )
    args = parser.parse_args()
    drops = [float(d) for d in args.drops.split(",")]
    silences = [float(d) for d in args.silences.split(",") if d]
    results: dict[float, list[Result]] = {d: [] for d in drops}

    async def one(drop: float, round_: int) -> None:
        with tempfile.TemporaryDirectory(prefix="routeb-loss-") as tmp:
            result = await _round(drop, args.seconds, silences, round_, Path(tmp))
        results[drop].append(result)
        print(f"round {round_} drop {drop:g}: {result}", file=sys.stderr, flush=True)

    async def run_all() -> None:
        jobs = [(drop, round_ + 1) for round_ in range(args.rounds) for drop in drops]
        if args.parallel:
            await asyncio.gather(*(one(drop, round_) for drop, round_ in jobs))
        else:
            for drop, round_ in jobs:
                await one(drop, round_)

    asyncio.run(run_all())
    print(
        f"{args.rounds} rounds of {args.seconds:g} s at real timing; median [min–max]\n"
        "| drop | delivered / scheduled | share | requests/h | airtime s/h "
        f"(budget {TX_BUDGET:g}) | max in flight |\n|---|---|---|---|---|---|"
    )
    for drop, rows in results.items():
        shares = [100 * r.delivered / r.scheduled for r in rows]
        delivered = ", ".join(f"{r.delivered}/{r.scheduled}" for r in rows)
        print(
            f"| {drop:.0%} | {delivered} | {_spread(shares, ' %')} | "
            f"{_spread([r.requests_per_hour for r in rows], '', 0)} | "
            f"{_spread([r.airtime_per_hour for r in rows], '', 1)} | "
            f"{max(r.max_in_flight for r in rows)} |"
        )
    quiet = results.get(0.0, [])
    if silences and quiet:
        print("\n| total loss for | first reading after it ends |\n|---|---|")
        for length in silences:
            got = [r.silence_recovery[length] for r in quiet]
            times = [t for t in got if t is not None]
            text = _spread(times, " s") if times else "—"
            if len(times) < len(got):
                text += f" ({len(got) - len(times)} rounds: none within 300 s)"
            print(f"| {length:g} s | {text} |")


if __name__ == "__main__":
    main()
