"""The daemon's HTTP server serves /metrics from the live hub."""

from __future__ import annotations

import aiohttp
import pytest

from routeb.errors import ConfigError
from routeb.live import LiveHub, LiveState
from routeb.web.server import HttpServer, build_app, parse_listen


async def test_metrics_and_health_over_http() -> None:
    hub = LiveHub()
    hub.publish(LiveState("m1", online=True, power_w=1234))
    server = HttpServer(build_app(hub, lambda: {"routeb_build_info": 1.0}), "127.0.0.1", 0)
    await server.start()
    try:
        base = f"http://127.0.0.1:{server.bound_port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/metrics") as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
                text = await response.text()
            async with http.get(f"{base}/healthz") as response:
                health = await response.json()
        assert 'routeb_power_watts{meter="m1"} 1234' in text
        assert "routeb_build_info 1.0" in text
        assert health == {"ok": True, "meter_online": True}
    finally:
        await server.stop()


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:8610") == ("127.0.0.1", 8610)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen(":80") == ("127.0.0.1", 80)
    assert parse_listen("127.0.0.1:0") == ("127.0.0.1", 0)
    for bad in ("localhost", "host:x", "h:70000", "::1:80", "bad host:80"):
        with pytest.raises(ConfigError, match=r"http.listen: "):
            parse_listen(bad)
