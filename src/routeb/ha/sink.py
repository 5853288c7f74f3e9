"""The daemon's Home Assistant statistics sink: imports after every backfill and every hour.

It watches the store's outbox (consumer ``homeassistant``) for half-hours that are new or
changed — a completed hour, a backfilled outage — and re-imports from the earliest changed
hour to the end, so later sums follow a filled gap. The first sync after (re)connecting
compares everything with what Home Assistant holds, so nothing is lost across restarts or
errors: each error is one log line, and it tries again with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from routeb.errors import RouteBError
from routeb.ha.client import HomeAssistantClient, HomeAssistantError, HomeAssistantSettings
from routeb.ha.importer import StatisticsImporter
from routeb.ha.statistics import hour_of
from routeb.storage.model import Slot
from routeb.storage.sqlite import SqliteStore
from routeb.tariff import Tariff

__all__ = ["CONSUMER", "HomeAssistantStatisticsSink"]

_LOG = logging.getLogger(__name__)
CONSUMER: Final = "homeassistant"
_PAGE: Final = 5000
_RETRY_MIN: Final = 5.0
_RETRY_MAX: Final = 600.0


class HomeAssistantStatisticsSink:
    """Keeps Home Assistant's long-term statistics equal to the store (a :class:`Sink`)."""

    name = "homeassistant"

    def __init__(
        self, settings: HomeAssistantSettings, db_path: str | Path, tariff: Tariff | None = None
    ) -> None:
        self.settings = settings
        self.importer = StatisticsImporter(db_path, tariff, cost=settings.cost)
        self.synced = asyncio.Event()  # set after each successful sync
        self.syncs = 0
        self.imported = 0
        self.last_error: str | None = None
        self._dirty: dict[str, datetime] = {}
        self._full = True
        self._stopping = asyncio.Event()

    def _drain(self, store: SqliteStore) -> dict[str, datetime]:
        """Earliest changed slot hour per meter since the last call (acknowledged as read)."""
        dirty: dict[str, datetime] = {}
        while changes := store.pending(CONSUMER, _PAGE):
            for change in changes:
                record = change.record
                if isinstance(record, Slot):
                    hour = hour_of(record.at)
                    if record.meter not in dirty or hour < dirty[record.meter]:
                        dirty[record.meter] = hour
            store.acknowledge(CONSUMER, changes[-1].seq)
        return dirty

    async def _collect(self) -> None:
        # Read and acknowledged at once: kept here until a sync succeeds (and a restart starts
        # with a full comparison anyway).
        for meter, hour in (await self.importer.in_thread(self._drain)).items():
            if meter not in self._dirty or hour < self._dirty[meter]:
                self._dirty[meter] = hour

    async def sync_once(self, ha: HomeAssistantClient) -> int:
        """One pass: everything after a (re)connect, else only what changed; rows imported."""
        await self._collect()
        imported = 0
        if self._full:
            meters: dict[str, datetime | None] = dict.fromkeys(await self.importer.meters())
        else:
            meters = dict(self._dirty)
        for meter, since in meters.items():
            # A changed boundary also changes the state (counter at its end) of the hour before.
            start = None if since is None else since - timedelta(hours=1)
            reports = await self.importer.sync(ha, meter, start, changed_since=since)
            imported += sum(r.imported for r in reports)
            self._dirty.pop(meter, None)
        self._full = False
        self.syncs += 1
        self.imported += imported
        self.synced.set()
        return imported

    async def run(self) -> None:
        """Connect, sync, then check the store every ``interval``; retry with backoff."""
        delay = _RETRY_MIN
        try:
            while not self._stopping.is_set():
                try:
                    async with HomeAssistantClient(self.settings) as ha:
                        if self.last_error is not None:
                            _LOG.info("Home Assistant: connected again (%s)", ha.version_text)
                        self.last_error = None
                        self._full = True
                        while not self._stopping.is_set():
                            await self.sync_once(ha)
                            delay = _RETRY_MIN
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(
                                    self._stopping.wait(), self.settings.interval
                                )
                except (HomeAssistantError, RouteBError, OSError) as exc:
                    message = str(exc)
                    # One line per distinct problem, not one per retry.
                    level = logging.DEBUG if message == self.last_error else logging.WARNING
                    _LOG.log(level, "Home Assistant: %s; trying again in %.0f s", message, delay)
                    self.last_error = message
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                delay = min(_RETRY_MAX, delay * 2)
        finally:
            await self.importer.close()

    async def stop(self) -> None:
        """End after the current pass (imports are idempotent: an interrupted one is redone)."""
        self._stopping.set()
