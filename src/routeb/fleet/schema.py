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

What one message may claim is bounded (``MessageLimits``, docs/fleet.md#limits): its size and
nesting before it is parsed (``bounded_json``), no key twice, time stamps in a plausible window
around the receiver's clock, and readings on at most ``max_days`` distinct UTC days (each day
is a partition of the fleet store). Every rejection has a ``kind`` (``REJECTIONS``) and a reason.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Final

from routeb.echonet.energy import MAX_COEFFICIENT, MAX_COUNT, MAX_DIGITS, MIN_DIGITS
from routeb.fleet import bounded_json
from routeb.meter_time import SLOT_SECONDS
from routeb.storage.model import MAX_CURRENT_DA, MAX_POWER_W, MIN_CURRENT_DA, MIN_POWER_W

__all__ = [
    "DEFAULT_BASE_TOPIC",
    "DEFAULT_LIMITS",
    "REJECTIONS",
    "SCHEMA_VERSION",
    "Cumulative",
    "FleetMessage",
    "Instant",
    "MessageError",
    "MessageLimits",
    "SlotRow",
    "decode",
    "encode",
    "topic_for",
]

SCHEMA_VERSION: Final = 1
DEFAULT_BASE_TOPIC: Final = "routeb-fleet"
MAX_KEY: Final = 200
MAX_ROWS: Final = 100_000
# The schema nests three deep (object, list, row); the rest is room for unknown keys.
MAX_DEPTH: Final = 16
DAY: Final = 86_400
REASON_MAX: Final = 200

# kind -> what it means (docs/fleet.md#dead-letters); the label of the dead-letter metric.
REJECTIONS: Final = {
    bounded_json.OVERSIZE: "larger than the size limit",
    bounded_json.ENCODING: "not UTF-8",
    bounded_json.NOT_JSON: "not JSON",
    bounded_json.DEPTH: f"nested deeper than {MAX_DEPTH} levels",
    bounded_json.DUPLICATE_KEY: "an object with the same key twice",
    "type": "not the schema's shape: a wrong type, a row of the wrong width",
    "version": "another schema version",
    "identity": "a bad site or meter",
    "sent": "a bad send time",
    "rows": f"more than {MAX_ROWS} rows of one kind",
    "range": "a value outside its column's range, or null where one is required",
    "window": "a time stamp outside the plausible window around the receiver's clock",
    "days": "readings on more distinct days than the limit",
    "boundary": "a slot that does not start at :00 or :30",
    "internal": "the decoder failed (a bug: the worker logs it)",
    # Not the decoder's: the worker's, for a valid message PostgreSQL rejects on every try.
    "database": "PostgreSQL rejected its rows on every attempt (a constraint, a data error)",
}


@dataclass(frozen=True, slots=True)
class MessageLimits:
    """What one message may claim; ``routeb ingest`` flags of the same names (docs/fleet.md)."""

    max_bytes: int = 1 << 20
    # Distinct UTC days among all its readings: each is a partition (per kind) to create.
    max_days: int = 64
    # Instant and cumulative readings (daily partitions; a home keeps them 31 days by default).
    max_age_days: int = 400
    # Slots (monthly partitions; a home keeps them for ever and replays them when it joins).
    max_slot_age_days: int = 7305
    # Meter clocks ahead of the receiver's (skew, a time zone mistake).
    max_ahead_hours: float = 24.0


DEFAULT_LIMITS: Final = MessageLimits()

# [ts, power_w, current_r_da, current_t_da]
Instant = tuple[int, int | None, int | None, int | None]
# [ts, import_raw, export_raw, coefficient, unit_code, digits]
Cumulative = tuple[int, int | None, int | None, int, int | None, int | None]
# [ts, import_raw, export_raw, coefficient, unit_code, digits, import_use_e4, export_use_e4, seq]
SlotRow = tuple[
    int, int | None, int | None, int, int | None, int | None, int | None, int | None, int
]

_INT64: Final = 2**63 - 1
_TS: Final = itemgetter(0)
# (low, high, nullable) per column after the time stamp (whose bounds are the window): the
# ranges of protocol.md §B.1 as the store keeps them.
_INSTANT_COLS: Final = (
    (MIN_POWER_W, MAX_POWER_W, True),
    (MIN_CURRENT_DA, MAX_CURRENT_DA, True),
    (MIN_CURRENT_DA, MAX_CURRENT_DA, True),
)
_ENERGY_COLS: Final = (
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
    """A message that cannot be stored: ``kind`` (a key of REJECTIONS) and a short ``reason``,
    both for the dead-letter table."""

    def __init__(self, kind: str, reason: str) -> None:
        reason = reason[:REASON_MAX]
        super().__init__(reason)
        self.kind = kind
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
    # kind ("instant", …) -> (first, last) time stamp, when decode() has seen them
    spans: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)

    @property
    def readings(self) -> int:
        """Rows of every kind."""
        return len(self.instant) + len(self.cumulative) + len(self.slots)

    def span(self, kind: str) -> tuple[int, int] | None:
        """The first and last time stamp of the ``kind`` rows (None: there are none)."""
        known = self.spans.get(kind)
        if known is not None:
            return known
        rows = getattr(self, kind)
        if not rows:
            return None
        return min(map(_TS, rows)), max(map(_TS, rows))


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
        raise MessageError("identity", f"bad {what}")
    return value


_INT_OR_NULL: Final = frozenset((int, type(None)))
Columns = tuple[tuple[int, int, bool], ...]


