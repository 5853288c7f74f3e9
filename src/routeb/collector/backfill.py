"""Which history requests fill which missing 30-minute readings (pure planning, no IO).

A "slot" here is a :00/:30 boundary of the meter's clock (naive JST) at which the cumulative
counters are wanted. The meter keeps them in two histories (protocol.md §B.1):
- history 2 — ED (newest boundary, n ≤ 12) → EC: both directions, going back 30 min per pair,
  so one request covers up to six hours (optional property: only when EC is in the Get map);
- history 1 — E5 (days ago, 0..99) → E2 (+ E4 for reverse): 48 boundaries of one whole day.
Recent gaps use history 2 (one small request for both directions); everything else within
the meter's 99 days uses history 1, one request per day. Older slots cannot be recovered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

from routeb.meter_time import SLOT

__all__ = ["HistoryDay", "HistoryPairs", "Plan", "plan_backfill"]

# protocol.md §B.1 E5: 0 = today … 99 days back.
MAX_DAYS_BACK: Final = 99
# protocol.md §B.1 EC/ED: up to 12 pairs, 30 minutes apart.
MAX_PAIRS: Final = 12


@dataclass(frozen=True, slots=True)
class HistoryPairs:
    """ED = (newest, count) then EC: boundaries newest, newest − 30 min, …"""

    newest: datetime
    count: int

    def covers(self) -> list[datetime]:
        return [self.newest - SLOT * i for i in range(self.count)]


@dataclass(frozen=True, slots=True)
class HistoryDay:
    """E5 = days_ago then E2/E4: the 48 boundaries of ``day``."""

    day: date
    days_ago: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Requests to make (most recent first) and slots beyond the meter's memory."""

    requests: tuple[HistoryPairs | HistoryDay, ...]
    unrecoverable: tuple[datetime, ...]


def _floor_slot(when: datetime) -> datetime:
    return when.replace(minute=when.minute // 30 * 30, second=0, microsecond=0)


def plan_backfill(
    missing: Iterable[datetime],
    meter_now: datetime,
    *,
    history2: bool = True,
    recent_hours: float = 6.0,
) -> Plan:
    """Requests that fill every slot in ``missing`` (naive meter time, on :00/:30).

    ``meter_now`` is the meter's clock; slots after its latest boundary are ignored (the
    future is not missing). ``history2`` says whether the meter has EC/ED.
    """
    latest = _floor_slot(meter_now)
    today = meter_now.date()
    recent_limit = latest - timedelta(hours=recent_hours)
    wanted = sorted({_floor_slot(m) for m in missing if m <= latest}, reverse=True)
    requests: list[HistoryPairs | HistoryDay] = []
    unrecoverable: list[datetime] = []
    days: dict[date, None] = {}
    recent: list[datetime] = []
    for slot in wanted:
        days_ago = (today - slot.date()).days
        if days_ago > MAX_DAYS_BACK:
            unrecoverable.append(slot)
        elif history2 and slot > recent_limit:
            recent.append(slot)
        else:
            days.setdefault(slot.date())
    # Group recent slots into runs of ≤ 12 consecutive boundaries, newest first.
    index = 0
    while index < len(recent):
        newest = recent[index]
        count = 1
        while (
            index + count < len(recent)
            and count < MAX_PAIRS
            and newest - recent[index + count] < SLOT * MAX_PAIRS
        ):
            count += 1
        span = int((newest - recent[index + count - 1]) / SLOT) + 1
        requests.append(HistoryPairs(newest, span))
        index += count
    for day in days:  # already newest first
        requests.append(HistoryDay(day, (today - day).days))
    return Plan(tuple(requests), tuple(sorted(unrecoverable)))
