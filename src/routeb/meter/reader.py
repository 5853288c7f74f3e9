"""Typed reads from a smart meter: the AIF start-up sequence, scaled values, history days.

Built on :class:`~routeb.meter.client.SmartMeterClient` (any transport). The start-up follows
AIF 3.1.1–3.1.3 (protocol.md §C): the D5 instance list (wait, else INF_REQ), then 0x82, 0x9D,
0x9E, 0x9F, then 0x8D, 0xD3, 0xD7, 0xE1, 0xEA, 0xEB — only what the Get map offers. The energy
scale (D3 × E1, §B) learned there is applied to every later energy value.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from routeb.echonet.energy import EnergyScale
from routeb.echonet.smartmeter import (
    SMART_METER_PROPERTIES,
    DailyHistory,
    HalfHourlyHistory,
    SmartMeterValue,
    build_e5,
    build_ed,
    decode_property,
)
from routeb.errors import EchonetDecodeError, PropertyNotAvailableError
from routeb.meter.client import METER, Priority, SmartMeterClient
from routeb.meter_time import JST

__all__ = [
    "DEFAULT_READ",
    "DayHistory",
    "MeterInfo",
    "MeterReader",
    "Reading",
]

_LOG = logging.getLogger(__name__)

# protocol.md §C AIF 3.1.2: ECHONET Lite attributes of the meter object.
_ATTRIBUTES: Final = (0x82, 0x9D, 0x9E, 0x9F)
# protocol.md §C AIF 3.1.3: meter attributes (8D and D3 optional, EB only with reverse flow),
# and 0x8A, the maker code every meter must answer (§A.7, Get-mandatory): the Meter page shows it.
_METER_ATTRIBUTES: Final = (0x8A, 0x8D, 0xD3, 0xD7, 0xE1, 0xEA, 0xEB)
# What `routeb read` shows by default: power, currents, energy both ways, fixed-time energy.
DEFAULT_READ: Final = (0xE7, 0xE8, 0xE0, 0xE3, 0xEA, 0xEB)
# §A.7 0x97/0x98 and §B date-times: the meter keeps Japanese local time (UTC+9, no DST).
# §B.1: E2/E4 hold 48 slots of 30 minutes; EC up to 12 pairs.
_HISTORY2_MAX: Final = 12


@dataclass(frozen=True, slots=True)
class Reading:
    """One property as read: raw EDT, typed value (None when unavailable), when it was read."""

    epc: int
    edt: bytes | None
    value: SmartMeterValue | None
    received_at: datetime  # aware (UTC): when routeb got the answer
    error: str | None = None  # a decode error, kept rather than raised

    @property
    def available(self) -> bool:
        return self.edt is not None and self.error is None


@dataclass(frozen=True, slots=True)
class DayHistory:
    """A day of 30-minute counters (E2, and E4 with reverse measurement).

    ``day`` is the day the meter meant: its own date (0x98, read in the same Get) minus E5;
    None when the meter does not give its date.
    """

    normal: DailyHistory
    reverse: DailyHistory | None
    day: date | None


@dataclass(slots=True)
class MeterInfo:
    """What the start-up sequence learned."""

    get_map: tuple[int, ...] = ()
    set_map: tuple[int, ...] = ()
    inf_map: tuple[int, ...] = ()
    values: dict[int, SmartMeterValue] = field(default_factory=dict)
    scale: EnergyScale = field(default_factory=EnergyScale)
    digits: int | None = None
    instance_list_seen: bool = False

    @property
    def reverse_measurement(self) -> bool:
        """True when the meter measures reverse flow (E3 in its Get map, §B.1 req_c)."""
        return 0xE3 in self.get_map


class MeterReader:
    """High-level reads with values decoded and energy scaled."""

    def __init__(
        self, client: SmartMeterClient, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.client = client
        self.info = MeterInfo()
        self._now: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))

    async def start(self, *, d5_wait: float = 5.0) -> MeterInfo:
        """AIF 3.1.1–3.1.3; returns what was learned (also kept in ``self.info``)."""
        info = self.info
        info.instance_list_seen = await self.client.wait_instance_list(d5_wait)
        first = await self.client.get(_ATTRIBUTES)
        for epc, edt in first.values.items():
            value = self._decode(epc, edt)
            if value is None:
                continue
            info.values[epc] = value
            if epc == 0x9F and isinstance(value, tuple):
                info.get_map = tuple(int(v) for v in value)
            elif epc == 0x9E and isinstance(value, tuple):
                info.set_map = tuple(int(v) for v in value)
            elif epc == 0x9D and isinstance(value, tuple):
                info.inf_map = tuple(int(v) for v in value)
        wanted = [e for e in _METER_ATTRIBUTES if not info.get_map or e in info.get_map]
        second = await self.client.get(wanted)
        for epc, edt in second.values.items():
            value = self._decode(epc, edt)
            if value is not None:
                info.values[epc] = value
        coefficient = info.values.get(0xD3)
        unit = info.values.get(0xE1)
        unit_code = getattr(unit, "code", None)
        info.scale = EnergyScale.from_meter(
            coefficient if isinstance(coefficient, int) else None,
            unit_code if isinstance(unit_code, int) else None,
        )
        digits = info.values.get(0xD7)
        info.digits = digits if isinstance(digits, int) else None
        return info

    def _decode(self, epc: int, edt: bytes) -> SmartMeterValue | None:
        try:
            return decode_property(epc, edt, self.info.scale)
        except EchonetDecodeError as exc:
            _LOG.warning("0x%02X from the meter does not decode: %s", epc, exc)
            return None

    async def read(
        self,
        epcs: Iterable[int],
        *,
        deadline: float | None = None,
        priority: Priority = Priority.LIVE,
    ) -> dict[int, Reading]:
        """Get ``epcs`` (batched), decode and scale; unavailable ones have value None.

        ``deadline`` (loop time): a live poll gives up when the next one is due.
        """
        wanted = list(dict.fromkeys(epcs))
        result = await self.client.get(wanted, deadline=deadline, priority=priority)
        when = self._now().replace(microsecond=0)
        readings: dict[int, Reading] = {}
        for epc in wanted:
            edt = result.values.get(epc)
            if edt is None:
                readings[epc] = Reading(epc, None, None, when)
                continue
            try:
                value = decode_property(epc, edt, self.info.scale)
            except EchonetDecodeError as exc:
                readings[epc] = Reading(epc, edt, None, when, str(exc))
                continue
            if epc in (0xD3, 0xE1, 0xD7):
                self.info.values[epc] = value
            readings[epc] = Reading(epc, edt, value, when)
        return readings

    async def value(self, epc: int) -> SmartMeterValue:
        """One property's value; PropertyNotAvailableError when the meter refuses it."""
        reading = (await self.read([epc]))[epc]
        if reading.value is None:
            raise PropertyNotAvailableError(epc)
        return reading.value

    async def history_day(self, days_ago: int, *, reverse: bool = False) -> DayHistory:
        """E5 = days_ago, then E2 (and E4 when ``reverse``), as one atomic pair (§C Fig 3-6).

        E5 counts days back from the meter's own today (§B.1 E5), which is not ours near
        midnight (clock skew, or a backfill running across it). So the same Get also asks for
        the meter's date (0x98, §B.1): the history is dated by the meter, never by our clock.
        """
        epcs = [0xE2, 0xE4] if reverse else [0xE2]
        if not self.info.get_map or 0x98 in self.info.get_map:
            epcs.append(0x98)
        # History is background work: a live poll goes first (meter.turns).
        result = await self.client.set_then_get(
            0xE5, build_e5(days_ago), epcs, METER, priority=Priority.BACKGROUND
        )
        normal = self._history(0xE2, result.values.get(0xE2))
        if normal is None:
            raise PropertyNotAvailableError(0xE2)
        day: date | None = None
        edt = result.values.get(0x98)
        if edt is not None:
            with contextlib.suppress(EchonetDecodeError):
                today = SMART_METER_PROPERTIES[0x98].decode(edt, None)
                if isinstance(today, date):
                    day = today - timedelta(days=days_ago)
        return DayHistory(
            normal, self._history(0xE4, result.values.get(0xE4)) if reverse else None, day
        )

    def _history(self, epc: int, edt: bytes | None) -> DailyHistory | None:
        if edt is None:
            return None
        value = SMART_METER_PROPERTIES[epc].decode(edt, self.info.scale)
        return value if isinstance(value, DailyHistory) else None

    async def history_30min(self, newest: datetime, count: int) -> HalfHourlyHistory:
        """ED = (newest floored to :00/:30, count), then EC (§B.2), as one atomic pair."""
        count = max(1, min(count, _HISTORY2_MAX))
        result = await self.client.set_then_get(
            0xED, build_ed(newest, count), [0xEC], METER, priority=Priority.BACKGROUND
        )
        edt = result.values.get(0xEC)
        if edt is None:
            raise PropertyNotAvailableError(0xEC)
        value = SMART_METER_PROPERTIES[0xEC].decode(edt, self.info.scale)
        if not isinstance(value, HalfHourlyHistory):
            raise PropertyNotAvailableError(0xEC)
        return value

    async def clock_skew(self) -> timedelta | None:
        """The meter's clock (0x98 + 0x97, minute resolution) minus ours; None if unknown."""
        readings = await self.read([0x98, 0x97])
        day, clock = readings[0x98].value, readings[0x97].value
        if not isinstance(day, date) or not isinstance(clock, time):
            return None
        meter = datetime.combine(day, clock)
        ours = self._now().astimezone(JST).replace(tzinfo=None, second=0, microsecond=0)
        return meter - ours


def names(epcs: Sequence[int]) -> list[str]:
    """English names of EPCs, for messages."""
    return [
        SMART_METER_PROPERTIES[e].name_en if e in SMART_METER_PROPERTIES else f"0x{e:02X}"
        for e in epcs
    ]
