"""ECHONET Lite over the Wi-SUN B-route: the meter client's transport on a BRouteSession.

Frames go out to UDP 3610 through the session's radio (SKSENDTO, protocol.md §D.1; J11 0x0008)
and come back as ERXUDP (§D.4) or J11 0x6018;
the session pauses sends during re-authentication and transmit-budget limits (§C, §D.2) and
learns from the client whether the meter answers (the recovery ladder).
"""

from __future__ import annotations

from routeb.driver.session import BRouteSession
from routeb.errors import SessionLostError
from routeb.transport.base import Datagram

__all__ = ["WiSunTransport"]


class WiSunTransport:
    """EchonetTransport + LinkHealth over one B-route session."""

    def __init__(self, session: BRouteSession) -> None:
        self.session = session

    def __repr__(self) -> str:
        return f"<WiSunTransport {self.session!r}>"

    @property
    def meter_address(self) -> str:
        meter = self.session.meter
        if meter is None:
            raise SessionLostError("the session has not found the meter yet")
        return meter.ipv6

    async def send(self, data: bytes, destination: str | None = None) -> None:
        await self.session.send(data, destination)

    async def receive(self) -> Datagram:
        rx = await self.session.receive()
        rssi = None if rx.rssi_dbm is None else round(rx.rssi_dbm)
        return Datagram(rx.data, rx.sender, rx.destination, rssi)

    def request_answered(self) -> None:
        self.session.request_answered()

    def request_unanswered(self) -> None:
        self.session.request_unanswered()
