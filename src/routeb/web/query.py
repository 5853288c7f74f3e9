"""Query-string parsing for the API: dates, datetimes and ranges, with 400-worthy messages.

Dates (``2026-05-20``) are JST calendar days; as a range end a date is inclusive (the whole
day). Datetimes are ISO 8601; one without an offset is JST. Ranges are half-open in UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from routeb.storage import JST

__all__ = [
    "BadRequest",
    "DateRange",
    "TimeRange",
    "choice",
    "date_range",
    "month_or_day",
    "parse_date",
    "parse_instant",
    "positive_int",
    "time_range",
]

DAY: Final = timedelta(days=1)
MIN_DATE: Final = date(2000, 1, 1)
MAX_DATE: Final = date(2099, 12, 31)


class BadRequest(ValueError):
    """An invalid parameter; the message is shown to the client (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class TimeRange:
    """[start, end) as aware datetimes."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class DateRange:
    """JST days ``first`` … ``last``, both inclusive."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def _check_day(value: date, name: str) -> date:
    if not MIN_DATE <= value <= MAX_DATE:
        raise BadRequest(f"{name}: {value.isoformat()} is outside {MIN_DATE} … {MAX_DATE}")
    return value


def parse_date(text: str, name: str) -> date:
    """``YYYY-MM-DD`` → date (a JST calendar day)."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        value = date.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name}: expected a date YYYY-MM-DD, got {text!r}") from None
    return _check_day(value, name)


def parse_instant(text: str, name: str, *, end: bool = False) -> datetime:
    """A date (start of that JST day; with ``end``, the start of the next) or an ISO datetime
    (JST when it has no offset) → an aware datetime."""
    text = text.strip()
    if len(text) == 10:
        day = parse_date(text, name)
        return datetime.combine(day + DAY if end else day, datetime.min.time(), JST)
    try:
        value = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError:
        raise BadRequest(
            f"{name}: expected a date YYYY-MM-DD or an ISO 8601 datetime, got {text!r}"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=JST)
    try:
        local = value.astimezone(JST)
    except OverflowError:  # 0001-01-01T08:59+09:00 is before datetime.min in UTC
        raise BadRequest(f"{name}: {text!r} is outside {MIN_DATE} … {MAX_DATE}") from None
    _check_day(local.date(), name)
    return value


def _get(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def time_range(query: Mapping[str, str], *, default: TimeRange, max_span: timedelta) -> TimeRange:
    """``from``/``to`` → [start, end); each defaults to ``default``'s; 400 when reversed or wider
    than ``max_span``."""
    text_from, text_to = _get(query, "from"), _get(query, "to")
    start = default.start if text_from is None else parse_instant(text_from, "from")
    end = default.end if text_to is None else parse_instant(text_to, "to", end=True)
    if end <= start:
        shown_from = text_from or iso_text(start)
        shown_to = text_to or iso_text(end)
        raise BadRequest(f"to ({shown_to}) must be after from ({shown_from})")
    if end - start > max_span:
        raise BadRequest(
            f"the range from {iso_text(start)} to {iso_text(end)} is longer than "
            f"{_span_text(max_span)}; ask for a shorter one or a coarser resolution"
        )
    return TimeRange(start, end)


def date_range(query: Mapping[str, str], *, default: DateRange, max_days: int) -> DateRange:
    """``from``/``to`` as JST dates, both inclusive; 400 when reversed or too long."""
    text_from, text_to = _get(query, "from"), _get(query, "to")
    first = default.first if text_from is None else parse_date(text_from, "from")
    last = default.last if text_to is None else parse_date(text_to, "to")
    if last < first:
        raise BadRequest(f"to ({last}) must not be before from ({first})")
    span = DateRange(first, last)
    if span.days > max_days:
        raise BadRequest(f"the range {first} … {last} is longer than {max_days} days")
    return span


def month_or_day(query: Mapping[str, str], name: str, *, end: bool = False) -> str | None:
    """``YYYY-MM`` → its first day (its last with ``end``) as ``YYYY-MM-DD``; other text as is."""
    value = _get(query, name)
    if value is None or len(value) != 7 or value[4] != "-":
        return value
    try:
        first = date.fromisoformat(value + "-01")
    except ValueError:
        message = f"{name}: expected a month YYYY-MM or a date YYYY-MM-DD, got {value!r}"
        raise BadRequest(message) from None
    _check_day(first, name)  # 9999-12 is a 400, not an overflow past the calendar
    if not end:
        return first.isoformat()
    following = (first + timedelta(days=32)).replace(day=1)
    return (following - DAY).isoformat()


def choice(query: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    """One of ``choices`` (default when absent)."""
    value = _get(query, name)
    if value is None:
        return default
    if value not in choices:
        raise BadRequest(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def positive_int(query: Mapping[str, str], name: str, default: int, high: int) -> int:
    """An integer in 1 … ``high``."""
    value = _get(query, name)
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= high:
        raise BadRequest(f"{name}: expected a whole number from 1 to {high}, got {value!r}")
    return int(value)


def iso_text(value: datetime) -> str:
    return value.astimezone(JST).isoformat()


def _span_text(span: timedelta) -> str:
    if span.days >= 1 and span.seconds == 0:
        return f"{span.days} days"
    return f"{span.total_seconds():g} seconds"
