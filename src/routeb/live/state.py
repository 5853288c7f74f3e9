"""One meter's latest values as plain data, and the typed updates that change them.

The collector owns the session and the client; everything downstream (export/, web/, the
sinks) sees only these snapshots, so it never touches a driver or a transport
(docs/architecture.md, layers). An update is a frozen value with one ``apply``: adding a kind
of update is one class here, not a new keyword threaded through ``**changes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

__all__ = [
    "SLOT",
    "BackfillProgress",
    "EnergyValues",
    "InstantValues",
    "LinkChanged",
    "LinkSnapshot",
    "LiveState",
    "LiveUpdate",
    "MeterHealth",
    "Offline",
    "SlotValues",
    "Stale",
]

# protocol.md §B.1 0xEA/0xEB: the meter's fixed-time counters come every 30 minutes.
SLOT: Final = timedelta(minutes=30)


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
    # Why the meter is not online, as a short code ("credentials_rejected", "no_connection")
    # for /metrics, and as a sentence saying what to do for the dashboard and STATUS=.
    down_reason: str | None = None
    down_detail: str | None = None

    @property
    def last_slot_start(self) -> datetime | None:
        """Where the last 30-minute slot began (its values cover [start, end))."""
        return None if self.last_slot_end is None else self.last_slot_end - SLOT


@dataclass(frozen=True, slots=True)
class InstantValues:
    """E7 power and E8 currents read at ``at`` (protocol.md §B.1); the meter answered."""

    at: datetime
    power_w: int | None
    current_r_a: Decimal | None
    current_t_a: Decimal | None

    def apply(self, state: LiveState) -> LiveState:
        """``state`` with these values."""
        return replace(
            state,
            online=True,
            power_w=self.power_w,
            current_r_a=self.current_r_a,
            current_t_a=self.current_t_a,
            power_at=self.at,
            last_seen=self.at,
        )


@dataclass(frozen=True, slots=True)
class EnergyValues:
    """E0/E3 cumulative energy (D3 × E1 applied) read at ``at``; the meter answered."""

    at: datetime
    import_kwh: Decimal | None
    export_kwh: Decimal | None

    def apply(self, state: LiveState) -> LiveState:
        """``state`` with these counters."""
        return replace(
            state,
            online=True,
            energy_import_kwh=self.import_kwh,
            energy_export_kwh=self.export_kwh,
            energy_at=self.at,
            last_seen=self.at,
        )


@dataclass(frozen=True, slots=True)
class SlotValues:
    """The energy of the 30-minute slot ending at ``end``; None where it is not known."""

    end: datetime
    import_kwh: Decimal | None
    export_kwh: Decimal | None

    def apply(self, state: LiveState) -> LiveState:
        """``state`` with this slot as the last one."""
        return replace(
            state,
            last_slot_end=self.end,
            last_slot_import_kwh=self.import_kwh,
            last_slot_export_kwh=self.export_kwh,
        )


@dataclass(frozen=True, slots=True)
class MeterHealth:
    """The meter's clock minus ours (0x97/0x98, seconds) and its fault status (0x88)."""

    clock_skew_s: float | None
    fault: bool | None

    def apply(self, state: LiveState) -> LiveState:
        """``state`` with this health."""
        return replace(state, clock_skew_s=self.clock_skew_s, fault=self.fault)


@dataclass(frozen=True, slots=True)
class Stale:
    """No answer for too long: the instantaneous values are unavailable, not zero."""

    def apply(self, state: LiveState) -> LiveState:
        """``state`` offline, without instantaneous values."""
        return replace(state, online=False, power_w=None, current_r_a=None, current_t_a=None)


@dataclass(frozen=True, slots=True)
class Offline:
    """The link is gone (``down``) or latched (bad credentials), and why (``reason``)."""

    link: LinkSnapshot
    reason: str | None = None  # credentials_rejected, no_connection
    detail: str | None = None  # what happened and what the user does next

    def apply(self, state: LiveState) -> LiveState:
        """``state`` offline with this link snapshot and reason."""
        return replace(
            state, online=False, link=self.link, down_reason=self.reason, down_detail=self.detail
        )


@dataclass(frozen=True, slots=True)
class Connected:
    """A session is up again: whatever kept the meter down is over."""

    def apply(self, state: LiveState) -> LiveState:
        """``state`` without a down reason."""
        return replace(state, down_reason=None, down_detail=None)


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """New session and client counters."""

    link: LinkSnapshot

    def apply(self, state: LiveState) -> LiveState:
        """``state`` with this link snapshot."""
        return replace(state, link=self.link)


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    """Slots still missing, and how many more were just filled from the meter's history."""

    missing: int
    filled: int = 0

    def apply(self, state: LiveState) -> LiveState:
        """``state`` with this progress."""
        filled = state.backfill_filled + self.filled
        return replace(state, backfill_missing=self.missing, backfill_filled=filled)


LiveUpdate = (
    Connected
    | InstantValues
    | EnergyValues
    | SlotValues
    | MeterHealth
    | Stale
    | Offline
    | LinkChanged
    | BackfillProgress
)
