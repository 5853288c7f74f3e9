"""`routeb watch` in a real terminal: tmux runs it against the emulator over a pty, and the
test reads the screen with ``tmux capture-pane``. It is never blank (the connection stage from
the first second), shows the meter's values, marks them stale when the meter stops answering,
redraws whole frames when the window is resized (no stacked panels, no leftovers) and quits
on ``q``. Without tmux the module is skipped (scripts/test-servers.sh installs it), unless
ROUTEB_REQUIRE_TMUX=1."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.module import ModuleFaults

TMUX = shutil.which("tmux")
if TMUX is None:  # pragma: no cover - depends on the machine
    if os.environ.get("ROUTEB_REQUIRE_TMUX") == "1":
        raise RuntimeError("no tmux (apt-get install tmux, or scripts/test-servers.sh)")
    pytest.skip("no tmux (apt-get install tmux)", allow_module_level=True)

pytestmark = pytest.mark.timeout(150)


class Pane:
    """One tmux server of our own (its socket in the test's directory) with one window."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            [str(TMUX), "-S", str(self.socket), "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
            # the server's environment is the terminal's: not pytest's (COLUMNS would pin
            # the width of every frame)
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.socket.parent)},
        )
        return done.stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "watch")

    async def wait_for(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = await asyncio.to_thread(self.screen)
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"{text!r} not on the screen after {timeout} s:\n{screen}")
            await asyncio.sleep(0.2)


@pytest.fixture
async def emulator() -> AsyncIterator[tuple[Emulator, str]]:
    emu = Emulator(EmulatorOptions(time_scale=0.01))
    ready = await emu.start()
    yield emu, ready["serial"]
    await emu.close()


@pytest.fixture
def pane(tmp_path: Path) -> Iterator[Pane]:
    pane = Pane(tmp_path / "tmux.sock")
    yield pane
    if pane.socket.exists():  # our own server only, by its socket
        subprocess.run(
            [str(TMUX), "-S", str(pane.socket), "kill-server"], capture_output=True, check=False
        )


async def test_watch_in_a_real_terminal(
    emulator: tuple[Emulator, str], pane: Pane, tmp_path: Path
) -> None:
    emu, device = emulator
    env = {
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
        "ROUTEB_STATE_DIR": str(tmp_path / "state"),
        "HOME": str(tmp_path),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
    }
    command = (
        f"{sys.executable} -m routeb watch --device {device} --interval 5; echo EXIT=$?; sleep 60"
    )
    args = ["new-session", "-d", "-s", "watch", "-x", "100", "-y", "40"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    started = time.monotonic()
    pane.tmux(*args, command)
    # never blank: the stage (opening the port, scanning, joining …) from the first second
    first = await pane.wait_for("connecting", timeout=8)
    assert time.monotonic() - started < 8
    assert "routeb watch" in first
    assert "q quit" in first
    screen = await pane.wait_for(" W ", timeout=60)
    assert "today" in screen
    assert "power, 1 h" in screen
    assert "ready" in screen
    # resize: whole frames redrawn at the new size, nothing left behind
    pane.tmux("resize-window", "-t", "watch", "-x", "64", "-y", "30")
    deadline = time.monotonic() + 10
    while True:  # the next frame (4 a second) is drawn whole at the new size
        await asyncio.sleep(0.5)
        screen = pane.screen()
        lines = screen.splitlines()
        if (lines and lines[0].startswith("╭")) or time.monotonic() > deadline:
            break
    assert lines[0].startswith("╭"), screen  # the frame starts at the top: no leftovers
    assert screen.count("routeb watch") == 1, screen
    assert screen.count("B-route link") == 1, screen
    assert max(len(line.rstrip()) for line in lines) <= 64
    frame = [line for line in lines if line.startswith(("╭", "│", "╰"))]
    assert frame, screen
    assert all(line.rstrip().endswith(("╮", "│", "╯")) for line in frame), screen
    # the meter stops answering: the values are marked stale instead of shown as live
    emu.module.faults = ModuleFaults(drop=1.0)
    screen = await pane.wait_for("stale", timeout=40)
    assert screen.count("routeb watch") == 1  # one frame, not panels stacked up
    # q quits, and the terminal is given back
    pane.tmux("send-keys", "-t", "watch", "q")
    screen = await pane.wait_for("EXIT=0", timeout=15)
