"""The agent's messages stay within what one message may claim (docs/fleet.md#limits): a home
replaying years of slots, or configured with a large ``max_rows``, sends messages the ingest
workers accept, never dead letters."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from routeb.fleet.publisher import messages_of, payloads_of
from routeb.fleet.schema import DAY, DEFAULT_LIMITS, decode
from routeb.storage.model import Change, InstantReading, Slot, SlotSource

NOW = int(time.time()) // 1800 * 1800


def _slot(seq: int, ts: int) -> Change:
    at = datetime.fromtimestamp(ts, UTC)
    push = SlotSource.PUSH
    return Change(
        seq, "slots", Slot("m", at, seq, push, 0, push, 1, 2, 6, None, None, 25, 0, seq=seq)
    )


def test_a_long_history_is_cut_at_the_days_limit() -> None:
    # Two years of slots, oldest first, as a home that joins the fleet sends them.
    days = 730
    start = NOW - days * DAY
    changes = [_slot(n + 1, start + n * 1800) for n in range(days * 48)]
    distinct = len({(start + n * 1800) // DAY for n in range(days * 48)})
    messages = messages_of("home", changes, max_rows=100_000)
    assert len(messages) == -(-distinct // DEFAULT_LIMITS.max_days)
    assert sum(m.readings for m in messages) == len(changes)
    for message in messages:
        assert len({ts // DAY for ts, *_ in message.slots}) <= DEFAULT_LIMITS.max_days
        for payload in payloads_of(message):
            assert decode(payload).slots  # accepted by a worker with the default limits


def test_a_message_over_the_size_limit_goes_in_parts() -> None:
    changes = [
        Change(n + 1, "instant", InstantReading("m", datetime.fromtimestamp(NOW - n, UTC), n))
        for n in range(60_000)
    ]
    (message,) = messages_of("home", changes, max_rows=60_000)
    payloads = payloads_of(message)
    assert len(payloads) > 1
    assert all(len(p) <= DEFAULT_LIMITS.max_bytes for p in payloads)
    rows = [tuple(row) for p in payloads for row in decode(p).instant]
    assert sorted(rows) == sorted(message.instant)


def test_two_meters_of_one_site_are_two_messages_on_two_topics() -> None:
    # issue 17 §4: the fleet stream names site and meter; a site with two meters sends each
    # meter's readings under its own topic, never mixed in one message.
    from routeb.fleet.schema import topic_for  # noqa: PLC0415 - this test only

    at = datetime.fromtimestamp(NOW, UTC)
    changes = [
        Change(1, "instant", InstantReading("house", at, 500, None, None)),
        Change(2, "instant", InstantReading("ev", at, 3100, None, None)),
        Change(3, "instant", InstantReading("house", at.replace(second=10), 510, None, None)),
    ]
    messages = messages_of("home-1", changes, max_rows=100)
    assert sorted(m.meter for m in messages) == ["ev", "house"]
    assert {m.site for m in messages} == {"home-1"}
    topics = {topic_for("routeb-fleet", m.site, m.meter) for m in messages}
    assert topics == {"routeb-fleet/v1/home-1/house", "routeb-fleet/v1/home-1/ev"}
    house = next(m for m in messages if m.meter == "house")
    assert [r[1] for r in house.instant] == [500, 510]  # (ts, power_w, current R, T)
