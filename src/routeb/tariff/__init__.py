"""Electricity tariffs: the cost of recorded half-hours under a Japanese plan (docs/tariffs.md).

Pure code: it reads the one TOML file it is given and nothing else; no clock, no asyncio.
Money and energy are ``Decimal``; every price is in yen per kWh (or per month), tax included.
"""

from __future__ import annotations

from routeb.tariff._model import JST, Bill, CostLine, DayUsage, HalfHour
from routeb.tariff._parse import CONTRACT_AMPERES, load_tariff, parse_tariff
from routeb.tariff._rounding import ROUNDING_MODES, apply_rounding
from routeb.tariff._tariff import BaseCharge, Rounding, Tariff, Tier, TouPeriod

__all__ = [
    "CONTRACT_AMPERES",
    "JST",
    "ROUNDING_MODES",
    "BaseCharge",
    "Bill",
    "CostLine",
    "DayUsage",
    "HalfHour",
    "Rounding",
    "Tariff",
    "Tier",
    "TouPeriod",
    "apply_rounding",
    "load_tariff",
    "parse_tariff",
]
