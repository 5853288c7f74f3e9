"""Bring Home Assistant's long-term statistics in line with the store: only what differs.

:class:`StatisticsImporter` computes every hourly row from the stored half-hours
(:mod:`routeb.ha.statistics`), reads what Home Assistant holds for the same hours
(``recorder/statistics_during_period``, month by month) and imports only the rows that are
missing or different, in batches well under HA's 4 MiB message cap (homeassistant.md §3.5).
Re-running changes nothing; after an error the next run resumes from what HA holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final, TypeVar

from routeb.ha.client import HaConflictError, HomeAssistantClient
from routeb.ha.cost import hourly_costs
from routeb.ha.statistics import (
    DOMAIN,
    HOUR_SECONDS,
    HourRow,
    Statistic,
    hourly_rows,
    metadata,
    statistics_for,
)
from routeb.storage.model import Slot
from routeb.storage.sqlite import SqliteStore
from routeb.storage.times import from_epoch, to_epoch
from routeb.tariff import JST, Tariff

__all__ = ["BATCH_ROWS", "StatisticReport", "StatisticsImporter"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
# homeassistant.md §3.5: ~60–80 bytes per row, 4 MiB per message; a month per import message.
BATCH_ROWS: Final = 744
_READ_WINDOW: Final = timedelta(days=31)
# HA stores sums as floats: equal within this, it is the same row.
_SAME: Final = 1e-6
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)
_END: Final = datetime(2200, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class StatisticReport:
    """What routeb and Home Assistant hold of one statistic, and what an import changed."""

    statistic_id: str
    routeb_hours: int = 0
    routeb_last: datetime | None = None
    routeb_sum: float | None = None
    ha_hours: int = 0
    ha_last: datetime | None = None
    ha_sum: float | None = None
    differing: int = 0
    imported: int = 0
    missing_hours: list[datetime] = field(default_factory=list)


class StatisticsImporter:
    """Reads the store in its own thread; compares and imports over one HA connection."""

    def __init__(
        self,
        db_path: str | Path,
        tariff: Tariff | None = None,
        *,
        cost: bool = True,
        read_only: bool = False,
    ) -> None:
        self.db_path = Path(db_path)
        self.tariff = tariff if cost else None
        self.read_only = read_only
        self._store: SqliteStore | None = None
        self._cache: dict[str, dict[str, list[HourRow]]] = {}
        # sqlite3 connections belong to the thread that made them: one thread for all of it.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="routeb-ha-store")

    # --- the store ---------------------------------------------------------------------------

    def _open(self) -> SqliteStore:
        if self._store is None:
            self._store = SqliteStore(self.db_path, read_only=self.read_only)
        return self._store

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    async def in_thread(self, function: Callable[[SqliteStore], _T]) -> _T:
        """Run ``function(store)`` in the store's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, lambda: function(self._open()))

    async def close(self) -> None:
        """Close the store (in its thread) and the thread."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=False)

    async def meters(self) -> list[str]:
        """Every meter the store knows."""
        return await self.in_thread(lambda store: [m.meter for m in store.meters()])

    def statistics(self, meter: str) -> list[Statistic]:
        """The statistics routeb imports for ``meter``."""
        return statistics_for(meter, cost=self.tariff is not None)

    def _rows(
        self, store: SqliteStore, meter: str, since: datetime | None
    ) -> dict[str, list[HourRow]]:
        cached = self._cache.get(meter)
        floor = _EPOCH
        if since is not None and cached is not None:
            # Rows before ``since`` are unchanged (the caller's promise): recompute from the
            # hour before it (its state is the counter at ``since``), and for the cost from its
            # billing period's start (a tier depends on the whole period so far).
            floor = since - timedelta(hours=1)
            if self.tariff is not None:
                day = floor.astimezone(JST).date()
                floor = min(
                    floor, datetime.combine(self.tariff.billing_period(day)[0], time(), JST)
                )
        slots: list[Slot] = list(store.iter_slots(meter, floor, _END))
        out: dict[str, list[HourRow]] = {}
        for statistic in self.statistics(meter):
            prefix = [r for r in (cached or {}).get(statistic.statistic_id, []) if r.start < floor]
            base = prefix[-1].sum if prefix else Decimal(0)
            if statistic.kind == "cost":
                assert self.tariff is not None
                costs = hourly_costs(self.tariff, slots)
                rows = hourly_rows(slots, "import", costs, start_sum=base)
            elif statistic.kind == "energy_import":
                rows = hourly_rows(slots, "import", start_sum=base)
            else:
                rows = hourly_rows(slots, "export", start_sum=base)
            out[statistic.statistic_id] = prefix + rows
        self._cache[meter] = out
        return out

    async def rows(self, meter: str, since: datetime | None = None) -> dict[str, list[HourRow]]:
        """Every hourly row of ``meter`` by statistic id, from the whole stored history.

        With ``since`` (nothing before it changed since the last call) only the rows from
        there on are recomputed — what the daemon's sink does every hour.
        """
        return await self.in_thread(lambda store: self._rows(store, meter, since))

    # --- Home Assistant ------------------------------------------------------------------------

    async def check_metadata(
        self, ha: HomeAssistantClient, statistics: Sequence[Statistic]
    ) -> None:
        """HaConflictError if an id exists in Home Assistant with metadata that is not ours."""
        found = await ha.call(
            "recorder/get_statistics_metadata", statistic_ids=[s.statistic_id for s in statistics]
        )
        units = {s.statistic_id: s.unit for s in statistics}
        for entry in found if isinstance(found, list) else []:
            if not isinstance(entry, dict):
                continue
            ident = str(entry.get("statistic_id"))
            unit = entry.get("statistics_unit_of_measurement")
            if ident not in units:
                continue
            if entry.get("source") != DOMAIN or unit != units[ident] or not entry.get("has_sum"):
                raise HaConflictError(
                    f"Home Assistant already has a statistic {ident} (source "
                    f"{entry.get('source')}, unit {unit}) that routeb did not make; remove it "
                    "in Developer tools → Statistics, then import again"
                )

    async def held(
        self, ha: HomeAssistantClient, ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, dict[int, tuple[float | None, float | None]]]:
        """What Home Assistant holds: {id: {hour start, unix s: (sum, state)}} in [start, end)."""
        out: dict[str, dict[int, tuple[float | None, float | None]]] = {i: {} for i in ids}
        cursor = start
        while cursor < end:
            until = min(end, cursor + _READ_WINDOW)
            answer = await ha.call(
                "recorder/statistics_during_period",
                start_time=cursor.isoformat(),
                end_time=until.isoformat(),
                statistic_ids=list(ids),
                period="hour",
                types=["sum", "state"],
            )
            for ident, entries in (answer if isinstance(answer, dict) else {}).items():
                for entry in entries if isinstance(entries, list) else []:
                    ts = _seconds(entry.get("start"))
                    if ts is not None and ident in out:
                        out[ident][ts] = (_float(entry.get("sum")), _float(entry.get("state")))
            cursor = until
        return out

    async def sync(
        self,
        ha: HomeAssistantClient,
        meter: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        dry_run: bool = False,
        changed_since: datetime | None = None,
    ) -> list[StatisticReport]:
        """Import every row of ``meter`` in [start, end) that HA lacks or holds differently.

        ``changed_since``: the store changed only from there on since the last sync (the
        daemon's outbox says so), so only those rows are recomputed.
        """
        statistics = self.statistics(meter)
        await self.check_metadata(ha, statistics)
        all_rows = await self.rows(meter, changed_since)
        reports: list[StatisticReport] = []
        for statistic in statistics:
            rows = [
                r
                for r in all_rows[statistic.statistic_id]
                if (start is None or r.start >= start) and (end is None or r.start < end)
            ]
            report = StatisticReport(statistic.statistic_id, routeb_hours=len(rows))
            reports.append(report)
            if rows:
                report.routeb_last, report.routeb_sum = rows[-1].start, float(rows[-1].sum)
            low = start or (rows[0].start if rows else None)
            high = end or (rows[-1].start + timedelta(hours=1) if rows else None)
            if low is None or high is None:
                continue
            held = (await self.held(ha, [statistic.statistic_id], low, high))[
                statistic.statistic_id
            ]
            report.ha_hours = len(held)
            if held:
                last = max(held)
                report.ha_last, report.ha_sum = from_epoch(last), held[last][0]
            send = [r for r in rows if _differs(r, held.get(to_epoch(r.start)))]
            report.differing = len(send)
            report.missing_hours = [r.start for r in send if to_epoch(r.start) not in held]
            if dry_run or not send:
                continue
            meta = metadata(statistic, ha.version)
            for index in range(0, len(send), BATCH_ROWS):
                batch = send[index : index + BATCH_ROWS]
                await ha.call(
                    "recorder/import_statistics",
                    metadata=meta,
                    stats=[row.as_json() for row in batch],
                )
                report.imported += len(batch)
            _LOG.info(
                "Home Assistant: %s: %d hours imported (%s … %s)",
                statistic.statistic_id,
                report.imported,
                send[0].start.isoformat(),
                send[-1].start.isoformat(),
            )
        return reports


def _differs(row: HourRow, held: tuple[float | None, float | None] | None) -> bool:
    if held is None or held[0] is None:
        return True
    if abs(held[0] - float(row.sum)) > _SAME:
        return True
    if row.state is None:
        return False
    return held[1] is None or abs(held[1] - float(row.state)) > _SAME


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _seconds(value: object) -> int | None:
    """A row's start as HA sends it (ms since the epoch, homeassistant.md §3.4) → unix s."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = round(value / 1000)
        return seconds - seconds % HOUR_SECONDS
    if isinstance(value, str):
        try:
            return to_epoch(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None
