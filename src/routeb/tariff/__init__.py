"""Electricity tariffs: the cost of recorded half-hours under a Japanese plan (docs/tariffs.md).

Pure code: it reads the one TOML file it is given and nothing else; no clock, no asyncio.
Money and energy are ``Decimal``; every price is in yen per kWh (or per month), tax included.
"""

from __future__ import annotations

from routeb.tariff._model import JST, SLOTS_PER_DAY, Bill, CostLine, DayUsage, HalfHour
from routeb.tariff._parse import CONTRACT_AMPERES, load_tariff, parse_tariff
from routeb.tariff._rounding import ROUNDING_MODES, apply_rounding
from routeb.tariff._tariff import (
    BaseCharge,
    Discount,
    MinimumCharge,
    Rounding,
    Tariff,
    Tier,
    TouPeriod,
)

__all__ = [
    "CONTRACT_AMPERES",
    "JST",
    "ROUNDING_MODES",
    "SLOTS_PER_DAY",
    "BaseCharge",
    "Bill",
    "CostLine",
    "DayUsage",
    "Discount",
    "HalfHour",
    "MinimumCharge",
    "Rounding",
    "Tariff",
    "Tier",
    "TouPeriod",
    "apply_rounding",
    "load_tariff",
    "parse_tariff",
]
