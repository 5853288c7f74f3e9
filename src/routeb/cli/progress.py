"""What a command is doing, on stderr: opening the port, scanning channel N of 28, joining, reading.

A terminal gets one status line rewritten in place and cleared at the end; a pipe or
``--quiet`` gets nothing. Each stage is also logged at INFO, so ``-v`` shows the stages in any
case (and in journald). The session reports its states (``on_state``) and its scans
(``on_scan_progress``); the channel being scanned is estimated from the elapsed time, since
the module reports only the end of a scan (protocol.md §D.1 SKSCAN, §E: 9.6 ms × (2^N + 1) per
channel, channels 33–60 in order).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Final, TextIO

from routeb.driver.session import ScanProgress
from routeb.driver.states import SessionState

__all__ = ["Progress", "progress", "stage_line"]

_LOG = logging.getLogger("routeb.cli")
# protocol.md §E: the 920 MHz band's 28 channels, 33..60, scanned in order with mask FFFFFFFF.
CHANNELS: Final = 28
FIRST_CHANNEL: Final = 33
_TICK_S: Final = 0.5

_STAGES: Final = {
    SessionState.OPENING: "opening {device}",
    SessionState.CONFIGURING: "setting up the Wi-SUN module",
    SessionState.JOINING: "joining the meter (PANA authentication, up to a minute)",
    SessionState.READY: "joined",
    SessionState.RECOVERING: "the link dropped: reconnecting",
    SessionState.REAUTHENTICATING: "re-authenticating with the meter",
}


class Progress:
    """The stage line of one command (``progress()`` makes one for the current stderr)."""

    def __init__(self, stream: TextIO, *, live: bool, device: str = "") -> None:
        self.stream = stream
        self.live = live
        self.device = device
        self._scan: tuple[float, ScanProgress] | None = None
        self._shown = False
        self._ticker: asyncio.Task[None] | None = None

    def stage(self, text: str) -> None:
        """A new stage: logged at INFO, shown on the terminal."""
        _LOG.info("%s", text)
        self._show(text)

    def on_state(self, state: SessionState) -> None:
        """The session entered ``state`` (the scan is reported by ``on_scan``)."""
        if state is not SessionState.SCANNING:
            self._scan = None
        template = _STAGES.get(state)
        if template is not None:
            self.stage(template.format(device=self.device))

    def on_scan(self, report: ScanProgress) -> None:
        """A scan started, heard a beacon or ended."""
        if report.done:
            self._scan = None
            found = len(report.beacons)
            _LOG.info("scan (duration %d) done: %d beacon(s)", report.duration, found)
            return
        if self._scan is None or self._scan[1].duration != report.duration:
            self._scan = (time.monotonic(), report)
            _LOG.info(
                "scanning %d channels for the meter (duration %d, about %.0f s)",
                CHANNELS,
                report.duration,
                report.expected_seconds,
            )
        else:
            self._scan = (self._scan[0], report)
        self._show_scan()
        if self.live and self._ticker is None:
            with contextlib.suppress(RuntimeError):  # no running loop: no ticking
                self._ticker = asyncio.get_running_loop().create_task(self._tick())

    def scan_text(self, now: float | None = None) -> str | None:
        """'scanning channel N of 28 …' for the scan under way (None when not scanning)."""
        if self._scan is None:
            return None
        started, report = self._scan
        elapsed = (time.monotonic() if now is None else now) - started
        per_channel = report.expected_seconds / CHANNELS
        index = min(CHANNELS, 1 + int(elapsed / per_channel)) if per_channel > 0 else 1
        heard = f", {len(report.beacons)} beacon(s)" if report.beacons else ""
        return (
            f"scanning channel {index} of {CHANNELS} (ch {FIRST_CHANNEL + index - 1}, "
            f"duration {report.duration}, about {report.expected_seconds:.0f} s){heard}"
        )

    def _show_scan(self) -> None:
        text = self.scan_text()
        if text is not None:
            self._show(text)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            self._show_scan()

    def _show(self, text: str) -> None:
        if not self.live:
            return
        with contextlib.suppress(OSError, ValueError):
            self.stream.write(f"\r\x1b[2Krouteb: {text}…")
            self.stream.flush()
            self._shown = True

    def close(self) -> None:
        """Stop ticking and clear the line (before the command prints its result)."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self._shown:
            with contextlib.suppress(OSError, ValueError):
                self.stream.write("\r\x1b[2K")
                self.stream.flush()
            self._shown = False


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (OSError, ValueError):
        return False


def stage_line(*, quiet: bool = False, device: str = "") -> Progress:
    """A Progress on stderr: live on a terminal, silent when piped or ``quiet``; close() it."""
    return Progress(sys.stderr, live=not quiet and _is_terminal(sys.stderr), device=device)


@contextlib.contextmanager
def progress(*, quiet: bool = False, device: str = "") -> Iterator[Progress]:
    """A stage line on stderr while the block runs (nothing when piped or ``quiet``)."""
    reporter = stage_line(quiet=quiet, device=device)
    try:
        yield reporter
    finally:
        reporter.close()
