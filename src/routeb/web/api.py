"""The dashboard's JSON API (docs/api.md): /api/v1/… over the SQLite store and the live hub.

Every query runs in a worker thread on its own read-only connection (WAL lets it read while
the daemon writes), so the event loop never waits on the disk. Nothing here writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from aiohttp import web

from routeb.errors import UsageError
from routeb.live import LiveHub, LiveState
from routeb.meter_time import SLOT, SLOT_SECONDS, SLOTS_PER_DAY
from routeb.storage import (
    JST,
    DaySummary,
    MeterRecord,
    MonthSummary,
    Slot,
    SqliteStore,
    StorageError,
)
from routeb.storage.model import e4_to_kwh, scale_of
from routeb.storage.sqlite import Resolution
from routeb.web.jsonout import (
    LIVE_LINK_STATES,
    Fragment,
    dumps,
    iso,
    json_response,
    kwh,
    live_status,
    price,
    state_json,
    yen,
)
from routeb.web.query import (
    DAY,
    BadRequest,
    DateRange,
    TimeRange,
    choice,
    date_range,
    month_or_day,
    positive_int,
    time_range,
)

if TYPE_CHECKING:
    from routeb.tariff import Bill, CostLine, Tariff

__all__ = ["API_PREFIX", "CONTEXT_KEY", "DashboardContext", "add_api_routes"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

API_PREFIX: Final = "/api/v1"
HEARTBEAT_S: Final = 15.0
# Range limits: every answer stays small and fast, also over ten years of data.
MAX_RAW: Final = timedelta(days=7)
MAX_MINUTE: Final = timedelta(days=31)
MAX_HALFHOUR: Final = timedelta(days=366)
MAX_SLOTS: Final = timedelta(days=366)
MAX_DAILY_DAYS: Final = 4018  # eleven years
MAX_MONTHLY_DAYS: Final = 366 * 30
MAX_COST_DAYS: Final = 400
MAX_COST_DAY_GROUPS: Final = 93
MAX_EVENT_DAYS: Final = 4018
MAX_EVENTS: Final = 5000


@dataclass(slots=True)
class DashboardContext:
    """What the handlers need; stored in the application under CONTEXT_KEY."""

    db_path: Path
    hub: LiveHub
    tariff: Tariff | None = None
    meter: str | None = None
    stale_after_s: float = 60.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    streams: set[asyncio.Task[object]] = field(default_factory=set)
    login: bool = False  # whether a token is configured (never the token itself)

    def now(self) -> datetime:
        return self.clock()

    def today(self) -> date:
        return self.now().astimezone(JST).date()


CONTEXT_KEY: Final = web.AppKey("dashboard", DashboardContext)


# --- helpers -------------------------------------------------------------------------------


class NotFound(LookupError):
    """404 with a message."""


class Unavailable(RuntimeError):
    """503 with a message (no database yet, database busy or unreadable)."""


def _ctx(request: web.Request) -> DashboardContext:
    return request.app[CONTEXT_KEY]


async def _in_store(ctx: DashboardContext, work: Callable[[SqliteStore], _T]) -> _T:
    """Run ``work`` on a fresh read-only connection in a worker thread."""

    def run() -> _T:
        if not ctx.db_path.is_file():
            raise Unavailable("no database yet: the collector has not recorded anything")
        try:
            with SqliteStore(ctx.db_path, read_only=True) as store:
                return work(store)
        except StorageError as exc:
            raise Unavailable(f"the database cannot be read: {exc}") from exc

    return await asyncio.to_thread(run)


def _meter_choice(ctx: DashboardContext, query: Mapping[str, str]) -> str | None:
    """The meter asked for, else the configured one, else the one the hub knows."""
    requested = (query.get("meter") or "").strip()
    if requested:
        if len(requested) > 64 or not requested.isprintable():
            raise BadRequest("meter: expected a meter key (see /api/v1/meters)")
        return requested
    if ctx.meter is not None:
        return ctx.meter
    states = ctx.hub.all()
    return states[0].meter if states else None


def _resolve(store: SqliteStore, ctx: DashboardContext, wanted: str | None) -> str:
    """A meter key that exists (in the database or the hub), or NotFound."""
    if wanted is not None:
        if store.meter(wanted) is None and ctx.hub.get(wanted) is None:
            raise NotFound(f"no meter {wanted!r} (see /api/v1/meters)")
        return wanted
    meters = store.meters()
    if not meters:
        raise NotFound("no meter has been recorded yet")
    return meters[0].meter


def _floor_slot(when: datetime) -> datetime:
    utc = when.astimezone(UTC)
    return utc.replace(minute=0 if utc.minute < 30 else 30, second=0, microsecond=0)


def _jst_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), JST)


def _slot_json(at: datetime, slot: Slot | None) -> dict[str, object]:
    return {
        "start": iso(at),
        "end": iso(at + SLOT),
        "import_kwh": None if slot is None else kwh(slot.import_use_kwh),
        "export_kwh": None if slot is None else kwh(slot.export_use_kwh),
        "import_counter_kwh": None if slot is None else kwh(slot.import_kwh),
        "export_counter_kwh": None if slot is None else kwh(slot.export_kwh),
        "import_source": None
        if slot is None or slot.import_source is None
        else str(slot.import_source),
        "export_source": None
        if slot is None or slot.export_source is None
        else str(slot.export_source),
        "conflicts": 0 if slot is None else slot.conflicts,
    }


def _month_json(summary: MonthSummary) -> dict[str, object]:
    return {
        "month": summary.month.strftime("%Y-%m"),
        "first_day": iso(summary.month),
        "import_kwh": kwh(summary.import_kwh),
        "export_kwh": kwh(summary.export_kwh),
        "import_slots": summary.import_slots,
        "export_slots": summary.export_slots,
        "expected_slots": summary.expected_slots,
        "complete_days": summary.complete_days,
        "complete": summary.complete,
    }


def _sum(values: list[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return kwh(sum(known, Decimal(0))) if known else None


# The events that say why a meter is not live (collector/daemon.py records them).
_REASON_KINDS: Final = ("latched", "disconnected", "port_error", "recovery", "rejoin")


async def _live(
    ctx: DashboardContext, meter: str, state: LiveState | None = None
) -> dict[str, object]:
    """The live state as the API shows it; when it is not live and carries no reason, the
    newest session event that gives one (e.g. "cannot open the port")."""
    state = state or ctx.hub.get(meter) or LiveState(meter)
    if state.contract_amperes is None and ctx.tariff is not None:
        state = replace(state, contract_amperes=ctx.tariff.contract_amperes)
    now = ctx.now()
    reason = None
    reference = state.last_seen or state.power_at
    age = None if reference is None else (now - reference).total_seconds()
    known = ctx.hub.get(meter) is not None  # the collector has said something about it
    if known and state.down_detail is None and live_status(state, age, ctx.stale_after_s) != "live":

        def newest(store: SqliteStore) -> str | None:
            for event in reversed(store.events(meter, now - timedelta(days=7), now + SLOT)):
                if event.kind == "connected":  # what came before is over
                    return None
                if event.kind == "state" and event.detail.startswith(tuple(LIVE_LINK_STATES)):
                    continue
                if event.kind in _REASON_KINDS or event.kind == "state":
                    return f"{event.kind}: {event.detail}" if event.detail else event.kind
            return None

        with contextlib.suppress(Unavailable):
            reason = await _optional_store(ctx, newest, None)
    return state_json(state, now, ctx.stale_after_s, reason)


# --- handlers ------------------------------------------------------------------------------


async def meters(request: web.Request) -> web.Response:
    """GET /api/v1/meters: every meter the database or the hub knows."""
    ctx = _ctx(request)
    records = await _records(ctx)
    live = {state.meter: state for state in ctx.hub.all()}
    out: list[dict[str, object]] = []
    for record in records:
        state = live.pop(record.meter, None)
        out.append(
            {
                "key": record.meter,
                "first_seen": iso(record.first_seen),
                "last_seen": iso(record.last_seen),
                "online": bool(state and state.online),
                "recorded": True,
            }
        )
    for key, state in live.items():
        out.append(
            {
                "key": key,
                "first_seen": None,
                "last_seen": iso(state.last_seen),
                "online": state.online,
                "recorded": False,
            }
        )
    today = ctx.today()
    keys = [str(entry["key"]) for entry in out]

    def today_summaries(store: SqliteStore) -> dict[str, DaySummary]:
        found = {}
        for key in keys:
            if store.meter(key) is not None:
                for summary in store.day_summaries(key, today, today):
                    found[key] = summary
        return found

    summaries: dict[str, DaySummary] = {}
    with contextlib.suppress(Unavailable):
        summaries = await _optional_store(ctx, today_summaries, summaries)
    now = ctx.now()
    for entry in out:
        key = str(entry["key"])
        shown = state_json(ctx.hub.get(key) or LiveState(key), now, ctx.stale_after_s)
        current = not shown["stale"]
        summary = summaries.get(key)
        # The overview (docs/dashboard.md): each meter's status, live power and today's energy.
        entry |= {
            "status": shown["status"],
            "power_w": shown["power_w"] if current else None,
            "power_at": shown["power_at"],
            "today_import_kwh": None if summary is None else kwh(summary.import_kwh),
            "today_export_kwh": None if summary is None else kwh(summary.export_kwh),
        }
    default = _meter_choice(ctx, {}) or (out[0]["key"] if out else None)
    # server_time: the page's "today" is the server's JST day, known before the live stream opens.
    return json_response(
        {"meters": out, "default": default, "login": ctx.login, "server_time": iso(ctx.now())}
    )


async def _optional_store(
    ctx: DashboardContext, work: Callable[[SqliteStore], _T], fallback: _T
) -> _T:
    """``work`` on the store, or ``fallback`` when there is no database yet."""
    if not ctx.db_path.is_file():
        return fallback
    return await _in_store(ctx, work)


async def _records(ctx: DashboardContext) -> list[MeterRecord]:
    empty: list[MeterRecord] = []
    return await _optional_store(ctx, lambda store: store.meters(), empty)


async def latest(request: web.Request) -> web.Response:
    """GET /api/v1/latest: the meter's latest live state."""
    ctx = _ctx(request)
    wanted = _meter_choice(ctx, request.query)
    if wanted is None:
        records = await _records(ctx)
        if not records:
            raise NotFound("no meter has been seen yet")
        wanted = records[0].meter
    elif ctx.hub.get(wanted) is None and request.query.get("meter"):
        known = await _optional_store(ctx, lambda store: store.meter(wanted) is not None, False)
        if not known:
            raise NotFound(f"no meter {wanted!r} (see /api/v1/meters)")
    return json_response(await _live(ctx, wanted))


