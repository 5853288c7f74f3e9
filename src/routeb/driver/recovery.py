"""The recovery ladder (issue: driver §2): which rung next, and when to climb.

Consecutive unanswered requests climb retry → rejoin → rescan → reset the module → reopen the
port; an answer starts again from the bottom. A failed rung escalates to the next one (a lost
device straight to reopening) after a bounded, jittered backoff (:mod:`.backoff`). The session
performs the rungs; this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routeb.driver.backoff import Backoff, RecoveryStep
from routeb.errors import DeviceError

__all__ = ["RecoveryLadder", "escalate", "parse_step"]


def escalate(step: RecoveryStep, exc: BaseException) -> RecoveryStep:
    """The rung to try after ``step`` failed with ``exc``."""
    if isinstance(exc, DeviceError):
        return RecoveryStep.REOPEN_PORT
    order = list(RecoveryStep)
    index = order.index(step)
    return order[min(index + 1, len(order) - 1)]


def parse_step(text: str) -> RecoveryStep:
    """A rung from its name (a trigger's detail); anything else means rejoin."""
    try:
        return RecoveryStep(text)
    except ValueError:
        return RecoveryStep.REJOIN


@dataclass(slots=True)
class RecoveryLadder:
    """Counts unanswered requests and picks the rung for the next one."""

    ladder: tuple[RecoveryStep, ...]
    backoff: Backoff = field(default_factory=Backoff)
    unanswered: int = 0

    def answered(self) -> None:
        """The meter answered (or the link came up): start again from the bottom."""
        self.unanswered = 0
        self.backoff.reset()

    def climb(self) -> RecoveryStep:
        """One more unanswered request: the rung to take now."""
        self.unanswered += 1
        return self.ladder[min(self.unanswered, len(self.ladder)) - 1]

    def delay(self) -> float:
        """How long to wait before the next attempt."""
        return self.backoff.next_delay()
