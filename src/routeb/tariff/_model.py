"""The values the tariff code takes and gives: half-hour readings, bill lines and bills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from routeb.errors import UsageError
from routeb.meter_time import JST

__all__ = ["JST", "Bill", "CostLine", "HalfHour"]

#: Japan Standard Time. Japan has no daylight saving time, so a fixed offset is exact.


@dataclass(frozen=True)
class HalfHour:
    """The energy of one 30-minute slot, as recorded from the meter.

    ``start`` must be timezone-aware (any zone; it is converted to JST). ``import_kwh`` is the
    energy bought (正方向), ``None`` when the reading is missing; ``export_kwh`` the energy sold
    (逆方向), ``None`` when unknown or when there is no solar.
    """

    start: datetime
    import_kwh: Decimal | None
    export_kwh: Decimal | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise UsageError(f"HalfHour.start must be timezone-aware (got {self.start!r})")
        for name in ("import_kwh", "export_kwh"):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, Decimal) or not value.is_finite():
                raise UsageError(f"HalfHour.{name} must be a finite Decimal (got {value!r})")
            if value < 0:
                raise UsageError(f"HalfHour.{name} must not be negative (got {value})")

    @property
    def start_jst(self) -> datetime:
        """``start`` in JST."""
        return self.start.astimezone(JST)


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One JST day in totals: what a plan without time of use needs (``Tariff.bill_days``).

    ``import_kwh``/``export_kwh`` are the sums over the day's half-hours with a known value
    (None when there is none); ``missing`` counts the half-hours given without ``import_kwh``.
    """

    day: date
    import_kwh: Decimal | None
    export_kwh: Decimal | None
    missing: int = 0


@dataclass(frozen=True)
class CostLine:
    """One line of a bill. ``amount`` is in yen (tax included), after this line's rounding."""

    key: str
    label_en: str
    label_ja: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal


@dataclass(frozen=True)
class Bill:
    """The cost of the usage in ``[start, end)`` (JST calendar days; ``end`` is exclusive).

    ``total`` is the sum of the lines' amounts after the total's rounding. ``feed_in_credit`` is
    the money paid for sold energy: it is reported separately and not subtracted from
    ``total``. ``missing_slots`` counts the half-hours given with ``import_kwh=None``.
    """

    start: date
    end: date
    import_kwh: Decimal
    export_kwh: Decimal
    lines: tuple[CostLine, ...]
    total: Decimal
    feed_in_credit: Decimal
    missing_slots: int
