"""What a SKSTACK IP module says, as typed values (protocol.md §D).

These are the contract between the host-side output parser (``routeb.skstack.parser``), the
emulator's output builder and the Wi-SUN driver. Every line the module can emit maps to exactly
one of them; a line nobody understands is an :class:`UnknownLine`, never an exception.
Addresses are kept as the module prints them (39-character uppercase IPv6, 16-hex MAC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Final

__all__ = [
    "FAIL_MEANINGS",
    "Dialect",
    "EchoLine",
    "EventNumber",
    "FailLine",
    "InfoLine",
    "LinkLocalAddress",
    "ModuleEvent",
    "ModuleOutput",
    "OkLine",
    "PanDescriptor",
    "RegisterValue",
    "UdpReceived",
    "UnknownLine",
    "VersionLine",
    "lqi_to_rssi",
]


class Dialect(StrEnum):
    """The module families of §D: where SIDE appears, and how ERXUDP data is printed."""

    # ROHM BP35A1 and Tessera RL7023 Stick-D/IPS (old firmware): no SIDE anywhere (§D.2, §D.4).
    BP35A1 = "bp35a1"
    # ROHM BP35C0/BP35C2, RATOC RS-WSUHA-P, RL7023 Stick-D/DSS: SIDE in SKSCAN, SKSENDTO, EVENT,
    # ERXUDP, EPANDESC and EINFO; LQI in ERXUDP when SA2 = 1 (§D.1, §D.3, §D.4).
    BP35C2 = "bp35c2"
    # Tessera RL7023 Stick-D/IPS: the BP35A1 syntax, data always hex ASCII, no WOPT (§D.4).
    RL7023 = "rl7023"

    @property
    def has_side(self) -> bool:
        """True when SIDE fields are present (§D.2: "BP35A1 has no SIDE field")."""
        return self is Dialect.BP35C2


class EventNumber(IntEnum):
    """EVENT numbers used on the B-route (§D.2)."""

    NS_RECEIVED = 0x01
    NA_RECEIVED = 0x02
    ECHO_REQUEST = 0x05
    ED_SCAN_DONE = 0x1F
    BEACON_RECEIVED = 0x20
    UDP_SENT = 0x21
    ACTIVE_SCAN_DONE = 0x22
    PANA_FAILED = 0x24
    PANA_CONNECTED = 0x25
    SESSION_END_REQUESTED = 0x26
    SESSION_ENDED = 0x27
    SESSION_END_TIMEOUT = 0x28
    SESSION_EXPIRED = 0x29
    TX_LIMIT_ACTIVE = 0x32
    TX_LIMIT_RELEASED = 0x33
    WAKE_UP = 0xC0


# §D.0 error codes (ER01–ER03, ER07–ER08 reserved).
FAIL_MEANINGS: Final[dict[int, str]] = {
    4: "command not supported",
    5: "wrong number of arguments or invalid argument",
    6: "argument out of range or invalid format",
    9: "UART input error",
    10: "command accepted but execution failed",
}


def lqi_to_rssi(lqi: int) -> float:
    """RSSI in dBm from an LQI byte: 0.275 × LQI − 104.27 (§D.1 EPANDESC, manual §4.6)."""
    return 0.275 * lqi - 104.27


@dataclass(frozen=True, slots=True)
class OkLine:
    """``OK`` or ``OK <text>`` (e.g. ``OK 01`` after ROPT, §D.1)."""

    text: str = ""


@dataclass(frozen=True, slots=True)
class FailLine:
    """``FAIL ERxx`` (§D.0); ``code`` is the decimal number after ER."""

    code: int

    @property
    def meaning(self) -> str:
        return FAIL_MEANINGS.get(self.code, "reserved error code")


@dataclass(frozen=True, slots=True)
class VersionLine:
    """``EVER <version>`` (SKVER) or ``EAPPVER <version>`` (SKAPPVER), §D.1."""

    kind: str  # "EVER" or "EAPPVER"
    version: str


@dataclass(frozen=True, slots=True)
class InfoLine:
    """``EINFO`` (§D.1 SKINFO): BP35A1 ends with ADDR16, BP35C2 with SIDE."""

    ipv6: str
    mac: str
    channel: int
    pan_id: int
    addr16: int | None
    side: int | None


@dataclass(frozen=True, slots=True)
class RegisterValue:
    """``ESREG <value>`` answering ``SKSREG Sxx`` (§D.1); the value as printed (hex)."""

    value: str


@dataclass(frozen=True, slots=True)
class ModuleEvent:
    """``EVENT <NUM> <IPADDR>[ <SIDE>][ <PARAM>]`` (§D.2)."""

    number: int
    address: str
    side: int | None = None
    param: int | None = None


@dataclass(frozen=True, slots=True)
class PanDescriptor:
    """The ``EPANDESC`` block following EVENT 20 (§D.1), all fields parsed from hex."""

    channel: int
    channel_page: int
    pan_id: int
    address: str  # the meter's MAC, 16 hex digits
    lqi: int
    # 8 characters: the end of the B-route ID (§D.3 S0A), so kept out of reprs and logs.
    pair_id: str = field(repr=False)
    side: int | None = None

    @property
    def rssi(self) -> float:
        return lqi_to_rssi(self.lqi)


@dataclass(frozen=True, slots=True)
class UdpReceived:
    """An ``ERXUDP`` line (§D.4) in any dialect, data as bytes (binary or hex on the wire)."""

    sender: str
    destination: str
    remote_port: int
    local_port: int
    sender_mac: str
    secured: int
    data: bytes
    side: int | None = None
    lqi: int | None = None  # present with SA2 = 1 on BP35C0/C2 (§D.3, §D.4)

    @property
    def rssi(self) -> float | None:
        return None if self.lqi is None else lqi_to_rssi(self.lqi)


@dataclass(frozen=True, slots=True)
class LinkLocalAddress:
    """The bare IPv6 line answering ``SKLL64`` (§D.1: "no OK line")."""

    address: str


@dataclass(frozen=True, slots=True)
class EchoLine:
    """A command echoed back while SFE = 1 (§D.0)."""

    text: str


@dataclass(frozen=True, slots=True)
class UnknownLine:
    """Any line the parser does not understand, kept raw (bounded) for logging."""

    raw: bytes


ModuleOutput = (
    OkLine
    | FailLine
    | VersionLine
    | InfoLine
    | RegisterValue
    | ModuleEvent
    | PanDescriptor
    | UdpReceived
    | LinkLocalAddress
    | EchoLine
    | UnknownLine
)
