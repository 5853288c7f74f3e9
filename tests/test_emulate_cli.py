"""`routeb emulate`: the CLI contract (one JSON ready line, SIGTERM, TCP, --log masking) and
timing within tolerance at a chosen time scale, checked by a small scripted client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta

import pytest

from routeb._redact import Secret
from routeb.cli import build_parser
from routeb.cli.emulate import _options
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.serialio.port import open_serial
from routeb.skstack import commands
from routeb.skstack.events import ModuleEvent, OkLine
from routeb.skstack.module_output import ll64_address
from routeb.skstack.parser import OutputParser

PASSWORD = "SECRETPASS12"
RBID = "0123456789ABCDEF0123456789ABCDEF"


def test_ready_line_tcp_log_and_sigterm() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "routeb",
            "emulate",
            "--dialect",
            "bp35c2",
            "--tcp",
            "0",
            "--id",
            RBID,
            "--password",
            PASSWORD,
            "--log",
            "--time-scale",
            "0.01",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")},
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert set(ready) == {"serial", "tcp", "dialect"}
        assert ready["dialect"] == "bp35c2"
        assert ready["tcp"].startswith("socket://127.0.0.1:")
        assert os.path.exists(ready["serial"])

        async def talk() -> list[object]:
            port = await open_serial(ready["tcp"])
            parser = OutputParser()
            out: list[object] = []
            port.write(commands.sksetpwd(Secret(PASSWORD)).wire)
            port.write(commands.skver().wire)
            deadline = time.monotonic() + 5
            while sum(isinstance(i, OkLine) for i in out) < 2 and time.monotonic() < deadline:
                out += parser.feed(await port.read())
            await port.close()
            return out

        items = asyncio.run(talk())
        assert sum(isinstance(i, OkLine) for i in items) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    assert process.returncode == 0
    assert process.stdout is not None
    assert process.stderr is not None
    rest = process.stdout.read().decode()
    log = process.stderr.read().decode()
    process.stdout.close()
    process.stderr.close()
    assert rest == ""  # exactly one line on stdout
    assert "SKSETPWD C ********" in log  # the conversation is logged, masked
    assert PASSWORD not in log
    assert PASSWORD not in rest


async def _until_event(port: object, parser: OutputParser, number: int, limit: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        for item in parser.feed(await port.read()):  # type: ignore[attr-defined]
            if isinstance(item, ModuleEvent) and item.number == number:
                return time.monotonic() - start
    raise AssertionError(f"no EVENT {number:02X} within {limit} s")


@pytest.mark.timeout(60)
async def test_scan_and_join_take_the_scaled_time() -> None:
    scale = 0.1
    emulator = Emulator(EmulatorOptions(time_scale=scale))
    ready = await emulator.start()
    try:
        port = await open_serial(ready["serial"])
        parser = OutputParser()
        port.write(commands.sksreg("SFE", "0").wire)
        port.write(commands.sksetrbid(Secret(DEFAULT_ID)).wire)
        port.write(commands.sksetpwd(Secret(DEFAULT_PASSWORD)).wire)
        await asyncio.sleep(0.2)
        parser.feed(await port.read())
        # §E: 9.6 ms × (2^6 + 1) per channel × 28 channels = 17.5 s, scaled.
        port.write(commands.skscan(2, 0xFFFFFFFF, 6).wire)
        took = await _until_event(port, parser, 0x22, 10)
        assert took == pytest.approx(0.0096 * 65 * 28 * scale, rel=0.25)
        profile = emulator.options.profile
        port.write(commands.sksreg("S2", f"{profile.channel:02X}").wire)
        port.write(commands.sksreg("S3", f"{profile.effective_pan_id:04X}").wire)
        port.write(commands.skjoin(ll64_address(profile.mac)).wire)
        took = await _until_event(port, parser, 0x25, 10)
        assert took == pytest.approx(3.3 * scale, rel=0.3)  # §E: PANA ≈ 3.3 s
        await port.close()
    finally:
        await emulator.close()


def test_clock_start_sets_the_meters_calendar() -> None:
    # `routeb emulate --clock-start` (bench/soak.py runs a past calendar up to the present).
    args = build_parser("emulate").parse_args(
        ["emulate", "--clock-start", "2026-01-01T00:00", "--clock-speed", "3600"]
    )
    emulator = Emulator(_options(args))
    now = emulator.clock.now()
    assert timedelta(0) <= now - datetime(2026, 1, 1) < timedelta(hours=1)
    with pytest.raises(SystemExit):
        build_parser("emulate").parse_args(["emulate", "--clock-start", "soon"])
