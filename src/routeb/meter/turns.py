"""Whose request goes to the meter next: one at a time, live polls before background work.

The client sends one request at a time (protocol.md §C "concurrency": every implementation
serialises). :class:`Turns` is that mutex with priorities: a live poll waiting is served
before any routine read or background request (history, backfill), and a lower one that is
retransmitting steps aside between two attempts when a live poll is waiting — never while an
answer may still be on its way, so there is still only one request in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator
from enum import IntEnum

__all__ = ["Priority", "Turns"]


class Priority(IntEnum):
    """Lower is served first."""

    LIVE = 0  # the instantaneous poll, a CLI read
    ROUTINE = 1  # the collector's other periodic reads (energy, clock, fixed-time fallback)
    BACKGROUND = 2  # history / backfill


class Turns:
    """A priority mutex (FIFO within one priority)."""

    def __init__(self) -> None:
        self._held = False
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def locked(self) -> bool:
        return self._held

    def more_urgent_waiting(self, priority: Priority) -> bool:
        """Is a request of higher priority than ``priority`` waiting?"""
        return any(p < priority and not f.done() for p, _, f in self._queue)

    async def acquire(self, priority: Priority) -> None:
        if not self._held and not self._queue:
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (int(priority), next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._queue:
            _, _, future = heapq.heappop(self._queue)
            if not future.done():
                future.set_result(None)  # ownership passes straight to the waiter
                return
        self._held = False

    @contextlib.asynccontextmanager
    async def turn(self, priority: Priority) -> AsyncIterator[None]:
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()
