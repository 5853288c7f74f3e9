"""A running bridge: the :class:`Bridge` on a :class:`NodeSocket`, its INF relay and status.

``BridgeService`` is what ``routeb bridge`` runs and what tests start in-process, on any
meter link (Wi-SUN, or a LAN meter for tests): give it the link's client and reader info.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Final

from routeb.bridge.core import Bridge, BridgeSettings
from routeb.bridge.udp import NodeSocket, serve
from routeb.meter.client import SmartMeterClient
from routeb.meter.reader import MeterInfo

__all__ = ["WARM_EPCS", "BridgeService"]

_LOG = logging.getLogger(__name__)

# Read at start so the first LAN clients (discovery, then E7/E8/E0/E3/D3/E1/D7) are answered
# from the cache: identity, scaling and the instantaneous values.
WARM_EPCS: Final = (0x80, 0x82, 0x88, 0x8A, 0xD3, 0xD7, 0xE1, 0xE7, 0xE8, 0xE0, 0xE3, 0xEA)


class BridgeService:
    """Serve ``client``'s meter on ``listen``:3610 until :meth:`close`."""

    def __init__(
        self,
        client: SmartMeterClient,
        info: MeterInfo,
        identification: bytes,
        settings: BridgeSettings | None = None,
        *,
        listen: str = "",
        interface: str | None = None,
        link_state: Callable[[], str] = lambda: "ready",
        status_interval: float | None = 60.0,
        status: Callable[[str], None] | None = None,
        warm: Iterable[int] = WARM_EPCS,
    ) -> None:
        self.bridge = Bridge(client, info, identification, settings, link_state=link_state)
        self.socket = NodeSocket(listen, interface=interface)
        self._status_interval = status_interval
        self._status = status or (lambda line: _LOG.warning("%s", line))
        self._warm = tuple(warm)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def address(self) -> str:
        """The address the bridge answers on."""
        return self.socket.local_address

    async def start(self, *, warm: bool = True) -> None:
        """Bind, fill the cache, announce the node (D5 INF) and serve."""
        await self.socket.start()
        if warm and self._warm:
            await self.bridge.warm(self._warm)
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(serve(self.socket, self.bridge.handle)))
        self._tasks.append(loop.create_task(self.bridge.relay_notifications(self.socket.multicast)))
        if self._status_interval:
            self._tasks.append(loop.create_task(self._report(self._status_interval)))
        self.socket.multicast(self.bridge.instance_list_notification())

    async def _report(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._status(self.bridge.status_line())

    async def close(self) -> None:
        """Stop serving and close the sockets."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.bridge.aclose()
        self.socket.close()
