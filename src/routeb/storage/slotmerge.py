"""Merging a reading of a 30-minute boundary into what is stored there: a pure function.

The rules of docs/storage.md ("Sources and precedence"), per direction: a NULL never
overwrites a value; a value fills a NULL (and brings its source); the first value wins, and a
later different value — or one read with a different D3 × E1 scale — is a conflict, counted
and not stored; the same value again changes nothing. D7 digits follow the same rules. A
boundary with no counter yet takes the scale of the first reading that brings one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["SlotCounters", "SlotMerge", "merge_slot"]


@dataclass(frozen=True, slots=True)
class SlotCounters:
    """The counters of one boundary with their sources and scale (a row of ``slots``, or a
    reading of it; sources are SlotSource values, None where the counter is)."""

    import_raw: int | None
    import_source: str | None
    export_raw: int | None
    export_source: str | None
    coefficient: int
    unit_code: int | None
    digits: int | None

    @property
    def empty(self) -> bool:
        """No counter in either direction."""
        return self.import_raw is None and self.export_raw is None


@dataclass(frozen=True, slots=True)
class SlotMerge:
    """The outcome: what the boundary holds now, whether that changed, and the conflicts."""

    counters: SlotCounters | None  # None: nothing stored and nothing to store
    changed: bool
    conflicts: int


def merge_slot(stored: SlotCounters | None, reading: SlotCounters) -> SlotMerge:
    """``reading`` merged into the boundary as ``stored`` (None: no row yet)."""
    if stored is None:
        if reading.empty:
            return SlotMerge(None, changed=False, conflicts=0)  # the boundary stays missing
        return SlotMerge(reading, changed=True, conflicts=0)
    base = stored
    if stored.empty:
        # Nothing measured here yet: the first counter brings its scale.
        base = replace(stored, coefficient=reading.coefficient, unit_code=reading.unit_code)
    same_scale = (base.coefficient, base.unit_code) == (reading.coefficient, reading.unit_code)
    imp, imp_source, imp_conflict = _direction(
        base.import_raw, base.import_source, reading.import_raw, reading.import_source, same_scale
    )
    exp, exp_source, exp_conflict = _direction(
        base.export_raw, base.export_source, reading.export_raw, reading.export_source, same_scale
    )
    conflicts = imp_conflict + exp_conflict
    digits = base.digits
    if reading.digits is not None:
        if digits is None:
            digits = reading.digits
        elif digits != reading.digits:
            conflicts += 1
    merged = replace(
        base,
        import_raw=imp,
        import_source=imp_source,
        export_raw=exp,
        export_source=exp_source,
        digits=digits,
    )
    changed = (merged.import_raw, merged.export_raw, merged.digits) != (
        stored.import_raw,
        stored.export_raw,
        stored.digits,
    )
    return SlotMerge(merged if changed else stored, changed=changed, conflicts=conflicts)


def _direction(
    raw: int | None, source: str | None, new: int | None, new_source: str | None, same_scale: bool
) -> tuple[int | None, str | None, int]:
    """(counter, source, conflicts) of one direction after the reading ``new``."""
    if new is None:
        return raw, source, 0  # a NULL never overwrites (and is no conflict)
    if raw is None and same_scale:
        return new, new_source, 0  # fills the gap
    if raw != new or not same_scale:
        return raw, source, 1  # the first value wins
    return raw, source, 0  # the same value again
