"""Access control of the dashboard and API (docs/dashboard.md, "Security").

- Without a token the server must listen on a loopback address (``check_bind``), and only
  requests whose ``Host`` is a loopback name are answered (no DNS rebinding from a web page).
- With a token, every page, ``/api/*``, ``/openapi.json`` and ``/metrics`` need either
  ``Authorization: Bearer <token>`` or the login cookie set by ``POST /login``. The cookie holds
  an expiry and an HMAC keyed by the token, never the token itself; tokens are compared in
  constant time. ``/healthz``, ``/login`` and ``/static/*`` (vendored code, no data) are open.
- Guessing is rate-limited (``FailureLimiter``): every token attempt — a Bearer header or a
  login — counts against its client address (5 per minute) and against everyone (30 per
  minute) until it succeeds; over either limit the answer is 429 with ``Retry-After``, whatever
  the token. A failed attempt also waits a second. Parallel attempts count as they start, so
  100 at once from one address test 5 tokens, not 100.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import math
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Final, Protocol
from urllib.parse import quote

from aiohttp import web

from routeb.errors import ConfigError

__all__ = [
    "COOKIE",
    "FailureLimiter",
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
# Token attempts allowed per window, per client address and in total (FailureLimiter).
ATTEMPT_WINDOW_S: Final = 60.0
ATTEMPTS_PER_CLIENT: Final = 5
ATTEMPTS_OVERALL: Final = 30
_MAX_TRACKED_CLIENTS: Final = 4096

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


class FailureLimiter:
    """Counts token attempts (until they succeed) per client and overall, in a sliding window."""

    def __init__(
        self,
        *,
        per_client: int = ATTEMPTS_PER_CLIENT,
        overall: int = ATTEMPTS_OVERALL,
        window: float = ATTEMPT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_client = per_client
        self.overall = overall
        self.window = window
        self._clock = clock
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._all: deque[float] = deque()

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()

    def attempt(self, client: str) -> float | None:
        """Count an attempt; None when allowed, else the seconds to wait (no attempt counted)."""
        now = self._clock()
        self._expire(self._all, now)
        mine = self._clients.get(client)
        if mine is not None:
            self._expire(mine, now)
        for times, limit in ((mine, self.per_client), (self._all, self.overall)):
            if times is not None and len(times) >= limit:
                return max(1.0, times[0] + self.window - now)
        if mine is None:
            mine = self._clients[client] = deque()
            while len(self._clients) > _MAX_TRACKED_CLIENTS:
                self._clients.popitem(last=False)
        self._clients.move_to_end(client)
        mine.append(now)
        self._all.append(now)
        return None

    def succeeded(self, client: str) -> None:
        """The attempt was right: it does not count against anyone."""
        mine = self._clients.get(client)
        if mine:
            stamp = mine.pop()
            with contextlib.suppress(ValueError):
                self._all.remove(stamp)


_LIMITER_KEY: Final = web.RequestKey("limiter", FailureLimiter)


def _client(request: web.Request) -> str:
    return request.remote or "?"


def _too_many(wait: float, machine: bool) -> web.StreamResponse:
    headers = {"Retry-After": str(math.ceil(wait)), "Cache-Control": "no-store"}
    text = f"too many failed authentication attempts: try again in {math.ceil(wait)} s"
    if machine:
        return web.json_response({"error": text}, status=429, headers=headers)
    return web.Response(text=text, status=429, headers=headers)


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
    limiter = FailureLimiter()

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        request[_LIMITER_KEY] = limiter  # POST /login counts against the same limits
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
        if _valid_cookie(token, request.cookies.get(COOKIE)):
            return await handler(request)  # an HMAC keyed by the token: nothing to guess
        header = request.headers.get("Authorization")
        if header:
            client = _client(request)
            wait = limiter.attempt(client)
            if wait is not None:
                return _too_many(wait, _wants_machine(path))
            if _valid_bearer(token, header):
                limiter.succeeded(client)
                return await handler(request)
            await asyncio.sleep(FAILED_LOGIN_DELAY_S)  # slows guessing down
            return web.json_response(
                {"error": "wrong token: send Authorization: Bearer <token>"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="routeb"', "Cache-Control": "no-store"},
            )
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
    limiter = request.get(_LIMITER_KEY) or _DEFAULT_LIMITER
    client = _client(request)
    wait = limiter.attempt(client)
    if wait is not None:
        return _too_many(wait, machine=False)
    if not isinstance(given, str) or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        await asyncio.sleep(FAILED_LOGIN_DELAY_S)  # slows guessing down
        raise web.HTTPSeeOther(f"/login?error=1&next={quote(target, safe='/')}")
    limiter.succeeded(client)
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


_DEFAULT_LIMITER: Final = FailureLimiter()


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: forget the session cookie."""
    response = web.HTTPSeeOther("/login")
    response.del_cookie(COOKIE, path="/")
    raise response
