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

_KWH = {"type": ["number", "null"], "description": "exact kWh, 4 decimals; null = unknown"}
_YEN = {"type": "number", "description": "yen, tax included, exact decimal with 2 decimals"}
_PRICE = {"type": ["number", "null"], "description": "yen per unit, as in the tariff file"}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_INSTANT = {"type": "string", "format": "date-time"}
_DAY_TEXT = {"type": "string", "format": "date"}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_ERROR_REF = {"$ref": "#/components/responses/Error"}


def _obj(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """An object whose every property is always present (null when unknown) unless
    ``required`` names fewer; no other properties."""
    return {
        "type": "object",
        "properties": props,
        "required": list(props) if required is None else required,
        "additionalProperties": False,
    }


def _array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


_LINK = _obj(
    {
        "state": {"type": "string", "description": "session state (driver/states.py)"},
        "lqi": {"type": ["integer", "null"]},
        "rssi_dbm": {"type": ["number", "null"]},
        "joins": {"type": "integer"},
        "scans": {"type": "integer"},
        "rejoins": _COUNTS,
        "recovery_steps": _COUNTS,
        "module_events": _COUNTS,
        "requests": {"type": "integer"},
        "timeouts": {"type": "integer"},
        "retransmissions": {"type": "integer"},
        "sna_answers": {"type": "integer"},
        "malformed": {"type": "integer"},
        "notifications": {"type": "integer"},
        "connected_since": _TIME,
    }
)

_STATE = {
    **_obj(
        {
            "meter": {"type": "string"},
            "server_time": _INSTANT,
            "status": {
                "enum": ["live", "recovering", "stale", "latched", "waiting"],
                "description": "the one state every page shows: live; recovering (link "
                "being rebuilt, values greyed); stale (no reading for stale_after_s, values "
                "unavailable); latched (credentials refused, not retried); waiting (no "
                "reading yet)",
            },
            "reason": {"type": ["string", "null"], "description": "why it is not live"},
            "online": {"type": "boolean"},
            "stale": {"type": "boolean", "description": "status is stale, latched or waiting"},
            "stale_after_s": {"type": "number"},
            "age_s": {"type": ["number", "null"]},
            "power_w": {"type": ["integer", "null"], "description": "negative = selling"},
            "direction": {"enum": ["buying", "selling", None]},
            "current_r_a": {"type": ["number", "null"], "description": "A, 1 decimal"},
            "current_t_a": {"type": ["number", "null"], "description": "A, 1 decimal"},
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
            "backfill_missing": {"type": "integer"},
            "backfill_filled": {"type": "integer"},
            "link": {"$ref": "#/components/schemas/Link"},
        }
    ),
    # Outputs that grow with the live state's registry may add fields: documented ones stay.
    "additionalProperties": True,
}

_SLOT = _obj(
    {
        "start": _INSTANT,
        "end": _INSTANT,
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
        "date": _DAY_TEXT,
        "import_kwh": _KWH,
        "export_kwh": _KWH,
        "import_slots": {"type": "integer"},
        "export_slots": {"type": "integer"},
        "expected_slots": {"type": "integer"},
        "complete": {"type": "boolean", "description": "all 48 half-hours have a reading"},
        "peak_w": {"type": ["integer", "null"]},
    }
)

_MONTH = _obj(
    {
        "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "example": "2026-05"},
        "first_day": _DAY_TEXT,
        "import_kwh": _KWH,
        "export_kwh": _KWH,
        "import_slots": {"type": "integer"},
        "export_slots": {"type": "integer"},
        "expected_slots": {"type": "integer"},
        "complete_days": {"type": "integer"},
        "complete": {"type": "boolean"},
    }
)

_LINE = _obj(
    {
        "key": {"type": "string", "example": "energy_tier_1"},
        "kind": {"enum": ["fixed", "energy", "fuel_adjustment", "renewable_surcharge", "discount"]},
        "label_en": {"type": "string"},
        "label_ja": {"type": "string"},
        "quantity": {"type": ["number", "null"]},
        "unit": {"type": ["string", "null"], "description": "of quantity: kWh or kVA"},
        "unit_price": _PRICE,
        "amount": _YEN,
        "source": {
            "type": ["string", "null"],
            "description": "the tariff-file key of the price, e.g. fuel_adjustment.2026-04",
        },
        "missing_price": {
            "type": "boolean",
            "description": "the tariff file has no price for it: amount 0, said, not guessed",
        },
    }
)

_BILL = _obj(
    {
        "from": _DAY_TEXT,
        "to": {**_DAY_TEXT, "description": "last day, inclusive"},
        "end_exclusive": _DAY_TEXT,
        "import_kwh": _KWH,
        "export_kwh": _KWH,
        "total": _YEN,
        "energy_cost": {**_YEN, "description": "the lines that depend on energy, added up"},
        "feed_in_credit": {**_YEN, "description": "paid for sold energy; not subtracted"},
        "feed_in": _obj(
            {
                "export_kwh": _KWH,
                "unit_price": _PRICE,
                "amount": _YEN,
                "source": {"type": ["string", "null"]},
            }
        ),
        "known_slots": {"type": "integer", "description": "half-hours with a reading"},
        "missing_slots": {"type": "integer", "description": "half-hours over, no reading"},
        "expected_slots": {"type": "integer", "description": "half-hours already over"},
        "period_slots": {
            "type": "integer",
            "description": "half-hours of the billing periods touched; fixed charges are "
            "charged for known_slots of them",
        },
        "complete": {"type": "boolean", "description": "known_slots == period_slots"},
        "missing_prices": {"type": "array", "items": {"type": "string"}},
        "lines": _array({"$ref": "#/components/schemas/CostLine"}),
    }
)

_RAW_READING = _obj(
    {
        "time": _INSTANT,
        "power_w": {"type": ["integer", "null"]},
        "current_r_a": {"type": ["number", "null"]},
        "current_t_a": {"type": ["number", "null"]},
    }
)
_POWER_BUCKET = _obj(
    {
        "start": _INSTANT,
        "seconds": {"type": "integer"},
        "samples": {"type": "integer"},
        "min_w": {"type": "integer"},
        "avg_w": {"type": "number"},
        "max_w": {"type": "integer"},
    }
)
_METADATA = _obj(
    {
        "maker_code": {"type": ["integer", "null"]},
        "maker_code_hex": {"type": ["string", "null"], "example": "0x000016"},
        "serial": {"type": ["string", "null"]},
        "release": {"type": ["string", "null"]},
        "coefficient": {"type": ["integer", "null"]},
        "unit_code": {"type": ["integer", "null"]},
        "unit_kwh": {"type": ["number", "null"]},
        "digits": {"type": ["integer", "null"]},
        "get_map": {"type": ["array", "null"], "items": {"type": "string"}},
        "set_map": {"type": ["array", "null"], "items": {"type": "string"}},
        "inf_map": {"type": ["array", "null"], "items": {"type": "string"}},
        "extra": {"type": "object", "additionalProperties": {"type": "string"}},
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
        "Meters known to the database or the live hub, each with its live power and "
        "today's energy (JST day); every other route takes `meter=` one of these keys",
        [],
        _obj(
            {
                "default": {"type": ["string", "null"]},
                "login": {"type": "boolean", "description": "whether a token is configured"},
                "server_time": _INSTANT,
                "meters": _array(
                    _obj(
                        {
                            "key": {"type": "string"},
                            "first_seen": _TIME,
                            "last_seen": _TIME,
                            "online": {"type": "boolean"},
                            "recorded": {"type": "boolean"},
                            "status": _STATE["properties"]["status"],
                            "power_w": {
                                "type": ["integer", "null"],
                                "description": "live power, negative = selling; null when "
                                "stale or unknown",
                            },
                            "power_at": _TIME,
                            "today_import_kwh": _KWH,
                            "today_export_kwh": _KWH,
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
        {
            "oneOf": [
                _obj(
                    {
                        "meter": {"type": "string"},
                        "from": _INSTANT,
                        "to": _INSTANT,
                        "resolution": {"const": "raw"},
                        "readings": _array({"$ref": "#/components/schemas/RawReading"}),
                    }
                ),
                _obj(
                    {
                        "meter": {"type": "string"},
                        "from": _INSTANT,
                        "to": _INSTANT,
                        "resolution": {"enum": ["minute", "halfhour"]},
                        "readings": _array({"$ref": "#/components/schemas/PowerBucket"}),
                    }
                ),
            ],
            "description": "raw readings, or per-minute / per-half-hour power by `resolution`",
        },
        "Default range: the last hour. Raw readings are kept `storage.retention_days`.",
    ),
    "/api/v1/slots": _get(
        "30-minute slots by range (every slot, null where unknown)",
        [_METER, _FROM_T, _TO_T],
        _obj(
            {
                "meter": {"type": "string"},
                "from": _INSTANT,
                "to": _INSTANT,
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
                "meter": {"type": "string"},
                "from": _DAY_TEXT,
                "to": _DAY_TEXT,
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
                "meter": {"type": "string"},
                "from": {"type": ["string", "null"], "example": "2026-01"},
                "to": {"type": ["string", "null"], "example": "2026-12"},
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
            _param("from", "`YYYY-MM-DD`, or `YYYY-MM` for the month's first day"),
            _param("to", "`YYYY-MM-DD` (inclusive), or `YYYY-MM` for the month's last day"),
            _param(
                "group",
                "One bill for the range, or one per day (≤ 93 days), calendar "
                "month or billing period (whole periods).",
                {"enum": ["range", "day", "month", "billing"], "default": "range"},
            ),
        ],
        _obj(
            {
                "meter": {"type": "string"},
                "tariff": {"type": "string", "description": "the plan's name"},
                "contract": {"type": ["string", "null"], "example": "30 A"},
                "read_day": {"type": "integer", "description": "meter-read day (検針日)"},
                "currency": {"const": "JPY"},
                "group": {"enum": ["range", "day", "month", "billing"]},
                "from": _DAY_TEXT,
                "to": _DAY_TEXT,
                "total": {**_YEN, "description": "the bills' totals added up"},
                "bills": _array({"$ref": "#/components/schemas/Bill"}),
            }
        ),
        "Default: the current billing period so far. 404 when no tariff is configured. "
        "Only the half-hours that are over and have a reading are charged: the fixed "
        "charges are prorated by the half-hours with data (docs/tariffs.md). At most 400 "
        "days.",
    ),
    "/api/v1/meter": _get(
        "Meter information: maker, serial, scale, property maps, session",
        [_METER],
        _obj(
            {
                "meter": {"type": "string"},
                "first_seen": _TIME,
                "last_seen": _TIME,
                "metadata": {
                    "oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Metadata"}]
                },
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
                "meter": {"type": "string"},
                "from": _INSTANT,
                "to": _INSTANT,
                "truncated": {"type": "boolean"},
                "events": _array(
                    _obj(
                        {
                            "time": _INSTANT,
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
                "CostLine": _LINE,
                "RawReading": _RAW_READING,
                "PowerBucket": _POWER_BUCKET,
                "Metadata": _METADATA,
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
