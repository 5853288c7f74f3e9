"""Date and time fields inside EDTs: strict, total, naive (the meter's own clock, JST).

protocol.md §B (general rules): ``YYYY(u16 BE) MM DD hh mm ss`` is the 7-byte "date-time",
``YYYY MM DD hh mm`` the 6-byte "date-time_6"; §A.7: 0x97 is ``hh mm`` and 0x98 ``YYYY MM DD``.
A field whose bytes are all 0xFF is the default / unset value (§B.1 ED/EF/EC defaults
``FFFFFFFFFFFF``) and decodes to None. Anything else out of range raises
:class:`~routeb.errors.EchonetDecodeError` with the offset of the offending byte.
"""

from __future__ import annotations

import struct
from datetime import date, datetime, time
from typing import Final

from routeb.errors import EchonetDecodeError, UsageError

__all__ = [
    "DATETIME6_LEN",
    "DATETIME7_LEN",
    "DATE_LEN",
    "TIME_LEN",
    "datetime7_from",
    "datetime_error",
    "decode_date",
    "decode_datetime6",
    "decode_time",
    "encode_date",
    "encode_datetime6",
    "encode_datetime7",
    "encode_time",
]

# protocol.md §B general rules: 7-byte date-time and 6-byte date-time_6; §A.7 0x98 / 0x97.
DATETIME7_LEN: Final = 7
DATETIME6_LEN: Final = 6
DATE_LEN: Final = 4
TIME_LEN: Final = 2
# MRA ranges quoted in §B.1 (EA/EC layouts): YYYY 0x0001–0x270F, MM 1–12, DD 1–31, hh 0–23,
# mm 0–59, ss 0–59.
_MAX_YEAR: Final = 9999
_UNSET7: Final = b"\xff" * DATETIME7_LEN
_UNSET6: Final = b"\xff" * DATETIME6_LEN
_UNSET_DATE: Final = b"\xff" * DATE_LEN
_UNSET_TIME: Final = b"\xff" * TIME_LEN
_DAYS_IN_MONTH: Final = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DT6: Final = struct.Struct(">HBBBB")
_UNSET_YEAR: Final = 0xFFFF


