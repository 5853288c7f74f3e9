"""How close the emulator's timing is to the documented hardware, at real timing (scale 1.0).

Measured from a client's side, in-process: the active scan of a SKSTACK module (28 channels,
9.6 ms × (2^N + 1) each, protocol.md §E) and of a J11 module (14 channels, 9.64 ms × 2^d,
j11.md §4.3); SKSENDTO → EVENT 21 (0.1–0.35 s) and → the meter's answer (0.3–1.0 s, §E) over
``--samples`` Gets; and how many writes (USB bursts) one SKSENDTO transaction takes.

    python bench/emulator_fidelity.py [--samples 30] [--duration 4]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from routeb._redact import Secret
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.j11 import MessageReader, Origin, encode
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.codes import scan_dwell
from routeb.skstack import commands
from routeb.skstack.events import Dialect, ModuleEvent, OkLine, UdpReceived
from routeb.skstack.module_output import ll64_address
from routeb.skstack.parser import OutputParser

C2 = Dialect.BP35C2
METER = ll64_address("0011223344556677")
GET_E7 = bytes.fromhex("1081000105FF010288016201E700")


class Client:
    def __init__(self, emulator: Emulator, parse: Callable[[bytes], list[object]]) -> None:
        self.items: list[tuple[float, object]] = []
        self.writes = 0
        self._parse = parse
        self.feed = emulator._attach(self._got)  # noqa: SLF001 - taps the emulator's wire, a bench-only hook

    def _got(self, data: bytes) -> None:
        self.writes += 1
        now = time.monotonic()
        self.items += [(now, item) for item in self._parse(data)]

    async def wait(self, predicate: Callable[[object], bool], timeout: float = 120) -> float:
        async with asyncio.timeout(timeout):
            while True:
                for index, (at, item) in enumerate(self.items):
                    if predicate(item):
                        del self.items[: index + 1]
                        return at
                await asyncio.sleep(0.001)


def _event(number: int) -> Callable[[object], bool]:
    return lambda x: isinstance(x, ModuleEvent) and x.number == number


async def skstack(samples: int, duration: int) -> dict[str, object]:
    emulator = Emulator(EmulatorOptions(dialect=C2, uart_latency=0.0))
    client = Client(emulator, OutputParser().feed)
    client.feed(commands.sksetrbid(Secret(DEFAULT_ID)).wire)
    started = time.monotonic()
    client.feed(commands.skscan(2, 0xFFFFFFFF, duration, dialect=C2).wire)
    scan = await client.wait(_event(0x22)) - started
    for command in (
        commands.sksetpwd(Secret(DEFAULT_PASSWORD)),
        commands.sksreg("S2", 0x3B),
        commands.sksreg("S3", 0x6677),
        commands.skjoin(METER),
    ):
        client.feed(command.wire)
        await client.wait(lambda x: isinstance(x, OkLine))
    await client.wait(_event(0x25))
    await asyncio.sleep(4)  # past the D5 INF
    done, answers, writes = [], [], []
    for _ in range(samples):
        client.items.clear()
        before = client.writes
        sent = time.monotonic()
        client.feed(commands.sksendto(1, METER, 0x0E1A, 1, GET_E7, dialect=C2).wire)
        done.append(await client.wait(_event(0x21)) - sent)
        answers.append(await client.wait(lambda x: isinstance(x, UdpReceived)) - sent)
        writes.append(client.writes - before)
    await emulator.close()
    return {
        "scan": scan,
        "scan_expected": 28 * 0.0096 * (2**duration + 1),
        "event21": done,
        "answer": answers,
        "writes": writes,
    }


async def j11(duration: int) -> dict[str, float]:
    emulator = Emulator(EmulatorOptions(dialect="j11", uart_latency=0.0))
    reader = MessageReader(Origin.MODULE)
    client = Client(emulator, reader.feed)  # type: ignore[arg-type]
    await asyncio.sleep(0.5)  # the module boots
    client.feed(encode(q.InitialSettings(4)))
    await client.wait(lambda x: isinstance(x, r.InitialSettingsDone))
    started = time.monotonic()
    client.feed(encode(q.ActiveScan.for_route_b(duration, Secret(DEFAULT_ID))))
    scan = await client.wait(lambda x: isinstance(x, r.ScanDone)) - started
    await emulator.close()
    return {"scan": scan, "scan_expected": 14 * scan_dwell(duration)}


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s, min {min(values):.3f}, max {max(values):.3f}"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--duration", type=int, default=4)
    args = parser.parse_args()
    sk = await skstack(args.samples, args.duration)
    jj = await j11(args.duration)
    print(
        f"SKSTACK scan N={args.duration}: {sk['scan']:.3f} s (documented {sk['scan_expected']:.3f})"
    )
    print(f"J11 scan d={args.duration}: {jj['scan']:.3f} s (documented {jj['scan_expected']:.3f})")
    print(f"SKSENDTO → EVENT 21: {_spread(sk['event21'])}  (documented 0.1–0.35)")  # type: ignore[arg-type]
    print(f"SKSENDTO → answer:   {_spread(sk['answer'])}  (documented 0.3–1.0)")  # type: ignore[arg-type]
    writes = sk["writes"]
    print(f"writes per SKSENDTO transaction: {statistics.median(writes)} (max {max(writes)})")  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.run(main())
