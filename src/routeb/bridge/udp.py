"""The UDP side of an ECHONET Lite node on the LAN: unicast on ADDRESS:3610 plus the group.

A node bound to a given address (never the wildcard when one is given, so that several nodes
can share one host, protocol.md §A.1: everyone uses port 3610) does not see datagrams sent to
the multicast group, because the kernel delivers those only to sockets bound to the wildcard
or to the group address. :class:`NodeSocket` therefore adds a receive-only socket bound to the
group (224.0.23.0 or ff02::1) whose datagrams join the unicast socket's queue; replies always
leave from the unicast socket, so they carry the node's own address.

:func:`serve` runs a node: each datagram goes to a handler that answers at once (a list of
frames, the fast path) or later (an awaitable, run in its own task so a slow answer never
holds up the others). Handler errors are counted and logged at debug; the loop never stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Final

from routeb.transport.base import Datagram
from routeb.transport.lan import (
    ECHONET_PORT,
    MULTICAST_V4,
    MULTICAST_V6,
    GroupProtocol,
    LanEndpoint,
    address_family,
    group_socket,
    interface_index,
)

__all__ = ["Handler", "NodeSocket", "address_family", "is_wildcard", "serve"]

_LOG = logging.getLogger(__name__)

Handler = Callable[[bytes, str], list[bytes] | Awaitable[list[bytes]]]
_WILDCARDS: Final = frozenset({"", "0.0.0.0", "::"})  # noqa: S104


def is_wildcard(address: str) -> bool:
    """True for "", 0.0.0.0 and :: (all interfaces)."""
    return address in _WILDCARDS


class NodeSocket:
    """One node's UDP socket on ``address``:3610 (all interfaces when empty) and its group."""

    def __init__(
        self,
        address: str = "",
        *,
        port: int = ECHONET_PORT,
        family: socket.AddressFamily | None = None,
        interface: str | None = None,
        multicast: bool = True,
    ) -> None:
        self.address = address
        self.family = family if family is not None else address_family(address)
        if self.family == socket.AF_INET6 and address == "0.0.0.0":  # noqa: S104
            self.address = ""
        self.port = port
        self.interface = interface
        self.multicast_enabled = multicast
        self.endpoint = LanEndpoint(self.address, port, self.family)
        self.malformed = 0  # counted by the handlers that decode
        self.handler_errors = 0
        self.group_joined = False
        self._group: asyncio.DatagramTransport | None = None

    @property
    def local_address(self) -> str:
        """The address actually bound (after start)."""
        return self.endpoint.local_address

    @property
    def group(self) -> str:
        """The multicast group of this socket's family."""
        return MULTICAST_V6 if self.family == socket.AF_INET6 else MULTICAST_V4

    async def start(self) -> None:
        """Bind the unicast socket; with a specific address, also listen to the group."""
        await self.endpoint.start(multicast=self.multicast_enabled, interface=self.interface)
        if not self.multicast_enabled:
            return
        if is_wildcard(self.address):
            self.group_joined = True  # the wildcard socket joined the group itself
            return
        try:
            sock = group_socket(self.family, self.address, self.port, self.interface)
        except OSError as exc:
            _LOG.debug("no multicast listener on %s (%s); unicast only", self.address, exc)
            return
        loop = asyncio.get_running_loop()
        deliver = self.endpoint.deliver
        transport, _ = await loop.create_datagram_endpoint(
            lambda: GroupProtocol(deliver), sock=sock
        )
        self._group = transport
        self.group_joined = True

    def send(self, data: bytes, address: str) -> None:
        """Unicast one datagram to ``address``:3610 (errors are counted, never raised)."""
        self.endpoint.send(data, address, ECHONET_PORT)

    def multicast(self, data: bytes) -> None:
        """Send one datagram to the group (224.0.23.0 or ff02::1 on the chosen interface)."""
        group = self.group
        if self.family == socket.AF_INET6:
            index = interface_index(self.address, self.interface)
            if index:
                group = f"{group}%{index}"
        self.endpoint.send(data, group, ECHONET_PORT)

    async def receive(self) -> Datagram:
        """The next datagram, unicast or multicast."""
        return await self.endpoint.receive()

    def close(self) -> None:
        """Close both sockets."""
        if self._group is not None:
            self._group.close()
            self._group = None
        self.endpoint.close()


async def _finish(sock: NodeSocket, pending: Awaitable[list[bytes]], source: str) -> None:
    try:
        replies = await pending
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a failed request is counted, the server goes on
        sock.handler_errors += 1
        _LOG.debug("request from %s failed: %s", source, exc, exc_info=True)
        return
    for data in replies:
        sock.send(data, source)


async def serve(sock: NodeSocket, handler: Handler) -> None:
    """Answer every datagram on ``sock`` with ``handler`` until cancelled."""
    tasks: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    try:
        while True:
            datagram = await sock.receive()
            try:
                result = handler(datagram.data, datagram.source)
            except Exception as exc:  # noqa: BLE001 - one bad datagram must not stop the server
                sock.handler_errors += 1
                _LOG.debug("datagram from %s not handled: %s", datagram.source, exc)
                continue
            if isinstance(result, list):
                for data in result:
                    sock.send(data, datagram.source)
                continue
            task = loop.create_task(_finish(sock, result, datagram.source))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
