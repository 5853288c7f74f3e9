"""A simulated fleet: N homes publishing the fleet stream, for tests, demos and the benchmark.

Every home is a :class:`routeb.emulator.household.Household` with its own seed (a third with
solar), read every ``poll`` seconds of simulated time: instantaneous power and currents at each
poll, the cumulative counters every minute, and at each :00/:30 boundary the slot with its
counters — published by every home at once, the real fleet's burst — then again with its usage
once the next boundary is known (a larger ``seq``, as the home's outbox does). Each home keeps
what the broker has not acknowledged and re-sends it oldest first; homes picked for an outage
stop publishing for a while and then replay their backlog, homes picked for a replay send part
of their history twice (the ingest must store it once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

import aiomqtt

from routeb.emulator.household import Direction, Household
from routeb.fleet.schema import FleetMessage, encode, topic_for
from routeb.fleet.settings import FleetSettings, RoutedPublisher, mqtt_client
from routeb.meter_time import JST, SLOT_SECONDS

__all__ = ["FleetSimulator", "SimulatedHome", "run_fleet"]

_LOG = logging.getLogger(__name__)
_UNIT: Final = "0.01"
_UNIT_CODE: Final = 0x02  # E1: 0.01 kWh
_E4_PER_COUNT: Final = 100
_DIGITS: Final = 6


@dataclass(slots=True)
class SimulatedHome:
    """One home: identity, model, what it still has to publish."""

    site: str
    meter: str
    household: Household
    outage: tuple[int, int] | None = None  # [start, end) in UTC seconds: offline
    replay: bool = False
    backlog: deque[FleetMessage] = field(default_factory=deque)
    sent: list[FleetMessage] = field(default_factory=list)
    seq: int = 0
    last_boundary: tuple[int, int, int] | None = None  # (ts, import_raw, export_raw)

    def _counters(self, ts: int) -> tuple[int, int]:
        at = datetime.fromtimestamp(ts, JST).replace(tzinfo=None)
        from decimal import Decimal  # noqa: PLC0415

        unit = Decimal(_UNIT)
        return (
            self.household.counter_at(at, Direction.NORMAL, 1, unit, _DIGITS),
            self.household.counter_at(at, Direction.REVERSE, 1, unit, _DIGITS),
        )

    def window(self, start: int, end: int, poll: int) -> FleetMessage:
        """Readings with time stamps in [start, end)."""
        message = FleetMessage(self.site, self.meter)
        first = start + (-start % poll)
        for ts in range(first, end, poll):
            at = datetime.fromtimestamp(ts, JST).replace(tzinfo=None)
            power = self.household.power_at(at)
            r, t = self.household.currents_at(at)
            t_da = None if t is None else max(-32_767, min(32_765, t))
            message.instant.append((ts, power, max(-32_767, min(32_765, r)), t_da))
        for ts in range(start + (-start % 60), end, 60):
            imp, exp = self._counters(ts)
            message.cumulative.append((ts, imp, exp, 1, _UNIT_CODE, _DIGITS))
        for ts in range(start + (-start % SLOT_SECONDS), end, SLOT_SECONDS):
            imp, exp = self._counters(ts)
            previous = self.last_boundary
            if previous is not None and previous[0] == ts - SLOT_SECONDS:
                self.seq += 1
                message.slots.append((
                    previous[0], previous[1], previous[2], 1, _UNIT_CODE, _DIGITS,
                    (imp - previous[1]) * _E4_PER_COUNT, (exp - previous[2]) * _E4_PER_COUNT,
                    self.seq,
                ))  # fmt: skip
            self.seq += 1
            message.slots.append((ts, imp, exp, 1, _UNIT_CODE, _DIGITS, None, None, self.seq))
            self.last_boundary = (ts, imp, exp)
        return message

    def online(self, now: int) -> bool:
        """False during this home's outage."""
        return self.outage is None or not self.outage[0] <= now < self.outage[1]


