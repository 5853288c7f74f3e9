"""JSON for the dashboard API: exact Decimals in fixed places, ISO times in JST, None as null.

The encoder is routeb._json (Decimals with their own digits, never ``-0``); the helpers here
give each kind of number one number of places on the wire: kWh 4 (``kwh``), yen 2 (``yen``),
unit prices at least 2 (``price``), amperes 1 (``amperes``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from aiohttp import web

from routeb._json import Fragment
from routeb._json import dumps as _dumps
from routeb.live import LinkSnapshot, LiveState
from routeb.meter_time import JST_OFFSET
from routeb.storage import JST

__all__ = [
    "LIVE_LINK_STATES",
    "Fragment",
    "amperes",
    "dumps",
    "iso",
    "json_response",
    "kwh",
    "link_json",
    "live_status",
    "price",
    "state_json",
    "yen",
]

JSON_TYPE: Final = "application/json"
_JST_OFFSET: Final = timedelta(seconds=JST_OFFSET)
# The places of each kind of number on the wire (one rule for every route).
_KWH: Final = Decimal("0.0001")  # the finest E1 unit, 0.0001 kWh (protocol.md §B.1 0xE1)
_YEN: Final = Decimal("0.01")  # prices and amounts are published in sen
_AMPERES: Final = Decimal("0.1")  # E8 currents come in 0.1 A (protocol.md §B.1 0xE8)
#: Session states in which the readings are current: the PANA session is up (driver/states.py;
#: re-authentication keeps sending, protocol.md §C).
LIVE_LINK_STATES: Final = frozenset({"ready", "reauthenticating"})


def _fixed(value: Decimal | int | None, step: Decimal) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(step) + 0


def kwh(value: Decimal | int | None) -> Decimal | None:
    """kWh with 4 decimals, exactly (the store keeps 0.0001 kWh)."""
    return _fixed(value, _KWH)


def yen(value: Decimal | int | None) -> Decimal | None:
    """Yen with 2 decimals (sen)."""
    return _fixed(value, _YEN)


def price(value: Decimal | None) -> Decimal | None:
    """A unit price as the tariff file writes it, with at least 2 decimals (29.80, -1.20)."""
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return value.quantize(Decimal(1).scaleb(-places)) + 0


def amperes(value: Decimal | int | None) -> Decimal | None:
    """Amperes with 1 decimal."""
    return _fixed(value, _AMPERES)


def iso(value: datetime | date | None) -> str | None:
    """A datetime in JST ISO 8601 (``2026-05-20T00:30:00+09:00``), a date as ``2026-05-20``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        offset = value.utcoffset()
        if offset is None:  # naive: local time, as astimezone() reads it
            return value.astimezone(JST).isoformat()
        # The same text as astimezone(JST).isoformat(), several times faster (hot in the API).
        return (value.replace(tzinfo=None) + (_JST_OFFSET - offset)).isoformat() + "+09:00"
    return value.isoformat()


def _convert(obj: object) -> object:
    """What the API writes for the objects JSON has no form for: times as JST ISO text."""
    if isinstance(obj, datetime | date):
        return iso(obj)
    return str(obj)


def dumps(obj: object) -> str:
    """Compact JSON where Decimals are numbers with their exact digits (routeb._json)."""
    return _dumps(obj, default=_convert)


def json_response(obj: object, status: int = 200) -> web.Response:
    """A JSON response that is never cached (the data changes every few seconds)."""
    return web.Response(
        text=dumps(obj),
        status=status,
        content_type=JSON_TYPE,
        headers={"Cache-Control": "no-store"},
    )


def link_json(link: LinkSnapshot) -> dict[str, object]:
    """The session snapshot of a meter."""
    return {
        "state": link.state,
        "lqi": link.lqi,
        "rssi_dbm": link.rssi_dbm,
        "joins": link.joins,
        "scans": link.scans,
        "rejoins": dict(link.rejoins),
        "recovery_steps": dict(link.recovery_steps),
        "module_events": dict(link.module_events),
        "requests": link.requests,
        "timeouts": link.timeouts,
        "retransmissions": link.retransmissions,
        "sna_answers": link.sna_answers,
        "malformed": link.malformed,
        "notifications": link.notifications,
        "connected_since": iso(link.connected_since),
    }


def live_status(state: LiveState, age: float | None, stale_after_s: float) -> str:
    """The one state of a meter that every page and output shows, derived once.

    ``live``: readings are current; ``recovering``: the link is down or being rebuilt but the
    last reading is younger than ``stale_after_s`` (shown greyed); ``stale``: no reading for
    ``stale_after_s`` (values unavailable); ``latched``: the credentials were refused and are
    not retried; ``waiting``: no reading yet.
    """
    if state.link.state == "latched":
        return "latched"
    if age is None:
        return "waiting"
    if age > stale_after_s:
        return "stale"
    if not state.online or state.link.state not in LIVE_LINK_STATES:
        return "recovering"
    return "live"


def state_json(
    state: LiveState, now: datetime, stale_after_s: float, reason: str | None = None
) -> dict[str, object]:
    """A LiveState as the API shows it, with the server's clock and how old the data is.

    ``status`` is :func:`live_status`; ``stale`` is true unless it is ``live`` or
    ``recovering``; ``reason`` says why it is not ``live`` (the live state's down_detail, else
    ``reason``). Values are null (unavailable), never zero, when unknown.
    """
    reference = state.last_seen or state.power_at
    age = None if reference is None else max(0.0, (now - reference).total_seconds())
    status = live_status(state, age, stale_after_s)
    direction = None
    if state.power_w is not None:
        direction = "selling" if state.power_w < 0 else "buying"
    return {
        "meter": state.meter,
        "server_time": iso(now),
        "status": status,
        "reason": None if status == "live" else (state.down_detail or reason),
        "online": state.online,
        "stale": status not in {"live", "recovering"},
        "stale_after_s": stale_after_s,
        "age_s": None if age is None else round(age, 1),
        "power_w": state.power_w,
        "direction": direction,
        "current_r_a": amperes(state.current_r_a),
        "current_t_a": amperes(state.current_t_a),
        "power_at": iso(state.power_at),
        "energy_import_kwh": kwh(state.energy_import_kwh),
        "energy_export_kwh": kwh(state.energy_export_kwh),
        "energy_at": iso(state.energy_at),
        "last_slot_import_kwh": kwh(state.last_slot_import_kwh),
        "last_slot_export_kwh": kwh(state.last_slot_export_kwh),
        "last_slot_end": iso(state.last_slot_end),
        "fault": state.fault,
        "clock_skew_s": state.clock_skew_s,
        "last_seen": iso(state.last_seen),
        "contract_amperes": state.contract_amperes,
        "backfill_missing": state.backfill_missing,
        "backfill_filled": state.backfill_filled,
        "link": link_json(state.link),
    }
