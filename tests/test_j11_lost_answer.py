"""A J11 response lost on the UART (j11.md §6): asking again must not turn a success into a
refusal. The lost 0x2053 answer to B-route start (§4.2) makes the repeated 0x0053 answer 0x34
(B-route already 運用), which means the first start worked."""

from __future__ import annotations

import asyncio
from pathlib import Path

from routeb._redact import Secret
from routeb.collector.links import open_wisun
from routeb.driver.session import SessionSettings
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, J11, Emulator, EmulatorOptions
from routeb.emulator.j11_module import J11Module
from routeb.meter.client import ClientSettings
from routeb.radio.base import ModuleChoice
from routeb.transport.memory import byte_pipe

FAST = 0.01
# §2.1: the response code sits after the 4-byte unique code.
START_BROUTE_ANSWER = bytes.fromhex("D0F9EE5D2053")


async def test_a_lost_broute_start_answer_is_not_a_refusal(tmp_path: Path) -> None:
    host, device = byte_pipe()
    lost: list[bytes] = []

    def lossy(data: bytes) -> None:
        if data.startswith(START_BROUTE_ANSWER) and not lost:
            lost.append(data)  # the first answer never reaches the host
            return
        device.write(data)

    sites = Emulator(EmulatorOptions(time_scale=FAST, dialect=J11)).sites
    module = J11Module(sites=sites, write=lossy, time_scale=FAST, seed=1)
    module.start()

    async def pump() -> None:
        while True:
            module.feed(await device.read())

    async def opener(_url: str) -> object:
        return host

    pumping = asyncio.create_task(pump())
    try:
        async with open_wisun(
            "memory://",
            Secret(DEFAULT_ID),
            Secret(DEFAULT_PASSWORD),
            state_dir=tmp_path,
            session_settings=SessionSettings(scan_durations=(4, 5), join_timeout=5.0),
            client_settings=ClientSettings(min_gap=0.0, timer1=1.0, timer2=1.5, retries=2),
            opener=opener,  # type: ignore[arg-type]
            dialect=ModuleChoice.parse(J11),
        ) as link:
            assert lost  # the answer was really lost
            assert (await link.reader.read([0xE7]))[0xE7].available
            assert link.session.stats.recovery.scans == 1  # joined on the first try
    finally:
        pumping.cancel()
        module.close()
