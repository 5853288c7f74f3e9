"""J11 requests, host → module (j11.md §4), as frozen dataclasses with their data layout.

A request cannot be built with a value the module would reject (``UsageError``), and
decoding one that carries such a value raises ``J11DecodeError`` with the result a module
answers (0x04 out of range, 0x11 wrong length) — one check serves both directions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar, Final, Self, TypeVar

from routeb._redact import Secret
from routeb.errors import UsageError
from routeb.j11 import _fields as f
from routeb.j11.codes import (
    ALL_CHANNELS,
    CHANNELS,
    MAX_UDP_DATA,
    PAIRING_ID_SIZE,
    PASSWORD_LENGTH,
    RBID_LENGTH,
    Command,
    OperationMode,
    Result,
    TxPower,
)
from routeb.j11.frame import Frame, Origin

__all__ = [
    "REQUESTS",
    "ActiveScan",
    "ClosePort",
    "EdScan",
    "EndBRoute",
    "EndPana",
    "GetConnectionStatus",
    "GetEncryptionKey",
    "GetFlowControl",
    "GetInitialSettings",
    "GetIpAddress",
    "GetMacAddress",
    "GetNeighbourDiscovery",
    "GetOpenPorts",
    "GetPanId",
    "GetStatus",
    "GetTerminalInfo",
    "GetVersion",
    "HardwareReset",
    "InitialSettings",
    "OpenPort",
    "Ping",
    "Reauthenticate",
    "Request",
    "SendData",
    "SetCredentials",
    "SetFlowControl",
    "SetNeighbourDiscovery",
    "StartBRoute",
    "StartPana",
]

# j11.md §4.3: scan duration 0x01–0x0E.
_MIN_DURATION: Final = 0x01
_MAX_DURATION: Final = 0x0E
# j11.md §7.2 (J11IF 表32): the alphabets of the B-route ID and password.
_RBID_ALPHABET: Final = frozenset("0123456789ABCDEF")
_PASSWORD_ALPHABET: Final = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
# j11.md §4.1 0x00D1: 0x00 user data, 0x01 'a'…'z' pattern, 0x02 "0001"… pattern.
_PING_FORMATS: Final = (0x00, 0x01, 0x02)
_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class _Request:
    code: ClassVar[Command]
    origin: ClassVar[Origin] = Origin.HOST

    def payload(self) -> bytes:
        """The frame data."""
        return b""

    def frame(self) -> Frame:
        return Frame(self.origin, self.code, self.payload())

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        cursor.end()
        return cls()


def _build(cursor: f.Cursor, build: type[_R], *args: object) -> _R:
    """Construct a request from decoded fields; a value the constructor refuses → 0x04."""
    try:
        return build(*args)
    except UsageError as exc:
        raise cursor.fail(str(exc)) from None


# --- requests without data -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HardwareReset(_Request):
    """0x00D9: no response; the module announces itself with 0x6019 (§4.1)."""

    code: ClassVar[Command] = Command.HARDWARE_RESET


@dataclass(frozen=True, slots=True)
class GetVersion(_Request):
    """0x006B → 0x206B firmware ID and version."""

    code: ClassVar[Command] = Command.GET_VERSION


@dataclass(frozen=True, slots=True)
class GetStatus(_Request):
    """0x0001 → 0x2001 global / B-route / HAN state (§3)."""

    code: ClassVar[Command] = Command.GET_STATUS


@dataclass(frozen=True, slots=True)
class GetMacAddress(_Request):
    """0x000E → 0x200E the module's EUI-64."""

    code: ClassVar[Command] = Command.GET_MAC_ADDRESS


@dataclass(frozen=True, slots=True)
class GetIpAddress(_Request):
    """0x0009 → 0x2009 the module's link-local IPv6 address."""

    code: ClassVar[Command] = Command.GET_IP_ADDRESS


@dataclass(frozen=True, slots=True)
class GetInitialSettings(_Request):
    """0x0107 → 0x2107 mode, HAN sleep, channel, TX power."""

    code: ClassVar[Command] = Command.GET_INITIAL_SETTINGS


@dataclass(frozen=True, slots=True)
class GetConnectionStatus(_Request):
    """0x0011 → 0x2011 the connected peers."""

    code: ClassVar[Command] = Command.GET_CONNECTION_STATUS


@dataclass(frozen=True, slots=True)
class GetTerminalInfo(_Request):
    """0x0100 → 0x2100 mode and the known terminals."""

    code: ClassVar[Command] = Command.GET_TERMINAL_INFO


