"""The latest state of each meter, as plain data: what MQTT, /metrics and the dashboard show.

The collector owns the session and the client; everything downstream (export/, web/) sees
only these snapshots, so it never touches a driver or transport (architecture.md, layers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Final

__all__ = ["LinkSnapshot", "LiveHub", "LiveState"]

_BACKLOG: Final = 64


@dataclass(frozen=True, slots=True)
class LinkSnapshot:
    """Session and client counters at one moment (for /metrics and the Meter page)."""

    state: str = "closed"
    lqi: int | None = None
    rssi_dbm: float | None = None
    joins: int = 0
    scans: int = 0
    rejoins: Mapping[str, int] = field(default_factory=dict)
    recovery_steps: Mapping[str, int] = field(default_factory=dict)
    module_events: Mapping[str, int] = field(default_factory=dict)
    requests: int = 0
    timeouts: int = 0
    retransmissions: int = 0
    sna_answers: int = 0
    malformed: int = 0
    notifications: int = 0
    connected_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class LiveState:
    """One meter's latest values; None = unavailable (never shown as zero)."""

    meter: str
    online: bool = False
    power_w: int | None = None
    current_r_a: Decimal | None = None
    current_t_a: Decimal | None = None
    power_at: datetime | None = None
    energy_import_kwh: Decimal | None = None
    energy_export_kwh: Decimal | None = None
    energy_at: datetime | None = None
    last_slot_import_kwh: Decimal | None = None
    last_slot_export_kwh: Decimal | None = None
    last_slot_end: datetime | None = None
    fault: bool | None = None
    clock_skew_s: float | None = None
    last_seen: datetime | None = None
    link: LinkSnapshot = field(default_factory=LinkSnapshot)
    backfill_missing: int = 0
    backfill_filled: int = 0
    contract_amperes: int | None = None
    reason: str | None = None  # why the meter is not live (e.g. credentials refused), if known

    def updated(self, **changes: object) -> LiveState:
        """A copy with ``changes`` applied."""
        return replace(self, **changes)  # type: ignore[arg-type]


class LiveHub:
    """Holds the latest LiveState per meter and fans updates out to subscribers."""

    def __init__(self) -> None:
        self._states: dict[str, LiveState] = {}
        self._subscribers: set[asyncio.Queue[LiveState]] = set()

    def get(self, meter: str) -> LiveState | None:
        """The latest state of ``meter``."""
        return self._states.get(meter)

    def all(self) -> list[LiveState]:
        """Every meter's latest state."""
        return list(self._states.values())

    def publish(self, state: LiveState) -> None:
        """Store ``state`` and wake every subscriber (a slow one loses older updates)."""
        self._states[state.meter] = state
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(state)

    async def updates(self) -> AsyncIterator[LiveState]:
        """Every state published from now on."""
        queue: asyncio.Queue[LiveState] = asyncio.Queue(_BACKLOG)
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)
