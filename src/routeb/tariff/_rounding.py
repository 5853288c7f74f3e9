"""Rounding rules of a bill line."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Final

__all__ = ["ROUNDING_MODES", "apply_rounding"]

#: ``floor``: down to whole yen, towards minus infinity (−300.5 → −301).
#: ``down``: drop the fraction (切り捨て of the absolute value, towards zero: −300.5 → −300).
#: ``round-half-up``: to the nearest yen, halves away from zero (四捨五入: 0.5 → 1, −0.5 → −1).
#: ``none``: keep every digit.
ROUNDING_MODES: Final = ("floor", "down", "round-half-up", "none")

_DECIMAL_MODES: Final = {"floor": ROUND_FLOOR, "down": ROUND_DOWN, "round-half-up": ROUND_HALF_UP}


def apply_rounding(amount: Decimal, mode: str) -> Decimal:
    """Round ``amount`` (yen) to whole yen by ``mode``; ``none`` returns it unchanged."""
    if mode == "none":
        return amount
    return amount.to_integral_value(rounding=_DECIMAL_MODES[mode])
