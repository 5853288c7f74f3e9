"""Reading through a bad radio link, end to end over a real pty against the emulator:
readings keep flowing at 30 % lost answers, and the request in flight when the device
vanishes is resent as soon as the link is back (issue 16 §4, §5).

The clock is scaled: the emulator's radio delays, the client's adaptive timer bounds and the
poll interval all run at ``SCALE`` × real timing, so the ratios of bench/loss.py hold.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from routeb._redact import Secret
from routeb.collector.daemon import Collector, CollectorSettings
from routeb.collector.links import open_wisun
from routeb.driver.session import SessionSettings
from routeb.driver.states import SessionState
from routeb.echonet.smartmeter import InstantaneousCurrents
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.radio import ModuleFaults
from routeb.live import LiveHub
from routeb.meter.client import ClientSettings
from routeb.meter.reader import MeterInfo
from routeb.meter.retransmit import ADAPTIVE_FLOOR, ADAPTIVE_INITIAL

SCALE = 0.5  # the 10-s poll of `routeb run` becomes 5 s (the collector's minimum)
SESSION = SessionSettings(
    scan_durations=(4, 5),
    join_timeout=5.0,
    reauth_timeout=2.0,
    backoff_base=0.05,
    backoff_cap=0.5,
    scan_margin=2.0,
    ready_timeout=20.0,
)


class Readings:
    """The collector's recorder, keeping only what these tests look at."""

    def __init__(self) -> None:
        self.serving: float | None = None
        self.instants: list[float] = []

    async def record_meter(self, meter: str, info: MeterInfo) -> None:
        self.serving = asyncio.get_running_loop().time()

    async def record_instant(
        self, meter: str, at: datetime, power_w: int | None, currents: object
    ) -> None:
        assert currents is None or isinstance(currents, InstantaneousCurrents)
        if power_w is not None:
            self.instants.append(asyncio.get_running_loop().time())

    async def record_cumulative(self, *args: object, **kwargs: object) -> None:
        return None

    async def record_slots(self, *args: object) -> None:
        return None

    async def record_event(self, *args: object) -> None:
        return None

    async def missing_slots(self, meter: str, start: datetime, end: datetime) -> list[datetime]:
        return []

    async def slot_value(self, meter: str, at: datetime) -> None:
        return None


@pytest.mark.timeout(120)
async def test_readings_keep_flowing_at_30_percent_lost_answers(tmp_path: Path) -> None:
    emulator = Emulator(
        EmulatorOptions(
            time_scale=SCALE, faults=ModuleFaults(drop=0.3), radio_seed=5, link=tmp_path / "tty"
        )
    )
    await emulator.start()
    assert emulator.pty is not None
    path = emulator.pty.client_path
    client = ClientSettings(
        min_gap=1.0 * SCALE, rto_floor=ADAPTIVE_FLOOR * SCALE, rto_initial=ADAPTIVE_INITIAL * SCALE
    )

    def connect() -> object:
        return open_wisun(
            path,
            Secret(DEFAULT_ID),
            Secret(DEFAULT_PASSWORD),
            state_dir=tmp_path / "state",
            session_settings=SESSION,
            client_settings=client,
        )

    readings = Readings()
    settings = CollectorSettings(meter="lossy", instant_interval=10.0 * SCALE)
    collector = Collector(connect, readings, LiveHub(), settings)  # type: ignore[arg-type]
    task = asyncio.create_task(collector.run())
    loop = asyncio.get_running_loop()
    try:
        while readings.serving is None:
            await asyncio.sleep(0.1)
        window = 6 * settings.instant_interval
        await asyncio.sleep(window)
        start = readings.serving
        delivered = sum(1 for t in readings.instants if start <= t < start + window)
        # ≥ 80 % (issue 16 §5); one lost answer used to stop polling for Timer 2 (60 s).
        assert delivered >= 5, f"{delivered} of 6 readings at 30 % loss"
        assert loop.time() > start
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await emulator.close()


@pytest.mark.timeout(60)
async def test_request_in_flight_is_resent_at_once_after_the_device_returns(
    tmp_path: Path,
) -> None:
    """Strict AIF timers (30 s): only the rejoin signal can resend in time."""
    emulator = Emulator(
        EmulatorOptions(time_scale=0.01, link=tmp_path / "tty", vanish_after=4.0, vanish_for=0.5)
    )
    await emulator.start()
    readies: list[float] = []
    loop = asyncio.get_running_loop()

    def on_state(state: SessionState) -> None:
        if state is SessionState.READY:
            readies.append(loop.time())

    try:
        async with open_wisun(
            str(tmp_path / "tty"),
            Secret(DEFAULT_ID),
            Secret(DEFAULT_PASSWORD),
            state_dir=tmp_path / "state",
            session_settings=SESSION,
            client_settings=ClientSettings(
                min_gap=0.0, timer1=30.0, timer2=30.0, retries=1, strict_aif=True
            ),
            on_state=on_state,
        ) as link:
            module = emulator.module
            module.air.faults = replace(module.air.faults, drop=1.0)  # this answer is lost
            sent = link.session.stats.sends
            read = asyncio.create_task(link.reader.read([0xE7]))
            while link.session.stats.sends == sent:
                await asyncio.sleep(0.01)
            asked = loop.time()
            values = await asyncio.wait_for(read, 15.0)
            done = loop.time()
            assert values[0xE7].value is not None
            back = [t for t in readies if t > asked]
            assert back, "the device did not vanish and return during the request"
            assert done - back[0] < 1.5, f"answered {done - back[0]:.1f} s after the rejoin"
            assert link.client.stats.resent_on_rejoin >= 1
    finally:
        await emulator.close()
