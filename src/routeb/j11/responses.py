"""J11 responses, module → host (j11.md §4), as frozen dataclasses.

Every response starts with a result byte (§6). The classes here are the *successful* answers
(result 0x01) with the fields that follow it; any other result, and the 0x2FFF / 0xFFFF error
frames, decode to :class:`Rejected`, which keeps the result and whatever bytes followed it.
Decoding is tolerant: unknown codes inside a response become pseudo-members of their enum.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar, Final, Self

from routeb.errors import UsageError
from routeb.j11 import _fields as f
from routeb.j11.codes import (
    Command,
    GlobalState,
    OperationMode,
    PeerRole,
    Result,
    RouteState,
    SendOutcome,
    TxPower,
    rssi_from_ed,
)
from routeb.j11.frame import Frame, Origin

__all__ = [
    "RESPONSES",
    "BRouteEnded",
    "BRouteStarted",
    "ConnectedPeer",
    "ConnectionStatus",
    "CredentialsSet",
    "CurrentSettings",
    "DataSent",
    "EdLevel",
    "EdScanResult",
    "EncryptionKey",
    "FlowControlSet",
    "FlowControlSetting",
    "InitialSettingsDone",
    "IpAddress",
    "MacAddress",
    "NeighbourDiscoverySet",
    "NeighbourDiscoverySetting",
    "OpenPorts",
    "PanId",
    "PanaEnded",
    "PanaStarted",
    "PingAccepted",
    "PortClosed",
    "PortOpened",
    "ReauthenticationStarted",
    "Rejected",
    "Response",
    "ScanDone",
    "Status",
    "Terminal",
    "TerminalInfo",
    "Version",
    "is_response_code",
]

_SUCCESS: Final = bytes((Result.SUCCESS,))
# §4.1 0x2008: the response echoes at most the first 5 bytes of the data sent.
MAX_SENT_HEAD: Final = 5
# §4.1 0x2011: up to 17 peers; 0x2007: up to 10 ports; 0x20DB: up to 14 channels.
_MAX_PEERS: Final = 17
_ERROR_CODES: Final = frozenset({Command.HEADER_CHECKSUM_ERROR, Command.INVALID_COMMAND})


def is_response_code(code: int) -> bool:
    """§2.2: responses are request | 0x2000, i.e. 0x2000–0x2FFF."""
    return code & 0xF000 == 0x2000


@dataclass(frozen=True, slots=True)
class _Response:
    code: ClassVar[int]
    origin: ClassVar[Origin] = Origin.MODULE

    def fields(self) -> bytes:
        """The data after the result byte."""
        return b""

    def frame(self) -> Frame:
        return Frame(self.origin, self.code, _SUCCESS + self.fields())

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        """From the data after the result byte."""
        cursor.end()
        return cls()


@dataclass(frozen=True, slots=True)
class Rejected:
    """A response whose result is not success (§6), or a 0x2FFF / 0xFFFF error frame (§2.2)."""

    code: int
    result: Result
    detail: bytes = b""
    origin: ClassVar[Origin] = Origin.MODULE

    def __post_init__(self) -> None:
        if not (is_response_code(self.code) or self.code in _ERROR_CODES):
            raise UsageError(f"0x{self.code:04X} is not a response code")
        if self.result == Result.SUCCESS and self.code not in _ERROR_CODES:
            raise UsageError("a rejected response has a result other than success")
        if not 0 <= self.result <= 0xFF:
            raise UsageError("a result code is one byte")

    def frame(self) -> Frame:
        return Frame(self.origin, self.code, bytes((self.result,)) + self.detail)

    @classmethod
    def to(cls, request: int, result: Result) -> Rejected:
        """The answer rejecting ``request`` with ``result``."""
        return cls(request | 0x2000, result)


# --- result-only responses -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InitialSettingsDone(_Response):
    """0x205F."""

    code: ClassVar[int] = Command.INITIAL_SETTINGS.response


@dataclass(frozen=True, slots=True)
class PortOpened(_Response):
    """0x2005 (0x0A "already open" is a Rejected that hosts may treat as success)."""

    code: ClassVar[int] = Command.OPEN_PORT.response


@dataclass(frozen=True, slots=True)
class PortClosed(_Response):
    """0x2006."""

    code: ClassVar[int] = Command.CLOSE_PORT.response


@dataclass(frozen=True, slots=True)
class NeighbourDiscoverySet(_Response):
    """0x2101."""

    code: ClassVar[int] = Command.SET_NEIGHBOUR_DISCOVERY.response


@dataclass(frozen=True, slots=True)
class FlowControlSet(_Response):
    """0x210A."""

    code: ClassVar[int] = Command.SET_FLOW_CONTROL.response


@dataclass(frozen=True, slots=True)
class ScanDone(_Response):
    """0x2051, after the last 0x4051 (§4.3)."""

    code: ClassVar[int] = Command.ACTIVE_SCAN.response


@dataclass(frozen=True, slots=True)
class PingAccepted(_Response):
    """0x20D1 (the result follows as 0x60D1)."""

    code: ClassVar[int] = Command.PING.response


@dataclass(frozen=True, slots=True)
class CredentialsSet(_Response):
    """0x2054."""

    code: ClassVar[int] = Command.SET_CREDENTIALS.response


@dataclass(frozen=True, slots=True)
class PanaStarted(_Response):
    """0x2056 (the outcome follows as 0x6028)."""

    code: ClassVar[int] = Command.START_PANA.response


@dataclass(frozen=True, slots=True)
class PanaEnded(_Response):
    """0x2057."""

    code: ClassVar[int] = Command.END_PANA.response


@dataclass(frozen=True, slots=True)
class BRouteEnded(_Response):
    """0x2058."""

    code: ClassVar[int] = Command.END_BROUTE.response


@dataclass(frozen=True, slots=True)
class ReauthenticationStarted(_Response):
    """0x20D2 (the outcome follows as 0x6028)."""

    code: ClassVar[int] = Command.REAUTHENTICATE.response


# --- responses with fields -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Version(_Response):
    """0x206B firmware ID (0x0400 = Enhanced HAN Plus B-route dual stack), major, minor,
    revision (§4.1)."""

    code: ClassVar[int] = Command.GET_VERSION.response
    firmware_id: int
    major: int
    minor: int
    revision: int

    def fields(self) -> bytes:
        return (
            f.u16(self.firmware_id, "firmware ID")
            + f.u8(self.major, "major")
            + f.u8(self.minor, "minor")
            + f.u32(self.revision, "revision")
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(cursor.u16(), cursor.u8(), cursor.u8(), cursor.u32())
        cursor.end()
        return value

    @property
    def text(self) -> str:
        """E.g. ``1.3.158A`` (revision in hex, as the firmware numbers it)."""
        return f"{self.major}.{self.minor}.{self.revision:X}"


@dataclass(frozen=True, slots=True)
class Status(_Response):
    """0x2001 global, B-route and HAN state (§3)."""

    code: ClassVar[int] = Command.GET_STATUS.response
    global_state: GlobalState
    broute: RouteState
    han: RouteState

    def fields(self) -> bytes:
        return bytes((self.global_state, self.broute, self.han))

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(GlobalState(cursor.u8()), RouteState(cursor.u8()), RouteState(cursor.u8()))
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class MacAddress(_Response):
    """0x200E the module's EUI-64 (16 upper-case hex digits)."""

    code: ClassVar[int] = Command.GET_MAC_ADDRESS.response
    mac: str

    def fields(self) -> bytes:
        return f.mac(self.mac)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(cursor.mac())
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class IpAddress(_Response):
    """0x2009 the module's link-local address (§7.5)."""

    code: ClassVar[int] = Command.GET_IP_ADDRESS.response
    address: ipaddress.IPv6Address

    def fields(self) -> bytes:
        return f.ipv6(self.address)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(cursor.ipv6())
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class CurrentSettings(_Response):
    """0x2107 mode, HAN sleep, channel, TX power (0xFF before 0x005F, §7.1)."""

    code: ClassVar[int] = Command.GET_INITIAL_SETTINGS.response
    mode: OperationMode
    han_sleep: int
    channel: int
    tx_power: TxPower

    def fields(self) -> bytes:
        return (
            f.u8(self.mode, "mode")
            + f.u8(self.han_sleep, "HAN sleep")
            + f.u8(self.channel, "channel")
            + f.u8(self.tx_power, "TX power")
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(OperationMode(cursor.u8()), cursor.u8(), cursor.u8(), TxPower(cursor.u8()))
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class ConnectedPeer:
    """One entry of 0x2011: MAC, PAN ID, kind (0x01 B-route, 0x02 HAN), role, state."""

    mac: str
    pan_id: int
    kind: int
    role: PeerRole
    state: int  # 0x01 運用, 0x02 認証

    def to_bytes(self) -> bytes:
        return (
            f.mac(self.mac)
            + f.u16(self.pan_id, "PAN ID")
            + f.u8(self.kind, "peer kind")
            + f.u8(self.role, "role")
            + f.u8(self.state, "state")
        )


@dataclass(frozen=True, slots=True)
class ConnectionStatus(_Response):
    """0x2011 whether the module is connected, and its peers (§4.1)."""

    code: ClassVar[int] = Command.GET_CONNECTION_STATUS.response
    connected: bool
    peers: tuple[ConnectedPeer, ...] = ()

    def __post_init__(self) -> None:
        if len(self.peers) > _MAX_PEERS or (self.peers and not self.connected):
            raise UsageError("0x2011 lists up to 17 peers, and only when connected")

    def fields(self) -> bytes:
        if not self.connected:
            return b"\x00"
        return b"\x01" + f.u8(len(self.peers), "count") + b"".join(p.to_bytes() for p in self.peers)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        if not f.read_flag(cursor, "connection state"):
            cursor.end()
            return cls(False)
        count = cursor.u8()
        if count > _MAX_PEERS:
            raise cursor.fail("more than 17 peers")
        peers = tuple(
            ConnectedPeer(
                cursor.mac(), cursor.u16(), cursor.u8(), PeerRole(cursor.u8()), cursor.u8()
            )
            for _ in range(count)
        )
        cursor.end()
        return cls(True, peers)


@dataclass(frozen=True, slots=True)
class Terminal:
    """One entry of 0x2100: IPv6 address, role, state."""

    address: ipaddress.IPv6Address
    role: PeerRole
    state: int


@dataclass(frozen=True, slots=True)
class TerminalInfo(_Response):
    """0x2100 the operation mode and the terminals the module knows (§4.1)."""

    code: ClassVar[int] = Command.GET_TERMINAL_INFO.response
    mode: int
    terminals: tuple[Terminal, ...] = ()

    def fields(self) -> bytes:
        entries = b"".join(
            f.ipv6(t.address) + f.u8(t.role, "role") + f.u8(t.state, "state")
            for t in self.terminals
        )
        return f.u8(self.mode, "mode") + f.u8(len(self.terminals), "count") + entries

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        mode, count = cursor.u8(), cursor.u8()
        terminals = tuple(
            Terminal(cursor.ipv6(), PeerRole(cursor.u8()), cursor.u8()) for _ in range(count)
        )
        cursor.end()
        return cls(mode, terminals)


@dataclass(frozen=True, slots=True)
class OpenPorts(_Response):
    """0x2007 the open UDP ports (the module's own never listed, §4.1)."""

    code: ClassVar[int] = Command.GET_OPEN_PORTS.response
    ports: tuple[int, ...] = ()

    def fields(self) -> bytes:
        return f.u8(len(self.ports), "count") + b"".join(f.u16(p, "port") for p in self.ports)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        count = cursor.u8()
        ports = tuple(cursor.u16() for _ in range(count))
        cursor.end()
        return cls(ports)


@dataclass(frozen=True, slots=True)
class DataSent(_Response):
    """0x2008 send result 0xYZ and the first ≤ 5 bytes of the data (§4.1, AN F21)."""

    code: ClassVar[int] = Command.SEND_DATA.response
    send_result: int
    head: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.send_result <= 0xFF or len(self.head) > MAX_SENT_HEAD:
            raise UsageError("0x2008 is a send-result byte and at most 5 bytes of data")

    @property
    def outcome(self) -> SendOutcome:
        """Low nibble Z: sent, TX limit (0x2), CCA, no ACK (0x5), …"""
        return SendOutcome(self.send_result & 0x0F)

    @property
    def queue(self) -> int:
        """High nibble Y: 0 not queued (normal for the B-route)."""
        return self.send_result >> 4

    def fields(self) -> bytes:
        return f.u8(self.send_result, "send result") + self.head

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        result = cursor.u8()
        head = cursor.rest()
        if len(head) > MAX_SENT_HEAD:
            raise cursor.fail("more than 5 bytes of echoed data")
        return cls(result, head)


@dataclass(frozen=True, slots=True)
class NeighbourDiscoverySetting(_Response):
    """0x2102."""

    code: ClassVar[int] = Command.GET_NEIGHBOUR_DISCOVERY.response
    enabled: bool

    def fields(self) -> bytes:
        return f.flag(self.enabled)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(f.read_flag(cursor, "neighbour discovery"))
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class FlowControlSetting(_Response):
    """0x210B."""

    code: ClassVar[int] = Command.GET_FLOW_CONTROL.response
    enabled: bool

    def fields(self) -> bytes:
        return f.flag(self.enabled)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(f.read_flag(cursor, "flow control"))
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class EdLevel:
    """One channel of 0x20DB."""

    channel: int
    ed: int

    @property
    def rssi(self) -> float:
        return rssi_from_ed(self.ed)


@dataclass(frozen=True, slots=True)
class EdScanResult(_Response):
    """0x20DB per-channel energy levels (§4.1)."""

    code: ClassVar[int] = Command.ED_SCAN.response
    levels: tuple[EdLevel, ...]

    def fields(self) -> bytes:
        return f.u8(len(self.levels), "count") + b"".join(
            f.u8(level.channel, "channel") + f.u8(level.ed, "ED") for level in self.levels
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        count = cursor.u8()
        levels = tuple(EdLevel(cursor.u8(), cursor.u8()) for _ in range(count))
        cursor.end()
        return cls(levels)


@dataclass(frozen=True, slots=True)
class BRouteStarted(_Response):
    """0x2053 channel, PAN ID, meter MAC, RSSI (dBm) — MAC-level connected (§4.2, AN F13)."""

    code: ClassVar[int] = Command.START_BROUTE.response
    channel: int
    pan_id: int
    mac: str
    rssi: int

    def fields(self) -> bytes:
        return (
            f.u8(self.channel, "channel")
            + f.u16(self.pan_id, "PAN ID")
            + f.mac(self.mac)
            + f.s8(self.rssi, "RSSI")
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(cursor.u8(), cursor.u16(), cursor.mac(), cursor.s8())
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class PanId(_Response):
    """0x205E the B-route PAN ID."""

    code: ClassVar[int] = Command.GET_PAN_ID.response
    pan_id: int

    def fields(self) -> bytes:
        return f.u16(self.pan_id, "PAN ID")

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(cursor.u16())
        cursor.end()
        return value


@dataclass(frozen=True, slots=True)
class EncryptionKey(_Response):
    """0x2059 the B-route encryption key (16 bytes, never in the repr)."""

    code: ClassVar[int] = Command.GET_ENCRYPTION_KEY.response
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.key) != 16:
            raise UsageError("the B-route key is 16 bytes")

    def fields(self) -> bytes:
        return self.key

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        value = cls(cursor.take(16))
        cursor.end()
        return value


Response = (
    InitialSettingsDone
    | PortOpened
    | PortClosed
    | NeighbourDiscoverySet
    | FlowControlSet
    | ScanDone
    | PingAccepted
    | CredentialsSet
    | PanaStarted
    | PanaEnded
    | BRouteEnded
    | ReauthenticationStarted
    | Version
    | Status
    | MacAddress
    | IpAddress
    | CurrentSettings
    | ConnectionStatus
    | TerminalInfo
    | OpenPorts
    | DataSent
    | NeighbourDiscoverySetting
    | FlowControlSetting
    | EdScanResult
    | BRouteStarted
    | PanId
    | EncryptionKey
)

RESPONSES: Final[dict[int, type[Response]]] = {
    cls.code: cls
    for cls in (
        InitialSettingsDone,
        PortOpened,
        PortClosed,
        NeighbourDiscoverySet,
        FlowControlSet,
        ScanDone,
        PingAccepted,
        CredentialsSet,
        PanaStarted,
        PanaEnded,
        BRouteEnded,
        ReauthenticationStarted,
        Version,
        Status,
        MacAddress,
        IpAddress,
        CurrentSettings,
        ConnectionStatus,
        TerminalInfo,
        OpenPorts,
        DataSent,
        NeighbourDiscoverySetting,
        FlowControlSetting,
        EdScanResult,
        BRouteStarted,
        PanId,
        EncryptionKey,
    )
}
ERROR_CODES: Final = _ERROR_CODES
