"""How a USB-serial adapter hands the module's bytes to the host: in bursts, not per line.

A module writes line by line, but the adapter between it and the host collects what arrives
and sends it on when its latency timer expires or its packet is full (FTDI's latency timer
defaults to 16 ms, FTDI AN232B-04; a CDC-ACM device such as the RS-WSUHA-J11 polls every 1 ms
frame of USB full speed). A host therefore reads several lines in one read, and sometimes a
line cut in two. :class:`BurstWriter` does that to the emulator's output: everything written
within ``latency`` seconds of the first byte goes out in one write, optionally cut into
``chunk``-byte pieces written a moment apart (a host that reads in small pieces).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Final

__all__ = ["CDC_LATENCY", "FTDI_LATENCY", "BurstWriter"]

# FTDI AN232B-04 §3: the latency timer's default is 16 ms.
FTDI_LATENCY: Final = 0.016
# USB full speed: one bulk-IN poll per 1 ms frame (CDC-ACM devices have no latency timer).
CDC_LATENCY: Final = 0.001
# Between the pieces of a cut burst: the next USB packet.
_PIECE_GAP: Final = 0.001


class BurstWriter:
    """Collect writes for ``latency`` seconds, then deliver them as one (or ``chunk``-sized)."""

    def __init__(
        self, deliver: Callable[[bytes], None], *, latency: float, chunk: int | None = None
    ) -> None:
        self._deliver = deliver
        self._latency = max(0.0, latency)
        self._chunk = chunk if chunk and chunk > 0 else None
        self._pending = bytearray()
        self._timer: asyncio.TimerHandle | None = None
        self._pieces: deque[bytes] = deque()  # pieces of cut bursts, in order
        self._draining: asyncio.TimerHandle | None = None
        self.bursts = 0  # deliveries made (tests and benches look at it)

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pending += data
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._latency, self._flush)

    def _flush(self) -> None:
        self._timer = None
        burst = bytes(self._pending)
        self._pending.clear()
        if not burst:
            return
        self.bursts += 1
        if self._chunk is None or len(burst) <= self._chunk:
            self._deliver(burst)
            return
        chunk = self._chunk
        self._pieces.extend(burst[i : i + chunk] for i in range(0, len(burst), chunk))
        if self._draining is None:
            self._drain()

    def _drain(self) -> None:
        self._draining = None
        if self._pieces:
            self._deliver(self._pieces.popleft())
        if self._pieces:
            loop = asyncio.get_running_loop()
            self._draining = loop.call_later(_PIECE_GAP, self._drain)

    def close(self) -> None:
        """Drop what is still held (the device went away)."""
        for timer in (self._timer, self._draining):
            if timer is not None:
                timer.cancel()
        self._timer = self._draining = None
        self._pending.clear()
        self._pieces.clear()
