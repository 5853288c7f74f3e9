"""The collector: polls on schedule, takes the meter's pushes, backfills every gap, records.

Schedules (issue: run §2; polite defaults, protocol.md §C/§E): E7+E8 in one Get every 10 s;
E0(+E3) every minute; EA/EB from the meter's 30-minute INF, with a Get fallback from :05/:35
when the push did not come (AIF 3.3.1); meter clock and fault status hourly. Backfill fills
every missing 30-minute boundary from history 2 (ED → EC) and history 1 (E5 → E2/E4) and
yields to live polling (:class:`~routeb.collector.gate.PriorityGate`). A meter or link fault
never ends the collector: it records the event, shows the meter unavailable, and carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Final, Protocol

from routeb.collector.backfill import MAX_DAYS_BACK, HistoryDay, HistoryPairs, plan_backfill
from routeb.collector.gate import PriorityGate
from routeb.config import MIN_CLOCK_INTERVAL, MIN_ENERGY_INTERVAL, MIN_INSTANT_INTERVAL
from routeb.echonet.energy import CumulativeEnergy, EnergyScale, usage_between
from routeb.echonet.smartmeter import (
    DailyHistory,
    FixedTimeEnergy,
    HalfHourlyHistory,
    InstantaneousCurrents,
    decode_property,
)
from routeb.echonet.superclass import FaultStatus
from routeb.errors import AuthenticationError, PanaFailedOnceError, RouteBError
from routeb.live import (
    BackfillProgress,
    Connected,
    EnergyValues,
    InstantValues,
    LinkChanged,
    LinkSnapshot,
    LiveHub,
    LiveState,
    LiveUpdate,
    MeterHealth,
    Offline,
    SlotValues,
    Stale,
)
from routeb.meter.client import Priority, SmartMeterClient
from routeb.meter.reader import MeterInfo, MeterReader, Reading
from routeb.meter_time import JST, SLOT

__all__ = [
    "Collector",
    "CollectorSettings",
    "MeterLink",
    "Recorder",
    "SlotValue",
]

_LOG = logging.getLogger(__name__)
# AIF 3.3.1 (protocol.md §C): Get EA/EB from about :05/:35 when the push did not come.
FALLBACK_AFTER: Final = timedelta(minutes=5)
# How long a backfill waits for the connection's first meter-clock read (one Get, AIF Timer 1
# of 20 s plus a retry) before it plans by our clock alone.
CLOCK_READ_WAIT: Final = 45.0


@dataclass(frozen=True, slots=True)
class CollectorSettings:
    """Schedules (seconds) with the polite minimums of protocol.md §E."""

    meter: str = "meter"
    instant_interval: float = 10.0
    energy_interval: float = 60.0
    clock_interval: float = 3600.0
    backfill_check: float = 1800.0
    stale_after: float = 45.0
    retry_delay: float = 30.0

    def __post_init__(self) -> None:
        # The config's minimums (one definition, routeb.config, citing protocol.md §E).
        object.__setattr__(
            self, "instant_interval", max(MIN_INSTANT_INTERVAL, self.instant_interval)
        )
        object.__setattr__(self, "energy_interval", max(MIN_ENERGY_INTERVAL, self.energy_interval))
        object.__setattr__(self, "clock_interval", max(MIN_CLOCK_INTERVAL, self.clock_interval))


@dataclass(frozen=True, slots=True)
class SlotValue:
    """The cumulative counters at one :00/:30 boundary (meter time, naive JST)."""

    at: datetime
    import_raw: int | None
    export_raw: int | None
    source: str  # push | poll | history1 | history2


class Recorder(Protocol):
    """Where readings go (storage implements it)."""

    async def record_meter(self, meter: str, info: MeterInfo) -> None: ...

    async def record_instant(
        self,
        meter: str,
        at: datetime,
        power_w: int | None,
        currents: InstantaneousCurrents | None,
    ) -> None: ...

    async def record_cumulative(
        self,
        meter: str,
        at: datetime,
        import_raw: int | None,
        export_raw: int | None,
        *,
        scale: EnergyScale,
        digits: int | None,
    ) -> None: ...

    async def record_slots(
        self, meter: str, slots: list[SlotValue], scale: EnergyScale, digits: int | None
    ) -> None: ...

    async def record_event(self, meter: str, at: datetime, kind: str, detail: str) -> None: ...

    async def missing_slots(self, meter: str, start: datetime, end: datetime) -> list[datetime]:
        """Boundaries (naive JST) in [start, end) with no import counter recorded."""
        ...

    async def slot_value(self, meter: str, at: datetime) -> SlotValue | None: ...


class MeterLink(Protocol):
    """A connected meter (Wi-SUN session or LAN): the reader and its link counters."""

    @property
    def reader(self) -> MeterReader: ...

    @property
    def client(self) -> SmartMeterClient: ...

    def link_snapshot(self) -> LinkSnapshot: ...

    def session_events(self) -> list[tuple[datetime, str, str]]:
        """New (time, kind, detail) session events since the last call."""
        ...


Connector = Callable[[], AbstractAsyncContextManager[MeterLink]]


# What the user does after the meter rejected the credentials (docs/run.md, "Credentials").
LATCHED_NEXT_STEP: Final = (
    "Check the B-route ID and password against your utility's letter, fix them in the config "
    "(or ROUTEB_ID / ROUTEB_PASSWORD), then reload with SIGHUP (`systemctl reload routeb`): "
    "new credentials are tried at once; the same ones only after `routeb run --retry-auth`"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _jst(at: datetime) -> datetime:
    return at.astimezone(JST).replace(tzinfo=None)


@dataclass(slots=True)
class _Memory:
    fixed: dict[datetime, SlotValue] = field(default_factory=dict)
    last_push: datetime | None = None


class Collector:
    """Runs until cancelled; reconnects by itself; never raises for meter or link faults."""

    def __init__(
        self,
        connect: Connector,
        recorder: Recorder,
        hub: LiveHub,
        settings: CollectorSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._connect = connect
        self._recorder = recorder
        self.hub = hub
        self.settings = settings or CollectorSettings()
        self._clock = clock
        self._gate = PriorityGate()
        self._memory = _Memory()
        self.state = LiveState(self.settings.meter)
        self.latched: str | None = None
        self.backfill_done = asyncio.Event()
        self._history_floor: date | None = None  # the meter has no history before this day
        self._meter_day_offset = timedelta(0)  # the meter's date minus ours, as last seen
        self._backfill_kick = asyncio.Event()
        self._read_this_visit = asyncio.Event()  # a live reading came in since the visit began
        # The meter's clock minus ours (0x97/0x98, read at every connect and then hourly): the
        # backfill plans by the meter's clock, so a meter ahead of ours (drift, or a calendar
        # run fast) has its newest half-hours asked for, and one behind is not asked for its
        # future. ``_clock_read`` is set once this connection's first clock read is done.
        self._meter_skew = timedelta(0)
        self._clock_read: asyncio.Event | None = None
        hub.publish(self.state)

    # --- state publishing ------------------------------------------------------------------

    def _publish(self, update: LiveUpdate) -> None:
        self.state = update.apply(self.state)
        self.hub.publish(self.state)

    async def _event(self, kind: str, detail: str) -> None:
        _LOG.info("%s: %s", kind, detail)
        with contextlib.suppress(Exception):
            await self._recorder.record_event(self.settings.meter, self._clock(), kind, detail)

    # --- main loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, collect, and on any failure wait and connect again — forever."""
        delay = self.settings.retry_delay
        while True:
            try:
                async with self._connect() as link:
                    delay = self.settings.retry_delay
                    await self._connected()
                    await self._serve(link)
            except Exception as caught:  # noqa: BLE001 - the recorder reconnects after any failure
                await self._failed(caught, f"retrying in {delay:g} s")
                if self.latched is not None:
                    # Latched credentials: never hammer the meter; wait for new ones (SIGHUP).
                    await asyncio.Event().wait()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 600.0)

    async def visit(self, longest: float, shortest: float, then: str) -> bool:
        """One turn on a shared dongle (routeb.collector.rotation): connect, collect, SKTERM.

        The visit lasts at least ``shortest`` seconds (live readings, the pushes that come) and
        ends once this visit's backfill has caught up and the first live reading is in, or
        after ``longest`` seconds (the rest of the backfill waits for the next visit). Returns
        False when the meter could not be reached (the state says why); ``then`` says in the
        live state what comes next.
        """
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.backfill_done.clear()
        self._read_this_visit.clear()
        try:
            async with self._connect() as link:
                await self._connected()
                serving = asyncio.create_task(self._serve(link), name="routeb-visit")
                try:
                    await self._until_visit_done(serving, started + shortest, started + longest)
                finally:
                    serving.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await serving
                if serving.done() and not serving.cancelled() and serving.exception():
                    raise serving.exception()  # type: ignore[misc]
                self._publish(LinkChanged(replace(link.link_snapshot(), state="waiting_turn")))
        except Exception as caught:  # noqa: BLE001 - one meter's failure ends only its visit
            await self._failed(caught, then)
            return False
        _LOG.info("meter %s: visit of %.1f s; %s", self.settings.meter, loop.time() - started, then)
        return True

    async def _until_visit_done(
        self, serving: asyncio.Task[None], shortest_at: float, longest_at: float
    ) -> None:
        loop = asyncio.get_running_loop()
        caught_up = asyncio.create_task(self._caught_up())
        try:
            await asyncio.wait(
                [serving, caught_up],
                timeout=max(0.0, longest_at - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if caught_up.done() and not serving.done():
                await asyncio.wait([serving], timeout=max(0.0, shortest_at - loop.time()))
        finally:
            caught_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await caught_up

    async def _caught_up(self) -> None:
        await self.backfill_done.wait()
        await self._read_this_visit.wait()

    async def _connected(self) -> None:
        self._publish(Connected())
        await self._event("connected", "meter session up")

    async def _failed(self, caught: BaseException, then: str) -> None:
        """Record why the meter is not reachable and show it in the live state."""
        exc = _first_error(caught)
        if isinstance(exc, AuthenticationError) and not isinstance(exc, PanaFailedOnceError):
            self.latched = str(exc)
            detail = f"{exc}. {LATCHED_NEXT_STEP}"
            _LOG.error("meter %s: %s", self.settings.meter, detail)
            self._publish(Offline(LinkSnapshot(state="latched"), "credentials_rejected", detail))
            await self._event("latched", str(exc))
            return
        if not isinstance(exc, RouteBError):
            _LOG.error("collector failure, restarting", exc_info=exc)
        self._publish(
            Offline(
                LinkSnapshot(state="down"),
                "no_connection",
                f"{type(exc).__name__}: {exc}; {then}",
            )
        )
        await self._event("disconnected", f"{type(exc).__name__}: {exc}")

    async def _serve(self, link: MeterLink) -> None:
        self._clock_read = asyncio.Event()
        info = link.reader.info
        await self._recorder.record_meter(self.settings.meter, info)
        async with asyncio.TaskGroup() as group:
            group.create_task(self._instant_loop(link))
            group.create_task(self._energy_loop(link))
            group.create_task(self._push_loop(link))
            group.create_task(self._fallback_loop(link))
            group.create_task(self._hourly_loop(link))
            group.create_task(self._backfill_loop(link))
            group.create_task(self._link_loop(link))

    # --- live polling ------------------------------------------------------------------------

    async def _sleep_until(self, when: float) -> None:
        await asyncio.sleep(max(0.0, when - asyncio.get_running_loop().time()))

    async def _instant_loop(self, link: MeterLink) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.instant_interval
        next_at = loop.time()
        while True:
            self._gate.live_due_at(next_at)
            await self._sleep_until(next_at)
            async with self._gate.live():
                # The poll gives up when the next one is due (issue 16 §5): retransmissions
                # fit inside the interval, and a lost answer never stops polling.
                await self._read_instant(link, deadline=next_at + interval)
            next_at = max(next_at + interval, loop.time() + 1.0)
            self._gate.live_due_at(next_at)

    def _live_deadline(self) -> float:
        """Other live reads give up after one instantaneous interval (they come again)."""
        return asyncio.get_running_loop().time() + self.settings.instant_interval

    async def _read_instant(self, link: MeterLink, *, deadline: float) -> None:
        try:
            readings = await link.reader.read([0xE7, 0xE8], deadline=deadline)
        except RouteBError as exc:
            _LOG.debug("instantaneous read failed: %s", exc)
            self._mark_stale()
            return
        power = readings[0xE7].value
        currents = readings[0xE8].value
        at = readings[0xE7].received_at
        power_w = power if isinstance(power, int) else None
        cur = currents if isinstance(currents, InstantaneousCurrents) else None
        await self._recorder.record_instant(self.settings.meter, at, power_w, cur)
        self._read_this_visit.set()
        self._publish(
            InstantValues(
                at, power_w, None if cur is None else cur.r, None if cur is None else cur.t
            )
        )

    def _mark_stale(self) -> None:
        seen = self.state.last_seen
        if seen is None or (self._clock() - seen).total_seconds() > self.settings.stale_after:
            self._publish(Stale())

    async def _energy_loop(self, link: MeterLink) -> None:
        info = link.reader.info
        epcs = [0xE0, 0xE3] if info.reverse_measurement else [0xE0]
        while True:
            async with self._gate.live():
                try:
                    readings = await link.reader.read(
                        epcs, deadline=self._live_deadline(), priority=Priority.ROUTINE
                    )
                except RouteBError as exc:
                    _LOG.debug("energy read failed: %s", exc)
                else:
                    await self._take_energy(link, readings[0xE0].received_at, readings)
            await asyncio.sleep(self.settings.energy_interval)

    async def _take_energy(
        self, link: MeterLink, at: datetime, readings: Mapping[int, Reading]
    ) -> None:
        info = link.reader.info
        values: dict[int, int | None] = {}
        for epc in (0xE0, 0xE3):
            reading = readings.get(epc)
            value = None if reading is None else reading.value
            values[epc] = value.raw if isinstance(value, CumulativeEnergy) else None
        await self._recorder.record_cumulative(
            self.settings.meter,
            at,
            values[0xE0],
            values.get(0xE3),
            scale=info.scale,
            digits=info.digits,
        )
        self._publish(
            EnergyValues(at, info.scale.kwh(values[0xE0]), info.scale.kwh(values.get(0xE3)))
        )

    # --- fixed-time values (EA/EB) -------------------------------------------------------------

    async def _push_loop(self, link: MeterLink) -> None:
        async for note in link.client.notifications():
            frame = note.frame
            ea, eb = frame.first(0xEA), frame.first(0xEB)
            if ea is None and eb is None:
                continue
            info = link.reader.info
            try:
                normal = None if ea is None else decode_property(0xEA, ea.edt, info.scale)
                reverse = None if eb is None else decode_property(0xEB, eb.edt, info.scale)
            except RouteBError as exc:
                _LOG.debug("push does not decode: %s", exc)
                continue
            await self._take_fixed(link, normal, reverse, "push")
            self._memory.last_push = self._clock()

    async def _take_fixed(
        self, link: MeterLink, normal: object, reverse: object, source: str
    ) -> None:
        stamp: datetime | None = None
        import_raw = export_raw = None
        if isinstance(normal, FixedTimeEnergy):
            stamp, import_raw = normal.timestamp, normal.raw
        if isinstance(reverse, FixedTimeEnergy):
            stamp = stamp or reverse.timestamp
            export_raw = reverse.raw
        if stamp is None:
            return
        value = SlotValue(stamp, import_raw, export_raw, source)
        await self._store_slots(link, [value])

    async def _store_slots(self, link: MeterLink, values: list[SlotValue]) -> None:
        if not values:
            return
        info = link.reader.info
        await self._recorder.record_slots(self.settings.meter, values, info.scale, info.digits)
        newest = max(values, key=lambda v: v.at)
        for value in values:
            self._memory.fixed[value.at] = value
        newest_end = newest.at.replace(tzinfo=JST)
        latest = self.state.last_slot_end
        if latest is not None and newest_end < latest:
            return
        before = self._memory.fixed.get(newest.at - SLOT) or await self._recorder.slot_value(
            self.settings.meter, newest.at - SLOT
        )
        # Unknown (None) without the boundary before: never the previous slot's values.
        self._publish(
            SlotValues(
                newest_end,
                None if before is None else self._usage(info, before.import_raw, newest.import_raw),
                None if before is None else self._usage(info, before.export_raw, newest.export_raw),
            )
        )
        # Keep the memory small: the last day is plenty.
        cutoff = newest.at - timedelta(days=1)
        for key in [k for k in self._memory.fixed if k < cutoff]:
            del self._memory.fixed[key]

    @staticmethod
    def _usage(info: MeterInfo, earlier: int | None, later: int | None) -> Decimal | None:
        if earlier is None or later is None:
            return None
        return info.scale.kwh(usage_between(earlier, later, info.digits or 8))

    async def _fallback_loop(self, link: MeterLink) -> None:
        """From :05/:35, Get EA/EB if the boundary's push did not arrive (AIF 3.3.1)."""
        while True:
            now = _jst(self._clock())
            boundary = now.replace(minute=now.minute // 30 * 30, second=0, microsecond=0)
            due = boundary + FALLBACK_AFTER
            if now < due:
                await asyncio.sleep((due - now).total_seconds())
            if boundary not in self._memory.fixed:
                epcs = [0xEA, 0xEB] if link.reader.info.reverse_measurement else [0xEA]
                async with self._gate.live():
                    try:
                        readings = await link.reader.read(
                            epcs, deadline=self._live_deadline(), priority=Priority.ROUTINE
                        )
                    except RouteBError as exc:
                        _LOG.debug("fixed-time fallback failed: %s", exc)
                    else:
                        reverse = readings.get(0xEB)
                        await self._take_fixed(
                            link,
                            readings[0xEA].value,
                            None if reverse is None else reverse.value,
                            "poll",
                        )
            nxt = boundary + SLOT + FALLBACK_AFTER
            await asyncio.sleep(max(1.0, (nxt - _jst(self._clock())).total_seconds()))

    async def _hourly_loop(self, link: MeterLink) -> None:
        while True:
            async with self._gate.live():
                try:
                    try:
                        skew = await link.reader.clock_skew()
                    finally:
                        if self._clock_read is not None:
                            self._clock_read.set()
                    if skew is not None:
                        self._meter_skew = skew
                    fault = await link.reader.read([0x88])
                except RouteBError as exc:
                    _LOG.debug("clock/fault read failed: %s", exc)
                else:
                    value = fault[0x88].value
                    self._publish(
                        MeterHealth(
                            None if skew is None else skew.total_seconds(),
                            None if value is None else value == FaultStatus.FAULT,
                        )
                    )
            await asyncio.sleep(self.settings.clock_interval)

    # --- backfill ----------------------------------------------------------------------------

    async def _backfill_loop(self, link: MeterLink) -> None:
        while True:
            with contextlib.suppress(RouteBError):
                await self.backfill(link)
            self.backfill_done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._backfill_kick.wait(), self.settings.backfill_check)
            self._backfill_kick.clear()

    def kick_backfill(self) -> None:
        """Look for gaps now (after an outage)."""
        self._backfill_kick.set()

    async def backfill(self, link: MeterLink) -> int:
        """Fill every missing boundary within the meter's 99 days; returns how many."""
        info = link.reader.info
        if self._clock_read is not None:
            # This connection's first clock read (the hourly loop, live priority) comes first.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._clock_read.wait(), CLOCK_READ_WAIT)
        now = _jst(self._clock()) + self._meter_skew
        start = datetime.combine(now.date() - timedelta(days=99), datetime.min.time())
        if self._history_floor is not None:
            start = max(start, datetime.combine(self._history_floor, datetime.min.time()))
        missing = await self._recorder.missing_slots(self.settings.meter, start, now)
        plan = plan_backfill(missing, now, history2=0xEC in info.get_map)
        self._publish(BackfillProgress(len(missing)))
        if plan.unrecoverable:
            _LOG.debug("%d slots are beyond the meter's history", len(plan.unrecoverable))
        wanted = set(missing)
        filled = 0
        for request in plan.requests:
            floor = self._history_floor
            if isinstance(request, HistoryDay) and floor is not None and request.day < floor:
                continue  # before the meter's first data: nothing to ask for
            async with self._gate.background():
                values = await self._fetch(link, request, info)
            if (
                isinstance(request, HistoryDay)
                and values
                and not any(v.import_raw is not None for v in values)
            ):
                # A day with no data at all: the meter's history (or its installation) starts
                # after it. Older days would be empty too (§B.1 E2: 0xFFFFFFFE = no data).
                self._history_floor = values[0].at.date() + timedelta(days=1)
                wanted = {at for at in wanted if at.date() >= self._history_floor}
                continue
            got = [v for v in values if v.at in wanted and v.import_raw is not None]
            await self._store_slots(link, got)
            filled += len(got)
            wanted.difference_update(v.at for v in got)
            self._publish(BackfillProgress(len(wanted), len(got)))
        if filled:
            await self._event("backfill", f"{filled} half-hour readings filled")
        return filled

    async def _fetch(
        self, link: MeterLink, request: HistoryPairs | HistoryDay, info: MeterInfo
    ) -> list[SlotValue]:
        reader = link.reader
        if isinstance(request, HistoryPairs):
            history: HalfHourlyHistory = await reader.history_30min(request.newest, request.count)
            if history.timestamp is None:
                return []
            return [
                SlotValue(at, normal, reverse, "history2")
                for at, normal, reverse in history.readings()
            ]
        # E5 counts back from the meter's today, which may not be ours (skew, midnight, an
        # emulator running fast): ask relative to the meter's date as last seen, and date the
        # answer by the meter (0x98 in the same Get). A day that is not the one planned is still
        # true for its own date; the planned one stays missing for the next pass.
        days_ago = (_jst(self._clock()).date() + self._meter_day_offset - request.day).days
        if not 0 <= days_ago <= MAX_DAYS_BACK:
            return []
        dated = await reader.history_day(days_ago, reverse=info.reverse_measurement)
        day = request.day
        if dated.day is not None:
            day = dated.day
            self._meter_day_offset = (
                dated.day + timedelta(days=days_ago) - _jst(self._clock()).date()
            )
        return _day_values(day, dated.normal, dated.reverse)

    # --- link state --------------------------------------------------------------------------

    async def _link_loop(self, link: MeterLink) -> None:
        while True:
            snapshot = link.link_snapshot()
            if snapshot != self.state.link:
                self._publish(LinkChanged(snapshot))
            for at, kind, detail in link.session_events():
                with contextlib.suppress(Exception):
                    await self._recorder.record_event(self.settings.meter, at, kind, detail)
                if kind in ("join", "rejoin"):
                    self.kick_backfill()
            if self.state.online:
                self._mark_stale()
            await asyncio.sleep(2.0)


def _day_values(day: date, normal: DailyHistory, reverse: DailyHistory | None) -> list[SlotValue]:
    start = datetime.combine(day, datetime.min.time())
    out = []
    for index, raw in enumerate(normal.raw):
        export = None if reverse is None else reverse.raw[index]
        out.append(SlotValue(start + SLOT * index, raw, export, "history1"))
    return out


def _first_error(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
