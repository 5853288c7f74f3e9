"""Cost of computing Home Assistant's hourly rows from the store (what each sync does).

A sync of the Home Assistant sink recomputes every hourly row of a meter from the stored
half-hours (routeb owns the running sum, so a filled gap moves every later sum). This measures
that computation — ``StatisticsImporter.rows`` on a real SQLite store — for 99 days and for ten
years of half-hours, with and without the cost statistic (the example tiered and time-of-use
tariffs): ``full`` as after a (re)connect, ``hourly`` as each later sync (the rows from the
last changed hour on, the rest from the previous pass); interleaved rounds, median and spread.

    python bench/ha_rows.py [--rounds 5] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from routeb.echonet.energy import EnergyScale
from routeb.ha.importer import StatisticsImporter
from routeb.storage.model import SlotReading
from routeb.storage.sqlite import SqliteStore
from routeb.tariff import load_tariff

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tariffs"
SCALE = EnergyScale(1, Decimal("0.01"))


def build(path: Path, days: int) -> None:
    start = datetime(2026, 11, 30, 15, tzinfo=UTC) - timedelta(days=days)
    raw, readings = 1_000_000, []
    for i in range(days * 48 + 1):
        raw += 2 + (i * 7) % 13
        at = start + timedelta(minutes=30 * i)
        readings.append(SlotReading("m1", at, raw, raw // 9, "history1", SCALE, 8))
    with SqliteStore(path) as store:
        for index in range(0, len(readings), 20_000):
            store.write(readings[index : index + 20_000])


async def once(path: Path, tariff_name: str | None) -> tuple[float, float]:
    tariff = load_tariff(EXAMPLES / tariff_name) if tariff_name else None
    importer = StatisticsImporter(path, tariff, read_only=True)
    try:
        begin = time.perf_counter()
        rows = await importer.rows("m1")
        full = time.perf_counter() - begin
        last = next(iter(rows.values()))[-1].start
        begin = time.perf_counter()
        await importer.rows("m1", last)
        hourly = time.perf_counter() - begin
    finally:
        await importer.close()
    return full, hourly


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    cases = [(days, tariff) for days in (99, 3650) for tariff in
             (None, "standard-tiered.toml", "time-of-use.toml")]  # fmt: skip
    paths = {}
    for days in (99, 3650):
        paths[days] = args.dir / f"routeb-bench-ha-{days}.sqlite3"
        if not paths[days].exists():
            build(paths[days], days)
    times: dict[tuple[int, str | None], list[tuple[float, float]]] = {c: [] for c in cases}
    for _ in range(args.rounds):  # interleaved: each round runs every case once
        for case in cases:
            times[case].append(await once(paths[case[0]], case[1]))
    print("| half-hours | cost statistic | full: median s (min–max) | hourly: median s (min–max) |")
    print("|---|---|---|---|")
    for (days, tariff), values in times.items():
        cells = []
        for part in (0, 1):
            got = [v[part] for v in values]
            cells.append(f"{statistics.median(got):.3f} ({min(got):.3f}–{max(got):.3f})")
        print(f"| {days * 48:,} ({days} days) | {tariff or 'none'} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    asyncio.run(main())
