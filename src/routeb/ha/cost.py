"""The tariff's cost of each complete hour, so the Energy dashboard shows routeb's yen.

homeassistant.md §5: with an external energy statistic Home Assistant computes no cost, and a
Japanese plan (tiers, fuel-cost adjustment, renewable surcharge; docs/tariffs.md) is no single
price per kWh, so routeb imports the cost as its own statistic. Only the energy-related lines
count (energy charge, fuel-cost adjustment, renewable surcharge); the monthly base charge is
not energy and stays out. A tiered plan prices a billing period's energy as a whole: each
hour's cost is what the period's energy charge grows by when that hour is added, so the hours
of a whole period add up to the bill's energy lines exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

from routeb.storage.model import Slot, e4_to_kwh
from routeb.storage.times import SLOT_SECONDS, from_epoch, to_epoch
from routeb.tariff import JST, HalfHour, Tariff

__all__ = ["hourly_costs"]

_HOUR = 3600


def _complete_hours(slots: Iterable[Slot]) -> list[tuple[int, Decimal, Decimal]]:
    use: dict[int, int] = {}
    for slot in slots:
        if slot.import_use_e4 is not None:
            use[to_epoch(slot.at)] = slot.import_use_e4
    out = []
    for hour in sorted({ts - ts % _HOUR for ts in use}):
        first, second = use.get(hour), use.get(hour + SLOT_SECONDS)
        if first is not None and second is not None:
            a, b = e4_to_kwh(first), e4_to_kwh(second)
            assert a is not None
            assert b is not None
            out.append((hour, a, b))
    return out


def hourly_costs(tariff: Tariff, slots: Iterable[Slot]) -> dict[int, Decimal]:
    """Yen per complete hour of energy bought: {hour start, unix seconds: cost}."""
    hours = _complete_hours(slots)
    costs: dict[int, Decimal] = {}
    if not tariff.tiers:
        # Time of use: each half-hour has its own price; an hour is its two half-hours.
        for hour, a, b in hours:
            start = from_epoch(hour)
            pair = [HalfHour(start, a), HalfHour(start + timedelta(minutes=30), b)]
            costs[hour] = tariff.energy_cost(pair)
        return costs
    period: tuple[date, date] | None = None
    bought = before = Decimal(0)
    for hour, a, b in hours:
        day = from_epoch(hour).astimezone(JST).date()
        if period is None or not period[0] <= day < period[1]:
            period = tariff.billing_period(day)
            bought = before = Decimal(0)
        bought += a + b
        # The period so far, billed as the whole period (the tier limits are the full
        # period's, not prorated to the part recorded so far).
        so_far = tariff.period_energy_cost(bought, day)
        costs[hour] = so_far - before
        before = so_far
    return costs