def _check_date(edt: bytes, pos: int, epc: int | None) -> tuple[int, int, int]:
    year = edt[pos] << 8 | edt[pos + 1]
    month = edt[pos + 2]
    day = edt[pos + 3]
    if not 1 <= year <= _MAX_YEAR:
        raise EchonetDecodeError(f"year {year} is outside 1..9999", offset=pos, epc=epc)
    if not 1 <= month <= 12:
        raise EchonetDecodeError(f"month {month} is outside 1..12", offset=pos + 2, epc=epc)
    last = _DAYS_IN_MONTH[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        last = 29
    if not 1 <= day <= last:
        raise EchonetDecodeError(
            f"day {day} is outside 1..{last} for {year:04d}-{month:02d}", offset=pos + 3, epc=epc
        )
    return year, month, day


def _check_clock(edt: bytes, pos: int, count: int, epc: int | None) -> tuple[int, int, int]:
    hour = edt[pos]
    minute = edt[pos + 1]
    second = edt[pos + 2] if count == 3 else 0
    if hour > 23:
        raise EchonetDecodeError(f"hour {hour} is outside 0..23", offset=pos, epc=epc)
    if minute > 59:
        raise EchonetDecodeError(f"minute {minute} is outside 0..59", offset=pos + 1, epc=epc)
    if second > 59:
        raise EchonetDecodeError(f"second {second} is outside 0..59", offset=pos + 2, epc=epc)
    return hour, minute, second


def _need(edt: bytes, pos: int, size: int, epc: int | None) -> None:
    if pos < 0 or len(edt) < pos + size:
        raise EchonetDecodeError(
            f"a {size}-byte date/time field needs {pos + size} bytes, EDT has {len(edt)}",
            offset=len(edt),
            epc=epc,
        )


def datetime_error(edt: bytes, pos: int, count: int, epc: int | None) -> EchonetDecodeError:
    """The precise error (field and offset) for a date-time that ``datetime()`` refused.

    ``count`` is 3 for ``hh mm ss`` (7-byte date-time) and 2 for ``hh mm`` (6-byte).
    """
    try:
        _check_date(edt, pos, epc)
        _check_clock(edt, pos + 4, count, epc)
    except EchonetDecodeError as exc:
        return exc
    return EchonetDecodeError("invalid date-time", offset=pos, epc=epc)  # pragma: no cover


def datetime7_from(fields: tuple[int, ...], edt: bytes, epc: int) -> datetime | None:
    """The 7-byte date-time at the start of ``edt`` from its unpacked ``YYYY MM DD hh mm ss``.

    EA/EB and D0 unpack it in one ``struct`` call with their counters; None when all seven
    bytes are 0xFF.
    """
    if fields[0] == _UNSET_YEAR and edt[:DATETIME7_LEN] == _UNSET7:
        return None
    try:
        # datetime() checks exactly the ranges of §B: year 1..9999, month, day of month, clock.
        return datetime(fields[0], fields[1], fields[2], fields[3], fields[4], fields[5])
    except ValueError:
        pass
    raise datetime_error(edt, 0, 3, epc)


def decode_datetime6(edt: bytes, pos: int = 0, epc: int | None = None) -> datetime | None:
    """The 6-byte ``YYYY MM DD hh mm`` at ``pos`` (seconds 0); None when all six are 0xFF."""
    _need(edt, pos, DATETIME6_LEN, epc)
    year, month, day, hour, minute = _DT6.unpack_from(edt, pos)
    if year == _UNSET_YEAR and edt[pos : pos + DATETIME6_LEN] == _UNSET6:
        return None
    try:
        return datetime(year, month, day, hour, minute)
    except ValueError:
        pass
    raise datetime_error(edt, pos, 2, epc)


def decode_date(edt: bytes, pos: int = 0, epc: int | None = None) -> date | None:
    """The 4-byte ``YYYY MM DD`` at ``pos`` (0x98, §A.7); None when all four are 0xFF."""
    _need(edt, pos, DATE_LEN, epc)
    if edt[pos : pos + DATE_LEN] == _UNSET_DATE:
        return None
    return date(*_check_date(edt, pos, epc))


def decode_time(edt: bytes, pos: int = 0, epc: int | None = None) -> time | None:
    """The 2-byte ``hh mm`` at ``pos`` (0x97, §A.7); None when both are 0xFF."""
    _need(edt, pos, TIME_LEN, epc)
    if edt[pos : pos + TIME_LEN] == _UNSET_TIME:
        return None
    hour, minute, _ = _check_clock(edt, pos, 2, epc)
    return time(hour, minute)


def _naive(value: datetime) -> None:
    if value.tzinfo is not None:
        raise UsageError("meter date-times are naive local (JST) times; drop the tzinfo first")
    if value.microsecond:
        raise UsageError("meter date-times carry no fraction of a second")


def encode_datetime7(value: datetime | None) -> bytes:
    """The 7 wire bytes of a naive date-time (None → all 0xFF, the unset value)."""
    if value is None:
        return _UNSET7
    if not isinstance(value, datetime):
        raise UsageError(f"expected a datetime, got {type(value).__name__}")
    _naive(value)
    return bytes(
        (
            value.year >> 8,
            value.year & 0xFF,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
        )
    )


def encode_datetime6(value: datetime | None) -> bytes:
    """The 6 wire bytes of a naive date-time with zero seconds (None → all 0xFF)."""
    if value is None:
        return _UNSET6
    if not isinstance(value, datetime):
        raise UsageError(f"expected a datetime, got {type(value).__name__}")
    _naive(value)
    if value.second:
        raise UsageError("a 6-byte date-time has no seconds; pass a time with second=0")
    return bytes(
        (value.year >> 8, value.year & 0xFF, value.month, value.day, value.hour, value.minute)
    )


def encode_date(value: date | None) -> bytes:
    """The 4 wire bytes ``YYYY MM DD`` (None → all 0xFF)."""
    if value is None:
        return _UNSET_DATE
    if isinstance(value, datetime) or not isinstance(value, date):
        raise UsageError(f"expected a date, got {type(value).__name__}")
    return bytes((value.year >> 8, value.year & 0xFF, value.month, value.day))


def encode_time(value: time | None) -> bytes:
    """The 2 wire bytes ``hh mm`` (None → 0xFFFF); seconds must be zero."""
    if value is None:
        return _UNSET_TIME
    if not isinstance(value, time):
        raise UsageError(f"expected a time, got {type(value).__name__}")
    if value.second or value.microsecond or value.tzinfo is not None:
        raise UsageError("0x97 carries hours and minutes only (naive, second=0)")
    return bytes((value.hour, value.minute))