async def readings(request: web.Request) -> web.Response:
    """GET /api/v1/readings: instantaneous power, raw or aggregated per minute / half hour."""
    ctx = _ctx(request)
    now = ctx.now()
    resolution = choice(request.query, "resolution", ("auto", "raw", "minute", "halfhour"), "auto")
    limits = {"raw": MAX_RAW, "minute": MAX_MINUTE, "halfhour": MAX_HALFHOUR, "auto": MAX_HALFHOUR}
    span = time_range(
        request.query,
        default=TimeRange(now - timedelta(hours=1), now),
        max_span=limits[resolution],
    )
    if resolution == "auto":
        if span.seconds <= 6 * 3600:
            resolution = "raw"
        elif span.seconds <= 7 * 86400:
            resolution = "minute"
        else:
            resolution = "halfhour"
    wanted = _meter_choice(ctx, request.query)

    def work(store: SqliteStore) -> dict[str, object]:
        meter = _resolve(store, ctx, wanted)
        body: dict[str, object] = {
            "meter": meter,
            "from": iso(span.start),
            "to": iso(span.end),
            "resolution": resolution,
        }
        # Thousands of rows: SQLite writes their JSON (storage/jsonviews.py).
        if resolution == "raw":
            body["readings"] = Fragment(store.instant_json(meter, span.start, span.end))
        else:
            width: Resolution = "minute" if resolution == "minute" else "halfhour"
            body["readings"] = Fragment(store.power_json(meter, span.start, span.end, width))
        return body

    return json_response(await _in_store(ctx, work))


