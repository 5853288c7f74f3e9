"""The emulated smart meter: node profile 0x0EF001 + meter 0x028801 on the household model.

Sans-IO: no task, no socket, no sleep. Time is read from the :class:`EmulatorClock` given to
the constructor (the meter's own, skewed calendar), and the caller moves frames:

* :meth:`EmulatedMeter.handle` answers one ECHONET Lite frame (the payload of an SKSENDTO)
  with zero or more frames, by the rules of protocol.md §A.3/§A.4 (via
  :class:`routeb.echonet.node.Node`);
* :meth:`EmulatedMeter.startup_notification` is the D5 INF sent after the session comes up
  (§C 3.1.1);
* :meth:`EmulatedMeter.due_pushes` / :meth:`EmulatedMeter.push_frames` /
  :meth:`EmulatedMeter.next_push` give the EA (+EB) INF pushed within 5 minutes after every
  :00 and :30 (§C 3.2.1).

Every property is computed at the meter clock's "now" from :class:`Household` (§B.1): E7/E8
live, E0/E3 counters scaled by D3 × E1 and wrapping at 10^D7, EA/EB at the latest :00/:30, E2/E4
for the day E5 selects, EC for the time ED selects, EE for the time EF selects (Release R), D0
(Release R), C0 (Release R), the clock 0x97/0x98 with the profile's skew. At most
``max_properties`` per request are answered (AIF 2.4.4: the meter supports OPC up to 6); the
rest come back with PDC = 0 in an SNA. docs/emulator.md, "The emulated meter", is the guide.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Final

from routeb.echonet import ESV, Frame, Property, decode_frame, encode_frame
from routeb.echonet.datetime_fields import encode_date, encode_time
from routeb.echonet.energy import CumulativeEnergy
from routeb.echonet.node import Node, StaticObject, node_profile_object
from routeb.echonet.objects import CONTROLLER_EOJ, NODE_PROFILE_EOJ, SMART_METER_EOJ
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
from routeb.echonet.superclass import decode_installation_location
from routeb.emulator.clock import MINUTE, SLOT, EmulatorClock, floor_minute, floor_slot
from routeb.emulator.household import Direction, Household
from routeb.emulator.profile import MeterProfile
from routeb.errors import EchonetDecodeError, UsageError
from routeb.meter_time import SLOTS_PER_DAY

__all__ = [
    "CONTROLLER",
    "DEFAULT_MAX_PROPERTIES",
    "METER",
    "NODE_PROFILE",
    "PUSH_WINDOW",
    "EmulatedMeter",
]

# protocol.md §C (AIF §2.1): controller 05FF01, meter 028801, meter node profile 0EF001.
# The B-route objects (protocol.md §C), under the short names the emulator's callers use.
CONTROLLER: Final = CONTROLLER_EOJ
METER: Final = SMART_METER_EOJ
NODE_PROFILE: Final = NODE_PROFILE_EOJ
# protocol.md §C (AIF 2.4.4): "the meter must support OPC up to 6".
DEFAULT_MAX_PROPERTIES: Final = 6
# protocol.md §A.1: OPC is one byte, so no request can carry more than 255 properties.
_MAX_OPC: Final = 255
# protocol.md §C 3.2.1: the 30-minute value is pushed within 5 minutes after :00 and :30.
PUSH_WINDOW: Final = timedelta(minutes=5)
# A timer may fire a hair early (the meter clock has 1 µs steps): next_push treats a push due
# within this slack as already sent, so one push is never scheduled twice.
_TIMER_SLACK: Final = timedelta(milliseconds=1)
# protocol.md §A.7 0x80 ON, 0x88 no fault; §B.1 the real meter's 9D = {80, 81, 88} (§A.5).
_ON: Final = b"\x30"
_NO_FAULT: Final = b"\x42"
_ANNOUNCED: Final = frozenset({0x80, 0x81, 0x88})
# protocol.md §A.7 0x81: 0x00 not set, 0x01 + 16 bytes position, 0x08..0x7F `0 LLLL NNN` with
# L = 1..15, 0x80..0xFE free definition, 0xFF not fixed. 0x02..0x07 (L = 0, N ≠ 0) are undefined.
_LOCATION_UNDEFINED: Final = range(0x02, 0x08)
# protocol.md §A.6 0x83: 0xFE, 3-byte maker code, 13 unique bytes.
_ID_UNIQUE_LEN: Final = 13
# protocol.md §A.7 0x8D / §B.1 0xC0: 12-byte production number / Route B ID free area.
_SERIAL_LEN: Final = 12


def _encode(epc: int, value: object) -> bytes:
    return SMART_METER_PROPERTIES[epc].encode(value)


class EmulatedMeter:
    """A low-voltage smart meter (0x0288, protocol.md §B) answering ECHONET Lite frames.

    ``profile`` sets identity, scaling, release and the household (docs/emulator-profile.md);
    ``clock`` is the meter's clock and must carry the profile's ``clock_offset`` (a clock is
    built when omitted). ``max_properties`` (default 6, AIF 2.4.4) is how many properties of
    one request are served; later ones come back with PDC = 0 in an SNA. None = no limit.
    ``rbid`` is accepted for the caller's convenience and never put on the wire (C0 carries
    the production number, not the credentials). Given the same profile (seed) and clock
    start, every answer, push time and TID sequence is the same.
    """

    def __init__(
        self,
        profile: MeterProfile | None = None,
        clock: EmulatorClock | None = None,
        *,
        max_properties: int | None = DEFAULT_MAX_PROPERTIES,
        rbid: str | None = None,
        first_tid: int = 0,
    ) -> None:
        del rbid  # never exposed: see the class docstring
        self.profile: Final = profile if profile is not None else MeterProfile()
        p = self.profile
        if clock is None:
            clock = EmulatorClock(offset=p.clock_offset)
        elif clock.offset != p.clock_offset:
            raise UsageError(
                f"the clock's offset {clock.offset} differs from the profile's clock_offset "
                f"{p.clock_offset}: build it with EmulatorClock(offset=profile.clock_offset)"
            )
        if max_properties is not None and not 1 <= max_properties <= _MAX_OPC:
            raise UsageError(f"max_properties must be 1..{_MAX_OPC} or None, got {max_properties}")
        if not 0 <= first_tid <= 0xFFFF:
            raise UsageError(f"first_tid must be 0..0xFFFF, got {first_tid}")
        self.clock: Final = clock
        self.max_properties: Final = max_properties
        self.release_r: Final = p.release == "R"
        start = clock.now()
        # The counters read the profile's initial values at the meter time of creation.
        self.household: Final[Household] = p.build_household(start)
        self._tid = first_tid
        self._at: datetime | None = None  # the request's "now", one instant per request
        self._push_mark = start  # due_pushes: pushes at or before this were handled
        self._e5: int | None = None  # §B.1 E5 default 0xFF (unset)
        self._ed = HistoryTarget(None, 1)  # §B.1 ED default FFFFFFFFFFFF01
        self._ef = HistoryTarget(None, 1)  # §B.1 EF default FFFFFFFFFFFF01
        self.requests = 0  # frames decoded
        self.malformed = 0  # undecodable frames (no answer, §A.1)
        self.ignored = 0  # format-2 frames (no answer)
        self.pushes = 0  # EA/EB INF frames built
        self.last_source: str | None = None  # who sent the latest request
        identification = (
            bytes((0xFE,))
            + p.maker_code.to_bytes(3, "big")
            + bytes.fromhex(p.mac).ljust(_ID_UNIQUE_LEN, b"\x00")
        )
        self.node: Final = Node(
            [
                node_profile_object(identification, p.maker_code.to_bytes(3, "big"), [METER]),
                self._meter_object(),
            ],
            max_properties=_MAX_OPC if max_properties is None else max_properties,
        )

    # --- time and scaling ---------------------------------------------------------------------

    def now(self) -> datetime:
        """The meter's local time (naive JST, with the profile's skew)."""
        return self._at if self._at is not None else self.clock.now()

    def _counter(self, at: datetime, direction: Direction) -> int | None:
        """The raw counter at ``at`` (§B: D3 × E1, wrap at 10^D7); None before installation."""
        installed = self.household.installed
        if installed is not None and at < installed:
            return None  # §B: 0xFFFFFFFE, the meter did not exist yet
        p = self.profile
        return self.household.counter_at(at, direction, p.coefficient, p.unit_kwh, p.digits)

    def truth_counter(self, at: datetime, direction: Direction = Direction.NORMAL) -> int:
        """The raw counter the meter holds at meter time ``at`` (for tests and demos)."""
        p = self.profile
        return self.household.counter_at(at, direction, p.coefficient, p.unit_kwh, p.digits)

    # --- the meter object ---------------------------------------------------------------------

    def _meter_object(self) -> StaticObject:
        p = self.profile
        values: dict[int, bytes] = {
            0x80: _ON,
            0x81: bytes((p.location,)),
            # §A.7 0x82: 00 00 <release letter> <revision>
            0x82: bytes((0x00, 0x00, ord(p.release), 0x00)),
            0x88: _NO_FAULT,
            0x8A: p.maker_code.to_bytes(3, "big"),
            0x8D: self._serial(),
            0xD7: bytes((p.digits,)),
        }
        if p.coefficient is not None:  # the "no D3" quirk: Get_SNA (§F)
            values[0xD3] = p.coefficient.to_bytes(4, "big")
        if p.unit_code is not None:  # the "no E1" quirk
            values[0xE1] = bytes((p.unit_code,))
        readers: dict[int, Callable[[], bytes | None]] = {
            0x97: self._time_of_day,
            0x98: lambda: encode_date(self.now().date()),
            0xE0: lambda: self._energy(Direction.NORMAL),
            0xE2: lambda: self._history1(Direction.NORMAL),
            0xE5: lambda: _encode(0xE5, self._e5),
            0xE7: self._power,
            0xE8: self._currents,
            0xEA: lambda: self._fixed(floor_slot(self.now()), Direction.NORMAL),
            0xEC: self._history2,
            0xED: lambda: _encode(0xED, self._ed),
        }
        writable: dict[int, Callable[[bytes], bool]] = {
            0x81: _valid_location,
            0xE5: self._set_e5,
            0xED: self._set_ed,
        }
        if p.reverse_measurement:  # §B.1 req_c: E3, E4, EB only with reverse measurement
            readers[0xE3] = lambda: self._energy(Direction.REVERSE)
            readers[0xE4] = lambda: self._history1(Direction.REVERSE)
            readers[0xEB] = lambda: self._fixed(floor_slot(self.now()), Direction.REVERSE)
        if self.release_r:  # §B.1 "Release history": R adds C0, D0, EE, EF
            readers[0xC0] = self._route_b_id
            readers[0xD0] = self._one_minute
            readers[0xEE] = self._history3
            readers[0xEF] = lambda: _encode(0xEF, self._ef)
            writable[0xEF] = self._set_ef
        return StaticObject(METER, values, readers, writable, announced=_ANNOUNCED)

    def _serial(self) -> bytes:
        # §A.7 0x8D: ASCII, NUL-padded to 12 bytes.
        return self.profile.serial_number.encode("ascii").ljust(_SERIAL_LEN, b"\x00")

    def _time_of_day(self) -> bytes:
        now = self.now()
        return encode_time(time(now.hour, now.minute))  # §A.7 0x97: hh mm

    def _power(self) -> bytes:
        return _encode(0xE7, self.household.power_at(self.now()))

    def _currents(self) -> bytes:
        r, t = self.household.currents_at(self.now())
        # §B.1 E8: 0.1 A steps; T = 0x7FFE (None) on a single-phase two-wire service.
        tenth = Decimal(1).scaleb(-1)
        value = InstantaneousCurrents(r * tenth, None if t is None else t * tenth)
        return _encode(0xE8, value)

    def _energy(self, direction: Direction) -> bytes:
        return _encode(0xE0, CumulativeEnergy(self._counter(self.now(), direction)))

    def _fixed(self, slot: datetime, direction: Direction) -> bytes:
        return _encode(0xEA, FixedTimeEnergy(slot, self._counter(slot, direction)))

    def _history1(self, direction: Direction) -> bytes:
        # §B.1 E2/E4: day (0x00FF while E5 is unset) + the 48 readings of (today − E5).
        if self._e5 is None:
            return _encode(0xE2, DailyHistory(None, (None,) * SLOTS_PER_DAY))
        now = self.now()
        p = self.profile
        slots = self.household.slot_counters(
            now.date() - timedelta(days=self._e5),
            direction,
            now=now,
            coefficient=p.coefficient,
            unit=p.unit_kwh,
            digits=p.digits,
        )
        return _encode(0xE2, DailyHistory(self._e5, tuple(slots)))

    def _pairs(
        self, target: HistoryTarget, step: timedelta
    ) -> tuple[tuple[int | None, int | None], ...]:
        # §B.1 EC/EE: pair i = (normal, reverse) at (target time − step × i); default → no data.
        if target.timestamp is None:
            return ((None, None),)
        now = self.now()
        p = self.profile

        def back(direction: Direction) -> list[int | None]:
            assert target.timestamp is not None
            return self.household.counters_back(
                target.timestamp,
                target.count,
                step,
                direction,
                now=now,
                coefficient=p.coefficient,
                unit=p.unit_kwh,
                digits=p.digits,
            )

        normal = back(Direction.NORMAL)
        reverse = back(Direction.REVERSE) if p.reverse_measurement else [None] * target.count
        return tuple(zip(normal, reverse, strict=True))

    def _history2(self) -> bytes:
        return _encode(0xEC, HalfHourlyHistory(self._ed.timestamp, self._pairs(self._ed, SLOT)))

    def _history3(self) -> bytes:
        return _encode(0xEE, MinuteHistory(self._ef.timestamp, self._pairs(self._ef, MINUTE)))

    def _one_minute(self) -> bytes:
        # §B.1 D0: the counters at the latest whole minute.
        at = floor_minute(self.now())
        reverse = self._counter(at, Direction.REVERSE) if self.profile.reverse_measurement else None
        return _encode(0xD0, OneMinuteEnergy(at, self._counter(at, Direction.NORMAL), reverse))

    def _route_b_id(self) -> bytes:
        # §B.1 C0: 0x00, the maker code, 12 free bytes (here the production number).
        return _encode(0xC0, RouteBIdentification(self.profile.maker_code, self._serial()))

    # --- writes: a refused EDT comes back echoed in an SNA (§A.3) -------------------------------

    def _set_e5(self, edt: bytes) -> bool:
        try:
            day = SMART_METER_PROPERTIES[0xE5].decode(edt)
        except EchonetDecodeError:
            return False
        if not isinstance(day, int):
            return False  # 0xFF is the unset default, not a day one can ask for (§B.2)
        self._e5 = day
        return True

    def _set_ed(self, edt: bytes) -> bool:
        target = _valid_target(0xED, edt)
        if target is None:
            return False
        self._ed = target
        return True

    def _set_ef(self, edt: bytes) -> bool:
        target = _valid_target(0xEF, edt)
        if target is None:
            return False
        self._ef = target
        return True

    # --- frames -------------------------------------------------------------------------------

    def _next_tid(self) -> int:
        # §C 3.1.1: the meter's own frames take TIDs from its own counter.
        tid = self._tid
        self._tid = (tid + 1) & 0xFFFF
        return tid

    def handle(self, data: bytes, source: str = "") -> list[bytes]:
        """The frames answering one received frame (empty: stay silent).

        Silent for undecodable input (counted in ``malformed``), format-2 frames, a DEOJ the
        meter does not have (§A.3), a SetI that fully succeeds (§A.3), and responses or
        notifications addressed to the meter. ``source`` is the sender's address; the answers
        go back to it.
        """
        try:
            frame = decode_frame(data)
        except EchonetDecodeError:
            self.malformed += 1
            return []
        if not isinstance(frame, Frame):
            self.ignored += 1
            return []
        self.requests += 1
        self.last_source = source
        self._at = self.clock.now()
        try:
            replies = self.node.handle(frame)
        finally:
            self._at = None
        return [encode_frame(reply) for reply in replies]

    def startup_notification(self) -> bytes:
        """The D5 INF sent after the session comes up, to be multicast to FF02::1 (§C 3.1.1).

        ``1081 <TID> 0EF001 0EF001 73 01 D5 04 01028801`` (§F).
        """
        frame = self.node.notification(NODE_PROFILE, [0xD5], self._next_tid(), NODE_PROFILE)
        assert frame is not None  # the node profile always has D5
        return encode_frame(frame)

    def push_time(self, slot: datetime) -> datetime:
        """When the meter pushes the reading of ``slot``: slot + a seeded 0–5 min (§C 3.2.1)."""
        _check_slot(slot)
        rng = random.Random(f"{self.profile.seed}:push:{slot.isoformat()}")
        return slot + timedelta(seconds=rng.randrange(int(PUSH_WINDOW.total_seconds())))

    def push_frames(self, slot: datetime) -> list[bytes]:
        """The INF of ``slot``'s EA (+EB with reverse measurement), unicast to 05FF01 (§C 3.2.1).

        One frame, ``1081 <TID> 028801 05FF01 73 01|02 EA 0B … [EB 0B …]`` (§F); each call
        takes a new TID.
        """
        _check_slot(slot)
        props = [Property(0xEA, self._fixed(slot, Direction.NORMAL))]
        if self.profile.reverse_measurement:
            props.append(Property(0xEB, self._fixed(slot, Direction.REVERSE)))
        self.pushes += 1
        frame = Frame(self._next_tid(), METER, CONTROLLER, ESV.INF, tuple(props))
        return [encode_frame(frame)]

    def due_pushes(self, now: datetime | None = None) -> list[bytes]:
        """The push frames whose time came after the previous call (or creation) and by ``now``.

        ``now`` is meter time (default: the clock's). Call it as often as convenient: every
        push is returned exactly once, in order.
        """
        now = self.clock.now() if now is None else now
        out: list[bytes] = []
        slot = floor_slot(self._push_mark) - SLOT
        while True:
            when = self.push_time(slot)
            if when > now:
                break
            if when > self._push_mark:
                out.extend(self.push_frames(slot))
            slot += SLOT
        self._push_mark = max(self._push_mark, now)
        return out

    def next_push(self, after: datetime) -> tuple[datetime, list[bytes]]:
        """The first push after meter time ``after``: its meter time and its frames.

        For a scheduler that sleeps until the returned time; :meth:`due_pushes` is the polling
        alternative. Each call builds the frames (and takes a TID).
        """
        slot = floor_slot(after)
        if self.push_time(slot) <= after + _TIMER_SLACK:
            slot += SLOT
        return self.push_time(slot), self.push_frames(slot)


def _check_slot(slot: datetime) -> None:
    if slot.tzinfo is not None or floor_slot(slot) != slot:
        raise UsageError(f"{slot.isoformat()} is not a naive :00/:30 boundary")


def _valid_location(edt: bytes) -> bool:
    """0x81 Set (§A.7): a defined one-byte code, or 0x01 + 16 bytes of position."""
    try:
        location = decode_installation_location(edt)
    except EchonetDecodeError:
        return False
    return location.code not in _LOCATION_UNDEFINED


def _valid_target(epc: int, edt: bytes) -> HistoryTarget | None:
    """ED/EF Set (§B.1, §B.2): a real date-time (ED: minute 0 or 30) and a count in range."""
    try:
        target = SMART_METER_PROPERTIES[epc].decode(edt)
    except EchonetDecodeError:
        return None
    if not isinstance(target, HistoryTarget) or target.timestamp is None:
        return None  # the FF… default cannot be written
    return target
