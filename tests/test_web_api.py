"""The dashboard's JSON API, pages, static files and access control (docs/api.md)."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from routeb.errors import ConfigError
from routeb.live import LinkSnapshot, LiveHub
from routeb.storage import JST, SqliteStore
from routeb.tariff import Bill, HalfHour, Tariff, parse_tariff
from routeb.web.auth import check_bind, session_cookie
from routeb.web.dashboard import build_dashboard
from routeb.web.jsonout import dumps
from routeb.web.server import build_app
from tests.browser_helpers import (
    METER,
    TARIFF_TOML,
    Running,
    export_raw_for,
    import_raw_for,
    live_state,
    running_dashboard,
    seed,
)

NOW = datetime(2026, 5, 20, 12, 10, tzinfo=JST)
SLOT = timedelta(minutes=30)


def _tariff() -> Tariff:
    return parse_tariff(tomllib.loads(TARIFF_TOML))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "routeb.sqlite3"
    seed(path, date(2026, 5, 18), NOW)
    return path


@pytest.fixture
async def dash(db: Path) -> AsyncIterator[Running]:
    async with running_dashboard(db, tariff=_tariff(), clock=lambda: NOW) as running:
        running.hub.publish(live_state(1234, NOW - timedelta(seconds=5)))
        yield running


async def _get(running: Running, path: str, **kwargs: object) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(running.base + path, allow_redirects=False, **kwargs) as response,  # type: ignore[arg-type]
    ):
        text = await response.text()
        body = json.loads(text, parse_float=Decimal) if text.startswith(("{", "[")) else {}
        return response.status, body


async def test_meters_lists_recorded_and_live(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/meters")
    assert status == 200
    assert body["default"] == METER
    [meter] = body["meters"]  # type: ignore[misc]
    assert meter["key"] == METER
    assert meter["online"] is True
    assert meter["recorded"] is True


async def test_latest_is_the_live_state_with_its_age(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/latest")
    assert status == 200
    assert body["power_w"] == 1234
    assert body["direction"] == "buying"
    assert body["current_r_a"] == Decimal("12.5")
    assert body["stale"] is False
    assert body["age_s"] == Decimal("5.0")
    assert body["link"]["lqi"] == 120  # type: ignore[index]
    assert body["server_time"] == "2026-05-20T12:10:00+09:00"


async def test_latest_unknown_meter_is_404_and_outage_is_null(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/latest?meter=nope")
    assert status == 404
    assert "nope" in str(body["error"])
    dash.hub.publish(live_state(None, NOW - timedelta(minutes=10), online=False))
    status, body = await _get(dash, "/api/v1/latest")
    assert body["power_w"] is None  # unavailable, never 0
    assert body["direction"] is None
    assert body["stale"] is True


async def test_readings_raw_and_aggregated(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/readings")
    assert status == 200
    assert body["resolution"] == "raw"
    readings = body["readings"]
    assert isinstance(readings, list)
    assert len(readings) == 60
    assert readings[-1]["power_w"] == 410
    status, body = await _get(
        dash, "/api/v1/readings?from=2026-05-20&to=2026-05-20&resolution=halfhour"
    )
    assert status == 200
    [half] = body["readings"]  # type: ignore[misc]
    assert half["samples"] == 60
    status, body = await _get(dash, "/api/v1/readings?from=2026-05-19&to=2026-05-20")
    assert body["resolution"] == "minute"


async def test_slots_of_a_day_with_nulls_and_exact_decimals(dash: Running) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(dash.base + "/api/v1/slots?from=2026-05-19&to=2026-05-19") as response,
    ):
        text = await response.text()
        assert response.headers["Cache-Control"] == "no-store"
    assert '"import_kwh":0.2000' in text  # exact digits on the wire
    body = json.loads(text, parse_float=Decimal)
    assert body["expected_slots"] == 48
    assert body["known_slots"] == 48
    assert body["import_kwh"] == Decimal("18.6000")
    assert body["export_kwh"] == Decimal("0.8000")
    assert body["slots"][0]["start"] == "2026-05-19T00:00:00+09:00"
    status, today = await _get(dash, "/api/v1/slots")  # default: today (JST)
    assert status == 200
    assert today["known_slots"] == 24
    slots = today["slots"]
    assert isinstance(slots, list)
    assert slots[30]["import_kwh"] is None  # the afternoon has not happened yet
    status, by_time = await _get(
        dash, "/api/v1/slots?from=2026-05-19T10:00:00%2B09:00&to=2026-05-19T11:00"
    )
    assert [s["start"] for s in by_time["slots"]] == [  # type: ignore[attr-defined]
        "2026-05-19T10:00:00+09:00",
        "2026-05-19T10:30:00+09:00",
    ]


async def test_daily_and_monthly(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/daily?from=2026-05-18&to=2026-05-20")
    assert status == 200
    days = body["days"]
    assert isinstance(days, list)
    assert [d["date"] for d in days] == ["2026-05-18", "2026-05-19", "2026-05-20"]
    assert days[0]["import_kwh"] == Decimal("18.6000")
    assert days[0]["complete"] is True
    assert days[2]["complete"] is False
    status, body = await _get(dash, "/api/v1/monthly?from=2026-04&to=2026-05")
    assert status == 200
    months = body["months"]
    assert isinstance(months, list)
    assert [m["month"] for m in months] == ["2026-04", "2026-05"]
    assert months[0]["import_kwh"] is None
    assert months[1]["import_kwh"] == Decimal("45.0000")
    status, body = await _get(dash, "/api/v1/monthly")
    assert len(body["months"]) == 12  # type: ignore[arg-type]


async def test_cost_by_range_and_day(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/cost?from=2026-05-19&to=2026-05-19")
    assert status == 200
    [bill] = body["bills"]  # type: ignore[misc]
    day = datetime(2026, 5, 19, tzinfo=JST)
    usage = [
        HalfHour(
            day + timedelta(minutes=30 * i),
            Decimal(import_raw_for(i)) / 10,
            Decimal(export_raw_for(i)) / 10,
        )
        for i in range(48)
    ]
    expected = _tariff().bill(usage, date(2026, 5, 19), date(2026, 5, 20))
    assert bill["import_kwh"] == Decimal("18.6000")
    assert bill["total"] == expected.total
    assert bill["energy_cost"] == sum(
        (line.amount for line in expected.lines if line.key != "base_charge"), Decimal(0)
    )
    assert bill["missing_slots"] == 0
    assert {line["key"] for line in bill["lines"]} >= {"base_charge"}
    status, body = await _get(dash, "/api/v1/cost?from=2026-05-18&to=2026-05-20&group=day")
    assert [b["from"] for b in body["bills"]] == [  # type: ignore[attr-defined]
        "2026-05-18",
        "2026-05-19",
        "2026-05-20",
    ]
    assert body["bills"][2]["expected_slots"] == 24  # type: ignore[index]
    status, body = await _get(dash, "/api/v1/cost?group=billing")
    assert status == 200
    assert body["bills"][0]["from"] == "2026-05-01"  # type: ignore[index]
    assert body["bills"][0]["to"] == "2026-05-31"  # type: ignore[index]


async def test_cost_without_tariff_is_404(db: Path) -> None:
    async with running_dashboard(db, clock=lambda: NOW) as running:
        status, body = await _get(running, "/api/v1/cost")
    assert status == 404
    assert "tariff" in str(body["error"])


async def test_meter_info_and_events(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/meter")
    assert status == 200
    metadata = body["metadata"]
    assert isinstance(metadata, dict)
    assert metadata["serial"] == "SN-12345"
    assert metadata["maker_code_hex"] == "0x000016"
    assert metadata["unit_kwh"] == Decimal("0.1")
    assert metadata["get_map"][-1] == "0xE7"
    assert body["live"]["clock_skew_s"] == Decimal("1.5")  # type: ignore[index]
    assert body["events_7d"] == {"connected": 1, "rejoin": 1}
    status, body = await _get(dash, "/api/v1/events")
    assert status == 200
    events = body["events"]
    assert isinstance(events, list)
    assert [e["kind"] for e in events] == ["rejoin", "connected"]  # newest first
    assert events[0]["detail"] == "reason=timeout"
    status, body = await _get(dash, "/api/v1/events?limit=1&kind=connected")
    assert [e["kind"] for e in body["events"]] == ["connected"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/slots?from=2026-05-21&to=2026-05-20", "must be after"),
        ("/api/v1/slots?from=2026-13-01", "expected a date"),
        ("/api/v1/slots?from=yesterday", "expected a date"),
        ("/api/v1/slots?from=2020-01-01&to=2026-01-01", "longer than 366 days"),
        ("/api/v1/readings?resolution=raw&from=2026-05-01&to=2026-05-20", "longer than"),
        ("/api/v1/readings?resolution=second", "expected one of"),
        ("/api/v1/daily?from=2026-05-02&to=2026-05-01", "must not be before"),
        ("/api/v1/daily?from=1999-12-31", "outside"),
        ("/api/v1/daily?from=2000-01-01&to=2026-01-01", "longer than"),
        ("/api/v1/monthly?from=2026-13", "expected a month YYYY-MM"),
        ("/api/v1/cost?to=2026-00", "expected a month YYYY-MM"),
        ("/api/v1/cost?to=9999-12", "is outside"),
        ("/api/v1/cost?group=week", "expected one of"),
        ("/api/v1/cost?from=2024-01-01&to=2026-01-01", "longer than"),
        ("/api/v1/cost?from=2026-01-01&to=2026-05-01&group=day", "at most"),
        ("/api/v1/events?limit=0", "whole number"),
        ("/api/v1/events?limit=abc", "whole number"),
        ("/api/v1/meter?meter=%00", "meter key"),
    ],
)
async def test_bad_input_is_400_with_a_message(dash: Running, path: str, message: str) -> None:
    status, body = await _get(dash, path)
    assert status == 400, body
    assert message in str(body["error"])


async def test_unknown_meter_everywhere_is_404(dash: Running) -> None:
    for path in ("slots", "daily", "monthly", "cost", "meter", "events", "readings"):
        status, body = await _get(dash, f"/api/v1/{path}?meter=ghost")
        assert status == 404, path
        assert "ghost" in str(body["error"])


async def test_no_database_yet(tmp_path: Path) -> None:
    hub = LiveHub()
    hub.publish(live_state(500, NOW))
    async with running_dashboard(tmp_path / "none.sqlite3", hub=hub, clock=lambda: NOW) as r:
        status, body = await _get(r, "/api/v1/slots")
        assert status == 503
        assert "no database" in str(body["error"])
        status, body = await _get(r, "/api/v1/latest")
        assert status == 200
        assert body["power_w"] == 500
        status, body = await _get(r, "/api/v1/meters")
        assert body["meters"][0]["recorded"] is False  # type: ignore[index]
        status, body = await _get(r, "/api/v1/meter")
        assert status == 200
        assert body["metadata"] is None


async def _events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    event = None
    while len(out) < count:
        line = (await asyncio.wait_for(response.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == "state":
            out.append(json.loads(line[6:], parse_float=Decimal))
    return out


async def test_stream_sends_the_state_on_connect_and_on_each_update(dash: Running) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(dash.base + "/api/v1/stream") as response,
    ):
        assert response.headers["Content-Type"].startswith("text/event-stream")
        [first] = await _events(response, 1)
        assert first["power_w"] == 1234
        dash.hub.publish(live_state(-300, NOW))
        dash.hub.publish(live_state(777, NOW, meter="other"))  # another meter: not sent
        dash.hub.publish(live_state(2000, NOW))
        second, third = await _events(response, 2)
        assert second["power_w"] == -300
        assert second["direction"] == "selling"
        assert third["power_w"] == 2000


async def test_openapi_describes_every_route(dash: Running) -> None:
    status, body = await _get(dash, "/openapi.json")
    assert status == 200
    assert body["openapi"] == "3.1.0"
    paths = body["paths"]
    assert isinstance(paths, dict)
    for name in (
        "meters",
        "latest",
        "readings",
        "slots",
        "daily",
        "monthly",
        "cost",
        "meter",
        "events",
        "stream",
    ):
        assert f"/api/v1/{name}" in paths


async def test_pages_and_static_files(dash: Running) -> None:
    async with aiohttp.ClientSession() as http:
        for page in ("/", "/today", "/history", "/meter", "/login"):
            async with http.get(dash.base + page) as response:
                assert response.status == 200
                assert response.headers["Content-Type"].startswith("text/html")
                assert "default-src 'self'" in response.headers["Content-Security-Policy"]
                text = await response.text()
                assert "http://" not in text  # nothing external
                assert "https://" not in text
        async with http.get(dash.base + "/static/vendor/uPlot.iife.min.js") as response:
            assert response.status == 200
            assert "max-age" in response.headers["Cache-Control"]
            etag = response.headers["ETag"]
        async with http.get(
            dash.base + "/static/vendor/uPlot.iife.min.js", headers={"If-None-Match": etag}
        ) as response:
            assert response.status == 304
        async with http.get(dash.base + "/static/app.js") as response:
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.headers["Content-Type"].startswith("text/javascript")
        for bad in ("/static/../server.py", "/static/nothing.js", "/static/.hidden.js"):
            async with http.get(dash.base + bad) as response:
                assert response.status == 404, bad


async def test_read_only(dash: Running) -> None:
    async with aiohttp.ClientSession() as http:
        for method in ("POST", "PUT", "DELETE"):
            async with http.request(method, dash.base + "/api/v1/slots") as response:
                assert response.status == 405


async def test_metrics_and_health_still_served(dash: Running) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(dash.base + "/metrics") as response:
            assert response.status == 200
            assert "routeb_power_watts" in await response.text()
        async with http.get(dash.base + "/healthz") as response:
            assert (await response.json())["meter_online"] is True


async def test_dns_rebinding_host_is_refused_without_token(dash: Running) -> None:
    status, body = await _get(dash, "/api/v1/latest", headers={"Host": "evil.example:80"})
    assert status == 403
    assert "Host" in str(body["error"])
    status, _ = await _get(dash, "/api/v1/latest", headers={"Host": "localhost:8610"})
    assert status == 200


def test_non_loopback_bind_needs_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="token"):
        build_dashboard(build_app(LiveHub()), db_path=tmp_path / "x", hub=LiveHub(), host="0.0.0.0")
    with pytest.raises(ConfigError):
        check_bind("192.168.1.5", "")
    check_bind("127.0.0.1", None)
    check_bind("::1", None)
    check_bind("0.0.0.0", "secret")


async def test_token_required_bearer_or_cookie(db: Path) -> None:
    token = "correct horse battery staple"
    async with running_dashboard(db, token=token, clock=lambda: NOW) as r:
        status, body = await _get(r, "/api/v1/latest")
        assert status == 401
        assert "Bearer" in str(body["error"])
        for path in ("/openapi.json", "/metrics", "/api/v1/stream"):
            status, _ = await _get(r, path)
            assert status == 401, path
        status, _ = await _get(r, "/api/v1/meters", headers={"Authorization": "Bearer wrong"})
        assert status == 401
        status, _ = await _get(r, "/api/v1/meters", headers={"Authorization": f"Bearer {token}"})
        assert status == 200
        jar = aiohttp.CookieJar(unsafe=True)  # keep cookies of an IP-address host
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            async with http.get(r.base + "/history?view=day", allow_redirects=False) as response:
                assert response.status == 303
                location = urlsplit(response.headers["Location"])
                assert location.path == "/login"
                assert parse_qs(location.query)["next"] == ["/history?view=day"]
            async with http.get(r.base + "/healthz") as response:
                assert response.status == 200  # liveness stays open
            async with http.get(r.base + "/login") as response:
                page = await response.text()
                assert token not in page
            async with http.post(
                r.base + "/login", data={"token": "nope", "next": "/"}, allow_redirects=False
            ) as response:
                assert response.status == 303
                assert response.headers["Location"].startswith("/login?error=1")
                assert "routeb_session" not in response.cookies
            async with http.post(
                r.base + "/login",
                data={"token": token, "next": "//evil.example/"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
                assert response.headers["Location"] == "/"  # never off-site
                cookie = response.cookies["routeb_session"]
                assert token not in cookie.value
                assert cookie["httponly"]
                assert cookie["samesite"] == "Strict"
            async with http.get(r.base + "/api/v1/latest") as response:
                assert response.status == 200  # the cookie jar sends the session
            async with http.get(r.base + "/") as response:
                assert response.status == 200
        forged = session_cookie("another token")
        status, _ = await _get(r, "/api/v1/latest", cookies={"routeb_session": forged})
        assert status == 401
        expired = session_cookie(token, now=0)
        status, _ = await _get(r, "/api/v1/latest", cookies={"routeb_session": expired})
        assert status == 401


def test_dumps_keeps_decimal_digits() -> None:
    text = dumps({"a": Decimal("0.2500"), "b": [None, True, 1.5, float("nan")], "c": "日本"})
    assert text == '{"a":0.2500,"b":[null,true,1.5,null],"c":"日本"}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": Decimal("0.2500"), "b": [Decimal("-1E+2")]}, '{"a":0.2500,"b":[-100]}'),
        ({"a": Decimal("1.5"), "s": "x\x00"}, '{"a":1.5,"s":"x\\u0000"}'),  # looks half a mark
        ({"a": Decimal("1.5"), "s": "\x00D2\x00"}, '{"a":1.5,"s":"\\u0000D2\\u0000"}'),
        ({"d": Decimal("NaN"), 1: (2, 3)}, '{"d":null,"1":[2,3]}'),
        (
            {"t": datetime(2026, 1, 1, 23, 30, tzinfo=UTC)},
            '{"t":"2026-01-02T08:30:00+09:00"}',
        ),
    ],
)
def test_dumps_fast_path_agrees_with_the_exact_writer(value: object, expected: str) -> None:
    assert dumps(value) == expected
    assert json.loads(dumps(value), parse_float=Decimal) == json.loads(
        expected, parse_float=Decimal
    )


async def test_tiered_cost_from_day_rollups_equals_the_half_hour_bill(tmp_path: Path) -> None:
    # A tiered plan is billed from the day rollups; the bills must be exactly those of the
    # half hours (gaps, sold energy, today's partial day, two billing periods).
    path = tmp_path / "gaps.sqlite3"
    first = datetime(2026, 4, 10, tzinfo=JST)
    skip = frozenset(first + timedelta(minutes=30 * i) for i in (5, 6, 7, 300, 1500, 1930))
    seed(path, first.date(), NOW, skip=skip)
    tariff = _tariff()
    with SqliteStore(path, read_only=True) as store:
        stored = store.slot_usage(METER, first, NOW)

    def reference(lo: date, hi: date) -> Bill:
        usage = []
        at = datetime.combine(lo, datetime.min.time(), JST)
        while at < datetime.combine(hi, datetime.min.time(), JST) and at + SLOT <= NOW:
            imp, exp = stored.get(int(at.timestamp()), (None, None))
            usage.append(HalfHour(at, imp, exp))
            at += SLOT
        return tariff.bill(usage, lo, hi)

    async with running_dashboard(path, tariff=tariff, clock=lambda: NOW) as running:
        for group in ("day", "month", "billing", "range"):
            status, body = await _get(
                running, f"/api/v1/cost?from=2026-04-10&to=2026-05-20&group={group}"
            )
            assert status == 200, body
            for bill in body["bills"]:  # type: ignore[attr-defined]
                lo = date.fromisoformat(bill["from"])
                expected = reference(lo, date.fromisoformat(bill["end_exclusive"]))
                assert bill["total"] == expected.total, (group, lo)
                assert bill["import_kwh"] == expected.import_kwh
                assert bill["export_kwh"] == expected.export_kwh
                assert bill["missing_slots"] == expected.missing_slots
                assert [(ln["key"], ln["amount"]) for ln in bill["lines"]] == [
                    (ln.key, ln.amount) for ln in expected.lines
                ]


# -- issue 19 §1: what a period costs --------------------------------------------------------


async def test_cost_charges_only_the_time_with_data_never_the_future(dash: Running) -> None:
    # Recording began 2026-05-18 00:00; now is 2026-05-20 12:10 (24 half-hours of today over).
    status, body = await _get(dash, "/api/v1/cost?from=2026-05-01&to=2026-05-31&group=day")
    assert status == 200
    bills = {b["from"]: b for b in body["bills"]}  # type: ignore[attr-defined]
    for day in ("2026-05-01", "2026-05-17", "2026-05-21", "2026-05-31"):
        # before recording began, or still to come: nothing, not a day of base charge
        assert bills[day]["total"] == 0, day
        assert bills[day]["known_slots"] == 0
    assert bills["2026-05-21"]["expected_slots"] == 0  # the future is not "missing" either
    # a whole day with data: 1/31 of the base charge (48 of the 1,488 half-hours of May)
    base = {ln["key"]: ln for ln in bills["2026-05-19"]["lines"]}["base_charge"]
    assert base["amount"] == Decimal("29.03")  # 900 × 48/1488 = 29.032…
    assert base["source"] == "base_charge.30"
    # today at 12:10: 24 half-hours, not a whole day's base charge
    today = {ln["key"]: ln for ln in bills["2026-05-20"]["lines"]}["base_charge"]
    assert today["amount"] == Decimal("14.52")  # 900 × 24/1488 = 14.516…
    assert "24 of 1,488 half-hours" in today["label_en"]
    assert bills["2026-05-20"]["known_slots"] == 24
    # the year: months without a single reading cost nothing
    status, year = await _get(dash, "/api/v1/cost?from=2026-01&to=2026-12&group=month")
    assert status == 200
    totals = {b["from"][:7]: b["total"] for b in year["bills"]}  # type: ignore[attr-defined]
    assert [totals[m] for m in ("2026-01", "2026-02", "2026-03", "2026-04")] == [0, 0, 0, 0]
    assert [totals[f"2026-{m:02d}"] for m in range(6, 13)] == [0] * 7
    assert year["total"] == totals["2026-05"]


async def test_the_same_month_costs_the_same_in_the_month_and_year_views(dash: Running) -> None:
    status, month = await _get(dash, "/api/v1/cost?from=2026-05&to=2026-05")
    assert status == 200, month  # YYYY-MM like /monthly
    [may] = month["bills"]  # type: ignore[misc]
    assert (may["from"], may["to"]) == ("2026-05-01", "2026-05-31")
    _, year = await _get(dash, "/api/v1/cost?from=2026-01&to=2026-12&group=month")
    [in_year] = [b for b in year["bills"] if b["from"] == "2026-05-01"]  # type: ignore[attr-defined]
    assert may["total"] == in_year["total"]
    assert may["lines"] == in_year["lines"]
    _, billing = await _get(dash, "/api/v1/cost?from=2026-05-20&to=2026-05-20&group=billing")
    [period] = billing["bills"]  # type: ignore[misc]
    assert period["total"] == may["total"]  # read_day = 1: the billing period is the month
    assert billing["tariff"] == "Test plan"
    assert billing["contract"] == "30 A"
    assert billing["read_day"] == 1


async def test_a_missing_fuel_price_is_said_and_left_out(db: Path) -> None:
    tariff = parse_tariff(tomllib.loads(TARIFF_TOML + "\n[fuel_adjustment]\n2026-04 = -1.23\n"))
    async with running_dashboard(db, tariff=tariff, clock=lambda: NOW) as running:
        _, april = await _get(running, "/api/v1/cost?from=2026-04&to=2026-04")
        _, may = await _get(running, "/api/v1/cost?from=2026-05&to=2026-05")
    [bill] = may["bills"]  # type: ignore[misc]
    fuel = {ln["key"]: ln for ln in bill["lines"]}["fuel_adjustment"]
    # May has no price: never April's (which would be 45 kWh × −1.23 = −56)
    assert (fuel["amount"], fuel["unit_price"], fuel["missing_price"]) == (0, None, True)
    assert "単価が料金ファイルにありません" in fuel["label_ja"]
    assert bill["missing_prices"] == ["fuel_adjustment", "renewable_surcharge"]  # no FY2026
    [apr] = april["bills"]  # type: ignore[misc]
    assert {ln["key"]: ln for ln in apr["lines"]}["fuel_adjustment"]["source"] == (
        "fuel_adjustment.2026-04"
    )


async def test_live_state_has_one_status_and_a_reason(dash: Running) -> None:
    _, body = await _get(dash, "/api/v1/latest")
    assert (body["status"], body["reason"]) == ("live", None)
    # The link is being rebuilt: the last value is fresh but not live, and the newest
    # session event says why.
    dash.hub.publish(
        live_state(247, NOW - timedelta(seconds=5), link=LinkSnapshot(state="recovering"))
    )
    _, body = await _get(dash, "/api/v1/latest")
    assert body["status"] == "recovering"
    assert body["stale"] is False
    assert body["reason"] == "rejoin: reason=timeout"
    dash.hub.publish(live_state(None, NOW - timedelta(minutes=5), online=False))
    _, body = await _get(dash, "/api/v1/latest")
    assert (body["status"], body["stale"]) == ("stale", True)
    dash.hub.publish(
        live_state(
            None,
            NOW - timedelta(minutes=5),
            online=False,
            link=LinkSnapshot(state="latched"),
            down_detail="authentication failed: check the B-route password",
        )
    )
    _, body = await _get(dash, "/api/v1/latest")
    assert body["status"] == "latched"
    assert body["reason"] == "authentication failed: check the B-route password"
