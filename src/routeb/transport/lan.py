"""ECHONET Lite over UDP/IP on the LAN (port 3610, multicast 224.0.23.0 and ff02::1).

One socket per address family serves both roles of a node: the client (requests to a meter
behind a bridge) and the device side (a node answering LAN controllers). Facts: protocol.md
§A.1 (UDP 3610 both ways; multicast IPv4 224.0.23.0, IPv6 FF02::1; responses unicast).
Malformed datagrams are the consumers' business (the codec is total); the socket layer only
counts and never lets an error stop the loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from routeb.errors import DeviceError, UsageError
from routeb.transport.base import Datagram

__all__ = [
    "ECHONET_PORT",
    "MULTICAST_V4",
    "MULTICAST_V6",
    "GroupProtocol",
    "LanEndpoint",
    "LanTransport",
    "address_family",
    "group_socket",
    "interface_index",
    "open_lan",
    "parse_udp_url",
]

_LOG = logging.getLogger(__name__)

# protocol.md §A.1: UDP port 3610 (0x0E1A), multicast 224.0.23.0 (IPv4) and FF02::1 (IPv6).
ECHONET_PORT: Final = 3610
MULTICAST_V4: Final = "224.0.23.0"
MULTICAST_V6: Final = "ff02::1"
_BACKLOG: Final = 4096


def parse_udp_url(url: str) -> tuple[str, int]:
    """``udp://192.0.2.10``, ``udp://[fe80::1%eth0]:3610`` → (address, port)."""
    parts = urlsplit(url)
    if parts.scheme != "udp" or not parts.hostname:
        raise UsageError(f"expected udp://ADDRESS[:PORT], got {url!r}")
    host = parts.hostname
    # urlsplit lowercases and drops the zone; keep what the user wrote inside [] for IPv6.
    netloc = parts.netloc
    if netloc.startswith("["):
        host = netloc[1 : netloc.index("]")]
    try:
        port = parts.port or ECHONET_PORT
    except ValueError as exc:
        raise UsageError(f"bad port in {url!r}: {exc}") from None
    return host, port


def address_family(address: str) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 literal (zone allowed), else AF_INET."""
    try:
        ip = ipaddress.ip_address(address.partition("%")[0])
    except ValueError:
        return socket.AF_INET
    return socket.AF_INET6 if ip.version == 6 else socket.AF_INET


def interface_index(address: str, interface: str | None = None) -> int:
    """The IPv6 interface index of ``interface`` or of ``address``'s zone (0: the default)."""
    name = interface or address.partition("%")[2]
    if not name:
        return 0
    return int(name) if name.isdigit() else socket.if_nametoindex(name)


