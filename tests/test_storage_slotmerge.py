"""Slot merging (storage/slotmerge.py) against the rules of docs/storage.md, by property."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import assume, given
from hypothesis import strategies as st

from routeb.storage.slotmerge import SlotCounters, SlotMerge, merge_slot

SOURCES = ("push", "poll", "history2", "history1")
# Few distinct values, so that equal and different counters both turn up often.
raws = st.none() | st.integers(0, 3)
scales = st.sampled_from([(1, 0x01), (1, 0x02), (10, 0x01)])


@st.composite
def counters(draw: st.DrawFn) -> SlotCounters:
    imp, exp = draw(raws), draw(raws)
    coefficient, unit = draw(scales)
    return SlotCounters(
        imp,
        None if imp is None else draw(st.sampled_from(SOURCES)),
        exp,
        None if exp is None else draw(st.sampled_from(SOURCES)),
        coefficient,
        unit,
        draw(st.none() | st.sampled_from([6, 8])),
    )


def _raws(c: SlotCounters | None) -> tuple[int | None, int | None, int | None] | None:
    return None if c is None else (c.import_raw, c.export_raw, c.digits)


def _pairs(c: SlotCounters) -> tuple[tuple[int | None, str | None], tuple[int | None, str | None]]:
    return (c.import_raw, c.import_source), (c.export_raw, c.export_source)


@given(counters())
def test_a_first_reading_is_stored_as_it_is_unless_it_has_no_counter(reading: SlotCounters) -> None:
    merge = merge_slot(None, reading)
    if reading.empty:
        assert merge == SlotMerge(None, changed=False, conflicts=0)  # the boundary stays missing
    else:
        assert merge == SlotMerge(reading, changed=True, conflicts=0)


@given(counters(), counters())
def test_a_known_counter_is_never_overwritten(stored: SlotCounters, reading: SlotCounters) -> None:
    merged = merge_slot(stored, reading).counters
    assert merged is not None
    same_scale = (stored.coefficient, stored.unit_code) == (reading.coefficient, reading.unit_code)
    for (old, old_source), (new, new_source), (raw, source) in zip(
        _pairs(stored), _pairs(reading), _pairs(merged), strict=True
    ):
        if old is not None:
            assert (raw, source) == (old, old_source)  # first value wins, NULL never erases
        elif new is not None and (stored.empty or same_scale):
            assert (raw, source) == (new, new_source)  # a value fills a NULL
        else:
            assert (raw, source) == (None, None)  # nothing, or a counter of another scale
    if stored.digits is not None:
        assert merged.digits == stored.digits


@given(counters(), counters())
def test_conflicts_count_each_disagreement(stored: SlotCounters, reading: SlotCounters) -> None:
    merge = merge_slot(stored, reading)
    scale_differs = not stored.empty and (stored.coefficient, stored.unit_code) != (
        reading.coefficient,
        reading.unit_code,
    )
    expected = sum(
        new is not None and ((old is not None and old != new) or scale_differs)
        for (old, _), (new, _) in zip(_pairs(stored), _pairs(reading), strict=True)
    )
    expected += (
        stored.digits is not None and reading.digits is not None and stored.digits != reading.digits
    )
    assert merge.conflicts == expected


@given(counters(), counters())
def test_merging_the_same_reading_again_changes_nothing(
    stored: SlotCounters, reading: SlotCounters
) -> None:
    first = merge_slot(stored, reading)
    assert first.counters is not None
    again = merge_slot(first.counters, reading)
    assert again.counters == first.counters
    assert not again.changed
    assert again.conflicts == first.conflicts  # the same disagreement, counted again


@given(counters(), counters())
def test_changed_means_the_stored_counters_differ(
    stored: SlotCounters, reading: SlotCounters
) -> None:
    merge = merge_slot(stored, reading)
    assert merge.changed == (_raws(merge.counters) != _raws(stored))
    if not merge.changed:
        assert merge.counters == stored  # nothing to write, not even the scale


@given(counters(), counters())
def test_agreeing_readings_give_the_same_counters_in_either_order(
    a: SlotCounters, b: SlotCounters
) -> None:
    # A reading with no counter stores nothing on an absent boundary, not even its D7.
    assume(not a.empty and not b.empty)
    b = replace(b, coefficient=a.coefficient, unit_code=a.unit_code)
    one = merge_slot(merge_slot(None, a).counters, b)
    other = merge_slot(merge_slot(None, b).counters, a)
    if one.conflicts == 0 and other.conflicts == 0:
        assert _raws(one.counters) == _raws(other.counters)


@given(counters())
def test_the_first_counter_brings_its_scale(reading: SlotCounters) -> None:
    empty = SlotCounters(None, None, None, None, 99, None, None)
    merged = merge_slot(empty, reading).counters
    assert merged is not None
    if not reading.empty:
        assert (merged.coefficient, merged.unit_code) == (reading.coefficient, reading.unit_code)
