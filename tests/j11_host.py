"""A scripted J11 host for the emulator tests: it writes frames to an in-process J11Module and
reads the module's output with routeb's own codec."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TypeVar

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD
from routeb.emulator.clock import EmulatorClock
from routeb.emulator.j11_module import J11Module
from routeb.emulator.meter import EmulatedMeter
from routeb.emulator.profile import MeterProfile
from routeb.emulator.radio import MeterSite, ModuleFaults, RadioMeter
from routeb.errors import J11DecodeError, J11FrameError
from routeb.j11 import MessageReader, Origin, encode
from routeb.j11.codes import channel_to_skstack
from routeb.j11.messages import Message

T = TypeVar("T")
# j11.md §12.1: the application note's meter (MAC, PAN ID 0xBCDE, channel 12, RSSI −34 dBm).
AN_MAC = "0050C2FFFEDC2822"
AN_PROFILE = replace(MeterProfile(), mac=AN_MAC, channel=channel_to_skstack(12), pan_id=0xBCDE)
AN_LQI = 0xFF  # round(0.275 × 255 − 104.27) = −34 dBm


def make_site(
    profile: MeterProfile = AN_PROFILE,
    rbid: str = DEFAULT_ID,
    password: str = DEFAULT_PASSWORD,
    *,
    lqi: int = AN_LQI,
) -> MeterSite:
    clock = EmulatorClock(offset=profile.clock_offset)
    meter = EmulatedMeter(profile, clock)
    radio = RadioMeter(profile.mac, profile.channel, profile.effective_pan_id, rbid, password, lqi)
    return MeterSite(radio, meter, clock.now, clock.seconds_until)


Item = Message | J11FrameError | J11DecodeError


class J11Host:
    """Write requests (or raw bytes), await the module's answers in order."""

    def __init__(
        self,
        sites: list[MeterSite] | None = None,
        *,
        time_scale: float = 0.01,
        faults: ModuleFaults | None = None,
    ) -> None:
        self.reader = MessageReader(Origin.MODULE)
        self.raw = bytearray()
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.module = J11Module(
            sites=sites if sites is not None else [make_site()],
            write=self._received,
            time_scale=time_scale,
            faults=faults,
            seed=7,
        )

    def _received(self, data: bytes) -> None:
        self.raw += data
        for item in self.reader.feed(data):
            self.queue.put_nowait(item)

    async def start(self) -> None:
        """Boot the module and take its 0x6019."""
        self.module.start()
        await self.next()

    def send(self, message: Message | bytes) -> None:
        self.module.feed(message if isinstance(message, bytes) else encode(message))

    async def next(self, timeout: float = 3.0) -> Item:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def ask(self, message: Message | bytes, timeout: float = 3.0) -> Item:
        self.send(message)
        return await self.next(timeout)

    async def until(self, kind: type[T], timeout: float = 5.0) -> T:
        """Skip to the next item of ``kind``."""
        async with asyncio.timeout(timeout):
            while True:
                item = await self.queue.get()
                if isinstance(item, kind):
                    return item

    def close(self) -> None:
        self.module.close()