def _chunks(message: FleetMessage, max_rows: int) -> Iterator[FleetMessage]:
    if message.readings <= max_rows:
        yield message
        return
    for kind in ("instant", "cumulative", "slots"):
        rows = getattr(message, kind)
        for i in range(0, len(rows), max_rows):
            part = FleetMessage(message.site, message.meter)
            setattr(part, kind, rows[i : i + max_rows])
            yield part


class FleetSimulator:
    """N homes on one simulated clock (UTC seconds, starting at ``start``)."""

    def __init__(
        self,
        homes: int,
        *,
        start: datetime | None = None,
        poll: int = 10,
        seed: int = 1,
        solar: float = 1 / 3,
        outages: float = 0.0,
        replays: float = 0.0,
        max_rows: int = 2000,
        site_prefix: str = "site",
    ) -> None:
        begin = start or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        self.now = int(begin.timestamp())
        self.start = self.now
        self.poll = poll
        self.max_rows = max_rows
        rng = random.Random(seed)
        epoch = datetime.fromtimestamp(self.now, JST).replace(tzinfo=None)
        self.homes: list[SimulatedHome] = []
        for n in range(homes):
            household = Household(
                seed * 1_000_003 + n,
                epoch=epoch,
                initial_import_kwh=rng.randrange(1000, 60000),
                pv_watts=rng.choice((3000, 4500, 6000)) if rng.random() < solar else 0,
                load_scale=round(rng.uniform(0.6, 1.6), 2),
                three_wire=rng.random() < 0.85,
            )
            self.homes.append(
                SimulatedHome(
                    f"{site_prefix}-{n:05d}",
                    f"meter-{n:05d}",
                    household,
                    replay=rng.random() < replays,
                )
            )
        self._outage_fraction = outages
        self._rng = rng
        # Unique (meter, ts) per kind generated so far: what the fleet store must end with.
        self.generated: dict[str, int] = {"instant": 0, "cumulative": 0, "slots": 0}

    def plan_outages(self, duration: int) -> None:
        """Offline windows (within ``duration`` from now) for the chosen fraction of homes."""
        for home in self.homes:
            if self._rng.random() < self._outage_fraction:
                begin = self.now + self._rng.randrange(0, max(1, duration // 2))
                home.outage = (
                    begin,
                    begin + self._rng.randrange(duration // 8 + 1, duration // 2 + 2),
                )

    def advance(self, seconds: int) -> int:
        """Move the clock; every home queues the readings of the window. Readings queued."""
        end = self.now + seconds
        queued = 0
        for home in self.homes:
            message = home.window(self.now, end, self.poll)
            self.generated["instant"] += len(message.instant)
            self.generated["cumulative"] += len(message.cumulative)
            self.generated["slots"] += sum(1 for row in message.slots if row[6] is None)
            for part in _chunks(message, self.max_rows):
                if part.readings:
                    home.backlog.append(part)
                    queued += part.readings
        self.now = end
        return queued

    def due(self) -> list[tuple[SimulatedHome, FleetMessage]]:
        """What online homes publish now (their whole backlog, oldest first, plus replays)."""
        out: list[tuple[SimulatedHome, FleetMessage]] = []
        for home in self.homes:
            if not home.online(self.now):
                continue
            out.extend((home, m) for m in home.backlog)
            if home.replay and home.sent and self._rng.random() < 0.2:
                out.extend((home, m) for m in home.sent[-3:])  # duplicates on purpose
        return out


@dataclass(slots=True)
class FleetStats:
    """What a run published."""

    messages: int = 0
    readings: int = 0
    errors: int = 0
    elapsed: float = 0.0


async def _publish_all(
    clients: list[RoutedPublisher],
    items: list[tuple[SimulatedHome, FleetMessage]],
    base_topic: str,
    stats: FleetStats,
) -> None:
    async def one(index: int, home: SimulatedHome, message: FleetMessage) -> None:
        message.sent = time.time()
        client = clients[index % len(clients)]
        # Like the agent: a message no subscription took stays in the backlog (NotRoutedError).
        await client.publish(topic_for(base_topic, home.site, home.meter), encode(message),
                             timeout=10)  # fmt: skip
        stats.messages += 1
        stats.readings += message.readings
        if home.backlog and home.backlog[0] is message:
            home.backlog.popleft()
            home.sent.append(message)
            del home.sent[:-10]

    homes = {id(h): i for i, h in enumerate({id(h): h for h, _ in items}.values())}
    # One task per home so each home's messages stay in order (oldest first).
    by_home: dict[int, list[FleetMessage]] = {}
    owners: dict[int, SimulatedHome] = {}
    for home, message in items:
        by_home.setdefault(id(home), []).append(message)
        owners[id(home)] = home

    async def home_task(key: int) -> None:
        for message in by_home[key]:
            await one(homes[key], owners[key], message)

    results = await asyncio.gather(*(home_task(key) for key in by_home), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def run_fleet(
    simulator: FleetSimulator,
    settings: FleetSettings,
    *,
    duration: int,
    step: int = 60,
    speed: float = 0.0,
    connections: int = 4,
    stop: asyncio.Event | None = None,
) -> FleetStats:
    """Simulate ``duration`` seconds in steps; ``speed`` simulated seconds per real second
    (0 = as fast as possible). Reconnects and re-sends on broker trouble; returns when every
    home's backlog is acknowledged."""
    stats = FleetStats()
    began = time.monotonic()
    end = simulator.now + duration
    simulator.plan_outages(duration)
    while True:
        try:
            clients = [
                mqtt_client(settings, f"routeb-sim-{simulator.homes[0].site}-{n}", clean_start=True)
                for n in range(max(1, connections))
            ]
            async with contextlib_all(clients):
                routed = [RoutedPublisher(client) for client in clients]
                while True:
                    if simulator.now < end and not (stop and stop.is_set()):
                        simulator.advance(min(step, end - simulator.now))
                    else:
                        for home in simulator.homes:
                            home.outage = None  # the outage is over: everyone replays
                    await _publish_all(routed, simulator.due(), settings.base_topic, stats)
                    if (simulator.now >= end or (stop and stop.is_set())) and not any(
                        h.backlog for h in simulator.homes
                    ):
                        stats.elapsed = time.monotonic() - began
                        return stats
                    if speed > 0:
                        target = began + (simulator.now - simulator.start) / speed
                        await asyncio.sleep(max(0.0, target - time.monotonic()))
                    else:
                        await asyncio.sleep(0)
        except aiomqtt.MqttError as exc:
            stats.errors += 1
            _LOG.info("simulator: broker: %s; reconnecting", exc)
            await asyncio.sleep(0.5)


class contextlib_all:
    """Enter several async context managers (clients) at once."""

    def __init__(self, clients: list[aiomqtt.Client]) -> None:
        self.clients = clients
        self._entered: list[aiomqtt.Client] = []

    async def __aenter__(self) -> None:
        for client in self.clients:
            await client.__aenter__()
            self._entered.append(client)

    async def __aexit__(self, *exc: object) -> None:
        for client in reversed(self._entered):
            with contextlib.suppress(aiomqtt.MqttError):
                await client.__aexit__(None, None, None)
            # Retrieve a lost connection's error, or asyncio reports it when collected.
            lost = client._disconnected  # aiomqtt keeps it private  # noqa: SLF001 - aiomqtt keeps the lost connection's error private
            if lost.done() and not lost.cancelled():
                lost.exception()


async def main(homes: int, url: str | None, seed: int = 1, speed: float = 1.0) -> int:
    """`routeb emulate --fleet N --mqtt URL`: publish until interrupted (one day at a time)."""
    simulator = FleetSimulator(homes, seed=seed, outages=0.05, replays=0.05)
    settings = FleetSettings(url=url or "mqtt://127.0.0.1:1883", max_inflight=500)
    print(f'{{"fleet": {homes}, "mqtt": "{settings.url}"}}', flush=True)
    while True:
        stats = await run_fleet(simulator, settings, duration=86_400, step=10, speed=speed)
        _LOG.info("fleet day: %d messages, %d readings", stats.messages, stats.readings)
