"""J11 notifications, module → host, unsolicited (j11.md §5) and the scan results (§4.3)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar, Final, Self

from routeb.errors import UsageError
from routeb.j11 import _fields as f
from routeb.j11.codes import (
    MAX_BEACONS,
    MAX_UDP_DATA,
    Command,
    LinkState,
    PanaOutcome,
    RxFailure,
)
from routeb.j11.frame import Frame, Origin

__all__ = [
    "ENCRYPTED",
    "MULTICAST",
    "NOTIFICATIONS",
    "NOT_ENCRYPTED",
    "UNICAST",
    "Beacon",
    "ConnectionChanged",
    "DataReceived",
    "Notification",
    "PanaResult",
    "PingResult",
    "ReceptionFailed",
    "ScanResult",
    "StartupComplete",
]

# j11.md §5 0x6018: destination address type and encryption bytes.
UNICAST: Final = 0x00
MULTICAST: Final = 0x01
NOT_ENCRYPTED: Final = 0x01
ENCRYPTED: Final = 0x02
# j11.md §4.3 0x4051: 0x00 = beacon(s) received, 0x01 = none.
_BEACONS: Final = 0x00
_NO_BEACON: Final = 0x01
# j11.md §5 0x6038: the first 1–5 bytes of the data that failed.
_MAX_FAILED_HEAD: Final = 5


@dataclass(frozen=True, slots=True)
class _Notification:
    code: ClassVar[int]
    origin: ClassVar[Origin] = Origin.MODULE

    def payload(self) -> bytes:
        return b""

    def frame(self) -> Frame:
        return Frame(self.origin, self.code, self.payload())

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        cursor.end()
        return cls()


@dataclass(frozen=True, slots=True)
class StartupComplete(_Notification):
    """0x6019 after power-on or hardware reset; every setting is back to default (§1, §5)."""

    code: ClassVar[int] = Command.STARTUP_COMPLETE


@dataclass(frozen=True, slots=True)
class DataReceived(_Notification):
    """0x6018 a UDP datagram: source, ports, source PAN, address type, encryption, RSSI, data."""

    code: ClassVar[int] = Command.DATA_RECEIVED
    source: ipaddress.IPv6Address
    source_port: int
    destination_port: int
    source_pan: int
    destination_type: int
    security: int
    rssi: int
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.data) <= MAX_UDP_DATA:
            raise UsageError(f"0x6018 carries 1..{MAX_UDP_DATA} bytes, got {len(self.data)}")

    @property
    def multicast(self) -> bool:
        return self.destination_type == MULTICAST

    @property
    def encrypted(self) -> bool:
        return self.security == ENCRYPTED

    def payload(self) -> bytes:
        return b"".join(
            (
                f.ipv6(self.source),
                f.u16(self.source_port, "source port"),
                f.u16(self.destination_port, "destination port"),
                f.u16(self.source_pan, "source PAN"),
                f.u8(self.destination_type, "destination type"),
                f.u8(self.security, "encryption"),
                f.s8(self.rssi, "RSSI"),
                f.u16(len(self.data), "length"),
                self.data,
            )
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        head = (
            cursor.ipv6(),
            cursor.u16(),
            cursor.u16(),
            cursor.u16(),
            cursor.u8(),
            cursor.u8(),
            cursor.s8(),
        )
        length = cursor.u16()
        if not 1 <= length <= MAX_UDP_DATA:
            raise cursor.fail("data length out of range")
        data = cursor.take(length)
        cursor.end()
        return cls(*head, data)


@dataclass(frozen=True, slots=True)
class ConnectionChanged(_Notification):
    """0x601A state, peer MAC, RSSI — never for a change the host caused itself (§5)."""

    code: ClassVar[int] = Command.CONNECTION_CHANGED
    state: LinkState
    mac: str
    rssi: int

    def payload(self) -> bytes:
        return f.u8(self.state, "state") + f.mac(self.mac) + f.s8(self.rssi, "RSSI")

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(LinkState(cursor.u8()), cursor.mac(), cursor.s8())
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class PanaResult(_Notification):
    """0x6028 the outcome of PANA start or re-authentication, and the meter's MAC (§5)."""

    code: ClassVar[int] = Command.PANA_RESULT
    outcome: PanaOutcome
    mac: str

    def payload(self) -> bytes:
        return f.u8(self.outcome, "result") + f.mac(self.mac)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(PanaOutcome(cursor.u8()), cursor.mac())
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class ReceptionFailed(_Notification):
    """0x6038 reason, source, MAC sequence number, fragment flag and tag, first ≤ 5 bytes.

    The fragment flag is 0x00 = not fragmented, 0x01 = fragmented (J11IF p.72; BJ11 reads it
    inverted, j11.md §14).
    """

    code: ClassVar[int] = Command.RECEPTION_FAILED
    reason: RxFailure
    source: ipaddress.IPv6Address
    sequence: int
    fragmented: bool
    tag: int
    head: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if len(self.head) > _MAX_FAILED_HEAD:
            raise UsageError("0x6038 carries at most 5 bytes of the data")

    def payload(self) -> bytes:
        return b"".join(
            (
                f.u8(self.reason, "reason"),
                f.ipv6(self.source),
                f.u8(self.sequence, "sequence number"),
                f.flag(self.fragmented),
                f.u16(self.tag, "fragment tag"),
                self.head,
            )
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        reason, source, sequence = RxFailure(cursor.u8()), cursor.ipv6(), cursor.u8()
        fragmented = f.read_flag(cursor, "fragment flag")
        tag = cursor.u16()
        head = cursor.rest()
        if len(head) > _MAX_FAILED_HEAD:
            raise cursor.fail("more than 5 bytes of failed data")
        return cls(reason, source, sequence, fragmented, tag, head)


@dataclass(frozen=True, slots=True)
class PingResult(_Notification):
    """0x60D1 reply or not, source, encryption, RSSI, length, data (§4.1)."""

    code: ClassVar[int] = Command.PING_RESULT
    replied: bool
    source: ipaddress.IPv6Address
    security: int
    rssi: int
    data: bytes = field(default=b"", repr=False)

    def payload(self) -> bytes:
        return b"".join(
            (
                f.flag(self.replied),
                f.ipv6(self.source),
                f.u8(self.security, "encryption"),
                f.s8(self.rssi, "RSSI"),
                f.u16(len(self.data), "length"),
                self.data,
            )
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        replied = f.read_flag(cursor, "ping result")
        source, security, rssi = cursor.ipv6(), cursor.u8(), cursor.s8()
        data = cursor.take(cursor.u16())
        cursor.end()
        return cls(replied, source, security, rssi, data)


@dataclass(frozen=True, slots=True)
class Beacon:
    """One beacon of a 0x4051: the meter's MAC, PAN ID and RSSI in dBm (§4.3)."""

    mac: str
    pan_id: int
    rssi: int

    def to_bytes(self) -> bytes:
        return f.mac(self.mac) + f.u16(self.pan_id, "PAN ID") + f.s8(self.rssi, "RSSI")


@dataclass(frozen=True, slots=True)
class ScanResult(_Notification):
    """0x4051 one scanned channel and the beacons heard there (none → result 0x01, §4.3)."""

    code: ClassVar[int] = Command.SCAN_RESULT
    channel: int
    beacons: tuple[Beacon, ...] = ()

    def __post_init__(self) -> None:
        if len(self.beacons) > MAX_BEACONS:
            raise UsageError("a 0x4051 reports at most 20 beacons")

    def payload(self) -> bytes:
        channel = f.u8(self.channel, "channel")
        if not self.beacons:
            return bytes((_NO_BEACON,)) + channel
        entries = b"".join(b.to_bytes() for b in self.beacons)
        return bytes((_BEACONS,)) + channel + f.u8(len(self.beacons), "count") + entries

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        result, channel = cursor.u8(), cursor.u8()
        if result == _NO_BEACON:
            cursor.end()
            return cls(channel)
        if result != _BEACONS:
            raise cursor.fail("scan result is 0x00 or 0x01")
        count = cursor.u8()
        if not 1 <= count <= MAX_BEACONS:
            raise cursor.fail("beacon count is 1..20")
        beacons = tuple(Beacon(cursor.mac(), cursor.u16(), cursor.s8()) for _ in range(count))
        cursor.end()
        return cls(channel, beacons)


Notification = (
    StartupComplete
    | DataReceived
    | ConnectionChanged
    | PanaResult
    | ReceptionFailed
    | PingResult
    | ScanResult
)

NOTIFICATIONS: Final[dict[int, type[Notification]]] = {
    cls.code: cls
    for cls in (
        StartupComplete,
        DataReceived,
        ConnectionChanged,
        PanaResult,
        ReceptionFailed,
        PingResult,
        ScanResult,
    )
}
