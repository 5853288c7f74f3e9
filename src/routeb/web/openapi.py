"""The OpenAPI 3.1 description of /api/v1, served at /openapi.json (docs/api.md)."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["openapi_document"]

_DATE_OR_TIME = (
    "A JST calendar day `YYYY-MM-DD` (as `to`: the whole day, inclusive) or an ISO 8601 "
    "datetime (JST when it has no offset; as `to`: exclusive)."
)
_DATE = "A JST calendar day `YYYY-MM-DD`, inclusive."


def _param(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_METER = _param("meter", "Meter key (default: the configured or only meter).")
_FROM_T = _param("from", _DATE_OR_TIME)
_TO_T = _param("to", _DATE_OR_TIME)
_FROM_D = _param("from", _DATE, {"type": "string", "format": "date"})
_TO_D = _param("to", _DATE, {"type": "string", "format": "date"})

_KWH = {"type": ["number", "null"], "description": "exact kWh (4 decimals); null = unknown"}
_YEN = {"type": "number", "description": "yen, tax included, exact decimal"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_ERROR_REF = {"$ref": "#/components/responses/Error"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def _array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


_LINK = _obj(
    {
        "state": {"type": "string"},
        "lqi": {"type": ["integer", "null"]},
        "rssi_dbm": {"type": ["number", "null"]},
        "joins": {"type": "integer"},
        "scans": {"type": "integer"},
        "rejoins": {"type": "object", "additionalProperties": {"type": "integer"}},
        "recovery_steps": {"type": "object", "additionalProperties": {"type": "integer"}},
        "module_events": {"type": "object", "additionalProperties": {"type": "integer"}},
        "requests": {"type": "integer"},
        "timeouts": {"type": "integer"},
        "retransmissions": {"type": "integer"},
        "connected_since": _TIME,
    }
)

_STATE = _obj(
    {
        "meter": {"type": "string"},
        "server_time": {"type": "string", "format": "date-time"},
        "online": {"type": "boolean"},
        "stale": {"type": "boolean", "description": "no reading for stale_after_s seconds"},
        "stale_after_s": {"type": "number"},
        "age_s": {"type": ["number", "null"]},
        "power_w": {"type": ["integer", "null"], "description": "negative = selling"},
        "direction": {"enum": ["buying", "selling", None]},
        "current_r_a": {"type": ["number", "null"]},
        "current_t_a": {"type": ["number", "null"]},
        "power_at": _TIME,
        "energy_import_kwh": _KWH,
        "energy_export_kwh": _KWH,
        "energy_at": _TIME,
        "last_slot_import_kwh": _KWH,
        "last_slot_export_kwh": _KWH,
        "last_slot_end": _TIME,
        "fault": {"type": ["boolean", "null"]},
        "clock_skew_s": {"type": ["number", "null"]},
        "last_seen": _TIME,
        "contract_amperes": {"type": ["integer", "null"]},
        "link": {"$ref": "#/components/schemas/Link"},
    },
    ["meter", "online", "stale", "power_w"],
)

_SLOT = _obj(
    {
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "import_kwh": {**_KWH, "description": "energy bought in the slot"},
        "export_kwh": {**_KWH, "description": "energy sold in the slot"},
        "import_counter_kwh": _KWH,
        "export_counter_kwh": _KWH,
        "import_source": {"type": ["string", "null"]},
        "export_source": {"type": ["string", "null"]},
        "conflicts": {"type": "integer"},
    }
)

_DAY = _obj(
    {
        "date": {"type": "string", "format": "date"},
        "import_kwh": _KWH,
        "export_kwh": _KWH,
        "import_slots": {"type": "integer"},
        "export_slots": {"type": "integer"},
        "expected_slots": {"type": "integer"},
        "complete": {"type": "boolean"},
        "peak_w": {"type": ["integer", "null"]},
    }
)

_MONTH = _obj(
    {
        "month": {"type": "string", "example": "2026-05"},
        "first_day": {"type": "string", "format": "date"},
        "import_kwh": _KWH,
        "export_kwh": _KWH,
        "import_slots": {"type": "integer"},
        "expected_slots": {"type": "integer"},
        "complete_days": {"type": "integer"},
        "complete": {"type": "boolean"},
    }
)

_BILL = _obj(
    {
        "from": {"type": "string", "format": "date"},
        "to": {"type": "string", "format": "date", "description": "last day, inclusive"},
        "end_exclusive": {"type": "string", "format": "date"},
        "import_kwh": _KWH,
        "export_kwh": _KWH,
        "total": _YEN,
        "energy_cost": {**_YEN, "description": "total without the base charge, before rounding"},
        "feed_in_credit": {**_YEN, "description": "paid for sold energy; not subtracted"},
        "missing_slots": {"type": "integer"},
        "expected_slots": {"type": "integer"},
        "lines": _array(
            _obj(
                {
                    "key": {"type": "string"},
                    "label_en": {"type": "string"},
                    "label_ja": {"type": "string"},
                    "quantity": {"type": ["number", "null"]},
                    "unit_price": {"type": ["number", "null"]},
                    "amount": _YEN,
                }
            )
        ),
    }
)


def _get(
    summary: str, params: list[dict[str, Any]], schema: dict[str, Any], description: str = ""
) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "description": description,
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                "400": _ERROR_REF,
                "401": _ERROR_REF,
                "404": _ERROR_REF,
                "503": _ERROR_REF,
            },
        }
    }


_PATHS: Final[dict[str, Any]] = {
    "/api/v1/meters": _get(
        "Meters known to the database or the live hub",
        [],
        _obj(
            {
                "default": {"type": ["string", "null"]},
                "meters": _array(
                    _obj(
                        {
                            "key": {"type": "string"},
                            "first_seen": _TIME,
                            "last_seen": _TIME,
                            "online": {"type": "boolean"},
                            "recorded": {"type": "boolean"},
                        }
                    )
                ),
            }
        ),
    ),
    "/api/v1/latest": _get(
        "The latest live reading", [_METER], {"$ref": "#/components/schemas/State"}
    ),
    "/api/v1/readings": _get(
        "Instantaneous power by range",
        [
            _METER,
            _FROM_T,
            _TO_T,
            _param(
                "resolution",
                "raw (≤ 7 days), minute (≤ 31 days), halfhour (≤ 366 days) or "
                "auto (raw ≤ 6 h, minute ≤ 7 days, else halfhour).",
                {"enum": ["auto", "raw", "minute", "halfhour"], "default": "auto"},
            ),
        ],
        _obj(
            {
                "meter": {"type": "string"},
                "resolution": {"type": "string"},
                "readings": _array(
                    {
                        "oneOf": [
                            _obj(
                                {
                                    "time": {"type": "string"},
                                    "power_w": {"type": ["integer", "null"]},
                                    "current_r_a": {"type": ["number", "null"]},
                                    "current_t_a": {"type": ["number", "null"]},
                                }
                            ),
                            _obj(
                                {
                                    "start": {"type": "string"},
                                    "seconds": {"type": "integer"},
                                    "samples": {"type": "integer"},
                                    "min_w": {"type": "integer"},
                                    "avg_w": {"type": "number"},
                                    "max_w": {"type": "integer"},
                                }
                            ),
                        ]
                    }
                ),
            }
        ),
        "Default range: the last hour. Raw readings are kept `storage.retention_days`.",
    ),
    "/api/v1/slots": _get(
        "30-minute slots by range (every slot, null where unknown)",
        [_METER, _FROM_T, _TO_T],
        _obj(
            {
                "meter": {"type": "string"},
                "import_kwh": _KWH,
                "export_kwh": _KWH,
                "known_slots": {"type": "integer"},
                "expected_slots": {"type": "integer"},
                "slots": _array({"$ref": "#/components/schemas/Slot"}),
            }
        ),
        "Default: today (JST). At most 366 days.",
    ),
    "/api/v1/daily": _get(
        "Energy per JST day",
        [_METER, _FROM_D, _TO_D],
        _obj(
            {
                "import_kwh": _KWH,
                "export_kwh": _KWH,
                "days": _array({"$ref": "#/components/schemas/Day"}),
            }
        ),
        "Default: this month so far. At most 4018 days.",
    ),
    "/api/v1/monthly": _get(
        "Energy per JST calendar month",
        [
            _METER,
            _param("from", "`YYYY-MM` or any day of the first month"),
            _param("to", "`YYYY-MM` or any day of the last month"),
        ],
        _obj(
            {
                "import_kwh": _KWH,
                "export_kwh": _KWH,
                "months": _array({"$ref": "#/components/schemas/Month"}),
            }
        ),
        "Default: the last 12 months.",
    ),
    "/api/v1/cost": _get(
        "Cost by period under the configured tariff",
        [
            _METER,
            _FROM_D,
            _TO_D,
            _param(
                "group",
                "One bill for the range, or one per day (≤ 93 days), calendar "
                "month or billing period (whole periods).",
                {"enum": ["range", "day", "month", "billing"], "default": "range"},
            ),
        ],
        _obj(
            {
                "tariff": {"type": "string"},
                "currency": {"const": "JPY"},
                "group": {"type": "string"},
                "total": _YEN,
                "bills": _array({"$ref": "#/components/schemas/Bill"}),
            }
        ),
        "Default: the current billing period so far. 404 when no tariff is configured. "
        "Parts of a billing period have the base charge prorated by days. At most 400 days.",
    ),
    "/api/v1/meter": _get(
        "Meter information: maker, serial, scale, property maps, session",
        [_METER],
        _obj(
            {
                "meter": {"type": "string"},
                "first_seen": _TIME,
                "last_seen": _TIME,
                "metadata": {"type": ["object", "null"]},
                "events_7d": {"type": "object", "additionalProperties": {"type": "integer"}},
                "live": {"$ref": "#/components/schemas/State"},
            }
        ),
    ),
    "/api/v1/events": _get(
        "Link events (joins, rejoins and why, scans, backfills), newest first",
        [
            _METER,
            _FROM_T,
            _TO_T,
            _param("limit", "At most this many (1 … 5000, default 500)", {"type": "integer"}),
            _param("kind", "Only this kind"),
        ],
        _obj(
            {
                "truncated": {"type": "boolean"},
                "events": _array(
                    _obj(
                        {
                            "time": {"type": "string"},
                            "kind": {"type": "string"},
                            "detail": {"type": "string"},
                        }
                    )
                ),
            }
        ),
        "Default: the last 7 days.",
    ),
    "/api/v1/stream": {
        "get": {
            "summary": "Server-sent events of the live state",
            "description": "`event: state` with a State document on connect and on every "
            "update of the meter; a `: ping` comment every 15 s.",
            "parameters": [_METER],
            "responses": {
                "200": {"description": "an event stream", "content": {"text/event-stream": {}}}
            },
        }
    },
}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI description (a fresh dict)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "routeb dashboard API",
            "version": "1",
            "description": "Read-only. Energy in kWh and money in yen are exact decimal "
            'numbers. Times are ISO 8601 in JST (+09:00). Errors are `{"error": message}`.',
        },
        "paths": _PATHS,
        "components": {
            "schemas": {
                "State": _STATE,
                "Link": _LINK,
                "Slot": _SLOT,
                "Day": _DAY,
                "Month": _MONTH,
                "Bill": _BILL,
            },
            "responses": {
                "Error": {
                    "description": "bad input (400), no token (401), unknown meter or no "
                    "tariff (404), no database yet (503)",
                    "content": {
                        "application/json": {
                            "schema": _obj({"error": {"type": "string"}}, ["error"])
                        }
                    },
                }
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }
