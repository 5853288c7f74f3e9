"""The emulated smart meter: node profile 0x0EF001 + meter 0x028801 on the household model.

Every property is computed at the meter clock's "now" from :class:`Household` (protocol.md
§B.1): E7/E8 live, E0/E3 counters scaled by D3 × E1 and wrapping at 10^D7, EA/EB at the latest
:00/:30, E2/E4 for the day E5 selects, EC from ED, EE from EF (Release R), D0, C0, the clock
0x97/0x98 with the profile's skew. Requests are answered by :class:`routeb.echonet.node.Node`
(§A.3/§A.4 rules); at most ``max_properties`` per request are answered (AIF 2.4.4: 6).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from routeb.echonet import EOJ, ESV, Frame, Property, decode_frame, encode_frame
from routeb.echonet.datetime_fields import encode_date, encode_time
from routeb.echonet.energy import CumulativeEnergy
from routeb.echonet.node import Node, StaticObject, node_profile_object
from routeb.echonet.smartmeter import (
    SMART_METER_PROPERTIES,
    DailyHistory,
    FixedTimeEnergy,
    HalfHourlyHistory,
    HistoryTarget,
    InstantaneousCurrents,
    MinuteHistory,
    OneMinuteEnergy,
    RouteBIdentification,
)
from routeb.emulator.clock import EmulatorClock, floor_minute, floor_slot, next_slot
from routeb.emulator.household import Direction, Household
from routeb.emulator.profile import MeterProfile
from routeb.errors import EchonetDecodeError

__all__ = ["CONTROLLER", "METER", "NODE_PROFILE", "EmulatedMeter"]

# protocol.md §C: controller 05FF01, meter 028801, node profile 0EF001.
CONTROLLER: Final = EOJ(0x05, 0xFF, 0x01)
METER: Final = EOJ(0x02, 0x88, 0x01)
NODE_PROFILE: Final = EOJ(0x0E, 0xF0, 0x01)
# AIF 2.4.4 (§C): the meter must support OPC up to 6.
DEFAULT_MAX_PROPERTIES: Final = 6
# §C 3.2.1: the 30-minute value is pushed within 5 minutes after :00 and :30.
PUSH_WINDOW_S: Final = 300
_SLOT: Final = timedelta(minutes=30)
_MINUTE: Final = timedelta(minutes=1)


def _spec_encode(epc: int, value: object) -> bytes:
    return SMART_METER_PROPERTIES[epc].encode(value)


class EmulatedMeter:
    """A deterministic meter (given a seed) answering ECHONET Lite frames."""

    def __init__(
        self,
        profile: MeterProfile,
        clock: EmulatorClock,
        *,
        max_properties: int = DEFAULT_MAX_PROPERTIES,
        rbid: str = "00112233445566778899AABBCCDDEEFF",
    ) -> None:
        self.profile = profile
        self.clock = clock
        self.household: Household = profile.build_household(clock.now())
        self._rng = random.Random(profile.seed)
        self._tid = 0
        self._e5: int | None = None  # §B.1 E5 default 0xFF
        self._ed: HistoryTarget = HistoryTarget(None, 1)  # §B.1 ED default FFFFFFFFFFFF01
        self._ef: HistoryTarget = HistoryTarget(None, 1)
        self._rbid = rbid
        self.malformed = 0
        self.requests = 0
        self.release_r = profile.release.upper() == "R"
        self.node = Node(
            [
                node_profile_object(
                    bytes((0xFE,)) + profile.maker_code.to_bytes(3, "big") + bytes(13),
                    profile.maker_code.to_bytes(3, "big"),
                    [METER],
                ),
                self._meter_object(),
            ],
            max_properties=max_properties,
        )

    # --- scaling ----------------------------------------------------------------------------

    @property
    def _unit(self) -> Decimal:
        return self.profile.unit_kwh

    def _counter(self, t: datetime, direction: Direction) -> int:
        p = self.profile
        return self.household.counter_at(t, direction, p.coefficient, self._unit, p.digits)

    # --- the object -------------------------------------------------------------------------

    def _meter_object(self) -> StaticObject:
        p = self.profile
        values: dict[int, bytes] = {
            0x80: b"\x30",
            0x81: bytes((p.location,)),
            0x82: bytes((0, 0, ord(p.release.upper()), 0)),
            0x88: b"\x42",
            0x8A: p.maker_code.to_bytes(3, "big"),
            0x8D: p.serial_number.encode("ascii").ljust(12, b"\x00"),
            0xD7: bytes((p.digits,)),
        }
        if p.coefficient is not None:
            values[0xD3] = p.coefficient.to_bytes(4, "big")
        if p.unit_code is not None:
            values[0xE1] = bytes((p.unit_code,))
        readers: dict[int, Callable[[], bytes | None]] = {
            0x97: lambda: encode_time(self.clock.now().time().replace(second=0, microsecond=0)),
            0x98: lambda: encode_date(self.clock.now().date()),
            0xE0: lambda: self._energy(Direction.NORMAL),
            0xE2: lambda: self._history1(Direction.NORMAL),
            0xE5: lambda: bytes((0xFF if self._e5 is None else self._e5,)),
            0xE7: self._power,
            0xE8: self._currents,
            0xEA: lambda: self._fixed(Direction.NORMAL),
            0xEC: self._history2,
            0xED: lambda: _spec_encode(0xED, self._ed),
        }
        writable: dict[int, Callable[[bytes], bool]] = {
            0x81: self._set_location,
            0xE5: self._set_e5,
            0xED: self._set_ed,
        }
        if p.reverse_measurement:
            readers[0xE3] = lambda: self._energy(Direction.REVERSE)
            readers[0xE4] = lambda: self._history1(Direction.REVERSE)
            readers[0xEB] = lambda: self._fixed(Direction.REVERSE)
        if self.release_r:
            readers[0xC0] = self._route_b_id
            readers[0xD0] = self._one_minute
            readers[0xEE] = self._history3
            readers[0xEF] = lambda: _spec_encode(0xEF, self._ef)
            writable[0xEF] = self._set_ef
        return StaticObject(
            METER,
            values,
            readers,
            writable,
            announced=frozenset({0x80, 0x81, 0x88, 0xEA})
            | (frozenset({0xEB}) if p.reverse_measurement else frozenset()),
        )

    def _power(self) -> bytes:
        return _spec_encode(0xE7, self.household.power_at(self.clock.now()))

    def _currents(self) -> bytes:
        r, t = self.household.currents_at(self.clock.now())
        value = InstantaneousCurrents(
            Decimal(r).scaleb(-1), None if t is None else Decimal(t).scaleb(-1)
        )
        return _spec_encode(0xE8, value)

    def _energy(self, direction: Direction) -> bytes:
        return _spec_encode(0xE0, CumulativeEnergy(self._counter(self.clock.now(), direction)))

    def _fixed(self, direction: Direction) -> bytes:
        at = floor_slot(self.clock.now())
        return _spec_encode(0xEA, FixedTimeEnergy(at, self._counter(at, direction)))

    def _history1(self, direction: Direction) -> bytes:
        now = self.clock.now()
        p = self.profile
        if self._e5 is None:
            slots: list[int | None] = [None] * 48
        else:
            day: date = now.date() - timedelta(days=self._e5)
            slots = self.household.slot_counters(
                day,
                direction,
                now=now,
                coefficient=p.coefficient,
                unit=self._unit,
                digits=p.digits,
            )
        return _spec_encode(0xE2, DailyHistory(self._e5, tuple(slots)))

    def _pairs(self, target: HistoryTarget, step: timedelta) -> list[tuple[int | None, int | None]]:
        now = self.clock.now()
        p = self.profile
        if target.timestamp is None:
            return [(None, None)]
        kwargs = {"now": now, "coefficient": p.coefficient, "unit": self._unit, "digits": p.digits}
        normal = self.household.counters_back(
            target.timestamp,
            target.count,
            step,
            Direction.NORMAL,
            **kwargs,  # type: ignore[arg-type]
        )
        if p.reverse_measurement:
            reverse = self.household.counters_back(
                target.timestamp,
                target.count,
                step,
                Direction.REVERSE,
                **kwargs,  # type: ignore[arg-type]
            )
        else:
            reverse = [None] * target.count
        return list(zip(normal, reverse, strict=True))

    def _history2(self) -> bytes:
        pairs = self._pairs(self._ed, _SLOT)
        return _spec_encode(0xEC, HalfHourlyHistory(self._ed.timestamp, tuple(pairs)))

    def _history3(self) -> bytes:
        pairs = self._pairs(self._ef, _MINUTE)
        return _spec_encode(0xEE, MinuteHistory(self._ef.timestamp, tuple(pairs)))

    def _one_minute(self) -> bytes:
        at = floor_minute(self.clock.now())
        reverse = self._counter(at, Direction.REVERSE) if self.profile.reverse_measurement else None
        return _spec_encode(0xD0, OneMinuteEnergy(at, self._counter(at, Direction.NORMAL), reverse))

    def _route_b_id(self) -> bytes:
        # §B.1 C0: 0x00, maker code, 12 free bytes (the end of the B-route ID here).
        free = self._rbid[-12:].encode("ascii")
        return _spec_encode(0xC0, RouteBIdentification(self.profile.maker_code, free))

    # --- writes (validated with the codec; a bad EDT → SNA with the EDT echoed) -------------

    def _set_location(self, edt: bytes) -> bool:
        if len(edt) not in (1, 17):
            return False
        obj = self.node.objects[METER]
        assert isinstance(obj, StaticObject)
        obj.values[0x81] = edt
        return True

    def _set_e5(self, edt: bytes) -> bool:
        try:
            value = SMART_METER_PROPERTIES[0xE5].decode(edt)
        except EchonetDecodeError:
            return False
        if not isinstance(value, int):
            return False  # 0xFF (unset) cannot be written
        self._e5 = value
        return True

    def _set_target(self, epc: int, edt: bytes) -> HistoryTarget | None:
        try:
            value = SMART_METER_PROPERTIES[epc].decode(edt)
        except EchonetDecodeError:
            return None
        if not isinstance(value, HistoryTarget) or value.timestamp is None:
            return None
        return value

    def _set_ed(self, edt: bytes) -> bool:
        value = self._set_target(0xED, edt)
        if value is None:
            return False
        self._ed = value
        return True

    def _set_ef(self, edt: bytes) -> bool:
        value = self._set_target(0xEF, edt)
        if value is None:
            return False
        self._ef = value
        return True

    # --- frames -----------------------------------------------------------------------------

    def _next_tid(self) -> int:
        tid = self._tid
        self._tid = (self._tid + 1) & 0xFFFF
        return tid

    def handle(self, data: bytes, source: str) -> list[bytes]:
        """Answers to one ECHONET Lite frame (empty when the spec says to stay silent)."""
        try:
            frame = decode_frame(data)
        except EchonetDecodeError:
            self.malformed += 1
            return []
        if not isinstance(frame, Frame):
            return []
        self.requests += 1
        return [encode_frame(reply) for reply in self.node.handle(frame)]

    def startup_notification(self) -> bytes:
        """The D5 INF after the session comes up (§C 3.1.1, §F vector)."""
        frame = self.node.notification(NODE_PROFILE, [0xD5], self._next_tid(), NODE_PROFILE)
        assert frame is not None
        return encode_frame(frame)

    def push_delay(self, slot: datetime) -> timedelta:
        """Seeded 0–5 minute delay of the push for ``slot`` (§C 3.2.1)."""
        rng = random.Random(f"{self.profile.seed}-push-{slot.isoformat()}")
        return timedelta(seconds=rng.randrange(5, PUSH_WINDOW_S - 5))

    def next_push(self, after: datetime) -> tuple[datetime, list[bytes]]:
        """The next EA(+EB) INF after meter time ``after``: its meter time and the frame."""
        slot = floor_slot(after)
        when = slot + self.push_delay(slot)
        if when <= after:
            slot = next_slot(after)
            when = slot + self.push_delay(slot)
        props = [Property(0xEA, self._fixed_at(slot, Direction.NORMAL))]
        if self.profile.reverse_measurement:
            props.append(Property(0xEB, self._fixed_at(slot, Direction.REVERSE)))
        frame = Frame(self._next_tid(), METER, CONTROLLER, ESV.INF, tuple(props))
        return when, [encode_frame(frame)]

    def _fixed_at(self, slot: datetime, direction: Direction) -> bytes:
        return _spec_encode(0xEA, FixedTimeEnergy(slot, self._counter(slot, direction)))

    # --- truth, for tests and demos ---------------------------------------------------------

    def truth_counter(self, at: datetime, direction: Direction = Direction.NORMAL) -> int:
        """The raw counter at meter time ``at`` (what the meter would report)."""
        return self._counter(at, direction)
