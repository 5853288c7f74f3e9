"""Cumulative energy: raw counts, the D3 × E1 scale, exact Decimal kWh, wrap at 10^D7.

protocol.md §B (general rules): kWh = raw × coefficient (0xD3, 1 when the meter lacks it) ×
unit (0xE1). Counters are u32 0..99,999,999 holding at most D7 significant digits, so they wrap
at 10^D7; 0xFFFFFFFE means "not measured / no data". No floats anywhere: every kWh is a
:class:`~decimal.Decimal` computed in a private context wide enough to be exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Context, Decimal
from types import MappingProxyType
from typing import Final

from routeb.errors import UsageError

__all__ = [
    "ENERGY_UNITS",
    "MAX_COEFFICIENT",
    "MAX_COUNT",
    "MAX_DIGITS",
    "NO_DATA_U32",
    "CumulativeEnergy",
    "EnergyScale",
    "EnergyUnit",
    "usage_between",
    "usage_kwh_between",
]

# protocol.md §B general rules: 0xFFFFFFFE = 未計測 for E0, E3, E2/E4 slots, EA/EB, EC/EE pairs, D0.
NO_DATA_U32: Final = 0xFFFFFFFE
# protocol.md §B general rules: counters are 0..99,999,999 (0x05F5E0FF).
MAX_COUNT: Final = 99_999_999
# protocol.md §B.1 0xD3: coefficient 0..999,999 (0x000F423F).
MAX_COEFFICIENT: Final = 999_999
# protocol.md §B.1 0xD7: 1..8 effective digits.
MIN_DIGITS: Final = 1
MAX_DIGITS: Final = 8
# protocol.md §B.1 0xE1: the only defined unit codes; any other code means "unit unknown".
ENERGY_UNITS: Final[Mapping[int, Decimal]] = MappingProxyType(
    {
        0x00: Decimal("1"),
        0x01: Decimal("0.1"),
        0x02: Decimal("0.01"),
        0x03: Decimal("0.001"),
        0x04: Decimal("0.0001"),
        0x0A: Decimal("10"),
        0x0B: Decimal("100"),
        0x0C: Decimal("1000"),
        0x0D: Decimal("10000"),
    }
)
# raw (8 digits) × coefficient (6 digits) × unit (≤ 5 digits) fits 19 digits; 40 keeps every
# product exact whatever the caller did to the thread's decimal context.
_EXACT: Final = Context(prec=40)
# 10^D7 for D7 = 0..8: the wrap modulus of a counter with D7 digits (§B general rules).
_POWERS_OF_TEN: Final[tuple[int, ...]] = (1, 10, 100, 1000, 10_000, 100_000, 10**6, 10**7, 10**8)


@dataclass(frozen=True, slots=True)
class EnergyUnit:
    """The E1 unit code; ``multiplier`` is kWh per count, or None for an undefined code."""

    code: int

    def __post_init__(self) -> None:
        if isinstance(self.code, bool) or not isinstance(self.code, int):
            raise UsageError("an E1 unit code is an int")
        if not 0 <= self.code <= 0xFF:
            raise UsageError(f"an E1 unit code is one byte, got {self.code}")

    @property
    def multiplier(self) -> Decimal | None:
        """kWh per count (§B.1 0xE1), None when the code is undefined (never guessed)."""
        return ENERGY_UNITS.get(self.code)

    @classmethod
    def from_kwh(cls, kwh: Decimal) -> EnergyUnit:
        """The unit code whose multiplier equals ``kwh`` (e.g. Decimal("0.01") → 0x02)."""
        for code, value in ENERGY_UNITS.items():
            if value == kwh:
                return cls(code)
        raise UsageError(f"{kwh} kWh is not an E1 unit (1, 0.1 … 0.0001, 10 … 10000)")


@dataclass(frozen=True, slots=True)
class EnergyScale:
    """D3 × E1: ``coefficient`` (1 when the meter lacks D3) and ``unit`` kWh (None = unknown)."""

    coefficient: int = 1
    unit: Decimal | None = None

    def __post_init__(self) -> None:
        if isinstance(self.coefficient, bool) or not isinstance(self.coefficient, int):
            raise UsageError("the D3 coefficient is an int")
        if not 0 <= self.coefficient <= MAX_COEFFICIENT:
            raise UsageError(f"the D3 coefficient is 0..999999, got {self.coefficient}")
        if self.unit is not None and (
            not isinstance(self.unit, Decimal) or not self.unit.is_finite() or self.unit <= 0
        ):
            raise UsageError(f"the energy unit must be a positive finite Decimal, got {self.unit}")

    @classmethod
    def from_meter(cls, coefficient: int | None, unit_code: int | None) -> EnergyScale:
        """The scale from the meter's D3 (None → 1) and E1 code (None or undefined → unknown)."""
        unit = None if unit_code is None else ENERGY_UNITS.get(unit_code)
        return cls(1 if coefficient is None else coefficient, unit)

    @property
    def multiplier(self) -> Decimal | None:
        """kWh per raw count (coefficient × unit), None when the unit is unknown."""
        if self.unit is None:
            return None
        return _EXACT.multiply(Decimal(self.coefficient), self.unit)

    def kwh(self, raw: int | None) -> Decimal | None:
        """raw × coefficient × unit as an exact Decimal; None for no data or an unknown unit."""
        if raw is None or self.unit is None:
            return None
        return _EXACT.multiply(_EXACT.multiply(Decimal(raw), Decimal(self.coefficient)), self.unit)


@dataclass(frozen=True, slots=True)
class CumulativeEnergy:
    """A cumulative counter (E0/E3): ``raw`` count, None when the meter has no data."""

    raw: int | None
    # The D3/E1 scale known when this value was decoded; not part of the wire value.
    scale: EnergyScale | None = field(default=None, compare=False)

    def kwh(self, scale: EnergyScale | None = None) -> Decimal | None:
        """Exact kWh with ``scale`` (or the scale bound at decode time); None if unknown."""
        use = scale if scale is not None else self.scale
        if use is None:
            return None
        return use.kwh(self.raw)


def _check_digits(digits: int) -> int:
    if isinstance(digits, bool) or not isinstance(digits, int):
        raise UsageError("D7 digits is an int")
    if not MIN_DIGITS <= digits <= MAX_DIGITS:
        raise UsageError(f"D7 digits is 1..8, got {digits}")
    return _POWERS_OF_TEN[digits]


def usage_between(earlier_raw: int, later_raw: int, digits: int) -> int:
    """Counts consumed from ``earlier_raw`` to ``later_raw``, across one wrap at 10^digits."""
    modulus = _check_digits(digits)
    for raw in (earlier_raw, later_raw):
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw < modulus:
            raise UsageError(f"a {digits}-digit counter is 0..{modulus - 1}, got {raw!r}")
    return (later_raw - earlier_raw) % modulus


def usage_kwh_between(
    earlier_raw: int, later_raw: int, digits: int, scale: EnergyScale
) -> Decimal | None:
    """:func:`usage_between` in exact kWh; None when the scale's unit is unknown."""
    return scale.kwh(usage_between(earlier_raw, later_raw, digits))
