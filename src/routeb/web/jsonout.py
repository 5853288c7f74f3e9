"""JSON for the dashboard API: exact Decimals, ISO times in JST, None as null.

``json`` writes a Decimal through a float (or refuses it); here a Decimal is written with its
own digits (``0.2500`` stays ``0.2500``), so kWh and yen are exact on the wire. Parse them in
Python with ``json.loads(text, parse_float=Decimal)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Final

from aiohttp import web

from routeb.live import LinkSnapshot, LiveState
from routeb.storage import JST

__all__ = ["Fragment", "dumps", "iso", "json_response", "link_json", "state_json"]

JSON_TYPE: Final = "application/json"
_JST_OFFSET: Final = timedelta(hours=9)


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


class Fragment:
    """JSON text that is already written (e.g. by SQLite, storage/jsonviews.py), embedded as is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _plain(obj: object) -> object:
    """A JSON-ready form: Decimals kept, datetimes as ISO text, dataclasses as dicts."""
    if obj is None or isinstance(obj, bool | int | float | str | Decimal | Fragment):
        return obj
    if isinstance(obj, datetime | date):
        return iso(obj)
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v) for v in obj]
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    return str(obj)


def _write(obj: object, out: list[str]) -> None:
    if obj is None or isinstance(obj, bool | int | str):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif isinstance(obj, float):
        out.append(json.dumps(obj) if math.isfinite(obj) else "null")
    elif isinstance(obj, Decimal):
        out.append(format(obj, "f") if obj.is_finite() else "null")
    elif isinstance(obj, Fragment):
        out.append(obj.text)
    elif isinstance(obj, Mapping):
        out.append("{")
        for index, (key, value) in enumerate(obj.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(value, out)
        out.append("}")
    elif isinstance(obj, list):
        out.append("[")
        for index, value in enumerate(obj):
            if index:
                out.append(",")
            _write(value, out)
        out.append("]")
    else:
        _write(_plain(obj), out)


# The fast path: one pass of the C encoder, each Decimal written as a marked string (NUL "D"
# digits NUL; JSON always escapes NUL as \u0000) and then unquoted by two plain replaces.
# Anything unusual (or a user string that looks like a mark) takes the slow path.
_OPEN: Final = '"\\u0000D'
_CLOSE: Final = '\\u0000"'


class _Marker:
    def __init__(self) -> None:
        self.count = 0
        self.fragments: list[str] = []

    def default(self, obj: object) -> object:
        if isinstance(obj, Fragment):
            self.fragments.append(obj.text)
            return f"\x00F{len(self.fragments) - 1}\x00"
        if isinstance(obj, Decimal):
            self.count += 1
            return "\x00D" + (format(obj, "f") if obj.is_finite() else "null") + "\x00"
        if isinstance(obj, datetime | date):
            return iso(obj)
        if isinstance(obj, Mapping):
            return dict(obj)
        if isinstance(obj, set | frozenset):
            return list(obj)
        if is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: getattr(obj, f.name) for f in fields(obj)}
        return str(obj)


def dumps(obj: object) -> str:
    """Compact JSON where Decimals are numbers with their exact digits."""
    marker = _Marker()
    try:
        text = json.dumps(
            obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=marker.default
        )
    except (TypeError, ValueError):  # non-string keys, non-finite floats: write it by hand
        text = None
    if text is not None and text.count(_OPEN) == text.count(_CLOSE) == marker.count:
        text = text.replace(_OPEN, "").replace(_CLOSE, "")
        for index, fragment in enumerate(marker.fragments):
            mark = f'"\\u0000F{index}\\u0000"'
            if text.count(mark) != 1:
                break
            text = text.replace(mark, fragment)
        else:
            return text
    out: list[str] = []
    _write(_plain(obj), out)
    return "".join(out)


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


def state_json(state: LiveState, now: datetime, stale_after_s: float) -> dict[str, object]:
    """A LiveState as the API shows it, with the server's clock and how old the data is.

    ``stale`` is true when there has been no reading for ``stale_after_s`` seconds (or never);
    values are null (unavailable), never zero, when unknown.
    """
    reference = state.last_seen or state.power_at
    age = None if reference is None else max(0.0, (now - reference).total_seconds())
    direction = None
    if state.power_w is not None:
        direction = "selling" if state.power_w < 0 else "buying"
    return {
        "meter": state.meter,
        "server_time": iso(now),
        "online": state.online,
        "stale": age is None or age > stale_after_s,
        "stale_after_s": stale_after_s,
        "age_s": None if age is None else round(age, 1),
        "power_w": state.power_w,
        "direction": direction,
        "current_r_a": state.current_r_a,
        "current_t_a": state.current_t_a,
        "power_at": iso(state.power_at),
        "energy_import_kwh": state.energy_import_kwh,
        "energy_export_kwh": state.energy_export_kwh,
        "energy_at": iso(state.energy_at),
        "last_slot_import_kwh": state.last_slot_import_kwh,
        "last_slot_export_kwh": state.last_slot_export_kwh,
        "last_slot_end": iso(state.last_slot_end),
        "fault": state.fault,
        "clock_skew_s": state.clock_skew_s,
        "last_seen": iso(state.last_seen),
        "contract_amperes": state.contract_amperes,
        "backfill_missing": state.backfill_missing,
        "backfill_filled": state.backfill_filled,
        "link": link_json(state.link),
    }
