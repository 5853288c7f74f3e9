"""The fleet stream's wire format, version 1: one compact JSON message per meter and batch.

Topic: ``<base>/v1/<site>/<meter>`` (``base`` defaults to ``routeb-fleet``; the site and meter in
the topic are sanitised, the payload carries the exact identity). Payload (UTF-8 JSON)::

    {"v": 1, "site": "s-001", "meter": "m-1", "sent": 1718000000.123,
     "i": [[ts, power_w, current_r_da, current_t_da], ...],
     "c": [[ts, import_raw, export_raw, coefficient, unit_code, digits], ...],
     "s": [[ts, import_raw, export_raw, coefficient, unit_code, digits,
            import_use_e4, export_use_e4, seq], ...]}

``ts`` is the meter's time stamp as UTC unix seconds (a slot's ``ts`` is its :00/:30 start);
``null`` is "no data". Units as in the SQLite store (docs/storage.md): W, 0.1 A, raw counters
with the D3 coefficient, the E1 unit code and the D7 digits, usage in 0.0001 kWh. ``seq`` is the
home's outbox sequence of the slot row: a slot re-published with a larger seq (its usage became
known) replaces the stored one. ``sent`` (optional) is the publisher's clock, for latency.
Every list is optional; unknown top-level keys are ignored (forward compatible), an unknown
``v`` is rejected (dead letter).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from routeb.echonet.energy import MAX_COEFFICIENT, MAX_COUNT, MAX_DIGITS, MIN_DIGITS
from routeb.meter_time import SLOT_SECONDS
from routeb.storage.model import MAX_CURRENT_DA, MAX_POWER_W, MIN_CURRENT_DA, MIN_POWER_W

__all__ = [
    "DEFAULT_BASE_TOPIC",
    "SCHEMA_VERSION",
    "Cumulative",
    "FleetMessage",
    "Instant",
    "MessageError",
    "SlotRow",
    "decode",
    "encode",
    "topic_for",
]

SCHEMA_VERSION: Final = 1
DEFAULT_BASE_TOPIC: Final = "routeb-fleet"
MAX_KEY: Final = 200
MAX_ROWS: Final = 100_000

# [ts, power_w, current_r_da, current_t_da]
Instant = tuple[int, int | None, int | None, int | None]
# [ts, import_raw, export_raw, coefficient, unit_code, digits]
Cumulative = tuple[int, int | None, int | None, int, int | None, int | None]
# [ts, import_raw, export_raw, coefficient, unit_code, digits, import_use_e4, export_use_e4, seq]
SlotRow = tuple[
    int, int | None, int | None, int, int | None, int | None, int | None, int | None, int
]

_INT64: Final = 2**63 - 1
_TS_MAX: Final = 2**37  # year 6325: anything beyond is garbage
# (low, high, nullable) per column: the ranges of protocol.md §B.1 as the store keeps them.
_INSTANT_COLS: Final = (
    (0, _TS_MAX, False),
    (MIN_POWER_W, MAX_POWER_W, True),
    (MIN_CURRENT_DA, MAX_CURRENT_DA, True),
    (MIN_CURRENT_DA, MAX_CURRENT_DA, True),
)
_ENERGY_COLS: Final = (
    (0, _TS_MAX, False),
    (0, MAX_COUNT, True),
    (0, MAX_COUNT, True),
    (0, MAX_COEFFICIENT, False),
    (0, 255, True),
    (MIN_DIGITS, MAX_DIGITS, True),
)
_SLOT_COLS: Final = (
    *_ENERGY_COLS,
    (-_INT64, _INT64, True),
    (-_INT64, _INT64, True),
    (0, _INT64, False),
)
_TOPIC_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.:@-]")


class MessageError(ValueError):
    """A message that cannot be stored; ``reason`` is short and goes to the dead-letter table."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class FleetMessage:
    """One decoded message: a site's meter and its readings of each kind."""

    site: str
    meter: str
    instant: list[Instant] = field(default_factory=list)
    cumulative: list[Cumulative] = field(default_factory=list)
    slots: list[SlotRow] = field(default_factory=list)
    sent: float | None = None

    @property
    def readings(self) -> int:
        """Rows of every kind."""
        return len(self.instant) + len(self.cumulative) + len(self.slots)


