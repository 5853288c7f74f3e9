"""The tariff itself: billing periods and the arithmetic of a bill (docs/tariffs.md)."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, TypeVar

from routeb.errors import UsageError
from routeb.glossary import term
from routeb.tariff._model import JST, SLOTS_PER_DAY, Bill, CostLine, DayUsage, HalfHour
from routeb.tariff._rounding import apply_rounding

__all__ = ["BaseCharge", "Discount", "MinimumCharge", "Rounding", "Tariff", "Tier", "TouPeriod"]

_ZERO: Final = Decimal(0)
_KWH_STEP: Final = Decimal("0.01")  # prorated tier limits are rounded to 0.01 kWh
_K = TypeVar("_K", int, tuple[int, int])
_DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _names(key: str, **values: object) -> tuple[str, str]:
    """A bill line's name in English and Japanese, from the one glossary (routeb/glossary.py)."""
    en, ja = term(key, "en"), term(key, "ja")
    for name, value in values.items():
        en, ja = en.replace("{" + name + "}", str(value)), ja.replace("{" + name + "}", str(value))
    return en, ja


_BASE: Final = _names("line.base_charge")
_MINIMUM: Final = _names("line.minimum_charge")
_ENERGY: Final = _names("line.energy")
_FUEL: Final = _names("line.fuel_adjustment")
_RENEWABLE: Final = _names("line.renewable_surcharge")


@dataclass(frozen=True)
class Tier:
    """One step of a tiered energy rate: ``up_to`` kWh per billing period (None: no limit)."""

    up_to: Decimal | None
    price: Decimal


@dataclass(frozen=True)
class TouPeriod:
    """One time-of-use period: the half-hour slots (0 = 00:00–00:30 … 47) and days it covers."""

    name: str
    name_ja: str
    price: Decimal
    slots: frozenset[int]
    days: frozenset[str]  # "everyday", "weekday", "holiday", "mon" … "sun"


@dataclass(frozen=True)
class BaseCharge:
    """The base charge of a full billing period, and how to show it."""

    monthly: Decimal
    detail: str  # "30 A", "6 kVA" or ""
    quantity: Decimal | None
    unit_price: Decimal | None
    source: str | None = None  # the tariff-file key: "base_charge.30", "base_charge.per_kva"


@dataclass(frozen=True)
class MinimumCharge:
    """最低料金: a charge per billing period that includes the first ``covers_kwh`` kWh."""

    amount: Decimal
    covers_kwh: Decimal


@dataclass(frozen=True)
class Discount:
    """A discount (割引) on every bill: yen off per billing period, or per kWh bought."""

    name: str
    name_ja: str
    per_period: Decimal  # yen off a whole period (prorated like the base charge)
    per_kwh: Decimal  # yen off each kWh bought
    source: str


@dataclass(frozen=True)
class Rounding:
    """The rounding mode of each kind of line (see ``routeb.tariff._rounding``)."""

    base_charge: str = "none"
    energy: str = "none"
    fuel_adjustment: str = "floor"
    renewable_surcharge: str = "floor"
    total: str = "floor"
    feed_in: str = "floor"
    discount: str = "down"


@dataclass(frozen=True)
class _RawLine:
    key: str
    label_en: str
    label_ja: str
    generic_en: str
    generic_ja: str
    quantity: Decimal | None
    unit_price: Decimal | None
    amount: Decimal  # unrounded
    rounding: str
    kind: str = "energy"
    source: str | None = None
    missing_price: bool = False
    unit: str | None = "kWh"