async def slots(request: web.Request) -> web.Response:
    """GET /api/v1/slots: every 30-minute slot in the range, null where unknown."""
    ctx = _ctx(request)
    today = ctx.today()
    span = time_range(
        request.query,
        default=TimeRange(_jst_midnight(today), _jst_midnight(today + DAY)),
        max_span=MAX_SLOTS,
    )
    start = _floor_slot(span.start)
    wanted = _meter_choice(ctx, request.query)

    def work(store: SqliteStore) -> dict[str, object]:
        meter = _resolve(store, ctx, wanted)
        stored = {s.at: s for s in store.iter_slots(meter, start, span.end)}
        rows: list[dict[str, object]] = []
        at = start
        imports: list[Decimal | None] = []
        exports: list[Decimal | None] = []
        while at < span.end:
            slot = stored.get(at)
            rows.append(_slot_json(at, slot))
            imports.append(None if slot is None else slot.import_use_kwh)
            exports.append(None if slot is None else slot.export_use_kwh)
            at += SLOT
        return {
            "meter": meter,
            "from": iso(start),
            "to": iso(span.end),
            "import_kwh": _sum(imports),
            "export_kwh": _sum(exports),
            "known_slots": sum(1 for v in imports if v is not None),
            "expected_slots": len(rows),
            "slots": rows,
        }

    return json_response(await _in_store(ctx, work))


