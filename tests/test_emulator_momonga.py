"""Interop: momonga 0.7 (the most used Python B-route library), unmodified, against the emulator
over a real pty in both dialects — instantaneous power, cumulative energy, a day of history."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import momonga
import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.household import Direction
from routeb.skstack.events import Dialect


def read_with_momonga(path: str) -> tuple[int | None, float, list[float | None]]:
    with momonga.Momonga(DEFAULT_ID, DEFAULT_PASSWORD, path) as meter:
        meter.internal_xmit_interval = 0
        power = meter.get_instantaneous_power()
        energy = meter.get_measured_cumulative_energy()
        history = meter.get_historical_cumulative_energy_1(day=1)
    values = [entry["cumulative energy"] for entry in history]
    return power, float(energy), values  # type: ignore[arg-type]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("dialect", "chunk"),
    [
        (Dialect.BP35A1, None),
        (Dialect.BP35C2, None),
        (Dialect.BP35C2, 5),  # an adapter whose bursts reach the host 5 bytes at a time
    ],
)
async def test_momonga_reads_the_emulators_true_values(dialect: Dialect, chunk: int | None) -> None:
    emulator = Emulator(EmulatorOptions(dialect=dialect, time_scale=0.01, uart_chunk=chunk))
    ready = await emulator.start()
    try:
        power, energy, history = await asyncio.to_thread(read_with_momonga, ready["serial"])
        now = emulator.clock.now()
        household = emulator.meter.household
        unit = emulator.meter.profile.unit_kwh
        # Power changes at most at segment boundaries: accept the value at any time of the read.
        assert power in {household.power_at(now - timedelta(seconds=s)) for s in range(90)}
        truth = Decimal(emulator.meter.truth_counter(now)) * unit
        assert abs(Decimal(str(energy)) - truth) <= unit * 2
        day = now.date() - timedelta(days=1)
        slots = household.slot_counters(day, Direction.NORMAL, now=now, unit=unit)
        expected = [None if raw is None else float(Decimal(raw) * unit) for raw in slots]
        assert history == pytest.approx(expected)  # momonga multiplies in floats
    finally:
        await emulator.close()