@dataclass(frozen=True)
class _Piece:
    lines: tuple[_RawLine, ...]
    import_kwh: Decimal
    export_kwh: Decimal
    feed_in: Decimal  # unrounded
    missing: int
    known: int
    period_slots: int


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _prev_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def _slot_start(half_hour: HalfHour) -> datetime:
    t = half_hour.start_jst
    return t.replace(minute=t.minute // 30 * 30, second=0, microsecond=0)


def _collect(usage: Iterable[HalfHour]) -> list[tuple[datetime, HalfHour]]:
    """The half-hours by JST slot start, in time order; a later duplicate replaces an earlier."""
    slots: dict[datetime, HalfHour] = {}
    for half_hour in usage:
        if not isinstance(half_hour, HalfHour):
            raise UsageError(f"usage must hold HalfHour values (got {half_hour!r})")
        slots[_slot_start(half_hour)] = half_hour
    return sorted(slots.items())


def _fmt_kwh(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _coverage(known: int, period_slots: int) -> tuple[str, str]:
    """How much of the period a part covers, for the labels of the prorated lines."""
    return (
        f"data for {known:,} of {period_slots:,} half-hours",
        f"30分値 {known:,}/{period_slots:,}件分",
    )


@dataclass(frozen=True, eq=False)
class Tariff:
    """An electricity plan: build it with ``load_tariff`` or ``parse_tariff``.

    Every price is in yen, tax included (税込), as the utilities publish them.
    """

    name: str
    contract_amperes: int | None
    contract_kva: Decimal | None
    read_day: int
    base_charge: BaseCharge
    tiers: tuple[Tier, ...] = ()
    periods: tuple[TouPeriod, ...] = ()
    read_days: Mapping[tuple[int, int], int] = field(default_factory=dict)
    fuel_adjustment: Mapping[tuple[int, int], Decimal] = field(default_factory=dict)
    fuel_adjustment_month: str = "end"
    renewable_surcharge: Mapping[int, Decimal] = field(default_factory=dict)
    renewable_year_start_month: int = 4
    missing_rates: str = "omit"
    feed_in_price: Decimal | None = None
    rounding: Rounding = field(default_factory=Rounding)
    tier_proration: str = "none"
    tier_base_days: int = 30
    holidays: frozenset[date] = frozenset()
    weekend: frozenset[int] = frozenset({5, 6})
    minimum_charge: MinimumCharge | None = None
    discounts: tuple[Discount, ...] = ()

    @property
    def capacity_va(self) -> int | None:
        """The contract as apparent power (VA): 契約アンペア × 100 V (1 A of an ampere plan is
        100 VA, docs/tariffs.md contract_amperes) or 契約容量 kVA × 1000; None if not given."""
        if self.contract_amperes is not None:
            return self.contract_amperes * 100
        if self.contract_kva is not None:
            return int(self.contract_kva * 1000)
        return None

    # -- billing periods ------------------------------------------------------------------

    def read_date(self, year: int, month: int) -> date:
        """The meter-read day (検針日) of a month: ``read_days`` override, else ``read_day``.

        A ``read_day`` past the end of a short month falls on the month's last day.
        """
        day = self.read_days.get((year, month), self.read_day)
        return date(year, month, min(day, calendar.monthrange(year, month)[1]))

    def billing_period(self, day: date) -> tuple[date, date]:
        """The billing period ``(start, end)`` containing ``day``; ``end`` is exclusive."""
        read = self.read_date(day.year, day.month)
        if day >= read:
            return read, self.read_date(*_next_month(day.year, day.month))
        return self.read_date(*_prev_month(day.year, day.month)), read

    def billing_periods(self, first: date, last: date) -> list[tuple[date, date]]:
        """Every billing period holding a day of ``first`` … ``last`` (both inclusive)."""
        if last < first:
            raise UsageError(f"billing_periods: last ({last}) is before first ({first})")
        periods = [self.billing_period(first)]
        while periods[-1][1] <= last:
            periods.append(self.billing_period(periods[-1][1]))
        return periods

    # -- bills ----------------------------------------------------------------------------

    def bill(self, usage: Iterable[HalfHour], start: date, end: date) -> Bill:
        """The bill of the usage inside ``[start, end)`` (JST calendar days, end exclusive).

        The fixed charges (base or minimum charge, discounts per period) and the tier limits
        are charged for the share of each billing period that has data: the half-hours given
        with a reading / the period's half-hours. A whole period with every reading is the
        utility's bill; a day before recording began, or one still to come, costs nothing. A
        range over several billing periods is billed as the parts of each period, and lines
        with the same key are added up.
        """
        if isinstance(start, datetime) or isinstance(end, datetime):
            raise UsageError("bill() takes dates (JST calendar days), not datetimes")
        if end <= start:
            raise UsageError(f"bill: end ({end}) must be after start ({start})")
        slots = _collect(usage)
        pieces: list[_Piece] = []
        for period_start, period_end in self.billing_periods(start, end - timedelta(days=1)):
            lo, hi = max(period_start, start), min(period_end, end)
            inside = [(t, h) for t, h in slots if lo <= t.date() < hi]
            pieces.append(self._piece(inside, period_start, period_end))
        return self._bill_of(pieces, start, end)

    def bill_days(self, days: Iterable[DayUsage], start: date, end: date) -> Bill:
        """``bill`` from day totals: the same bill, for a plan without time of use.

        A tiered plan prices the energy of a billing period, not of its half-hours, so a day's
        sums (and how many half-hours they hold) are all it needs — what the store's day
        rollups give for years of data at once.
        """
        if not self.tiers:
            raise UsageError(f"{self.name!r} prices by time of use: bill() needs the half-hours")
        if isinstance(start, datetime) or isinstance(end, datetime):
            raise UsageError("bill_days() takes dates (JST calendar days), not datetimes")
        if end <= start:
            raise UsageError(f"bill_days: end ({end}) must be after start ({start})")
        by_day: dict[date, DayUsage] = {}
        for usage in days:
            if not isinstance(usage, DayUsage):
                raise UsageError(f"days must hold DayUsage values (got {usage!r})")
            by_day[usage.day] = usage
        ordered = sorted(by_day.items())
        pieces: list[_Piece] = []
        for period_start, period_end in self.billing_periods(start, end - timedelta(days=1)):
            lo, hi = max(period_start, start), min(period_end, end)
            inside = [u for d, u in ordered if lo <= d < hi]
            bought = sum((u.import_kwh for u in inside if u.import_kwh is not None), _ZERO)
            sold = sum((u.export_kwh for u in inside if u.export_kwh is not None), _ZERO)
            missing = sum(u.missing for u in inside)
            known = sum(u.known_slots for u in inside)
            pieces.append(
                self._piece_of(bought, sold, missing, known, (), period_start, period_end)
            )
        return self._bill_of(pieces, start, end)

    def _bill_of(self, pieces: Sequence[_Piece], start: date, end: date) -> Bill:
        lines: dict[str, CostLine] = {}
        for piece in pieces:
            for raw in piece.lines:
                line = CostLine(
                    raw.key,
                    raw.label_en,
                    raw.label_ja,
                    raw.quantity,
                    raw.unit_price,
                    apply_rounding(raw.amount, raw.rounding),
                    raw.kind,
                    raw.source,
                    raw.missing_price,
                    raw.unit,
                )
                before = lines.get(raw.key)
                lines[raw.key] = line if before is None else _merge(before, line, raw)
        total = apply_rounding(
            sum((ln.amount for ln in lines.values()), _ZERO), self.rounding.total
        )
        feed_in = sum((apply_rounding(p.feed_in, self.rounding.feed_in) for p in pieces), _ZERO)
        return Bill(
            start=start,
            end=end,
            import_kwh=sum((p.import_kwh for p in pieces), _ZERO),
            export_kwh=sum((p.export_kwh for p in pieces), _ZERO),
            lines=tuple(lines.values()),
            total=total,
            feed_in_credit=feed_in,
            missing_slots=sum(p.missing for p in pieces),
            known_slots=sum(p.known for p in pieces),
            period_slots=sum(p.period_slots for p in pieces),
        )

    def energy_cost(self, usage: Iterable[HalfHour]) -> Decimal:
        """The energy-related cost of just these half-hours, without the fixed charges.

        Energy charge + fuel cost adjustment + renewable surcharge (+ discounts per kWh) at
        the rates of each half-hour's billing period, unrounded (so that the costs of single
        time-of-use half-hours add up exactly). With tiers,
        the half-hours of one billing period are billed together as the part of that period
        they cover (tier limits prorated like ``bill``), so this equals the energy lines of
        ``bill`` before their rounding to whole yen.
        """
        groups: dict[tuple[date, date], list[tuple[datetime, HalfHour]]] = {}
        period: tuple[date, date] | None = None
        for t, half_hour in _collect(usage):
            if period is None or not period[0] <= t.date() < period[1]:
                period = self.billing_period(t.date())
            groups.setdefault(period, []).append((t, half_hour))
        total = _ZERO
        for (period_start, period_end), items in groups.items():
            piece = self._piece(items, period_start, period_end)
            total += sum((ln.amount for ln in piece.lines if ln.kind != "fixed"), _ZERO)
        return total

    def period_energy_cost(self, bought: Decimal, day: date) -> Decimal:
        """The energy-related lines (unrounded) of the whole billing period holding ``day``
        if ``bought`` kWh were its usage: tier limits of the full period, never prorated.

        What a running total needs: the period's cost so far "as a whole period", so the
        increments of a growing total add up to the bill's energy lines (routeb.ha.cost).
        Tiered plans only: time-of-use prices need the half-hours (``energy_cost``).
        """
        if not self.tiers:
            raise UsageError(f"{self.name!r} prices by time of use: use energy_cost()")
        start, end = self.billing_period(day)
        slots = (end - start).days * SLOTS_PER_DAY
        piece = self._piece_of(bought, _ZERO, 0, slots, (), start, end)
        return sum((ln.amount for ln in piece.lines if ln.kind != "fixed"), _ZERO)

    # -- the arithmetic of one part of one billing period ---------------------------------

    def _piece(
        self,
        slots: Sequence[tuple[datetime, HalfHour]],
        period_start: date,
        period_end: date,
    ) -> _Piece:
        bought = sum((h.import_kwh for _, h in slots if h.import_kwh is not None), _ZERO)
        sold = sum((h.export_kwh for _, h in slots if h.export_kwh is not None), _ZERO)
        missing = sum(1 for _, h in slots if h.import_kwh is None)
        known = len(slots) - missing
        return self._piece_of(bought, sold, missing, known, slots, period_start, period_end)

    def _piece_of(
        self,
        bought: Decimal,
        sold: Decimal,
        missing: int,
        known: int,
        slots: Sequence[tuple[datetime, HalfHour]],
        period_start: date,
        period_end: date,
    ) -> _Piece:
        period_days = (period_end - period_start).days
        period_slots = period_days * SLOTS_PER_DAY
        known = min(known, period_slots)
        fraction = None if known == period_slots else Decimal(known) / period_slots
        lines = [self._fixed_line(fraction, known, period_slots)]
        if self.tiers:
            lines.extend(self._tier_lines(bought, period_days, fraction))
        else:
            lines.extend(self._tou_lines(slots))
        last_day = period_end - timedelta(days=1)
        lines.append(self._fuel_line(bought, period_start if self._fuel_by_start else last_day))
        lines.append(self._renewable_line(bought, last_day))
        lines.extend(self._discount_lines(bought, fraction, known, period_slots))
        feed_in = sold * self.feed_in_price if self.feed_in_price is not None else _ZERO
        return _Piece(tuple(lines), bought, sold, feed_in, missing, known, period_slots)

    @property
    def _fuel_by_start(self) -> bool:
        return self.fuel_adjustment_month == "start"

    def _fixed_line(self, fraction: Decimal | None, known: int, period_slots: int) -> _RawLine:
        """基本料金, or 最低料金 for a plan that has one, for the part of the period covered."""
        share_en, share_ja = _coverage(known, period_slots)
        if self.minimum_charge is not None:
            minimum = self.minimum_charge
            amount = minimum.amount if fraction is None else minimum.amount * fraction
            covers = _fmt_kwh(minimum.covers_kwh)
            extra_en = "" if fraction is None else f", {share_en}"
            extra_ja = "" if fraction is None else f"、{share_ja}"
            return _RawLine(
                "minimum_charge",
                f"{_MINIMUM[0]} (first {covers} kWh{extra_en})",
                f"{_MINIMUM[1]}（最初の{covers}kWhまで{extra_ja}）",
                *_MINIMUM,
                None,
                minimum.amount,
                amount,
                self.rounding.base_charge,
                kind="fixed",
                source="minimum_charge.amount",
                unit=None,
            )
        base = self.base_charge
        amount = base.monthly if fraction is None else base.monthly * fraction
        details_en = [base.detail] if base.detail else []
        details_ja = [base.detail.replace(" ", "")] if base.detail else []
        if fraction is not None:
            details_en.append(share_en)
            details_ja.append(share_ja)
        detail_en = f" ({', '.join(details_en)})" if details_en else ""
        detail_ja = "（" + "、".join(details_ja) + "）" if details_ja else ""
        return _RawLine(
            "base_charge",
            f"{_BASE[0]}{detail_en}",
            f"{_BASE[1]}{detail_ja}",
            *_BASE,
            base.quantity,
            base.unit_price,
            amount,
            self.rounding.base_charge,
            kind="fixed",
            source=base.source,
            unit=None if base.quantity is None else "kVA",
        )

    def _tier_lines(
        self, bought: Decimal, period_days: int, fraction: Decimal | None
    ) -> list[_RawLine]:
        factor = Decimal(1)
        if self.tier_proration == "days":
            factor = Decimal(period_days) / self.tier_base_days
        if fraction is not None:
            factor *= fraction

        def limit_of(kwh: Decimal) -> Decimal:
            if factor == 1:
                return kwh
            return (kwh * factor).quantize(_KWH_STEP, rounding=ROUND_HALF_UP)

        lines: list[_RawLine] = []
        remaining, lower, shown_lower = bought, _ZERO, _ZERO
        if self.minimum_charge is not None:  # its first kWh are paid by the minimum charge
            lower = limit_of(self.minimum_charge.covers_kwh)
            shown_lower = self.minimum_charge.covers_kwh
            remaining = max(bought - lower, _ZERO)
        for number, tier in enumerate(self.tiers, start=1):
            if tier.up_to is None:
                quantity = remaining
                range_en, range_ja = (
                    f"over {_fmt_kwh(shown_lower)} kWh",
                    f"{_fmt_kwh(shown_lower)}kWh超",
                )
            else:
                limit = limit_of(tier.up_to)
                quantity = min(remaining, max(limit - lower, _ZERO))
                lower = max(lower, limit)
                range_en = f"{_fmt_kwh(shown_lower)}–{_fmt_kwh(tier.up_to)} kWh"
                range_ja = f"{_fmt_kwh(shown_lower)}〜{_fmt_kwh(tier.up_to)}kWh"
                shown_lower = max(shown_lower, tier.up_to)
            remaining -= quantity
            tier_en, tier_ja = _names("line.tier", n=number)
            lines.append(
                _RawLine(
                    f"energy_tier_{number}",
                    f"{tier_en} ({range_en})",
                    f"{tier_ja}（{range_ja}）",
                    tier_en,
                    tier_ja,
                    quantity,
                    tier.price,
                    quantity * tier.price,
                    self.rounding.energy,
                    source=f"energy_rate[{number}].price",
                )
            )
        return lines

    def period_at(self, when: datetime) -> TouPeriod:
        """The time-of-use period of the half-hour starting at ``when`` (aware; JST applies)."""
        if not self.periods:
            raise UsageError(f"tariff {self.name!r} has no time-of-use periods")
        if when.tzinfo is None:
            raise UsageError("period_at() needs a timezone-aware datetime")
        t = when.astimezone(JST)
        slot = t.hour * 2 + t.minute // 30
        day = t.date()
        tags = {"everyday", _DAY_NAMES[day.weekday()]}
        tags.add("holiday" if self.is_holiday(day) else "weekday")
        for period in self.periods:
            if slot in period.slots and period.days & tags:
                return period
        # parse_tariff checks that the periods cover every half-hour of every kind of day.
        raise UsageError(f"no time-of-use period covers {t.isoformat()}")  # pragma: no cover

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` counts as a holiday: a weekend day or a listed holiday."""
        return day.weekday() in self.weekend or day in self.holidays

    def _tou_lines(self, slots: Sequence[tuple[datetime, HalfHour]]) -> list[_RawLine]:
        kwh: dict[str, Decimal] = {}
        for t, half_hour in slots:
            if half_hour.import_kwh is not None:
                name = self.period_at(t).name
                kwh[name] = kwh.get(name, _ZERO) + half_hour.import_kwh
        lines: list[_RawLine] = []
        seen: set[str] = set()
        for index, period in enumerate(self.periods, start=1):
            if period.name in seen:
                continue
            seen.add(period.name)
            quantity = kwh.get(period.name, _ZERO)
            label_en = f"{_ENERGY[0]} ({period.name})"
            label_ja = f"{_ENERGY[1]}（{period.name_ja}）"
            lines.append(
                _RawLine(
                    f"energy:{period.name}",
                    label_en,
                    label_ja,
                    label_en,
                    label_ja,
                    quantity,
                    period.price,
                    quantity * period.price,
                    self.rounding.energy,
                    source=f"period[{index}].price",
                )
            )
        return lines

    def _fuel_line(self, bought: Decimal, on: date) -> _RawLine:
        month = (on.year, on.month)
        shown = f"{on:%Y-%m}"
        used, price = self._rate(self.fuel_adjustment, month, "fuel_adjustment", shown)
        note_en = note_ja = ""
        if used is None:
            note_en, note_ja = ", no price in the tariff file", "、単価が料金ファイルにありません"
        elif used not in self.fuel_adjustment:
            note_en, note_ja = ", no price: 0 (missing_rates)", "、単価なし：0円として計算"
        elif used != month:
            note_en = f", price of {used[0]}-{used[1]:02d}"
            note_ja = f"、{used[0]}年{used[1]}月の単価"
        return _RawLine(
            "fuel_adjustment",
            f"{_FUEL[0]} ({shown}{note_en})",
            f"{_FUEL[1]}（{on.year}年{on.month}月分{note_ja}）",
            *_FUEL,
            bought,
            price,
            _ZERO if price is None else bought * price,
            self.rounding.fuel_adjustment,
            kind="fuel_adjustment",
            source=None
            if used is None
            else (
                f"fuel_adjustment.{used[0]}-{used[1]:02d}"
                if used in self.fuel_adjustment
                else "missing_rates"
            ),
            missing_price=price is None,
        )

    def fiscal_year(self, day: date) -> int:
        """The (Japanese) fiscal year of ``day``: April–March unless configured otherwise."""
        return day.year if day.month >= self.renewable_year_start_month else day.year - 1

    def _renewable_line(self, bought: Decimal, on: date) -> _RawLine:
        year = self.fiscal_year(on)
        used, price = self._rate(self.renewable_surcharge, year, "renewable_surcharge", f"FY{year}")
        note_en = note_ja = ""
        if used is None:
            note_en, note_ja = ", no rate in the tariff file", "、単価が料金ファイルにありません"
        elif used not in self.renewable_surcharge:
            note_en, note_ja = ", no rate: 0 (missing_rates)", "、単価なし：0円として計算"
        elif used != year:
            note_en, note_ja = f", rate of FY{used}", f"、{used}年度の単価"
        return _RawLine(
            "renewable_surcharge",
            f"{_RENEWABLE[0]} (FY{year}{note_en})",
            f"{_RENEWABLE[1]}（{year}年度{note_ja}）",
            *_RENEWABLE,
            bought,
            price,
            _ZERO if price is None else bought * price,
            self.rounding.renewable_surcharge,
            kind="renewable_surcharge",
            source=None
            if used is None
            else (
                f"renewable_surcharge.{used}"
                if used in self.renewable_surcharge
                else "missing_rates"
            ),
            missing_price=price is None,
        )

    def _discount_lines(
        self, bought: Decimal, fraction: Decimal | None, known: int, period_slots: int
    ) -> list[_RawLine]:
        lines: list[_RawLine] = []
        share_en, share_ja = _coverage(known, period_slots)
        for number, discount in enumerate(self.discounts, start=1):
            if discount.per_kwh:
                amount = -bought * discount.per_kwh
                quantity, unit_price, kind, unit = bought, -discount.per_kwh, "discount", "kWh"
                extra_en = extra_ja = ""
            else:
                whole = -discount.per_period
                amount = whole if fraction is None else whole * fraction
                quantity, unit_price, kind, unit = None, whole, "fixed", None
                extra_en = "" if fraction is None else f" ({share_en})"
                extra_ja = "" if fraction is None else f"（{share_ja}）"
            lines.append(
                _RawLine(
                    f"discount_{number}",
                    f"{discount.name}{extra_en}",
                    f"{discount.name_ja}{extra_ja}",
                    discount.name,
                    discount.name_ja,
                    quantity,
                    unit_price,
                    amount,
                    self.rounding.discount,
                    kind=kind,
                    source=discount.source,
                    unit=unit,
                )
            )
        return lines

    def _rate(
        self, table: Mapping[_K, Decimal], wanted: _K, key: str, shown: str
    ) -> tuple[_K | None, Decimal | None]:
        """The price for ``wanted`` and the key it comes from; ``missing_rates`` decides what a
        missing one becomes: None (``omit``: said on the line, never guessed), 0 (``zero``),
        the latest earlier one (``latest``, said on the line) or an error."""
        if wanted in table:
            return wanted, table[wanted]
        if self.missing_rates == "error":
            raise UsageError(f"{key}: the tariff {self.name!r} has no price for {shown}")
        if self.missing_rates == "zero":
            return wanted, _ZERO
        if self.missing_rates == "latest":
            earlier = [k for k in table if k < wanted]
            if earlier:
                latest = max(earlier)
                return latest, table[latest]
        return None, None


def _merge(before: CostLine, line: CostLine, raw: _RawLine) -> CostLine:
    same_labels = before.label_en == line.label_en
    quantity = (
        None
        if before.quantity is None or line.quantity is None
        else before.quantity + line.quantity
    )
    if raw.kind == "fixed":
        quantity = before.quantity if before.quantity == line.quantity else None
    return CostLine(
        raw.key,
        line.label_en if same_labels else raw.generic_en,
        line.label_ja if same_labels else raw.generic_ja,
        quantity,
        line.unit_price if before.unit_price == line.unit_price else None,
        before.amount + line.amount,
        raw.kind,
        line.source if before.source == line.source else None,
        before.missing_price or line.missing_price,
        raw.unit,
    )
