"""Every live answer of /api/v1 validates against /openapi.json (openapi-core, OpenAPI 3.1):
required fields, ``format: date-time``, one shape per ``oneOf``; and the numbers on the wire
have one number of places per kind (kWh 4, yen 2), never ``-0`` or 28 digits."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from routeb.live import LinkSnapshot
from routeb.tariff import parse_tariff
from routeb.web.openapi import openapi_document
from tests.browser_helpers import TARIFF_TOML, live_state, running_dashboard, seed
from tests.test_web_api import NOW

# Every route with the parameters the dashboard uses, and some it does not.
ROUTES = [
    "/api/v1/meters",
    "/api/v1/latest",
    "/api/v1/readings",
    "/api/v1/readings?resolution=raw",
    "/api/v1/readings?from=2026-05-19&to=2026-05-20&resolution=minute",
    "/api/v1/readings?from=2026-05-01&to=2026-05-20&resolution=halfhour",
    "/api/v1/slots",
    "/api/v1/slots?from=2026-05-18&to=2026-05-19",
    "/api/v1/daily?from=2026-05-01&to=2026-05-31",
    "/api/v1/monthly?from=2026-01&to=2026-12",
    "/api/v1/cost",
    "/api/v1/cost?from=2026-05&to=2026-05",
    "/api/v1/cost?from=2026-05-01&to=2026-05-31&group=day",
    "/api/v1/cost?from=2026-01&to=2026-12&group=month",
    "/api/v1/cost?from=2026-04-01&to=2026-05-31&group=billing",
    "/api/v1/meter",
    "/api/v1/events",
    "/api/v1/slots?from=2026-05-21&to=2026-05-20",  # 400
    "/api/v1/latest?meter=nope",  # 404
]
# fuel only for April (May is missing), FY2026 surcharge, a discount: every kind of line
TARIFF = (
    TARIFF_TOML
    + """
[fuel_adjustment]
2026-04 = -1.23

[renewable_surcharge]
2026 = 3.98

[feed_in]
price = 16.00

[[discount]]
name = "Direct debit"
name_ja = "口座振替割引"
per_period = 55
"""
)


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return OpenAPI.from_dict(openapi_document())


async def _fetch(base: str, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http, http.get(base + path) as response:
        return response.status, await response.read()


def _validate(spec: OpenAPI, base: str, path: str, status: int, body: bytes) -> None:
    route, _, query = path.partition("?")
    args = dict(p.split("=", 1) for p in query.split("&")) if query else {}
    request = MockRequest(base, "get", route, args=args)
    spec.validate_response(request, MockResponse(body, status_code=status))


async def test_every_live_answer_validates(spec: OpenAPI, tmp_path: Path) -> None:
    db = tmp_path / "routeb.sqlite3"
    seed(db, date(2026, 5, 18), NOW)
    tariff = parse_tariff(tomllib.loads(TARIFF))
    async with running_dashboard(db, tariff=tariff, clock=lambda: NOW) as dash:
        dash.hub.publish(live_state(-1234, NOW - timedelta(seconds=5)))
        for path in ROUTES:
            status, body = await _fetch(dash.base, path)
            assert status in {200, 400, 404}, (path, body)
            _validate(spec, dash.base, path, status, body)
        # the other states of a meter validate too
        for state in (
            live_state(None, NOW - timedelta(minutes=10), online=False),
            live_state(300, NOW, link=LinkSnapshot(state="recovering")),
            live_state(None, NOW, online=False, link=LinkSnapshot(state="latched")),
        ):
            dash.hub.publish(state)
            for path in ("/api/v1/latest", "/api/v1/meter"):
                status, body = await _fetch(dash.base, path)
                _validate(spec, dash.base, path, status, body)


def test_an_answer_missing_a_required_field_is_refused(spec: OpenAPI) -> None:
    # The schema has teeth: a bill without its lines, or a time that is not a date-time.
    from openapi_core.validation.response.exceptions import InvalidData  # noqa: PLC0415

    base = "http://127.0.0.1"
    bad_state = {"meter": "m1", "server_time": "yesterday"}
    with pytest.raises(InvalidData):
        _validate(spec, base, "/api/v1/latest", 200, json.dumps(bad_state).encode())
    slots: dict[str, Any] = {"meter": "m1", "from": "2026-05-20T00:00:00+09:00"}
    with pytest.raises(InvalidData):
        _validate(spec, base, "/api/v1/slots", 200, json.dumps(slots).encode())


_NUMBER = re.compile(r'"(\w+)":(-?\d+(?:\.\d+)?)')
_KWH_KEYS = re.compile(r".*kwh$")
_YEN_KEYS = {"total", "energy_cost", "feed_in_credit", "amount"}


async def test_numbers_have_one_number_of_places_per_kind(tmp_path: Path) -> None:
    db = tmp_path / "routeb.sqlite3"
    seed(db, date(2026, 5, 18), NOW)
    tariff = parse_tariff(tomllib.loads(TARIFF))
    async with running_dashboard(db, tariff=tariff, clock=lambda: NOW) as dash:
        dash.hub.publish(live_state(-1234, NOW - timedelta(seconds=5)))
        seen_kwh = seen_yen = 0
        for path in ROUTES:
            _, raw = await _fetch(dash.base, path)
            text = raw.decode()
            assert not re.search(r"[:\[,]-0(?:\.0+)?[,}\]]", text), (path, text[:300])
            for key, number in _NUMBER.findall(text):
                places = len(number.partition(".")[2])
                if _KWH_KEYS.match(key):
                    assert places == 4, (path, key, number)
                    seen_kwh += 1
                elif key in _YEN_KEYS:
                    assert places == 2, (path, key, number)
                    seen_yen += 1
                else:
                    assert places <= 4, (path, key, number)  # never 28 digits
        assert seen_kwh > 100
        assert seen_yen > 50
