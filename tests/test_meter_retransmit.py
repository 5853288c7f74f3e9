"""The sans-IO parts of the request path for a lossy link: timer, silence, budget, splitting,
and the priority turns (issue 16 §5)."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from routeb.emulator.radio import ANSWER_DELAY, SEND_DONE
from routeb.meter.retransmit import (
    ADAPTIVE_FLOOR,
    ADAPTIVE_INITIAL,
    RetransmitTimer,
    SendBudget,
    SilenceMeter,
)
from routeb.meter.splitting import SplitPolicy
from routeb.meter.turns import Priority, Turns

rtts = st.floats(min_value=0.0, max_value=120.0, allow_nan=False)


def test_timer_before_any_sample_and_after_steady_round_trips() -> None:
    timer = RetransmitTimer()
    assert timer.rto == ADAPTIVE_INITIAL
    for _ in range(50):
        timer.sample(0.7)
    assert timer.srtt is not None
    assert abs(timer.srtt - 0.7) < 1e-6
    assert timer.rto == ADAPTIVE_FLOOR  # 0.7 s + 4·RTTVAR(→0) is under the floor
    # RFC 6298 §5.5: each further attempt doubles, up to the AIF timer.
    assert [timer.timeout(n, 20.0) for n in range(5)] == [1.5, 3.0, 6.0, 12.0, 20.0]


def test_timer_learns_a_slow_meter() -> None:
    timer = RetransmitTimer()
    for _ in range(30):
        timer.sample(25.0)  # `--fault slow=25`
    assert timer.rto > 25.0  # never retransmits before the slow answer could come
    assert timer.timeout(0, 60.0) > 25.0


@given(st.lists(rtts, min_size=0, max_size=40), st.integers(0, 40), rtts)
def test_timeout_is_bounded_and_grows_with_attempts(
    samples: list[float], attempt: int, ceiling: float
) -> None:
    timer = RetransmitTimer()
    for rtt in samples:
        timer.sample(rtt)
    assert timer.rto >= ADAPTIVE_FLOOR
    first, later = timer.timeout(attempt, ceiling), timer.timeout(attempt + 1, ceiling)
    assert first <= ceiling
    assert later <= ceiling
    assert later >= first


def test_the_floor_is_above_the_longest_normal_round_trip() -> None:
    """§E: the answer comes at most 1.0 s after SKSENDTO, whose EVENT 21 takes up to 0.35 s;
    a timer shorter than that would put a second request in flight beside a normal answer."""
    # The round trip is timed from the send's completion (EVENT 21), so EVENT 21 only helps.
    assert min(SEND_DONE) > 0
    assert max(ANSWER_DELAY) < ADAPTIVE_FLOOR


def test_silence_reports_once_per_aif_timer() -> None:
    meter = SilenceMeter()
    # Attempts every 1.5–6 s during 70 s of silence, Timer 2 = 60 s: one report, at 60 s.
    reports = [meter.unanswered(0.0, t, 60.0) for t in (1.5, 4.5, 10.5, 22.5, 46.5, 70.0)]
    assert reports == [0, 0, 0, 0, 0, 1]
    assert meter.unanswered(0.0, 125.0, 60.0) == 1
    meter.answered()
    assert meter.unanswered(200.0, 201.5, 60.0) == 0
    # strict AIF: every attempt waits the whole timer, so every timeout is one report.
    strict = SilenceMeter()
    assert [strict.unanswered(t - 20.0, t, 20.0) for t in (20.0, 40.0, 60.0)] == [1, 1, 1]


def test_send_budget_is_a_sliding_hour() -> None:
    budget = SendBudget(limit=3, window=3600.0)
    for t in (0.0, 10.0, 20.0):
        assert budget.wait(t) == 0.0
        budget.spend(t)
    assert budget.wait(30.0) == 3570.0
    assert budget.wait(3600.0) == 0.0
    assert budget.used(3600.0) == 2


@given(
    st.lists(st.integers(0, 255), min_size=1, max_size=6, unique=True).map(tuple),
    st.lists(st.booleans(), max_size=30),
)
def test_split_pieces_are_always_exactly_the_batch(
    batch: tuple[int, ...], outcomes: list[bool]
) -> None:
    policy = SplitPolicy(limit=2, rejoin=5)
    for ok in outcomes:
        pieces = policy.plan(batch)
        assert [e for piece in pieces for e in piece] == list(batch)
        assert all(pieces)
        for piece in pieces:
            if ok:
                policy.answered(piece)
            else:
                policy.failed(piece)


def test_a_batch_that_keeps_failing_is_halved_then_whole_again() -> None:
    policy = SplitPolicy(limit=2, rejoin=3)
    batch = (0xE7, 0xE8)
    assert policy.plan(batch) == [batch]
    assert not policy.failed(batch)
    policy.answered(batch)  # an answer in between: the count starts again
    assert not policy.failed(batch)
    assert policy.failed(batch)  # the second failure in a row splits it
    assert policy.plan(batch) == [(0xE7,), (0xE8,)]
    assert not policy.failed((0xE7,))  # a single EPC cannot be split
    for _ in range(3):
        for piece in policy.plan(batch):
            policy.answered(piece)
    assert policy.plan(batch) == [batch]


async def test_live_goes_before_background_fifo_within_a_priority() -> None:
    turns = Turns()
    order: list[str] = []
    await turns.acquire(Priority.BACKGROUND)

    async def take(name: str, priority: Priority) -> None:
        async with turns.turn(priority):
            order.append(name)

    tasks = [
        asyncio.create_task(take("history-1", Priority.BACKGROUND)),
        asyncio.create_task(take("live-1", Priority.LIVE)),
        asyncio.create_task(take("live-2", Priority.LIVE)),
    ]
    await asyncio.sleep(0)
    assert turns.more_urgent_waiting(Priority.BACKGROUND)
    assert not turns.more_urgent_waiting(Priority.LIVE)
    turns.release()
    await asyncio.gather(*tasks)
    assert order == ["live-1", "live-2", "history-1"]
    assert not turns.locked


async def test_a_cancelled_waiter_does_not_keep_the_turn() -> None:
    turns = Turns()
    await turns.acquire(Priority.LIVE)
    waiter = asyncio.create_task(turns.acquire(Priority.LIVE))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.sleep(0)
    turns.release()
    assert not turns.locked
    await asyncio.wait_for(turns.acquire(Priority.BACKGROUND), 0.1)
