"""Live polling first: a gate that lets background work (backfill) use the meter only when
no live poll is waiting or about to start.

The meter client already serialises requests; this gate decides *who goes next*. A live poll
announces itself (``live()``); background work (``background()``) waits while a live poll is
running, waiting, or due within ``guard`` seconds (the schedule tells the gate when).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

__all__ = ["PriorityGate"]


class PriorityGate:
    """Two priorities over one meter."""

    def __init__(self, guard: float = 3.0) -> None:
        self.guard = guard
        self._live = 0
        self._next_live: float | None = None
        self._changed = asyncio.Condition()

    def live_due_at(self, when: float | None) -> None:
        """The loop time of the next scheduled live poll (None: nothing scheduled)."""
        self._next_live = when

    @contextlib.asynccontextmanager
    async def live(self) -> AsyncIterator[None]:
        """Hold while making a live request."""
        async with self._changed:
            self._live += 1
        try:
            yield
        finally:
            async with self._changed:
                self._live -= 1
                self._changed.notify_all()

    def _clear(self) -> bool:
        if self._live:
            return False
        if self._next_live is None:
            return True
        return self._next_live - asyncio.get_running_loop().time() > self.guard

    @contextlib.asynccontextmanager
    async def background(self) -> AsyncIterator[None]:
        """Wait for a quiet moment; background work then runs one request."""
        loop = asyncio.get_running_loop()
        while True:
            async with self._changed:
                if self._clear():
                    break
                wait = 0.5
                if not self._live and self._next_live is not None:
                    wait = max(0.05, self._next_live - loop.time() + 0.05)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(wait, 1.0))
        yield