def group_socket(
    family: socket.AddressFamily,
    address: str,
    port: int = ECHONET_PORT,
    interface: str | None = None,
) -> socket.socket:
    """A socket bound to 224.0.23.0 / ff02::1 ``port``, joined on the interface of ``address``
    (or ``interface``): how a node bound to one address also hears the group (§A.1)."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET:
            sock.bind((MULTICAST_V4, port))
            local = socket.inet_aton(interface or address)
            sock.setsockopt(
                socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(MULTICAST_V4) + local
            )
        else:
            index = interface_index(address, interface)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((MULTICAST_V6, port, 0, index))
            group = socket.inet_pton(socket.AF_INET6, MULTICAST_V6) + struct.pack("@I", index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, group)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class GroupProtocol(asyncio.DatagramProtocol):
    """Hands what a group socket hears to ``deliver(data, source)``."""

    def __init__(self, deliver: Callable[[bytes, str], None]) -> None:
        self._deliver = deliver

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._deliver(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        _LOG.debug("UDP error on the multicast listener: %s", exc)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: LanEndpoint) -> None:
        self._endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self._endpoint.deliver(data, str(addr[0]))

    def error_received(self, exc: Exception) -> None:
        self._endpoint.errors += 1
        _LOG.debug("UDP error: %s", exc)


@dataclass(slots=True)
class _Stats:
    received: int = 0
    sent: int = 0
    dropped: int = 0


class LanEndpoint:
    """A UDP socket on port 3610 with multicast membership; datagrams in a queue."""

    def __init__(self, bind: str, port: int, family: socket.AddressFamily) -> None:
        self.bind = bind
        self.port = port
        self.family = family
        self.errors = 0
        self.stats = _Stats()
        self._queue: asyncio.Queue[Datagram] = asyncio.Queue(_BACKLOG)
        self._transport: asyncio.DatagramTransport | None = None
        self.local_address = bind

    def deliver(self, data: bytes, source: str) -> None:
        """Queue a datagram received for this endpoint (its own socket's, or a group
        listener's); counted, and dropped when the backlog is full."""
        self.stats.received += 1
        try:
            self._queue.put_nowait(Datagram(data, source))
        except asyncio.QueueFull:
            self.stats.dropped += 1

    async def start(self, *, multicast: bool = True, interface: str | None = None) -> None:
        """Bind (the given address, never the wildcard when one is given) and join groups."""
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            host = self.bind or ("::" if self.family == socket.AF_INET6 else "0.0.0.0")  # noqa: S104
            sock.bind(_sockaddr(host, self.port, self.family))
            if multicast:
                self._join(sock, interface)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise DeviceError(
                f"cannot bind UDP {self.bind or '*'}:{self.port}: {exc.strerror or exc}"
                + (" (another ECHONET Lite node uses this address?)" if exc.errno == 98 else "")
            ) from exc
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        self._transport = transport
        self.local_address = str(sock.getsockname()[0])

    def _join(self, sock: socket.socket, interface: str | None) -> None:
        if self.family == socket.AF_INET:
            local = self.bind or "0.0.0.0"  # noqa: S104
            membership = socket.inet_aton(MULTICAST_V4) + socket.inet_aton(interface or local)
            try:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
            except OSError as exc:
                _LOG.debug("IPv4 multicast join failed (%s); unicast only", exc)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
            if self.bind and self.bind != "0.0.0.0":  # noqa: S104
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.bind)
                )
        else:
            index = socket.if_nametoindex(interface) if interface else 0
            membership = socket.inet_pton(socket.AF_INET6, MULTICAST_V6) + struct.pack("@I", index)
            try:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, membership)
            except OSError as exc:
                _LOG.debug("IPv6 multicast join failed (%s); unicast only", exc)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 1)

    def send(self, data: bytes, address: str, port: int = ECHONET_PORT) -> None:
        """Send one datagram (errors are counted, never raised: UDP is best effort)."""
        if self._transport is None:
            raise DeviceError("the UDP endpoint is not started")
        try:
            self._transport.sendto(data, _sockaddr(address, port, self.family))
            self.stats.sent += 1
        except OSError as exc:
            self.errors += 1
            _LOG.debug("UDP send to %s failed: %s", address, exc)

    def multicast_address(self) -> str:
        return MULTICAST_V6 if self.family == socket.AF_INET6 else MULTICAST_V4

    async def receive(self) -> Datagram:
        return await self._queue.get()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def _sockaddr(host: str, port: int, family: socket.AddressFamily) -> tuple[str | int, ...]:
    if family != socket.AF_INET6:
        return (host, port)
    address, _, zone = host.partition("%")
    scope = 0
    if zone:
        scope = int(zone) if zone.isdigit() else socket.if_nametoindex(zone)
    return (address, port, 0, scope)


class LanTransport:
    """EchonetTransport to one meter (or bridge) at ``meter``; shares the endpoint."""

    def __init__(self, endpoint: LanEndpoint, meter: str, port: int = ECHONET_PORT) -> None:
        self.endpoint = endpoint
        self._meter = meter
        self._port = port

    def __repr__(self) -> str:
        return f"<LanTransport {self._meter}:{self._port}>"

    @property
    def meter_address(self) -> str:
        return self._meter

    async def send(self, data: bytes, destination: str | None = None) -> None:
        self.endpoint.send(data, destination or self._meter, self._port)

    async def receive(self) -> Datagram:
        return await self.endpoint.receive()


async def open_lan(
    meter: str,
    *,
    port: int = ECHONET_PORT,
    bind: str = "",
    interface: str | None = None,
    multicast: bool = True,
) -> LanTransport:
    """A transport to the meter at ``meter`` (an IPv4 or IPv6 literal) on its own socket."""
    endpoint = LanEndpoint(bind, ECHONET_PORT, address_family(meter))
    await endpoint.start(multicast=multicast, interface=interface)
    return LanTransport(endpoint, meter, port)
