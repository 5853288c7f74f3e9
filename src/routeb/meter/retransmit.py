"""When to resend a request the meter did not answer: sans-IO timers for a lossy link.

The AIF response-wait timers (protocol.md §C 2.4.2: Timer 1 ≥ 20 s for OPC = 1, Timer 2 ≥ 60 s
for OPC ≥ 2) say how long a controller waits before it may conclude the meter did not answer.
Read as a retransmission timer they make one lost answer cost a minute, although the meter
answers a Get in 0.3–1.0 s (§E). So by default the client *retransmits* on an adaptive timer
learned from the measured round trips — RFC 6298 §2 (SRTT/RTTVAR, RTO = SRTT + 4·RTTVAR,
doubled per further attempt, §5.5) — and only *gives up* on a request after it has gone
unanswered for the AIF timer in total. ``strict_aif`` uses the AIF timer for every attempt.

* :class:`RetransmitTimer` — the estimator and the per-attempt timeout.
* :class:`SilenceMeter` — one "meter silent" report per AIF timer of continuous silence, so the
  recovery ladder climbs at the same pace whichever timer retransmits.
* :class:`SendBudget` — a sliding one-hour cap on requests sent, far inside the ARIB airtime
  budget (§E: 360 s of transmission per hour).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ADAPTIVE_FLOOR",
    "ADAPTIVE_INITIAL",
    "DEFAULT_SENDS_PER_HOUR",
    "RetransmitTimer",
    "SendBudget",
    "SilenceMeter",
]

# protocol.md §E: the meter answers a one-EPC Get 0.3–1.0 s after SKSENDTO; issue 16 §5 takes a
# round trip as under 1.4 s. A timer never shorter than this cannot fire before a normal answer,
# so a retransmission never puts a second request in flight while the first answer is coming.
ADAPTIVE_FLOOR: Final = 1.5
# protocol.md §C retry practice: "about 4000 ms is typical" for a multi-EPC Get (W2M); the timer
# before the first measured round trip (RFC 6298 §2.1 uses 1 s for the Internet; a meter is
# slower).
ADAPTIVE_INITIAL: Final = 4.0
# RFC 6298 §2: alpha = 1/8, beta = 1/4, K = 4; G: our clock granularity.
_ALPHA: Final = 0.125
_BETA: Final = 0.25
_K: Final = 4.0
_GRANULARITY: Final = 0.01
# protocol.md §E (ARIB STD-T108): ≤ 360 s of transmission per hour. A request frame takes
# (≈ 20 B + ≈ 60 B of headers) × 8 / 100 kbit/s ≈ 6.4 ms of air: 3600 requests an hour (one a
# second on average) are ≈ 23 s of air, leaving the budget to the answers' fragments, PANA and
# retransmissions below us (EVENT 21 01).
DEFAULT_SENDS_PER_HOUR: Final = 3600
_HOUR: Final = 3600.0


class RetransmitTimer:
    """RFC 6298 round-trip estimator for one meter."""

    __slots__ = ("floor", "initial", "rttvar", "samples", "srtt")

    def __init__(self, *, initial: float = ADAPTIVE_INITIAL, floor: float = ADAPTIVE_FLOOR) -> None:
        self.initial = initial
        self.floor = floor
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.samples = 0

    def sample(self, rtt: float) -> None:
        """A measured round trip (send of one TID to its answer), RFC 6298 §2.2–2.3."""
        rtt = max(0.0, rtt)
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = (1 - _BETA) * self.rttvar + _BETA * abs(self.srtt - rtt)
            self.srtt = (1 - _ALPHA) * self.srtt + _ALPHA * rtt
        self.samples += 1

    @property
    def rto(self) -> float:
        """The base timeout (before per-attempt doubling), never below ``floor``."""
        if self.srtt is None:
            return max(self.floor, self.initial)
        return max(self.floor, self.srtt + max(_GRANULARITY, _K * self.rttvar))

    def timeout(self, attempt: int, ceiling: float) -> float:
        """Attempt ``attempt`` (0 = first send) waits RTO × 2^attempt, at most ``ceiling``."""
        return min(ceiling, self.rto * (2.0 ** min(attempt, 16)))


@dataclass(slots=True)
class SilenceMeter:
    """Counts continuous silence; ``unanswered`` says how many AIF timers it now spans anew."""

    since: float | None = None
    reported: int = 0

    def answered(self) -> None:
        self.since = None
        self.reported = 0

    def unanswered(self, sent_at: float, now: float, aif_timer: float) -> int:
        """An attempt sent at ``sent_at`` timed out at ``now``: new reports due (0, 1, …)."""
        if self.since is None:
            self.since = sent_at
        spans = int((now - self.since) // aif_timer) if aif_timer > 0 else 1
        due = max(0, spans - self.reported)
        self.reported += due
        return due


class SendBudget:
    """At most ``limit`` sends in any hour (a sliding window)."""

    __slots__ = ("_sent", "limit", "window")

    def __init__(self, limit: int = DEFAULT_SENDS_PER_HOUR, window: float = _HOUR) -> None:
        self.limit = limit
        self.window = window
        self._sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more send is allowed (0: now)."""
        while self._sent and now - self._sent[0] >= self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.window - now

    def spend(self, now: float) -> None:
        self._sent.append(now)

    def used(self, now: float) -> int:
        self.wait(now)
        return len(self._sent)