def topic_part(value: str) -> str:
    """``value`` made safe for one MQTT topic level (no ``/``, ``+``, ``#``, blanks)."""
    return _TOPIC_UNSAFE.sub("_", value) or "_"


def topic_for(base: str, site: str, meter: str) -> str:
    """The topic of ``meter`` at ``site``."""
    return f"{base}/v{SCHEMA_VERSION}/{topic_part(site)}/{topic_part(meter)}"


def _key(value: object, what: str) -> str:
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_KEY
        or not value.isprintable()
        or "\\" in value
    ):
        raise MessageError(f"bad {what}")
    return value


_INT_OR_NULL: Final = frozenset((int, type(None)))


def _valid_columns(rows: list[Any], columns: tuple[tuple[int, int, bool], ...]) -> bool:
    """The whole table at once, column by column (C loops); False → check row by row for the
    exact reason. The hot path of `routeb ingest` (hundreds of rows per message)."""
    width = len(columns)
    if not rows:
        return True
    if not all(type(row) is list and len(row) == width for row in rows):
        return False
    for values, (low, high, nullable) in zip(zip(*rows, strict=True), columns, strict=True):
        if not set(map(type, values)) <= _INT_OR_NULL:
            return False
        if None in values:
            if not nullable:
                return False
            values = tuple(v for v in values if v is not None)  # noqa: PLW2901
            if not values:
                continue
        if min(values) < low or max(values) > high:
            return False
    return True


def _rows(data: dict[str, Any], key: str, columns: tuple[tuple[int, int, bool], ...]) -> list[Any]:
    rows = data.get(key)
    if rows is None:
        return []
    if type(rows) is not list:
        raise MessageError(f"{key}: not a list")
    if len(rows) > MAX_ROWS:
        raise MessageError(f"{key}: more than {MAX_ROWS} rows")
    width = len(columns)
    if _valid_columns(rows, columns):
        return rows
    for n, row in enumerate(rows):
        if type(row) is not list or len(row) != width:
            raise MessageError(f"{key}[{n}]: not a list of {width}")
        for value, (low, high, nullable) in zip(row, columns, strict=True):
            if value is None:
                if not nullable:
                    raise MessageError(f"{key}[{n}]: null where a value is required")
            elif type(value) is not int or not low <= value <= high:
                raise MessageError(f"{key}[{n}]: {value!r} is not an integer in {low}..{high}")
    return rows


def decode(payload: bytes | bytearray | str) -> FleetMessage:
    """Parse and validate one message; MessageError (with a reason) if it cannot be stored."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"not JSON: {str(exc)[:80]}") from None
    if type(data) is not dict:
        raise MessageError("not a JSON object")
    version = data.get("v")
    if version != SCHEMA_VERSION or type(version) is not int:
        raise MessageError(f"unknown schema version {str(version)[:20]!r}")
    sent = data.get("sent")
    if sent is not None and (type(sent) not in (int, float) or not 0 <= sent < _TS_MAX):
        raise MessageError("bad sent")
    message = FleetMessage(
        _key(data.get("site"), "site"),
        _key(data.get("meter"), "meter"),
        _rows(data, "i", _INSTANT_COLS),
        _rows(data, "c", _ENERGY_COLS),
        _rows(data, "s", _SLOT_COLS),
        None if sent is None else float(sent),
    )
    for ts, *_ in message.slots:
        if ts % SLOT_SECONDS:
            raise MessageError(f"s: {ts} is not a :00/:30 boundary")
    return message


def encode(message: FleetMessage) -> bytes:
    """The compact JSON of ``message`` (empty kinds left out)."""
    out: dict[str, object] = {"v": SCHEMA_VERSION, "site": message.site, "meter": message.meter}
    if message.sent is not None:
        out["sent"] = round(message.sent, 6)
    if message.instant:
        out["i"] = message.instant
    if message.cumulative:
        out["c"] = message.cumulative
    if message.slots:
        out["s"] = message.slots
    return json.dumps(out, separators=(",", ":")).encode()
