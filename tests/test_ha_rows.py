"""Hourly rows from the store: complete hours only, routeb's running sum, and the daemon's
incremental recomputation equal to a full one after a gap is filled (no HA needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from routeb.echonet.energy import EnergyScale
from routeb.ha.importer import StatisticsImporter
from routeb.ha.statistics import hour_of, metadata, statistic_object, statistics_for
from routeb.storage.model import SlotReading
from routeb.storage.sqlite import SqliteStore
from routeb.tariff import load_tariff

TARIFF = Path(__file__).resolve().parent.parent / "examples" / "tariffs" / "standard-tiered.toml"
START = datetime(2026, 5, 10, 15, tzinfo=UTC)  # 00:00 JST


def readings(count: int) -> list[SlotReading]:
    return [
        SlotReading("m1", START + timedelta(minutes=30 * i), 5000 + 4 * i - i % 2, 10 + i // 8,
                    "history1", EnergyScale(1, Decimal("0.1")), 8)
        for i in range(count)
    ]  # fmt: skip


async def test_incremental_rows_equal_a_full_recomputation(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    every = readings(40 * 48 + 1)  # 40 days: across a billing period boundary (read day 15)
    gap = set(range(20 * 48 + 5, 22 * 48))
    with SqliteStore(db) as store:
        store.write([r for i, r in enumerate(every) if i not in gap])
    tariff = load_tariff(TARIFF)
    live = StatisticsImporter(db, tariff)
    try:
        before = await live.rows("m1")
        ids = [s.statistic_id for s in statistics_for("m1", cost=True)]
        assert set(before) == set(ids)
        # The gap's slots and the one before it (its end unknown): 92 half-hours, 46 hours.
        assert len(before[ids[0]]) == 40 * 24 - 46
        with SqliteStore(db) as store:
            store.write([every[i] for i in sorted(gap)])  # the backfill fills it
        since = hour_of(every[min(gap)].at)
        incremental = await live.rows("m1", since)
    finally:
        await live.close()
    fresh = StatisticsImporter(db, tariff)
    try:
        full = await fresh.rows("m1")
    finally:
        await fresh.close()
    assert incremental == full
    assert len(full[ids[0]]) == 40 * 24
    first, last = every[0].import_raw, every[-1].import_raw
    assert first is not None
    assert last is not None
    assert full[ids[0]][-1].sum == Decimal(last - first) / 10  # counter difference, kWh


def test_ids_and_metadata_by_home_assistant_version() -> None:
    assert statistic_object("House-1 (main)") == "house_1_main"
    energy = statistics_for("m1", cost=False)[0]
    old = metadata(energy, (2025, 4, 4))
    assert old["has_mean"] is False
    assert "mean_type" not in old
    assert "unit_class" not in old
    new = metadata(energy, (2025, 11, 0))
    assert (new["mean_type"], new["unit_class"]) == (0, "energy")
    assert "has_mean" not in new