@dataclass(frozen=True, slots=True)
class GetOpenPorts(_Request):
    """0x0007 → 0x2007 the open UDP ports."""

    code: ClassVar[Command] = Command.GET_OPEN_PORTS


@dataclass(frozen=True, slots=True)
class GetNeighbourDiscovery(_Request):
    """0x0102 → 0x2102 whether Neighbor Solicitation is used."""

    code: ClassVar[Command] = Command.GET_NEIGHBOUR_DISCOVERY


@dataclass(frozen=True, slots=True)
class GetFlowControl(_Request):
    """0x010B → 0x210B whether UART flow control is on."""

    code: ClassVar[Command] = Command.GET_FLOW_CONTROL


@dataclass(frozen=True, slots=True)
class StartBRoute(_Request):
    """0x0053 → 0x2053: MAC association with the meter on the configured channel (§4.2)."""

    code: ClassVar[Command] = Command.START_BROUTE


@dataclass(frozen=True, slots=True)
class StartPana(_Request):
    """0x0056 → 0x2056, then 0x6028 with the PANA result (§4.2)."""

    code: ClassVar[Command] = Command.START_PANA


@dataclass(frozen=True, slots=True)
class EndPana(_Request):
    """0x0057 → 0x2057: PANA termination, 認証 → 運用."""

    code: ClassVar[Command] = Command.END_PANA


@dataclass(frozen=True, slots=True)
class EndBRoute(_Request):
    """0x0058 → 0x2058: B-route back to 未起動 (no radio traffic)."""

    code: ClassVar[Command] = Command.END_BROUTE


@dataclass(frozen=True, slots=True)
class Reauthenticate(_Request):
    """0x00D2 → 0x20D2, then 0x6028: PANA re-authentication."""

    code: ClassVar[Command] = Command.REAUTHENTICATE


@dataclass(frozen=True, slots=True)
class GetPanId(_Request):
    """0x005E → 0x205E the B-route PAN ID."""

    code: ClassVar[Command] = Command.GET_PAN_ID


@dataclass(frozen=True, slots=True)
class GetEncryptionKey(_Request):
    """0x0059 → 0x2059 the B-route encryption key."""

    code: ClassVar[Command] = Command.GET_ENCRYPTION_KEY


# --- requests with data --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InitialSettings(_Request):
    """0x005F mode, HAN sleep, channel, TX power (§7.1); B-route: ``05 00 <ch> 00``."""

    code: ClassVar[Command] = Command.INITIAL_SETTINGS
    channel: int
    mode: OperationMode = OperationMode.DUAL
    han_sleep: bool = False
    tx_power: TxPower = TxPower.MW20

    def __post_init__(self) -> None:
        if self.mode is OperationMode.UNDECIDED or not self.mode.known:
            raise UsageError(f"operation mode 0x{self.mode:02X} is not settable")
        if not self.tx_power.known:
            raise UsageError(f"TX power 0x{self.tx_power:02X} is not defined")
        if self.channel not in CHANNELS:
            raise UsageError(f"J11 channels are 4..17, got {self.channel!r}")

    def payload(self) -> bytes:
        return bytes((self.mode, int(self.han_sleep), self.channel, self.tx_power))

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        mode = OperationMode(cursor.u8())
        sleep = f.read_flag(cursor, "HAN sleep")
        channel = cursor.u8()
        power = TxPower(cursor.u8())
        cursor.end()
        return _build(cursor, cls, channel, mode, sleep, power)


@dataclass(frozen=True, slots=True)
class _PortRequest(_Request):
    port: int

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 0xFFFF:
            raise UsageError(f"a UDP port is 1..65535, got {self.port!r}")

    def payload(self) -> bytes:
        return f.u16(self.port, "port")

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        port = cursor.u16()
        cursor.end()
        return _build(cursor, cls, port)


@dataclass(frozen=True, slots=True)
class OpenPort(_PortRequest):
    """0x0005 open a UDP port (§4.1; the module's own ports are refused by the module)."""

    code: ClassVar[Command] = Command.OPEN_PORT


@dataclass(frozen=True, slots=True)
class ClosePort(_PortRequest):
    """0x0006 close a UDP port."""

    code: ClassVar[Command] = Command.CLOSE_PORT


