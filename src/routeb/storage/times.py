"""Time in the store: UTC unix seconds on disk, aware datetimes in the API, JST calendar days.

protocol.md §B: meter time stamps are naive Japan Standard Time. JST is UTC+9 all year (Japan has
no daylight saving time), so a :00/:30 boundary in JST is also one in UTC and a JST calendar day
is the UTC interval [day − 9 h, day + 15 h). Callers convert meter times with :func:`jst_to_utc`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final

from routeb.errors import UsageError
from routeb.meter_time import JST, JST_OFFSET, SLOT_SECONDS

__all__ = [
    "DAY_SECONDS",
    "JST",
    "JST_OFFSET",
    "SLOT_SECONDS",
    "from_epoch",
    "jst_day",
    "jst_day_start",
    "jst_to_utc",
    "slots_in",
    "to_epoch",
    "utc_to_jst",
]

DAY_SECONDS: Final = 86_400
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY: Final = date(1970, 1, 1)
_SECOND: Final = timedelta(seconds=1)


def _aware(when: object, what: str) -> datetime:
    if not isinstance(when, datetime):
        raise UsageError(f"{what} must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise UsageError(
            f"{what} must be timezone-aware (meter times are naive JST: use jst_to_utc)"
        )
    return when


def to_epoch(when: datetime, what: str = "time") -> int:
    """Aware ``when`` → whole unix seconds (floored); UsageError if naive or before 1970."""
    seconds = (_aware(when, what) - _EPOCH) // _SECOND
    if seconds < 0:
        raise UsageError(f"{what} is before 1970: {when.isoformat()}")
    return seconds


def from_epoch(seconds: int) -> datetime:
    """Unix seconds → aware UTC datetime."""
    return _EPOCH + timedelta(seconds=seconds)


def jst_to_utc(naive: datetime) -> datetime:
    """A meter's naive JST time → the aware UTC instant (UsageError if already aware)."""
    if not isinstance(naive, datetime):
        raise UsageError(f"expected a datetime, got {type(naive).__name__}")
    if naive.tzinfo is not None:
        raise UsageError("jst_to_utc takes a naive meter (JST) time")
    return naive.replace(tzinfo=JST).astimezone(UTC)


def utc_to_jst(when: datetime) -> datetime:
    """An aware instant → naive JST wall-clock time (what the meter shows)."""
    return _aware(when, "time").astimezone(JST).replace(tzinfo=None)


def jst_day_start(day: date) -> int:
    """Unix seconds of 00:00 JST on ``day``."""
    return (day - _EPOCH_DAY).days * DAY_SECONDS - JST_OFFSET


def jst_day(seconds: int) -> date:
    """The JST calendar day holding the instant ``seconds``."""
    return _EPOCH_DAY + timedelta(days=(seconds + JST_OFFSET) // DAY_SECONDS)


def slots_in(start: int, end: int) -> range:
    """Slot starts (unix seconds, multiples of 30 min) in [start, end)."""
    first = -(-start // SLOT_SECONDS) * SLOT_SECONDS
    return range(first, max(first, end), SLOT_SECONDS)
