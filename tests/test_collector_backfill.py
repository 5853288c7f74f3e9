"""Backfill planning: recent gaps from history 2, older ones day by day, beyond 99 days lost."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from routeb.collector.backfill import HistoryDay, HistoryPairs, plan_backfill

NOW = datetime(2026, 5, 20, 14, 26, 40)
SLOT = timedelta(minutes=30)


def test_recent_gap_is_one_history2_request() -> None:
    missing = [datetime(2026, 5, 20, 12, 0) + SLOT * i for i in range(5)]  # 12:00..14:00
    plan = plan_backfill(missing, NOW)
    assert plan.requests == (HistoryPairs(datetime(2026, 5, 20, 14, 0), 5),)
    assert sorted(plan.requests[0].covers()) == missing  # type: ignore[union-attr]


def test_long_recent_gap_splits_into_runs_of_twelve() -> None:
    missing = [datetime(2026, 5, 20, 14, 0) - SLOT * i for i in range(12)]
    plan = plan_backfill(missing, NOW, recent_hours=12)
    assert plan.requests == (HistoryPairs(datetime(2026, 5, 20, 14, 0), 12),)
    missing.append(datetime(2026, 5, 20, 14, 0) - SLOT * 12)
    plan = plan_backfill(missing, NOW, recent_hours=12)
    assert plan.requests == (
        HistoryPairs(datetime(2026, 5, 20, 14, 0), 12),
        HistoryPairs(datetime(2026, 5, 20, 8, 0), 1),
    )


def test_older_slots_use_history1_per_day_newest_first() -> None:
    missing = [datetime(2026, 5, 18, 3, 30), datetime(2026, 5, 19, 0, 0), datetime(2026, 5, 18, 4)]
    plan = plan_backfill(missing, NOW)
    assert plan.requests == (HistoryDay(date(2026, 5, 19), 1), HistoryDay(date(2026, 5, 18), 2))


def test_without_ec_today_comes_from_e2() -> None:
    plan = plan_backfill([datetime(2026, 5, 20, 13, 30)], NOW, history2=False)
    assert plan.requests == (HistoryDay(date(2026, 5, 20), 0),)


def test_beyond_99_days_is_unrecoverable_and_future_ignored() -> None:
    old = datetime(2026, 5, 20, 0, 0) - timedelta(days=100)
    future = datetime(2026, 5, 20, 15, 0)
    plan = plan_backfill([old, future, datetime(2026, 2, 10, 0, 0)], NOW)
    assert plan.unrecoverable == (old,)
    assert plan.requests == (HistoryDay(date(2026, 2, 10), 99),)


@given(
    st.sets(
        st.integers(min_value=0, max_value=48 * 101).map(
            lambda k: datetime(2026, 5, 20, 14, 0) - SLOT * k
        ),
        max_size=300,
    )
)
def test_every_missing_slot_is_covered_or_declared_lost(missing: set[datetime]) -> None:
    plan = plan_backfill(missing, NOW)
    covered: set[datetime] = set(plan.unrecoverable)
    for request in plan.requests:
        if isinstance(request, HistoryPairs):
            assert 1 <= request.count <= 12
            covered.update(request.covers())
        else:
            assert 0 <= request.days_ago <= 99
            start = datetime.combine(request.day, datetime.min.time())
            covered.update(start + SLOT * i for i in range(48))
    assert missing <= covered
    days = [r.day for r in plan.requests if isinstance(r, HistoryDay)]
    assert len(days) == len(set(days))