async def daily(request: web.Request) -> web.Response:
    """GET /api/v1/daily: one row per JST day (from/to inclusive)."""
    ctx = _ctx(request)
    today = ctx.today()
    span = date_range(
        request.query,
        default=DateRange(today.replace(day=1), today),
        max_days=MAX_DAILY_DAYS,
    )
    wanted = _meter_choice(ctx, request.query)

    def work(store: SqliteStore) -> dict[str, object]:
        meter = _resolve(store, ctx, wanted)
        days, imp, exp = store.days_json(meter, span.first, span.last)
        return {
            "meter": meter,
            "from": iso(span.first),
            "to": iso(span.last),
            "import_kwh": e4_to_kwh(imp),
            "export_kwh": e4_to_kwh(exp),
            "days": Fragment(days),
        }

    return json_response(await _in_store(ctx, work))


async def monthly(request: web.Request) -> web.Response:
    """GET /api/v1/monthly: one row per JST calendar month (from/to: any day of the month)."""
    ctx = _ctx(request)
    today = ctx.today()
    query = {k: v for k, v in request.query.items() if k not in {"from", "to"}}
    for name in ("from", "to"):
        value = month_or_day(request.query, name, end=name == "to")
        if value is not None:
            query[name] = value
    months_back = today.year * 12 + today.month - 1 - 11
    first_default = date(months_back // 12, months_back % 12 + 1, 1)
    span = date_range(query, default=DateRange(first_default, today), max_days=MAX_MONTHLY_DAYS)
    wanted = _meter_choice(ctx, request.query)

    def work(store: SqliteStore) -> dict[str, object]:
        meter = _resolve(store, ctx, wanted)
        months = store.month_summaries(meter, span.first, span.last)
        return {
            "meter": meter,
            "from": months[0].month.strftime("%Y-%m") if months else None,
            "to": months[-1].month.strftime("%Y-%m") if months else None,
            "import_kwh": _sum([m.import_kwh for m in months]),
            "export_kwh": _sum([m.export_kwh for m in months]),
            "months": [_month_json(m) for m in months],
        }

    return json_response(await _in_store(ctx, work))


def _line_json(line: CostLine) -> dict[str, object]:
    quantity = line.quantity
    return {
        "key": line.key,
        "kind": line.kind,
        "label_en": line.label_en,
        "label_ja": line.label_ja,
        "quantity": kwh(quantity) if line.unit == "kWh" else quantity,
        "unit": line.unit,
        "unit_price": price(line.unit_price),
        "amount": yen(line.amount),
        "source": line.source,
        "missing_price": line.missing_price,
    }


def _bill_json(tariff: Tariff, bill: Bill, expected: int) -> dict[str, object]:
    """One bill: the lines of a Japanese bill, how much of it has data, and the feed-in."""
    feed_in_price = tariff.feed_in_price
    return {
        "from": iso(bill.start),
        "to": iso(bill.end - DAY),
        "end_exclusive": iso(bill.end),
        "import_kwh": kwh(bill.import_kwh),
        "export_kwh": kwh(bill.export_kwh),
        "total": yen(bill.total),
        "energy_cost": yen(bill.energy_cost),
        "feed_in_credit": yen(bill.feed_in_credit),
        "feed_in": {
            "export_kwh": kwh(bill.export_kwh),
            "unit_price": price(feed_in_price),
            "amount": yen(bill.feed_in_credit),
            "source": None if feed_in_price is None else "feed_in.price",
        },
        "known_slots": bill.known_slots,
        "missing_slots": bill.missing_slots,
        "expected_slots": expected,
        "period_slots": bill.period_slots,
        "complete": bill.known_slots == bill.period_slots,
        "missing_prices": list(bill.missing_prices),
        "lines": [_line_json(line) for line in bill.lines],
    }


def _groups(tariff: Tariff, span: DateRange, group: str) -> list[tuple[date, date]]:
    """[start, end) day pairs to bill."""
    if group == "range":
        return [(span.first, span.last + DAY)]
    if group == "billing":
        return tariff.billing_periods(span.first, span.last)
    out: list[tuple[date, date]] = []
    day = span.first
    while day <= span.last:
        if group == "day":
            out.append((day, day + DAY))
            day += DAY
        else:  # month: calendar months, cut to the range
            nxt = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
            out.append((day, min(nxt, span.last + DAY)))
            day = nxt
    return out


def _contract(tariff: Tariff) -> str | None:
    if tariff.contract_amperes is not None:
        return f"{tariff.contract_amperes} A"
    if tariff.contract_kva is not None:
        return f"{tariff.contract_kva.normalize():f} kVA"
    return None


async def cost(request: web.Request) -> web.Response:
    """GET /api/v1/cost: the bill of a range, per day, calendar month or billing period.

    Only the half-hours that are over are given to the tariff, so a day still to come, or one
    without a reading, costs nothing (docs/tariffs.md, "Only the time with data is charged").
    """
    ctx = _ctx(request)
    tariff = ctx.tariff
    if tariff is None:
        raise NotFound("no tariff is configured (tariff.file, see docs/tariffs.md)")
    today = ctx.today()
    group = choice(request.query, "group", ("range", "day", "month", "billing"), "range")
    query = dict(request.query)
    for name in ("from", "to"):
        value = month_or_day(request.query, name, end=name == "to")
        if value is not None:
            query[name] = value
    span = date_range(
        query,
        default=DateRange(tariff.billing_period(today)[0], today),
        max_days=MAX_COST_DAYS,
    )
    if group == "day" and span.days > MAX_COST_DAY_GROUPS:
        raise BadRequest(f"group=day covers at most {MAX_COST_DAY_GROUPS} days")
    try:
        groups = _groups(tariff, span, group)
    except UsageError as exc:
        raise BadRequest(str(exc)) from exc
    start = _jst_midnight(groups[0][0])
    end = _jst_midnight(groups[-1][1])
    now = ctx.now()
    wanted = _meter_choice(ctx, request.query)

    def by_half_hour(store: SqliteStore, meter: str) -> list[tuple[Bill, int]]:
        """Time of use: every half hour through the tariff."""
        from routeb.tariff import HalfHour  # noqa: PLC0415 - only with a tariff

        stored = store.slot_usage(meter, start, end)
        usage: list[HalfHour] = []
        at, ts = start, int(start.timestamp())
        while at < end and at + SLOT <= now:  # slots still to come are not "missing"
            imp, exp = stored.get(ts, (None, None))
            usage.append(HalfHour(at, imp, exp))
            at += SLOT
            ts += SLOT_SECONDS
        out = []
        for lo, hi in groups:
            # ``usage`` holds every half hour from ``start`` on: slice by position.
            first = max(0, (_jst_midnight(lo) - start) // SLOT)
            part = usage[first : max(first, (_jst_midnight(hi) - start) // SLOT)]
            out.append((tariff.bill(part, lo, hi), len(part)))
        return out

    def by_day(store: SqliteStore, meter: str) -> list[tuple[Bill, int]]:
        """Tiers: a plan that prices a period's energy needs only day totals (the rollups)."""
        from routeb.tariff import DayUsage  # noqa: PLC0415 - only with a tariff

        first_day, end_day = groups[0][0], groups[-1][1]
        passed: dict[date, int] = {}  # half hours of each day already over (not "to come")
        usage: list[DayUsage] = []
        day = first_day
        while day < end_day:
            passed[day] = max(0, min(SLOTS_PER_DAY, int((now - _jst_midnight(day)) / SLOT)))
            day += DAY
        for summary in store.day_summaries(meter, first_day, end_day - DAY):
            midnight = _jst_midnight(summary.day)
            elapsed = passed.get(summary.day, 0)
            if elapsed == SLOTS_PER_DAY:  # a day that is over: its rollup
                imp, exp = summary.import_kwh, summary.export_kwh
                known = summary.import_slots
                usage.append(DayUsage(summary.day, imp, exp, elapsed - known, known))
            elif elapsed:  # today: only the half hours already over, as by_half_hour counts
                over = store.slot_usage(meter, midnight, midnight + SLOT * elapsed)
                imports = [i for i, _ in over.values() if i is not None]
                exports = [e for _, e in over.values() if e is not None]
                usage.append(
                    DayUsage(
                        summary.day,
                        sum(imports, Decimal(0)) if imports else None,
                        sum(exports, Decimal(0)) if exports else None,
                        elapsed - len(imports),
                        len(imports),
                    )
                )
        out = []
        for lo, hi in groups:
            days = [u for u in usage if lo <= u.day < hi]
            expected = sum(passed.get(lo + DAY * i, 0) for i in range((hi - lo).days))
            out.append((tariff.bill_days(days, lo, hi), expected))
        return out

    def work(store: SqliteStore) -> dict[str, object]:
        meter = _resolve(store, ctx, wanted)
        priced = by_day(store, meter) if tariff.tiers else by_half_hour(store, meter)
        bills: list[dict[str, object]] = []
        total = Decimal(0)
        for bill, expected in priced:
            total += bill.total
            bills.append(_bill_json(tariff, bill, expected))
        return {
            "meter": meter,
            "tariff": tariff.name,
            "contract": _contract(tariff),
            "read_day": tariff.read_day,
            "currency": "JPY",
            "group": group,
            "from": iso(span.first),
            "to": iso(span.last),
            "total": yen(total),
            "bills": bills,
        }

    return json_response(await _in_store(ctx, work))


def _epcs(values: tuple[int, ...] | None) -> list[str] | None:
    return None if values is None else [f"0x{v:02X}" for v in values]


async def meter_info(request: web.Request) -> web.Response:
    """GET /api/v1/meter: what the meter told us about itself, and its session."""
    ctx = _ctx(request)
    wanted = _meter_choice(ctx, request.query)
    now = ctx.now()

    def work(store: SqliteStore) -> dict[str, object]:
        meter = _resolve(store, ctx, wanted)
        record = store.meter(meter)
        events = store.events(meter, now - timedelta(days=7), now + timedelta(seconds=1))
        kinds: dict[str, int] = {}
        for event in events:
            kinds[event.kind] = kinds.get(event.kind, 0) + 1
        metadata: dict[str, object] | None = None
        if record is not None:
            m = record.metadata
            unit = None
            if m.unit_code is not None:
                unit = scale_of(m.coefficient or 1, m.unit_code).unit
            metadata = {
                "maker_code": m.maker_code,
                "maker_code_hex": None if m.maker_code is None else f"0x{m.maker_code:06X}",
                "serial": m.serial,
                "release": m.release,
                "coefficient": m.coefficient,
                "unit_code": m.unit_code,
                "unit_kwh": kwh(unit),
                "digits": m.digits,
                "get_map": _epcs(m.get_map),
                "set_map": _epcs(m.set_map),
                "inf_map": _epcs(m.inf_map),
                "extra": dict(m.extra),
            }
        return {
            "meter": meter,
            "first_seen": None if record is None else iso(record.first_seen),
            "last_seen": None if record is None else iso(record.last_seen),
            "metadata": metadata,
            "events_7d": kinds,
        }

    body = await _optional_store(ctx, work, None)
    if body is None:
        if wanted is None or ctx.hub.get(wanted) is None:
            raise NotFound("no meter has been seen yet")
        body = {
            "meter": wanted,
            "first_seen": None,
            "last_seen": None,
            "metadata": None,
            "events_7d": {},
        }
    body["live"] = await _live(ctx, str(body["meter"]))
    return json_response(body)


async def events(request: web.Request) -> web.Response:
    """GET /api/v1/events: link events (joins, rejoins and why, scans, backfills), newest first."""
    ctx = _ctx(request)
    now = ctx.now()
    span = time_range(
        request.query,
        default=TimeRange(now - timedelta(days=7), now + timedelta(seconds=1)),
        max_span=timedelta(days=MAX_EVENT_DAYS),
    )
    limit = positive_int(request.query, "limit", 500, MAX_EVENTS)
    kind = (request.query.get("kind") or "").strip() or None
    wanted = _meter_choice(ctx, request.query)

    def work(store: SqliteStore) -> dict[str, object]:
        meter = _resolve(store, ctx, wanted)
        found = [
            e
            for e in store.iter_events(meter, span.start, span.end)
            if kind is None or e.kind == kind
        ]
        found.reverse()
        return {
            "meter": meter,
            "from": iso(span.start),
            "to": iso(span.end),
            "truncated": len(found) > limit,
            "events": [
                {"time": iso(e.at), "kind": e.kind, "detail": e.detail} for e in found[:limit]
            ],
        }

    return json_response(await _in_store(ctx, work))


async def _next_for(updates: AsyncIterator[LiveState], meter: str) -> LiveState:
    async for state in updates:
        if state.meter == meter:
            return state
    raise StopAsyncIteration


async def stream(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/stream: server-sent events; ``event: state`` on connect and on each update."""
    ctx = _ctx(request)
    wanted = _meter_choice(ctx, request.query)
    if wanted is None:
        records = await _records(ctx)
        wanted = records[0].meter if records else None
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    task = asyncio.current_task()
    if task is not None:
        ctx.streams.add(task)
    updates = ctx.hub.updates()
    pending: asyncio.Task[LiveState] | None = None

    async def send(meter: str | None, state: LiveState | None = None) -> None:
        if meter is None:
            await response.write(b"event: waiting\ndata: {}\n\n")
            return
        data = dumps(await _live(ctx, meter, state))
        await response.write(f"event: state\ndata: {data}\n\n".encode())

    try:
        await response.write(b"retry: 2000\n\n")
        await send(wanted)
        while True:
            if pending is None:
                if wanted is None:
                    pending = asyncio.ensure_future(anext(updates))
                else:
                    pending = asyncio.ensure_future(_next_for(updates, wanted))
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_S)
            if not done:
                await response.write(b": ping\n\n")
                continue
            state = pending.result()
            pending = None
            wanted = wanted or state.meter
            await send(wanted, state)
    except (ConnectionResetError, StopAsyncIteration):
        pass
    finally:
        ctx.streams.discard(task)
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await updates.aclose()  # type: ignore[attr-defined]
    return response


# --- errors and routes ---------------------------------------------------------------------


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn BadRequest/NotFound/Unavailable into JSON errors with a message."""
    try:
        return await handler(request)
    except BadRequest as exc:
        return json_response({"error": str(exc)}, status=400)
    except UsageError as exc:
        return json_response({"error": str(exc)}, status=400)
    except NotFound as exc:
        return json_response({"error": str(exc)}, status=404)
    except Unavailable as exc:
        _LOG.warning("API: %s", exc)
        return json_response({"error": str(exc)}, status=503)


async def close_streams(app: web.Application) -> None:
    """on_shutdown: end the event streams, so that the server stops without waiting."""
    for task in list(app[CONTEXT_KEY].streams):
        task.cancel()


def add_api_routes(app: web.Application) -> None:
    """Register every /api/v1 route (GET only: the API is read-only)."""
    routes: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {
        "/meters": meters,
        "/latest": latest,
        "/readings": readings,
        "/slots": slots,
        "/daily": daily,
        "/monthly": monthly,
        "/cost": cost,
        "/meter": meter_info,
        "/events": events,
        "/stream": stream,
    }
    for path, handler in routes.items():
        app.router.add_get(API_PREFIX + path, handler, allow_head=path != "/stream")
    app.on_shutdown.append(close_streams)
