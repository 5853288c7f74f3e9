"""What the bridge remembers of the meter, and for how long each property stays fresh.

Keys are ``(epc, selector)``: the selector is b"" for ordinary properties and the EDT of the
selector (E5/ED/EF) for history properties (E2/E4 by E5, EC by ED, EE by EF), so two LAN
clients reading different days never see each other's data. An entry with ``edt = None``
remembers that the meter refused the property (negative cache).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "CONFIGURATION_AGE",
    "DEFAULT_MAX_AGE",
    "HISTORY_SELECTORS",
    "SELECTOR_OF",
    "CacheEntry",
    "Freshness",
    "Key",
    "PropertyCache",
]

Key = tuple[int, bytes]

# protocol.md §B.1: E2/E4 are atomic with E5, EC with ED, EE with EF.
SELECTOR_OF: Final[Mapping[int, int]] = {0xE2: 0xE5, 0xE4: 0xE5, 0xEC: 0xED, 0xEE: 0xEF}
HISTORY_SELECTORS: Final = frozenset(SELECTOR_OF.values())
# Configuration (identity, scaling, maps): changes only with a new meter or firmware.
CONFIGURATION_AGE: Final = 6 * 3600.0
_CONFIGURATION: Final = (0x82, 0x8A, 0x8D, 0x9D, 0x9E, 0x9F, 0xC0, 0xD3, 0xD7, 0xE1)
# Seconds a value stays fresh. Instantaneous values: a few seconds (the meter samples about
# once a second; protocol.md §E: a 1-EPC Get answers in 0.3-1 s). Counters: half a minute.
# EA/EB change every 30 minutes and are refreshed by the meter's own INF.
DEFAULT_MAX_AGE: Final[Mapping[int, float]] = {
    0xE7: 3.0,
    0xE8: 3.0,
    0xE0: 30.0,
    0xE3: 30.0,
    0xD0: 30.0,
    0x97: 30.0,
    0x98: 300.0,
    0xEA: 300.0,
    0xEB: 300.0,
    0x80: 60.0,
    0x81: 600.0,
    0x88: 60.0,
    0xE5: 60.0,
    0xED: 60.0,
    0xEF: 60.0,
    0xE2: 300.0,
    0xE4: 300.0,
    0xEC: 300.0,
    0xEE: 60.0,
    **dict.fromkeys(_CONFIGURATION, CONFIGURATION_AGE),
}
_FALLBACK_AGE: Final = 60.0
# When the meter cannot be reached, a value may still be served up to this many times its
# freshness (configuration: always). Older measurements are refused (PDC = 0), never faked.
STALE_FACTOR: Final = 3.0


@dataclass(frozen=True, slots=True)
class Freshness:
    """Per-EPC maximum age in seconds, with overrides (``--fresh E7=1``)."""

    overrides: Mapping[int, float] = field(default_factory=dict)

    def max_age(self, epc: int) -> float:
        """Seconds a value of ``epc`` stays fresh."""
        age = self.overrides.get(epc)
        if age is not None:
            return age
        return DEFAULT_MAX_AGE.get(epc, _FALLBACK_AGE)

    def servable_age(self, epc: int) -> float:
        """The oldest value that may be served when a refresh failed or came too late."""
        age = self.max_age(epc)
        return float("inf") if age >= CONFIGURATION_AGE else age * STALE_FACTOR


@dataclass(slots=True)
class CacheEntry:
    """One property's EDT (None: the meter refused it) and when it was learned."""

    edt: bytes | None
    at: float


class PropertyCache:
    """EDTs by key, with their age judged by a :class:`Freshness` policy."""

    def __init__(self, freshness: Freshness | None = None) -> None:
        self.freshness = freshness or Freshness()
        self._entries: dict[Key, CacheEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: Key, edt: bytes | None, now: float) -> None:
        """Remember a value (or a refusal) learned at ``now``."""
        self._entries[key] = CacheEntry(edt, now)

    def forget(self, epc: int) -> None:
        """Drop every entry of ``epc`` (after a write through the bridge)."""
        for key in [k for k in self._entries if k[0] == epc]:
            del self._entries[key]

    def fresh(self, key: Key, now: float) -> bool:
        """True when the entry exists and is younger than its max age."""
        entry = self._entries.get(key)
        return entry is not None and now - entry.at <= self.freshness.max_age(key[0])

    def value(self, key: Key, now: float) -> bytes | None:
        """The EDT to serve now: fresh, or stale within the servable age; else None."""
        entry = self._entries.get(key)
        if entry is None or entry.edt is None:
            return None
        if now - entry.at <= self.freshness.servable_age(key[0]):
            return entry.edt
        return None

    def entry(self, key: Key) -> CacheEntry | None:
        """The raw entry (tests, status)."""
        return self._entries.get(key)
