"""`routeb read` says what it is doing on a terminal (opening the port, scanning channel N of
28, joining, reading), says nothing when piped or with -q, and logs the stages with -v."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from routeb.cli.progress import Progress
from routeb.driver.session import ScanProgress
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions

STAGES = ("opening ", "setting up the Wi-SUN module", "scanning channel 1 of 28", "joining",
          "reading 0xE7")  # fmt: skip


@pytest.fixture
async def device() -> AsyncIterator[str]:
    emulator = Emulator(EmulatorOptions(time_scale=0.02))
    ready = await emulator.start()
    yield ready["serial"]
    await emulator.close()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    return env | {
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
        "ROUTEB_CONFIG": "/dev/null",
        "ROUTEB_STATE_DIR": str(tmp_path / "state"),
        "TERM": "xterm",
    }


def _read_with_stderr_on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "routeb", *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    out = process.communicate(timeout=30)[0].decode()
    return process.returncode, out, seen.decode(errors="replace")


async def test_stages_on_a_terminal_nothing_in_a_pipe(device: str, tmp_path: Path) -> None:
    env = _env(tmp_path)
    status, out, terminal = await asyncio.to_thread(
        _read_with_stderr_on_a_terminal, ["read", "--device", device], env
    )
    assert status == 0, terminal
    assert "0xE7 Measured instantaneous electric power" in out
    for stage in STAGES:
        assert f"routeb: {stage}" in terminal, terminal
    assert terminal.rstrip("\r\n").endswith("\x1b[2K")  # the line is cleared at the end
    # -q on a terminal: silent.
    status, out, terminal = await asyncio.to_thread(
        _read_with_stderr_on_a_terminal, ["read", "--device", device, "-q"], env
    )
    assert status == 0
    assert terminal == ""
    # Piped: stdout has the readings, stderr nothing; -v logs each stage even when piped.
    piped = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "routeb", "read", "--device", device],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert piped.returncode == 0
    assert piped.stderr == ""
    verbose = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "routeb", "read", "--device", device, "-v"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verbose.returncode == 0
    for stage in ("opening ", "joining the meter", "reading 0xE7"):
        assert f"INFO routeb.cli: {stage}" in verbose.stderr, verbose.stderr
    assert "\x1b[" not in verbose.stderr


def test_the_channel_estimate_follows_the_scan_time() -> None:
    shown = Progress(open(os.devnull, "w"), live=False)  # noqa: SIM115 - closed below
    with contextlib.closing(shown.stream):
        report = ScanProgress(duration=6, expected_seconds=28 * 0.6240, beacons=(), done=False)
        shown.on_scan(report)
        assert shown._scan is not None
        started = shown._scan[0]
        assert shown.scan_text(started) is not None
        assert "channel 1 of 28 (ch 33" in str(shown.scan_text(started + 0.1))
        assert "channel 14 of 28 (ch 46" in str(shown.scan_text(started + 13.5 * 0.624))
        assert "channel 28 of 28 (ch 60" in str(shown.scan_text(started + 999))
        shown.on_scan(ScanProgress(6, 17.5, (), done=True))
        assert shown.scan_text() is None