@dataclass(frozen=True, slots=True)
class SendData(_Request):
    """0x0008 dest IPv6, src port, dest port, length, data (§4.1); data 1..0x4D0 bytes."""

    code: ClassVar[Command] = Command.SEND_DATA
    destination: ipaddress.IPv6Address
    source_port: int
    destination_port: int
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.source_port <= 0xFFFF or not 0 <= self.destination_port <= 0xFFFF:
            raise UsageError("UDP ports are 16 bits")
        if not 1 <= len(self.data) <= MAX_UDP_DATA:
            raise UsageError(f"J11 UDP data is 1..{MAX_UDP_DATA} bytes, got {len(self.data)}")

    def payload(self) -> bytes:
        return b"".join(
            (
                f.ipv6(self.destination),
                f.u16(self.source_port, "source port"),
                f.u16(self.destination_port, "destination port"),
                f.u16(len(self.data), "length"),
                self.data,
            )
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        destination = cursor.ipv6()
        source, dest, length = cursor.u16(), cursor.u16(), cursor.u16()
        if not 1 <= length <= MAX_UDP_DATA:
            raise cursor.fail("data length out of range")
        data = cursor.take(length)
        cursor.end()
        return _build(cursor, cls, destination, source, dest, data)


@dataclass(frozen=True, slots=True)
class SetNeighbourDiscovery(_Request):
    """0x0101 Neighbor Solicitation on/off (off by default, §4.1)."""

    code: ClassVar[Command] = Command.SET_NEIGHBOUR_DISCOVERY
    enabled: bool

    def payload(self) -> bytes:
        return f.flag(self.enabled)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        enabled = f.read_flag(cursor, "neighbour discovery")
        cursor.end()
        return cls(enabled)


@dataclass(frozen=True, slots=True)
class SetFlowControl(_Request):
    """0x010A UART flow control on/off, effective after the response (§1)."""

    code: ClassVar[Command] = Command.SET_FLOW_CONTROL
    enabled: bool

    def payload(self) -> bytes:
        return f.flag(self.enabled)

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        enabled = f.read_flag(cursor, "flow control")
        cursor.end()
        return cls(enabled)


def _mask(value: int) -> None:
    if value & ~ALL_CHANNELS or value < 0:
        raise UsageError(f"a J11 channel mask uses bits 4..17 only, got 0x{value:08X}")


@dataclass(frozen=True, slots=True)
class ActiveScan(_Request):
    """0x0051 duration, channel mask, ID flag, pairing ID (§4.3); results come as 0x4051.

    ``pairing_id`` None sends the flag 0x00; ``ignored_id`` is the 8-byte field some hosts
    still send with that flag (BJ11) and others omit (TOSA) — j11.md §4.3 leaves it open.
    """

    code: ClassVar[Command] = Command.ACTIVE_SCAN
    duration: int
    channel_mask: int = ALL_CHANNELS
    pairing_id: bytes | None = None
    ignored_id: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not _MIN_DURATION <= self.duration <= _MAX_DURATION:
            raise UsageError(f"scan duration is 1..14, got {self.duration!r}")
        _mask(self.channel_mask)
        if self.pairing_id is not None and len(self.pairing_id) != PAIRING_ID_SIZE:
            raise UsageError("a pairing ID is 8 bytes")
        if len(self.ignored_id) not in (0, PAIRING_ID_SIZE) or (
            self.ignored_id and self.pairing_id is not None
        ):
            raise UsageError("the ignored ID field is 8 bytes, and only without a pairing ID")

    def payload(self) -> bytes:
        head = f.u8(self.duration, "duration") + f.u32(self.channel_mask, "channel mask")
        if self.pairing_id is None:
            return head + b"\x00" + self.ignored_id
        return head + b"\x01" + self.pairing_id

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        duration, mask = cursor.u8(), cursor.u32()
        present = f.read_flag(cursor, "ID flag")
        if present:
            pairing: bytes | None = cursor.take(PAIRING_ID_SIZE)
            ignored = b""
        else:
            pairing, ignored = None, cursor.rest()
            if len(ignored) not in (0, PAIRING_ID_SIZE):
                raise cursor.fail("ID field of the wrong length", Result.PARAMETER_LENGTH)
        cursor.end()
        return _build(cursor, cls, duration, mask, pairing, ignored)

    @classmethod
    def for_route_b(cls, duration: int, rbid: Secret, mask: int = ALL_CHANNELS) -> ActiveScan:
        """A B-route scan: the pairing ID is the ID's last 8 characters (§4.3)."""
        return cls(duration, mask, rbid.reveal()[-PAIRING_ID_SIZE:].upper().encode("ascii"))


@dataclass(frozen=True, slots=True)
class EdScan(_Request):
    """0x00DB energy-detection scan of the channels in ``channel_mask``."""

    code: ClassVar[Command] = Command.ED_SCAN
    channel_mask: int = ALL_CHANNELS

    def __post_init__(self) -> None:
        _mask(self.channel_mask)

    def payload(self) -> bytes:
        return f.u32(self.channel_mask, "channel mask")

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        mask = cursor.u32()
        cursor.end()
        return _build(cursor, cls, mask)


@dataclass(frozen=True, slots=True)
class Ping(_Request):
    """0x00D1 dest IPv6, length, format, data (§4.1); the result comes as 0x60D1.

    With format 0x00 the data is ``length`` bytes; with the pattern formats the module makes
    ``length`` bytes itself and no data follows (?: inferred from the field table).
    """

    code: ClassVar[Command] = Command.PING
    destination: ipaddress.IPv6Address
    length: int
    pattern: int = 0x00
    data: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if self.pattern not in _PING_FORMATS:
            raise UsageError(f"ping format is 0, 1 or 2, got {self.pattern!r}")
        if not 0 <= self.length <= 0xFFFF:
            raise UsageError("ping length is 16 bits")
        expected = self.length if self.pattern == 0x00 else 0
        if len(self.data) != expected:
            raise UsageError("ping data must match its length (format 0x00 only)")

    def payload(self) -> bytes:
        return (
            f.ipv6(self.destination)
            + f.u16(self.length, "length")
            + f.u8(self.pattern, "format")
            + self.data
        )

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        destination, length, pattern = cursor.ipv6(), cursor.u16(), cursor.u8()
        data = cursor.rest()
        return _build(cursor, cls, destination, length, pattern, data)


@dataclass(frozen=True, slots=True)
class SetCredentials(_Request):
    """0x0054 B-route ID (32 ASCII) + password (12 ASCII), j11.md §4.2 / §7.2. Both secret."""

    code: ClassVar[Command] = Command.SET_CREDENTIALS
    rbid: Secret
    password: Secret

    def __post_init__(self) -> None:
        rbid, password = self.rbid.reveal(), self.password.reveal()
        if len(rbid) != RBID_LENGTH or not set(rbid) <= _RBID_ALPHABET:
            raise UsageError("the B-route ID is 32 upper-case hex characters")
        if len(password) != PASSWORD_LENGTH or not set(password) <= _PASSWORD_ALPHABET:
            raise UsageError("the B-route password is 12 letters and digits")

    def payload(self) -> bytes:
        return (self.rbid.reveal() + self.password.reveal()).encode("ascii")

    @classmethod
    def parse(cls, cursor: f.Cursor) -> Self:
        raw = cursor.take(RBID_LENGTH + PASSWORD_LENGTH)
        cursor.end()
        if not raw.isascii():
            raise cursor.fail("credentials are ASCII")
        text = raw.decode("ascii")
        return _build(cursor, cls, Secret(text[:RBID_LENGTH]), Secret(text[RBID_LENGTH:]))

    @property
    def stored_password(self) -> Secret:
        """What the module keeps: letters upper-cased (J11IF 表32)."""
        return Secret(self.password.reveal().upper())


Request = (
    HardwareReset
    | GetVersion
    | GetStatus
    | GetMacAddress
    | GetIpAddress
    | GetInitialSettings
    | GetConnectionStatus
    | GetTerminalInfo
    | GetOpenPorts
    | GetNeighbourDiscovery
    | GetFlowControl
    | StartBRoute
    | StartPana
    | EndPana
    | EndBRoute
    | Reauthenticate
    | GetPanId
    | GetEncryptionKey
    | InitialSettings
    | OpenPort
    | ClosePort
    | SendData
    | SetNeighbourDiscovery
    | SetFlowControl
    | ActiveScan
    | EdScan
    | Ping
    | SetCredentials
)

REQUESTS: Final[dict[int, type[Request]]] = {
    cls.code: cls
    for cls in (
        HardwareReset,
        GetVersion,
        GetStatus,
        GetMacAddress,
        GetIpAddress,
        GetInitialSettings,
        GetConnectionStatus,
        GetTerminalInfo,
        GetOpenPorts,
        GetNeighbourDiscovery,
        GetFlowControl,
        StartBRoute,
        StartPana,
        EndPana,
        EndBRoute,
        Reauthenticate,
        GetPanId,
        GetEncryptionKey,
        InitialSettings,
        OpenPort,
        ClosePort,
        SendData,
        SetNeighbourDiscovery,
        SetFlowControl,
        ActiveScan,
        EdScan,
        Ping,
        SetCredentials,
    )
}
