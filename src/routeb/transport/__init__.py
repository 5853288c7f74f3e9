"""Transports that carry ECHONET Lite frames: Wi-SUN, LAN (UDP 3610) and memory (tests)."""

from routeb.transport.base import Datagram, EchonetTransport

__all__ = ["Datagram", "EchonetTransport"]
