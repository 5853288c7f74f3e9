"""The values the tariff code takes and gives: half-hour readings, bill lines and bills."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from routeb.errors import UsageError
from routeb.meter_time import JST, SLOTS_PER_DAY

__all__ = ["JST", "SLOTS_PER_DAY", "Bill", "CostLine", "DayUsage", "HalfHour"]


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
    (None when there is none); ``missing`` counts the half-hours given without ``import_kwh``;
    ``known`` the half-hours with one (None: all 48 but the missing ones, or 0 without usage).
    """

    day: date
    import_kwh: Decimal | None
    export_kwh: Decimal | None
    missing: int = 0
    known: int | None = None

    @property
    def known_slots(self) -> int:
        """The half-hours of the day with a reading."""
        if self.known is not None:
            return self.known
        return 0 if self.import_kwh is None else SLOTS_PER_DAY - self.missing


@dataclass(frozen=True)
class CostLine:
    """One line of a bill. ``amount`` is in yen (tax included), after this line's rounding.

    ``kind`` is ``fixed`` (base or minimum charge, a discount per period), ``energy``,
    ``fuel_adjustment``, ``renewable_surcharge`` or ``discount`` (per kWh). ``source`` names
    the tariff-file key the price comes from (``energy_rate[2]``, ``fuel_adjustment.2026-04``);
    ``missing_price`` is true when the file has no price for it: the amount is then 0 and
    not part of the total, never another month's price guessed. ``unit`` is that of
    ``quantity`` (``kWh``, ``kVA``; None without a quantity).
    """

    key: str
    label_en: str
    label_ja: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal
    kind: str = "energy"
    source: str | None = None
    missing_price: bool = False
    unit: str | None = None


@dataclass(frozen=True)
class Bill:
    """The cost of the usage in ``[start, end)`` (JST calendar days; ``end`` is exclusive).

    ``total`` is the sum of the lines' amounts after the total's rounding. ``feed_in_credit`` is
    the money paid for sold energy: it is reported separately and not subtracted from
    ``total``. ``missing_slots`` counts the half-hours given with ``import_kwh=None``,
    ``known_slots`` those with a reading, ``period_slots`` the half-hours of the billing
    periods the range touches: the fixed charges are charged for ``known_slots`` of them.
    """

    start: date
    end: date
    import_kwh: Decimal
    export_kwh: Decimal
    lines: tuple[CostLine, ...]
    total: Decimal
    feed_in_credit: Decimal
    missing_slots: int
    known_slots: int = 0
    period_slots: int = 0

    @property
    def missing_prices(self) -> tuple[str, ...]:
        """The keys of the lines whose price the tariff file does not have."""
        return tuple(line.key for line in self.lines if line.missing_price)

    @property
    def energy_cost(self) -> Decimal:
        """The lines that depend on the energy bought (all but the fixed ones), added up."""
        return sum((line.amount for line in self.lines if line.kind != "fixed"), Decimal(0))
