"""When a PANA failure is proof enough to stop trying the credentials (issue 16 §4).

Trying wrong credentials again and again hammers the meter (and may lock the account with
the utility), so a real rejection is latched: not retried until the user says so. But one
SKSTACK ``EVENT 24`` proves nothing — it means "PANA failed", which a lost exchange at the
edge of range also produces (protocol.md §D.2). So:

- J11 says it directly: 0x6028 result 0x02 is a rejection, 0x03 no response (j11.md §5, §8.3):
  latch on the first 0x02, never on 0x03.
- SKSTACK: a failure in which the meter answered PANA is evidence; it latches only when it
  repeats at least ``confirm_gap`` seconds after the first one (two failed joins minutes
  apart). Sooner, the join is tried again once the gap has passed.
- A join nobody answered is never evidence (the recovery ladder deals with it).
"""

from __future__ import annotations

from dataclasses import dataclass

from routeb.radio.base import JoinOutcome, JoinResult

__all__ = ["AuthEvidence", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Latch now, or try again after ``retry_in`` seconds."""

    latch: bool
    retry_in: float = 0.0


@dataclass(slots=True)
class AuthEvidence:
    """The failed joins seen since the last successful one."""

    confirm_gap: float
    first_failure: float | None = None  # monotonic time of the first ambiguous failure

    def joined(self) -> None:
        """A join succeeded: the credentials are good, forget earlier failures."""
        self.first_failure = None

    def judge(self, result: JoinResult, now: float) -> Verdict:
        """What a failed join with ``result`` at ``now`` means for the credentials."""
        if result.outcome is JoinOutcome.REJECTED:
            return Verdict(latch=True)
        if result.outcome is not JoinOutcome.FAILED or not result.pana_messages:
            return Verdict(latch=False)
        if self.first_failure is None:
            self.first_failure = now
            return Verdict(latch=False, retry_in=self.confirm_gap)
        elapsed = now - self.first_failure
        if elapsed >= self.confirm_gap:
            return Verdict(latch=True)
        return Verdict(latch=False, retry_in=self.confirm_gap - elapsed)
