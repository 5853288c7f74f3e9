"""Rounding rules of a bill line."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Final

__all__ = ["ROUNDING_MODES", "apply_rounding"]

#: ``floor``: down to whole yen, towards minus infinity (−300.5 → −301).
#: ``down``: drop the fraction (切り捨て of the absolute value, towards zero: −300.5 → −300).
#: ``round-half-up``: to the nearest yen, halves away from zero (四捨五入: 0.5 → 1, −0.5 → −1).
#: ``none``: not to whole yen: kept to the sen (0.01 yen, half up), the precision prices are
#: published in, so that a prorated 935.25 × 4/1488 is 2.51, not 28 digits.
ROUNDING_MODES: Final = ("floor", "down", "round-half-up", "none")

_DECIMAL_MODES: Final = {"floor": ROUND_FLOOR, "down": ROUND_DOWN, "round-half-up": ROUND_HALF_UP}
SEN: Final = Decimal("0.01")


def apply_rounding(amount: Decimal, mode: str) -> Decimal:
    """Round ``amount`` (yen) to whole yen by ``mode``; ``none`` keeps it to the sen."""
    if mode == "none":
        rounded = amount.quantize(SEN, rounding=ROUND_HALF_UP)
    else:
        rounded = amount.to_integral_value(rounding=_DECIMAL_MODES[mode])
    return rounded + 0  # never −0: Decimal("-0") + 0 is 0
