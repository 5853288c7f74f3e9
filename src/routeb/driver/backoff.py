"""Bounded exponential backoff with jitter, and the recovery ladder's counters."""

from __future__ import annotations

import enum
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Backoff", "RecoveryStats", "RecoveryStep"]

# Retrying a radio link: start fast (a lost frame), end slow (a meter that is really gone),
# never so slow that a returning meter waits long. Jitter spreads retries of many homes.
DEFAULT_BASE: Final = 1.0
DEFAULT_CAP: Final = 300.0
DEFAULT_JITTER: Final = 0.2


@dataclass(slots=True)
class Backoff:
    """delay(n) = min(cap, base × 2^n) × (1 ± jitter); ``reset`` after a success."""

    base: float = DEFAULT_BASE
    cap: float = DEFAULT_CAP
    jitter: float = DEFAULT_JITTER
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The delay before the next attempt, and count it."""
        raw: float = min(self.cap, self.base * float(2 ** min(self.attempt, 30)))
        self.attempt += 1
        return max(0.0, raw * (1 + self.rng.uniform(-self.jitter, self.jitter)))

    def reset(self) -> None:
        """Start again from ``base``."""
        self.attempt = 0


class RecoveryStep(enum.Enum):
    """The rungs of the recovery ladder, gentlest first (issue: driver §2)."""

    RETRY = "retry"
    REJOIN = "rejoin"
    RESCAN = "rescan"
    RESET_MODULE = "reset_module"
    REOPEN_PORT = "reopen_port"


@dataclass(slots=True)
class RecoveryStats:
    """Counters per step and per reason, exposed for metrics."""

    steps: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    joins: int = 0
    scans: int = 0

    def record(self, step: RecoveryStep, reason: str) -> None:
        """Count one recovery action and why it happened."""
        self.steps[step.value] += 1
        self.reasons[reason] += 1
