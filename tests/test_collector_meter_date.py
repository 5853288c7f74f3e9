"""History 1 is dated by the meter, not by our clock: E5 counts days back from the *meter's*
today (§B.1 E5), which differs from ours near midnight — a skewed meter clock, or a 99-day
backfill that runs across midnight. Here the meter is a whole day ahead of the collector."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from routeb._redact import Secret
from routeb.collector.daemon import Collector, CollectorSettings, MeterLink
from routeb.collector.links import open_wisun
from routeb.collector.recording import StoreRecorder
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.profile import MeterProfile
from routeb.live import LiveHub
from routeb.meter.client import ClientSettings
from routeb.storage import AsyncStore, SlotSource, SqliteStore, utc_to_jst


async def test_history_days_are_stored_under_the_meters_own_dates(tmp_path: Path) -> None:
    profile = replace(MeterProfile(), installed_days_ago=Decimal(4), seed=3)
    emulator = Emulator(EmulatorOptions(time_scale=0.01, profile=profile))
    ready = await emulator.start()
    db = tmp_path / "routeb.sqlite3"
    store = AsyncStore(db)
    await store.open()

    def connect() -> contextlib.AbstractAsyncContextManager[MeterLink]:
        return open_wisun(
            ready["serial"],
            Secret(DEFAULT_ID),
            Secret(DEFAULT_PASSWORD),
            state_dir=tmp_path / "state",
            client_settings=ClientSettings(min_gap=0.0, timer1=1.0, timer2=1.5),
        )

    collector = Collector(
        connect,
        StoreRecorder(store),
        LiveHub(),
        CollectorSettings(meter="m", instant_interval=3600.0, energy_interval=3600.0),
        clock=lambda: datetime.now(UTC) - timedelta(days=1),  # we are a day behind the meter
    )
    task = asyncio.create_task(collector.run())
    try:
        await asyncio.wait_for(collector.backfill_done.wait(), 60)
        collector.backfill_done.clear()
        collector.kick_backfill()  # the second pass, with the meter's date learnt
        await asyncio.wait_for(collector.backfill_done.wait(), 60)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
        await emulator.close()
    with SqliteStore(db, read_only=True) as reader:
        far = datetime(2000, 1, 1, tzinfo=UTC)
        slots = reader.slots("m", far, datetime(2100, 1, 1, tzinfo=UTC))
    from_history = [s for s in slots if s.import_source is SlotSource.HISTORY1]
    assert len(from_history) >= 48  # whole days came from history 1 …
    for slot in from_history:  # … each under the date the meter gave it
        at = utc_to_jst(slot.at)
        assert slot.import_raw == emulator.meter.truth_counter(at), at
