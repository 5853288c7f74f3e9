"""Home Assistant's websocket API: authenticate with a long-lived token, send commands.

homeassistant.md §4.1: ``auth_required`` → ``auth`` → ``auth_ok`` / ``auth_invalid``; then
``{"id": N, "type": …}`` commands answered by ``result`` messages. Every failure becomes one
:class:`HomeAssistantError` whose message is a single line that never holds the token.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from dataclasses import dataclass
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from routeb._redact import Secret
from routeb.errors import ConfigError, RouteBError

__all__ = [
    "HaCommandError",
    "HaConflictError",
    "HaNotAdminError",
    "HaTokenRejectedError",
    "HaUnreachableError",
    "HomeAssistantClient",
    "HomeAssistantError",
    "HomeAssistantSettings",
    "parse_version",
    "websocket_url",
]

_LOG = logging.getLogger(__name__)
# homeassistant.md §3.5: HA's inbound cap is aiohttp's 4 MiB; its answers (a month of hours)
# can be larger than aiohttp's own client default, so the client side takes any size.
_NO_LIMIT: Final = 0
DEFAULT_TIMEOUT: Final = 30.0


class HomeAssistantError(RouteBError):
    """Home Assistant could not be reached or refused what routeb asked."""


class HaUnreachableError(HomeAssistantError):
    """No connection, no answer in time, or not a Home Assistant websocket."""


class HaTokenRejectedError(HomeAssistantError):
    """``auth_invalid``: the long-lived access token is wrong, expired or revoked."""


class HaNotAdminError(HomeAssistantError):
    """The token's user is not an administrator (statistics import needs one, §3.4)."""


class HaConflictError(HomeAssistantError):
    """A statistic id routeb uses already exists in Home Assistant with other metadata."""


class HaCommandError(HomeAssistantError):
    """A command answered ``success: false`` (``code``, ``message`` from Home Assistant)."""

    def __init__(self, command: str, code: str, message: str) -> None:
        self.command = command
        self.code = code
        first = message.strip().splitlines()[0] if message.strip() else code
        super().__init__(f"Home Assistant refused {command}: {first} ({code})")


@dataclass(frozen=True, slots=True)
class HomeAssistantSettings:
    """[homeassistant] in the config (docs/homeassistant.md)."""

    url: str
    token: Secret
    cost: bool = True  # import the tariff's cost too, when a tariff is configured
    interval: float = 60.0  # how often the store is checked for new or changed half-hours
    timeout: float = DEFAULT_TIMEOUT


def websocket_url(url: str) -> str:
    """``http://host:8123`` → ``ws://host:8123/api/websocket`` (https → wss)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ConfigError("homeassistant.url", "must look like http://homeassistant.local:8123")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if not path.endswith("/api/websocket"):
        path += "/api/websocket"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def parse_version(text: str) -> tuple[int, int, int]:
    """``2025.4.4`` → (2025, 4, 4); ``2025.11.0.dev0`` → (2025, 11, 0); unknown → (0, 0, 0)."""
    numbers = [int(n) for n in re.findall(r"\d+", text)[:3]]
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


class HomeAssistantClient:
    """One authenticated websocket connection: ``async with`` it, then :meth:`call`."""

    def __init__(self, settings: HomeAssistantSettings) -> None:
        self.settings = settings
        self.url = websocket_url(settings.url)
        self.version = (0, 0, 0)
        self.version_text = ""
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)

    async def __aenter__(self) -> HomeAssistantClient:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.settings.timeout)
        self._http = aiohttp.ClientSession(timeout=timeout)
        try:
            self._ws = await self._http.ws_connect(self.url, max_msg_size=_NO_LIMIT, heartbeat=30.0)
            hello = await self._receive()
            if hello.get("type") != "auth_required":
                raise HaUnreachableError(f"{self.url} is not Home Assistant's websocket API")
            await self._send({"type": "auth", "access_token": self.settings.token.reveal()})
            answer = await self._receive()
        except aiohttp.ClientError as exc:
            await self._close()
            raise HaUnreachableError(f"Home Assistant at {self.url}: {_reason(exc)}") from None
        except BaseException:
            await self._close()
            raise
        if answer.get("type") != "auth_ok":
            await self._close()
            raise HaTokenRejectedError(
                "Home Assistant rejected the access token (create a long-lived access token "
                "in your Home Assistant profile and put it in [homeassistant] token)"
            )
        self.version_text = str(answer.get("ha_version", ""))
        self.version = parse_version(self.version_text)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _send(self, message: dict[str, object]) -> None:
        assert self._ws is not None
        try:
            await self._ws.send_str(json.dumps(message, separators=(",", ":")))
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise HaUnreachableError(f"Home Assistant at {self.url}: {_reason(exc)}") from None

    async def _receive(self) -> dict[str, object]:
        assert self._ws is not None
        try:
            message = await asyncio.wait_for(self._ws.receive(), self.settings.timeout)
        except TimeoutError:
            raise HaUnreachableError(
                f"Home Assistant at {self.url} did not answer in {self.settings.timeout:.0f} s"
            ) from None
        if message.type != aiohttp.WSMsgType.TEXT:
            raise HaUnreachableError(f"Home Assistant at {self.url} closed the connection")
        try:
            data = json.loads(message.data)
        except ValueError:
            raise HaUnreachableError(f"{self.url} sent something that is not JSON") from None
        if not isinstance(data, dict):
            raise HaUnreachableError(f"{self.url} sent an unexpected message")
        return data

    async def call(self, command: str, **fields: object) -> object:
        """Send ``command`` and return its ``result``; HomeAssistantError if it failed."""
        ident = next(self._ids)
        await self._send({"id": ident, "type": command, **fields})
        while True:
            reply = await self._receive()
            if reply.get("id") != ident or reply.get("type") != "result":
                continue  # an event of a subscription, or an older answer
            if reply.get("success"):
                return reply.get("result")
            error = reply.get("error")
            code, text = "unknown_error", ""
            if isinstance(error, dict):
                code, text = str(error.get("code", code)), str(error.get("message", ""))
            if code == "unauthorized":
                raise HaNotAdminError(
                    f"Home Assistant refused {command}: the token's user is not an "
                    "administrator (importing statistics needs an admin's long-lived token)"
                )
            raise HaCommandError(command, code, text)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
