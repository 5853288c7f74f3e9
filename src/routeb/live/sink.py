"""The seam every push output implements, and how the daemon runs a set of them.

A sink (MQTT, InfluxDB, Home Assistant statistics) runs beside the collector
until the daemon stops; on a clean stop it gets a bounded time to finish (say ``offline``,
write what is queued), then it is cancelled. Whatever it reads — the live hub or the store's
outbox — it never raises for its own server's trouble: it logs one line and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Final, Protocol

__all__ = ["STOP_TIMEOUT", "Sink", "running"]

_LOG = logging.getLogger(__name__)
# A clean stop (SIGTERM) must not hang on a server that is down: each sink gets this long.
STOP_TIMEOUT: Final = 5.0


class Sink(Protocol):
    """An output of routeb that runs beside the collector."""

    @property
    def name(self) -> str:
        """A short name for logs and task names (``mqtt``, ``influxdb``, …)."""
        ...

    async def run(self) -> None:
        """Deliver until cancelled; reconnect by itself."""
        ...

    async def stop(self) -> None:
        """Finish cleanly (flush, publish ``offline``) before the task is cancelled."""
        ...


@contextlib.asynccontextmanager
async def running(
    sinks: Sequence[Sink], stop_timeout: float = STOP_TIMEOUT
) -> AsyncIterator[list[asyncio.Task[None]]]:
    """Run every sink as a task; on exit stop each (bounded), then cancel what is left."""
    tasks = [asyncio.create_task(sink.run(), name=f"routeb-{sink.name}") for sink in sinks]
    try:
        yield tasks
    finally:
        for sink, task in zip(sinks, tasks, strict=True):
            if task.done():
                continue
            try:
                await asyncio.wait_for(sink.stop(), stop_timeout)
            except TimeoutError:
                _LOG.warning("%s: did not stop within %.0f s", sink.name, stop_timeout)
            except Exception as exc:  # noqa: BLE001 - a sink's trouble must not block the others' stop
                _LOG.warning("%s: stop failed: %s", sink.name, exc)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
