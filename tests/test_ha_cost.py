"""The hourly cost statistic adds up to the tariff's energy lines (pure code, no HA)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from routeb.ha.cost import hourly_costs
from routeb.ha.statistics import hourly_rows
from routeb.storage.model import Slot
from routeb.tariff import JST, HalfHour, load_tariff

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tariffs"


def _slots(start: datetime, count: int) -> list[Slot]:
    out = []
    for index in range(count):
        use = 1000 + (index * 37) % 4000  # 0.1–0.5 kWh per half-hour, in 0.0001 kWh
        out.append(
            Slot(
                "m1",
                start + timedelta(minutes=30 * index),
                0,
                None,
                None,
                None,
                1,
                None,
                8,
                index * 10,
                None,
                use,
                None,
            )
        )
    return out


def test_the_hours_of_a_whole_billing_period_add_up_to_its_energy_lines() -> None:
    for name in ("standard-tiered.toml", "time-of-use.toml"):
        tariff = load_tariff(EXAMPLES / name)
        first, end = tariff.billing_period(datetime(2026, 6, 20).date())
        start = datetime.combine(first, time(), JST)
        count = (end - first).days * 48
        slots = _slots(start, count)
        costs = hourly_costs(tariff, slots)
        assert len(costs) == count // 2
        period = [HalfHour(s.at, Decimal(s.import_use_e4 or 0) / 10000) for s in slots]
        assert sum(costs.values()) == tariff.energy_cost(period), name
        assert all(cost > 0 for cost in costs.values()), name
        rows = hourly_rows(slots, "import", costs)
        assert rows[-1].sum == sum(costs.values())


def test_an_incomplete_hour_costs_nothing_until_it_is_complete() -> None:
    tariff = load_tariff(EXAMPLES / "standard-tiered.toml")
    slots = _slots(datetime(2026, 6, 20, tzinfo=JST), 8)
    del slots[3]  # 01:30: the hour 01:00 is incomplete
    costs = hourly_costs(tariff, slots)
    hours = sorted(costs)
    assert len(hours) == 3
    assert int(datetime(2026, 6, 20, 1, tzinfo=JST).timestamp()) not in costs
