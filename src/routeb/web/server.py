"""The HTTP server of ``routeb run`` (aiohttp): /metrics, /healthz, and room for the dashboard.

Binds 127.0.0.1:8610 by default. Read-only: no route changes anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from routeb.config import DEFAULT_LISTEN, parse_listen
from routeb.errors import ListenError
from routeb.export.prometheus import CONTENT_TYPE, render
from routeb.live import LiveHub

__all__ = ["DEFAULT_LISTEN", "HttpServer", "build_app", "parse_listen"]

_LOG = logging.getLogger(__name__)
HUB_KEY: Final = web.AppKey("hub", LiveHub)
ExtraMetrics = Callable[[], Mapping[str, float]]
EXTRA_KEY: Final[web.AppKey[ExtraMetrics]] = web.AppKey("extra_metrics")


async def _metrics(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    extra = request.app.get(EXTRA_KEY)
    body = render(hub.all(), extra() if extra is not None else None)
    return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPE})


async def _health(request: web.Request) -> web.Response:
    hub = request.app[HUB_KEY]
    online = any(state.online for state in hub.all())
    return web.json_response({"ok": True, "meter_online": online})


# A client that sends malformed HTTP gets its 400 from aiohttp; its log line is one WARNING per
# this many seconds (the rest at DEBUG), never an ERROR traceback per request.
MALFORMED_LOG_INTERVAL_S: Final = 600.0


class _MalformedRequests(logging.Filter):
    """On aiohttp's server logger: a malformed request is one line, at most every 10 minutes."""

    def __init__(self) -> None:
        super().__init__()
        self.last: float | None = None
        self.quiet = 0

    def filter(self, record: logging.LogRecord) -> bool:
        info = record.exc_info
        if info is None or not isinstance(info[1], HttpProcessingError):
            return True
        reason = str(info[1].message).strip().splitlines()[0] if info[1].message else "malformed"
        client = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.exc_info, record.exc_text, record.args = None, None, None
        now = time.monotonic()
        if self.last is not None and now - self.last < MALFORMED_LOG_INTERVAL_S:
            self.quiet += 1
            record.msg = f"malformed HTTP request from {client} refused (400: {reason})"
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger("aiohttp.server").isEnabledFor(logging.DEBUG)
        more = f"; {self.quiet} more since the last report" if self.quiet else ""
        record.msg = (
            f"malformed HTTP request from {client} refused (400: {reason}){more}; "
            f"further ones for {MALFORMED_LOG_INTERVAL_S / 60:.0f} min are logged at DEBUG"
        )
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self.last, self.quiet = now, 0
        return True


_MALFORMED: Final = _MalformedRequests()


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
    what: str = "http.listen"  # the setting that chose the address (named in errors)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen; ListenError (port in use, no such address) instead of an OSError."""
        server_log = logging.getLogger("aiohttp.server")
        if _MALFORMED not in server_log.filters:
            server_log.addFilter(_MALFORMED)
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            host = f"[{self.host}]" if ":" in self.host else self.host
            raise ListenError.from_os_error(self.what, f"{host}:{self.port}", exc) from None
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
