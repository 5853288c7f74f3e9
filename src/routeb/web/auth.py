"""Access control of the dashboard and API (docs/dashboard.md, "Security").

- Without a token the server must listen on a loopback address (``check_bind``), and only
  requests whose ``Host`` is a loopback name are answered (no DNS rebinding from a web page).
- With a token, every page, ``/api/*``, ``/openapi.json`` and ``/metrics`` need either
  ``Authorization: Bearer <token>`` or the login cookie set by ``POST /login``. The cookie holds
  an expiry and an HMAC keyed by the token, never the token itself; tokens are compared in
  constant time. ``/healthz``, ``/login`` and ``/static/*`` (vendored code, no data) are open.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable
from typing import Final, Protocol
from urllib.parse import quote

from aiohttp import web

from routeb.errors import ConfigError

__all__ = [
    "COOKIE",
    "TokenLike",
    "check_bind",
    "is_loopback",
    "make_auth_middleware",
    "session_cookie",
    "token_text",
]

COOKIE: Final = "routeb_session"
SESSION_SECONDS: Final = 30 * 86400
FAILED_LOGIN_DELAY_S: Final = 1.0
_OPEN_PATHS: Final = frozenset({"/healthz", "/login", "/favicon.ico"})
_OPEN_PREFIXES: Final = ("/static/",)
_MACHINE_PREFIXES: Final = ("/api/", "/openapi.json", "/metrics")
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.", "ip6-localhost"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenLike(Protocol):
    """routeb.config's Secret: a value that only ``reveal()`` shows."""

    def reveal(self) -> str: ...


def token_text(token: str | TokenLike | None) -> str | None:
    """The token as text (None or empty = no token)."""
    if token is None:
        return None
    text = token if isinstance(token, str) else token.reveal()
    return text or None


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() in _LOOPBACK_NAMES


def check_bind(host: str, token: str | TokenLike | None) -> None:
    """ConfigError unless ``host`` is loopback or a token is configured."""
    if not is_loopback(host) and token_text(token) is None:
        raise ConfigError(
            "http.listen",
            f"listening on {host} exposes your data: set http.token (ROUTEB_TOKEN) first",
        )


def _signature(token: str, expires: int) -> str:
    key = hashlib.sha256(b"routeb-session-v1\0" + token.encode()).digest()
    return hmac.new(key, str(expires).encode(), hashlib.sha256).hexdigest()


def session_cookie(token: str, now: float | None = None) -> str:
    """A login cookie value: ``<expiry>.<hmac>`` (the token cannot be read back from it)."""
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    return f"{expires}.{_signature(token, expires)}"


def _valid_cookie(token: str, value: str | None, now: float | None = None) -> bool:
    if not value or "." not in value:
        return False
    expires_text, _, signature = value.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return False
    expires = int(expires_text)
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature.encode(), _signature(token, expires).encode())


def _valid_bearer(token: str, header: str | None) -> bool:
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(value.strip().encode(), token.encode())


def _host_name(request: web.Request) -> str:
    host = request.host
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_open(path: str) -> bool:
    return path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES)


def _wants_machine(path: str) -> bool:
    return path.startswith(_MACHINE_PREFIXES)


def safe_next(target: str | None) -> str:
    """A local path to return to after login (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def make_auth_middleware(token: str | None, bind_host: str) -> Callable[..., object]:
    """The middleware enforcing the rules above."""
    allowed_hosts = {"127.0.0.1", "::1", "localhost", bind_host.strip("[]").lower()}

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path == "/healthz":
            return await handler(request)
        if token is None:
            name = _host_name(request).lower()
            if name not in allowed_hosts and not is_loopback(name):
                return web.json_response(
                    {"error": "unexpected Host header (use http://127.0.0.1 or localhost)"},
                    status=403,
                )
            return await handler(request)
        if _is_open(path):
            return await handler(request)
        if _valid_bearer(token, request.headers.get("Authorization")) or _valid_cookie(
            token, request.cookies.get(COOKIE)
        ):
            return await handler(request)
        if _wants_machine(path) or request.method not in {"GET", "HEAD"}:
            return web.json_response(
                {"error": "authentication required: send Authorization: Bearer <token>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="routeb"', "Cache-Control": "no-store"},
            )
        raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='/')}")

    return auth


async def login(request: web.Request, token: str | None) -> web.StreamResponse:
    """POST /login: form field ``token``; sets the session cookie and goes back to ``next``."""
    form = await request.post()
    given = form.get("token")
    target = safe_next(str(form.get("next") or "/"))
    if token is None:
        raise web.HTTPSeeOther(target)
    if not isinstance(given, str) or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)  # slows guessing down
        raise web.HTTPSeeOther(f"/login?error=1&next={quote(target, safe='/')}")
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        COOKIE,
        session_cookie(token),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: forget the session cookie."""
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response
