"""The latest LiveState of every meter, fanned out to whoever subscribes (the sinks, SSE)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Final

from routeb.live.state import LiveState

__all__ = ["LiveHub"]

# A subscriber that falls this far behind loses its oldest updates, never blocks the collector.
_BACKLOG: Final = 64


class LiveHub:
    """Holds the latest LiveState per meter and fans updates out to subscribers."""

    def __init__(self) -> None:
        self._states: dict[str, LiveState] = {}
        self._subscribers: set[asyncio.Queue[LiveState]] = set()

    def get(self, meter: str) -> LiveState | None:
        """The latest state of ``meter``."""
        return self._states.get(meter)

    def all(self) -> list[LiveState]:
        """Every meter's latest state."""
        return list(self._states.values())

    def publish(self, state: LiveState) -> None:
        """Store ``state`` and wake every subscriber (a slow one loses older updates)."""
        self._states[state.meter] = state
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(state)

    async def updates(self) -> AsyncIterator[LiveState]:
        """Every state published from now on."""
        queue: asyncio.Queue[LiveState] = asyncio.Queue(_BACKLOG)
        self._subscribers.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.discard(queue)
