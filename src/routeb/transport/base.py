"""The seam between the meter client and the wire: datagrams of ECHONET Lite bytes.

A transport carries whole ECHONET Lite frames to and from the meter, whatever the wire:
Wi-SUN through a SKSTACK module (``transport.wisun``), UDP on the LAN (``transport.lan``) or
memory in tests (``transport.memory``). The client owns TIDs, pacing and retries
(architecture.md, style rule 9); a transport only moves bytes and reports link state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Datagram", "EchonetTransport", "LinkHealth"]


@dataclass(frozen=True, slots=True)
class Datagram:
    """One received ECHONET Lite payload and where it came from."""

    data: bytes
    source: str
    destination: str | None = None  # e.g. FF02::1 for the meter's multicast D5 INF (§C)
    rssi: int | None = None  # dBm, when the module reports it (§D.4, SA2 = 1)


@runtime_checkable
class EchonetTransport(Protocol):
    """What the meter client needs from a wire."""

    @property
    def meter_address(self) -> str:
        """The meter's address on this wire (IPv6 link-local on Wi-SUN, IP on the LAN)."""
        ...

    async def send(self, data: bytes, destination: str | None = None) -> None:
        """Send one frame (to the meter unless ``destination`` says otherwise).

        Returns once the wire accepted it; waits while the link is paused (PANA re-auth,
        transmit budget); raises a RouteBError when it cannot be sent.
        """
        ...

    async def receive(self) -> Datagram:
        """The next ECHONET Lite datagram from the wire."""
        ...


@runtime_checkable
class LinkHealth(Protocol):
    """Optional: a transport that wants to know whether the meter answers (recovery ladder)."""

    def request_answered(self) -> None:
        """A request got its response: the link works."""
        ...

    def request_unanswered(self) -> None:
        """One attempt of a request timed out."""
        ...
