"""The module-neutral radio interface the B-route session drives (issue 16 §1).

A radio brings one Wi-SUN module from an open byte stream to a PANA session with a meter and
carries ECHONET Lite datagrams over it. It reports what happens on the link as
:class:`LinkEvent` values whose :class:`LinkEventKind` means the same for every module family;
the family-specific number (SKSTACK ``EVENT 29``, J11 ``0x601A``) travels along only as a label
for counters. Channels stay in the module's own numbering (SKSTACK S02 33..60, J11 4..17,
j11.md §7.3), so a cached scan result is only reused by the family that found it.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

from routeb._redact import Secret
from routeb.skstack.events import Dialect

__all__ = [
    "Beacon",
    "JoinOutcome",
    "JoinResult",
    "LinkEvent",
    "LinkEventKind",
    "MeterAddress",
    "ModuleChoice",
    "ModuleFamily",
    "Radio",
    "Received",
    "SendOutcome",
]


class ModuleFamily(enum.StrEnum):
    """How the host talks to the module: SKSTACK IP text (protocol.md §D) or ROHM J11 binary."""

    SKSTACK = "skstack"
    J11 = "j11"


@dataclass(frozen=True, slots=True)
class ModuleChoice:
    """What the user forced (``--dialect``, ``[meter] dialect``): a family, maybe a variant."""

    family: ModuleFamily
    variant: Dialect | None = None  # the SKSTACK variant (protocol.md §D); None for J11

    @property
    def value(self) -> str:
        """The config spelling: ``bp35a1`` / ``bp35c2`` / ``rl7023`` / ``j11``."""
        return self.variant.value if self.variant is not None else self.family.value

    @classmethod
    def parse(cls, text: str) -> ModuleChoice | None:
        """``auto`` → None (detect); ``j11``; or a SKSTACK variant name."""
        if text == "auto":
            return None
        if text == ModuleFamily.J11.value:
            return cls(ModuleFamily.J11)
        return cls(ModuleFamily.SKSTACK, Dialect(text))

    @classmethod
    def of(cls, value: ModuleChoice | Dialect | None) -> ModuleChoice | None:
        """Accept a bare SKSTACK :class:`Dialect` where a choice is expected."""
        if isinstance(value, Dialect):
            return cls(ModuleFamily.SKSTACK, value)
        return value


@dataclass(frozen=True, slots=True)
class Beacon:
    """One meter heard in an active scan (SKSTACK EPANDESC, J11 0x4051 entry)."""

    channel: int  # in the module's own numbering
    pan_id: int
    mac: str  # 16 hex digits
    rssi_dbm: float
    # The pairing ID the beacon carried (8 characters of the B-route ID: never in reprs).
    pair_id: str = field(repr=False)
    lqi: int | None = None  # SKSTACK only (protocol.md §D.1)
    side: int | None = None  # SKSTACK BP35C2 only

    def matches(self, pairing_id: str) -> bool:
        """True when the beacon answered our pairing ID."""
        return self.pair_id.upper() == pairing_id.upper()


@dataclass(frozen=True, slots=True)
class MeterAddress:
    """Where a meter is: what a scan found plus its IPv6 address (the scan cache's content)."""

    channel: int  # in the module's own numbering
    pan_id: int
    mac: str
    ipv6: str


@dataclass(frozen=True, slots=True)
class Received:
    """An ECHONET Lite datagram from the meter (SKSTACK ERXUDP, J11 0x6018) on UDP 3610."""

    data: bytes
    sender: str  # IPv6
    destination: str  # IPv6 (FF02::1 for the start-up INF)
    rssi_dbm: float | None = None
    lqi: int | None = None


class LinkEventKind(enum.Enum):
    """What the radio saw on the link, in module-neutral terms."""

    REAUTHENTICATED = "reauthenticated"  # SKSTACK EVENT 25 while up; J11 0x6028 01
    REAUTH_FAILED = "reauth_failed"  # SKSTACK EVENT 24 while up; J11 0x6028 02/03
    SESSION_ENDED_BY_METER = "session_ended_by_meter"  # EVENT 26; J11 0x601A 04
    SESSION_TERMINATED = "session_terminated"  # EVENT 27/28; J11 0x601A 03 (MAC lost)
    LIFETIME_EXPIRED = "lifetime_expired"  # EVENT 29 (J11 has none, j11.md §11)
    TX_BUDGET_EXHAUSTED = "tx_budget_exhausted"  # EVENT 32; J11 send result low nibble 2
    TX_BUDGET_RELEASED = "tx_budget_released"  # EVENT 33
    RECEPTION_FAILED = "reception_failed"  # J11 0x6038 (decryption/MAC failure, j11.md §8.3)
    MODULE_RESET = "module_reset"  # SKSTACK echo after echo-off; J11 unsolicited 0x6019
    DEVICE_LOST = "device_lost"  # the stream closed or failed
    OTHER = "other"  # anything else the module reported (counted, no effect)


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """One link event; ``native`` is the family's own label (``29``, ``601A``) for counters,
    None for what the module did not report itself (a lost stream, an echo)."""

    kind: LinkEventKind
    native: str | None
    detail: str


class JoinOutcome(enum.Enum):
    """How one PANA join ended (j11.md §5 0x6028 result; protocol.md §D.2 EVENT 24/25)."""

    JOINED = "joined"
    # The meter refused the credentials, and the module says so unambiguously (J11 0x6028 02).
    REJECTED = "rejected"
    # PANA failed after the meter answered: a rejection or a lost exchange (SKSTACK EVENT 24
    # with PANA messages seen). One of these alone is no proof of wrong credentials (§4).
    FAILED = "failed"
    # Nobody answered PANA (J11 0x6028 03; SKSTACK EVENT 24 without PANA messages, or silence).
    NO_RESPONSE = "no_response"


@dataclass(frozen=True, slots=True)
class JoinResult:
    """The outcome and how many PANA messages the meter sent during the join."""

    outcome: JoinOutcome
    pana_messages: int = 0
    detail: str = ""


class SendOutcome(enum.Enum):
    """How one datagram left the module."""

    SENT = "sent"  # SKSTACK EVENT 21 00; J11 send result 0x00
    RETRY = "retry"  # no MAC ACK, CCA busy (EVENT 21 01; J11 0x05/0x03/0x08)
    TX_BUDGET = "tx_budget"  # the hourly transmit budget is spent (J11 0x02, j11.md §10)
    NO_SESSION = "no_session"  # the module has no PANA session (SKSTACK FAIL ER10, J11 0x10)


EventSink = Callable[[LinkEvent], None]
DatagramSink = Callable[[Received], None]


class Radio(abc.ABC):
    """One Wi-SUN module on an open stream; every method raises a typed RouteBError."""

    family: ModuleFamily
    version: str | None = None
    mac: str | None = None

    @property
    @abc.abstractmethod
    def variant(self) -> str:
        """The dialect name for the cache, logs and ``routeb doctor`` (``bp35c2``, ``j11``)."""

    @property
    @abc.abstractmethod
    def lost(self) -> bool:
        """True once the stream has failed or closed."""

    @abc.abstractmethod
    def start(self, on_event: EventSink, on_datagram: DatagramSink) -> None:
        """Start reading; link events and ECHONET datagrams go to the two callbacks."""

    @abc.abstractmethod
    async def configure(self, rbid: Secret, password: Secret) -> None:
        """Bring the module to where it can scan and join: settings, credentials."""

    @abc.abstractmethod
    def expected_scan_seconds(self, duration: int) -> float:
        """How long an active scan of ``duration`` takes over all channels."""

    @abc.abstractmethod
    async def scan(
        self,
        duration: int,
        pairing_id: str,
        timeout: float,
        on_beacon: Callable[[Beacon], None],
    ) -> list[Beacon]:
        """Active scan with our pairing ID; every beacon heard (ours or not)."""

    @abc.abstractmethod
    async def resolve(self, beacon: Beacon) -> MeterAddress:
        """The meter behind ``beacon``: its IPv6 address, ready to cache and join."""

    @abc.abstractmethod
    async def join(self, meter: MeterAddress, timeout: float) -> JoinResult:
        """Start PANA with ``meter`` and wait for its result (at most ``timeout`` seconds)."""

    @abc.abstractmethod
    async def send(self, address: str, data: bytes, timeout: float) -> SendOutcome:
        """One UDP datagram to port 3610 of ``address``, PANA-secured."""

    @abc.abstractmethod
    async def reset(self) -> None:
        """Reset the module (it forgets its settings and the session)."""

    @abc.abstractmethod
    async def terminate(self) -> None:
        """End the PANA session so the meter frees it for the next start."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop reading and close the stream."""
