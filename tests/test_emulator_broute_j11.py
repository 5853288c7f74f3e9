"""Interop: broute-j11 0.1 (the only Python J11 B-route library, from PyPI), unmodified, against
`routeb emulate --dialect j11` over a real pty: reset, scan, join, PANA, a meter read — whose
values must be the emulated household's."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from broute_j11 import J11Session, SerialTransport, SessionConfig

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions


@pytest.mark.timeout(120)
@pytest.mark.parametrize("chunk", [None, 7])  # whole bursts, and bursts cut into 7-byte reads
async def test_broute_j11_reads_the_emulators_true_values(chunk: int | None) -> None:
    emulator = Emulator(EmulatorOptions(dialect="j11", time_scale=0.01, uart_chunk=chunk))
    ready = await emulator.start()
    try:
        session = J11Session(
            SerialTransport(str(ready["serial"])), SessionConfig(DEFAULT_ID, DEFAULT_PASSWORD)
        )
        async with session:
            link = await session.async_connect()
            reading = await session.async_read_meter()
        now = emulator.clock.now()
        household = emulator.meter.household
        unit = emulator.meter.profile.unit_kwh
        assert link.mac_address.hex().upper() == emulator.radio.mac
        assert link.pan_id == emulator.radio.pan_id
        assert link.channel == (emulator.radio.channel - 25) // 2  # j11.md §7.3
        assert reading.instantaneous_power in {
            household.power_at(now - timedelta(seconds=s)) for s in range(60)
        }
        truth = Decimal(emulator.meter.truth_counter(now)) * unit
        assert reading.cumulative_forward_energy is not None
        assert abs(reading.cumulative_forward_energy - truth) <= unit * 2
        assert emulator.module.stats.get("joined") == 1
    finally:
        await emulator.close()
