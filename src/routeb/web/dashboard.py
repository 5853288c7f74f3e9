"""The dashboard: pages, static assets, the JSON API and access control (docs/dashboard.md).

``build_dashboard(app, db_path=…, hub=…)`` adds everything to the application of
``routeb.web.server.build_app``. Every file the browser loads comes from this package
(``routeb/web/static``, vendored from npm by scripts/vendor-assets.sh): no external requests.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from aiohttp import web

from routeb.glossary import as_tables
from routeb.live import LiveHub
from routeb.web.api import CONTEXT_KEY, DashboardContext, add_api_routes, api_errors
from routeb.web.auth import (
    TokenLike,
    check_bind,
    login,
    logout,
    make_auth_middleware,
    token_text,
)
from routeb.web.jsonout import dumps, json_response
from routeb.web.openapi import openapi_document

if TYPE_CHECKING:
    from routeb.tariff import Tariff

__all__ = ["PAGES", "build_dashboard"]

PAGES: Final = ("/", "/today", "/history", "/bill", "/meter")
GLOSSARY: Final = "glossary.js"
_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}
_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'; object-src 'none'"
)
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    content_type: str
    etag: str


class _Assets:
    """The files under routeb/web/static, read once and served with ETags."""

    def __init__(self) -> None:
        self._cache: dict[str, _Asset | None] = {}

    def get(self, name: str) -> _Asset | None:
        if name in self._cache:
            return self._cache[name]
        asset = self._load(name)
        self._cache[name] = asset
        return asset

    @staticmethod
    def _load(name: str) -> _Asset | None:
        if name == GLOSSARY:  # the one glossary (routeb/glossary.py), loaded next to app.js
            body = f"window.ROUTEB_GLOSSARY = {dumps(as_tables())};\n".encode()
            return _Asset(body, _TYPES[".js"], '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        parts = name.split("/")
        if not name or any(p in {"", ".", ".."} or p.startswith(".") for p in parts):
            return None
        suffix = Path(parts[-1]).suffix
        if suffix not in _TYPES:
            return None
        node = importlib.resources.files("routeb.web").joinpath("static")
        for part in parts:
            node = node.joinpath(part)
        if not node.is_file():
            return None
        body = node.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return _Asset(body, _TYPES[suffix], etag)


def _serve(request: web.Request, asset: _Asset, cache: str) -> web.StreamResponse:
    headers = {"ETag": asset.etag, "Cache-Control": cache}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})


def _static_handler(assets: _Assets) -> Handler:
    async def static(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        asset = assets.get(name)
        if asset is None:
            raise web.HTTPNotFound()
        # Vendored libraries change only with a routeb release; our own files revalidate.
        cache = "public, max-age=604800" if name.startswith("vendor/") else "no-cache"
        return _serve(request, asset, cache)

    return static


def _page_handler(assets: _Assets, name: str) -> Handler:
    async def page(request: web.Request) -> web.StreamResponse:
        asset = assets.get(name)
        if asset is None:  # pragma: no cover - the package ships its pages
            raise web.HTTPNotFound()
        return _serve(request, asset, "no-cache")

    return page


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        for key, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
    return response


def build_dashboard(
    app: web.Application,
    *,
    db_path: Path,
    hub: LiveHub,
    tariff: Tariff | None = None,
    token: str | TokenLike | None = None,
    meter: str | None = None,
    host: str = "127.0.0.1",
    stale_after_s: float = 60.0,
    clock: Callable[[], datetime] | None = None,
) -> web.Application:
    """Add the pages, /api/v1, /openapi.json, /login and access control to ``app``.

    ``host`` is the address the server binds: a non-loopback one without ``token`` is a
    ConfigError. With a token, everything but /healthz, /login and /static needs it (bearer
    header or login cookie), /metrics included. ``meter`` is the default meter key;
    ``stale_after_s`` is how long without a reading before the pages show data as stale.
    Call it before the application starts.
    """
    check_bind(host, token)
    secret = token_text(token)
    app[CONTEXT_KEY] = DashboardContext(
        db_path=Path(db_path),
        hub=hub,
        tariff=tariff,
        meter=meter,
        stale_after_s=stale_after_s,
        clock=clock or (lambda: datetime.now(UTC)),
        login=secret is not None,
    )
    app.middlewares.append(_security_headers)
    app.middlewares.append(make_auth_middleware(secret, host))  # type: ignore[arg-type]
    app.middlewares.append(api_errors)
    add_api_routes(app)
    assets = _Assets()
    for path in PAGES:
        app.router.add_get(path, _page_handler(assets, "app.html"))
    app.router.add_get("/login", _page_handler(assets, "login.html"))

    async def do_login(request: web.Request) -> web.StreamResponse:
        return await login(request, secret)

    async def openapi(_: web.Request) -> web.Response:
        return json_response(openapi_document())

    app.router.add_post("/login", do_login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/static/{name:.+}", _static_handler(assets))
    return app