def _valid_columns(rows: list[Any], columns: Columns) -> tuple[int, int] | None:
    """The whole table at once, column by column (C loops): the first and last time stamp, or
    None → check row by row for the exact reason. The hot path of `routeb ingest` (hundreds of
    rows per message). ``columns[0]`` is the time stamp (never null)."""
    width = len(columns)
    if not rows:
        return (0, 0)
    if not all(type(row) is list and len(row) == width for row in rows):
        return None
    span = (0, 0)
    for n, (values, (low, high, nullable)) in enumerate(
        zip(zip(*rows, strict=True), columns, strict=True)
    ):
        if not set(map(type, values)) <= _INT_OR_NULL:
            return None
        if None in values:
            if not nullable:
                return None
            values = tuple(v for v in values if v is not None)  # noqa: PLW2901
            if not values:
                continue
        first, last = min(values), max(values)
        if first < low or last > high:
            return None
        if n == 0:
            span = (first, last)
    return span


def _utc(ts: int) -> str:
    try:
        return f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%dT%H:%MZ}"
    except (OverflowError, ValueError, OSError):
        return str(ts)


def _row_error(key: str, rows: list[Any], columns: Columns) -> MessageError:
    """Why the table failed the column check: the first bad row's reason."""
    width = len(columns)
    for n, row in enumerate(rows):
        if type(row) is not list or len(row) != width:
            return MessageError("type", f"{key}[{n}]: not a list of {width}")
        for column, (value, (low, high, nullable)) in enumerate(zip(row, columns, strict=True)):
            if value is None:
                if not nullable:
                    return MessageError("range", f"{key}[{n}]: null where a value is required")
            elif type(value) is not int:
                return MessageError("type", f"{key}[{n}]: {value!r:.40} is not an integer")
            elif column == 0 and not low <= value <= high:
                return MessageError(
                    "window",
                    f"{key}[{n}]: time stamp {value} is outside {_utc(low)} … {_utc(high)}",
                )
            elif not low <= value <= high:
                return MessageError(
                    "range", f"{key}[{n}]: {str(value)[:40]} is not an integer in {low}..{high}"
                )
    return MessageError("internal", f"{key}: the column and row checks disagree")


def _rows(data: dict[str, Any], key: str, columns: Columns) -> tuple[list[Any], tuple[int, int]]:
    rows = data.get(key)
    if rows is None or rows == []:
        return [], (0, 0)
    if type(rows) is not list:
        raise MessageError("type", f"{key}: not a list")
    if len(rows) > MAX_ROWS:
        raise MessageError("rows", f"{key}: more than {MAX_ROWS} rows")
    span = _valid_columns(rows, columns)
    if span is None:
        raise _row_error(key, rows, columns)
    return rows, span


def decode(
    payload: bytes | bytearray | str,
    limits: MessageLimits = DEFAULT_LIMITS,
    *,
    now: float | None = None,
) -> FleetMessage:
    """Parse and validate one message received at ``now`` (UTC seconds; default: the clock);
    MessageError (kind, reason) if it cannot be stored."""
    now = time.time() if now is None else now
    raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
    try:
        data = bounded_json.loads(raw, max_bytes=limits.max_bytes, max_depth=MAX_DEPTH)
    except bounded_json.JsonError as exc:
        raise MessageError(exc.kind, exc.reason) from None
    if type(data) is not dict:
        raise MessageError("type", "not a JSON object")
    version = data.get("v")
    if version != SCHEMA_VERSION or type(version) is not int:
        raise MessageError("version", f"unknown schema version {str(version)[:20]!r}")
    ahead = int(now + limits.max_ahead_hours * 3600)
    # Never before the epoch, however wide the configured window (a negative stamp is garbage).
    oldest = max(0, int(now) - limits.max_age_days * DAY)
    sent = data.get("sent")
    if sent is not None and (type(sent) not in (int, float) or not oldest <= sent <= ahead):
        raise MessageError("sent", "bad sent")
    ts_readings = ((oldest, ahead, False),)
    ts_slots = ((max(0, int(now) - limits.max_slot_age_days * DAY), ahead, False),)
    site, meter = _key(data.get("site"), "site"), _key(data.get("meter"), "meter")
    instant, instant_span = _rows(data, "i", ts_readings + _INSTANT_COLS)
    cumulative, cumulative_span = _rows(data, "c", ts_readings + _ENERGY_COLS)
    slots, slots_span = _rows(data, "s", ts_slots + _SLOT_COLS)
    message = FleetMessage(
        site, meter, instant, cumulative, slots, None if sent is None else float(sent)
    )
    for kind, rows, span in (
        ("instant", instant, instant_span),
        ("cumulative", cumulative, cumulative_span),
        ("slots", slots, slots_span),
    ):
        if rows:
            message.spans[kind] = span
    for ts, *_ in slots:
        if ts % SLOT_SECONDS:
            raise MessageError("boundary", f"s: {ts} is not a :00/:30 boundary")
    _check_days(message, limits.max_days)
    return message


def _check_days(message: FleetMessage, max_days: int) -> None:
    """At most ``max_days`` distinct UTC days among all the readings (each a partition)."""
    if not message.spans:
        return
    first = min(first for first, _ in message.spans.values())
    last = max(last for _, last in message.spans.values())
    if last // DAY - first // DAY < max_days:
        return  # they cannot be on more days than the span has
    days = {
        ts // DAY
        for rows in (message.instant, message.cumulative, message.slots)
        for ts in map(_TS, rows)
    }
    if len(days) > max_days:
        raise MessageError(
            "days", f"readings on {len(days)} distinct days, more than the limit of {max_days}"
        )


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
