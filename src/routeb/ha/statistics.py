"""Hourly long-term statistics from stored half-hours: ids, rows and metadata (pure code).

homeassistant.md §3.3: a row with ``start = T`` describes the hour [T, T+1h); ``sum`` and
``state`` are the values at its end and the Energy dashboard shows sum(T) − sum(T−1h). routeb
owns the running sum: it starts at 0 before the first hour routeb holds and adds each
*complete* hour (both half-hours known). An hour with a missing half-hour gets no row until the
backfill fills it; then it and every later row are re-imported with the larger sums, so the
dashboard's sums stay continuous. The same store always gives the same rows (idempotent).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final, Literal

from routeb.live import quantity
from routeb.storage.model import Slot, e4_to_kwh
from routeb.storage.times import SLOT_SECONDS, from_epoch, to_epoch

__all__ = [
    "DOMAIN",
    "HOUR_SECONDS",
    "HourRow",
    "Statistic",
    "hour_of",
    "hourly_rows",
    "metadata",
    "statistic_object",
    "statistics_for",
]

# homeassistant.md §3.2: an external statistic id is ``<domain>:<object>`` and its source must
# be the domain; both parts [a-z0-9_], no leading, trailing or double underscore.
DOMAIN: Final = "routeb"
HOUR_SECONDS: Final = 3600
_ID_PART: Final = re.compile(r"[^a-z0-9]+")
# homeassistant.md §3.1: mean_type and unit_class exist (and are expected) from 2025.11.0 on;
# older releases reject them and require has_mean.
MEAN_TYPE_SINCE: Final = (2025, 11, 0)
MEAN_TYPE_NONE: Final = 0

Kind = Literal["energy_import", "energy_export", "cost"]


@dataclass(frozen=True, slots=True)
class HourRow:
    """One hourly row: the hour [start, start+1h) in UTC, the counter at its end, the sum."""

    start: datetime
    state: Decimal | None
    sum: Decimal

    def as_json(self) -> dict[str, object]:
        """The row as ``recorder/import_statistics`` takes it."""
        row: dict[str, object] = {"start": self.start.isoformat(), "sum": float(self.sum)}
        if self.state is not None:
            row["state"] = float(self.state)
        return row


@dataclass(frozen=True, slots=True)
class Statistic:
    """One external statistic routeb imports for a meter."""

    meter: str
    kind: Kind
    statistic_id: str
    name: str
    unit: str
    unit_class: str | None


def statistic_object(meter: str) -> str:
    """The meter key as the object part of a statistic id (``m1-A`` → ``m1_a``)."""
    text = _ID_PART.sub("_", meter.lower()).strip("_")
    return text or "meter"


def statistics_for(meter: str, *, cost: bool) -> list[Statistic]:
    """The statistics of ``meter``: energy bought and sold, and the cost of energy bought."""
    base = f"{DOMAIN}:{statistic_object(meter)}"
    out = [
        Statistic(
            meter,
            "energy_import",
            f"{base}_energy_import",
            f"routeb {meter} {quantity('energy_import').en.lower()}",
            "kWh",
            "energy",
        ),
        Statistic(
            meter,
            "energy_export",
            f"{base}_energy_export",
            f"routeb {meter} {quantity('energy_export').en.lower()}",
            "kWh",
            "energy",
        ),
    ]
    if cost:
        # homeassistant.md §5: a running sum of money in the core's currency, unit_class null.
        out.append(Statistic(meter, "cost", f"{base}_cost", f"routeb {meter} cost", "JPY", None))
    return out


def metadata(statistic: Statistic, version: tuple[int, int, int]) -> dict[str, object]:
    """The import metadata in the shape ``version`` of Home Assistant requires (§3.1)."""
    meta: dict[str, object] = {
        "statistic_id": statistic.statistic_id,
        "source": DOMAIN,
        "name": statistic.name,
        "unit_of_measurement": statistic.unit,
        "has_sum": True,
    }
    if version >= MEAN_TYPE_SINCE:
        meta["mean_type"] = MEAN_TYPE_NONE
        meta["unit_class"] = statistic.unit_class
    else:
        meta["has_mean"] = False
    return meta


def hour_of(at: datetime) -> datetime:
    """The UTC hour holding ``at``."""
    seconds = to_epoch(at)
    return from_epoch(seconds - seconds % HOUR_SECONDS).astimezone(UTC)


def hourly_rows(
    slots: Iterable[Slot],
    direction: Literal["import", "export"],
    costs: Mapping[int, Decimal] | None = None,
    *,
    start_sum: Decimal = Decimal(0),
) -> list[HourRow]:
    """The rows of every complete hour of ``slots`` (one meter), oldest first.

    With ``costs`` ({hour start, unix seconds: yen}) the rows are the cost's instead: the same
    complete hours, ``sum`` the running cost and no ``state``. ``start_sum`` is the sum before
    the first of ``slots`` (0 from the first recorded hour; a later part continues a prefix).
    """
    use: dict[int, int] = {}
    counter: dict[int, int] = {}
    for slot in slots:
        ts = to_epoch(slot.at)
        value = slot.import_use_e4 if direction == "import" else slot.export_use_e4
        reading = slot.import_e4 if direction == "import" else slot.export_e4
        if value is not None:
            use[ts] = value
        if reading is not None:
            counter[ts] = reading
    rows: list[HourRow] = []
    total_e4 = 0
    total_cost = start_sum
    for hour in sorted({ts - ts % HOUR_SECONDS for ts in use}):
        first, second = use.get(hour), use.get(hour + SLOT_SECONDS)
        if first is None or second is None:
            continue  # incomplete: no row until both half-hours are known
        start = from_epoch(hour).astimezone(UTC)
        if costs is not None:
            total_cost += costs.get(hour, Decimal(0))
            rows.append(HourRow(start, None, total_cost))
            continue
        total_e4 += first + second
        total = e4_to_kwh(total_e4)
        assert total is not None
        state = e4_to_kwh(counter.get(hour + HOUR_SECONDS))
        rows.append(HourRow(start, state, start_sum + total))
    return rows
