"""The HTTP server of ``routeb run`` (aiohttp): /metrics, /healthz, and room for the dashboard.

Binds 127.0.0.1:8610 by default. Read-only: no route changes anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web

from routeb.export.prometheus import CONTENT_TYPE, render
from routeb.live import LiveHub

__all__ = ["DEFAULT_LISTEN", "HttpServer", "build_app", "parse_listen"]

_LOG = logging.getLogger(__name__)
DEFAULT_LISTEN: Final = "127.0.0.1:8610"
HUB_KEY: Final = web.AppKey("hub", LiveHub)
ExtraMetrics = Callable[[], Mapping[str, float]]
EXTRA_KEY: Final[web.AppKey[ExtraMetrics]] = web.AppKey("extra_metrics")


def parse_listen(text: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 as [::1]:8610) → (host, port); ValueError with a message."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    number = int(port)
    if not 0 <= number < 65536:  # 0 = any free port
        raise ValueError(f"port {number} is out of range")
    return host, number


async def _metrics(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    extra = request.app.get(EXTRA_KEY)
    body = render(hub.all(), extra() if extra is not None else None)
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})


async def _health(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    online = any(state.online for state in hub.all())
    return web.json_response({"ok": True, "meter_online": online})


def build_app(
    hub: LiveHub, extra_metrics: Callable[[], Mapping[str, float]] | None = None
) -> web.Application:
    """The application; the dashboard adds its routes to it."""
    app = web.Application()
    app[HUB_KEY] = hub
    if extra_metrics is not None:
        app[EXTRA_KEY] = extra_metrics
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/healthz", _health)
    return app


@dataclass(slots=True)
class HttpServer:
    """Start/stop an application on host:port."""

    app: web.Application
    host: str
    port: int
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host = f"[{self.host}]" if ":" in self.host else self.host
        _LOG.info("dashboard and /metrics on http://%s:%d/", host, self.bound_port)

    @property
    def bound_port(self) -> int:
        """The real port (useful with port 0)."""
        assert self._runner is not None
        for address in self._runner.addresses:
            return int(address[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
