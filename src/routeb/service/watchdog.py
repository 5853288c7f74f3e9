"""Feed systemd's watchdog only while the daemon is healthy, so that systemd restarts it if not.

Healthy means: the event loop turns (the feeding task runs in it: a blocked loop feeds
nothing), and every check passes in time — for ``routeb run`` the store commits what it was
given and can take a write lock (``store_probe``). A failed check is logged once, with the
reason in ``STATUS=``; feeding resumes when the checks pass again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from routeb.service.notify import Notifier
from routeb.storage import AsyncStore, SqliteStore

__all__ = ["HealthCheck", "Watchdog", "store_probe"]

_LOG = logging.getLogger(__name__)
HealthCheck = Callable[[], Awaitable[None]]  # raises (or times out) when unhealthy
# sd_watchdog_enabled(3): notify at half the watchdog interval.
FEED_FRACTION: Final = 0.5


class Watchdog:
    """Runs the checks every half watchdog interval and feeds systemd when all pass."""

    def __init__(
        self,
        notifier: Notifier,
        checks: Sequence[tuple[str, HealthCheck]],
        *,
        interval: float | None = None,
    ) -> None:
        self.notifier = notifier
        self.checks = list(checks)
        period = interval if interval is not None else notifier.watchdog_seconds
        self.period = None if period is None else period * FEED_FRACTION
        self.fed = 0
        self.failing: str | None = None
        self._running: dict[str, asyncio.Future[None]] = {}
        self._started: dict[str, float] = {}

    async def run(self) -> None:
        """Until cancelled (returns at once when systemd set no watchdog)."""
        if self.period is None:
            return
        try:
            await self._feed(self.period)
        finally:
            await self.close()

    async def _feed(self, period: float) -> None:
        while True:
            started = time.monotonic()
            problem = await self._problem(period)
            if problem is None:
                if self.failing is not None:
                    _LOG.warning("healthy again (%s passed); feeding the watchdog", self.failing)
                    self.failing = None
                if self.notifier.watchdog():
                    self.fed += 1
            elif problem.split(":", 1)[0] != (self.failing or "").split(":", 1)[0]:
                self.failing = problem  # logged once per failing check, not every round
                _LOG.error("unhealthy, not feeding the watchdog: %s", problem)
                self.notifier.status(f"unhealthy: {problem}")
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))

    async def _problem(self, period: float) -> str | None:
        """The first check that failed or has not answered within ``period`` (None: healthy).

        A check still running from an earlier round is waited for, never started twice and
        never cancelled (a probe stuck behind a database lock must not pile up).
        """
        for name, check in self.checks:
            task = self._running.get(name)
            if task is None:
                task = self._running[name] = asyncio.ensure_future(check())
                self._started[name] = time.monotonic()
            done, _ = await asyncio.wait({task}, timeout=period)
            if not done:
                waited = time.monotonic() - self._started[name]
                return f"{name}: no answer within {period:g} s (waiting for {waited:.1f} s)"
            del self._running[name]
            error = task.exception()
            if error is not None:
                return f"{name}: {error}"
        return None

    async def close(self) -> None:
        """Wait for (at most briefly) and forget the checks still running."""
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        self._running.clear()


def store_probe(store: AsyncStore) -> HealthCheck:
    """A check that the store commits what it has and can still take a write lock."""

    def lock(sqlite: SqliteStore) -> None:
        conn = sqlite.connection
        conn.execute("BEGIN IMMEDIATE")  # waits busy_timeout for a lock another process holds
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")

    async def probe() -> None:
        await store.flush()
        await store.call(lock)

    return probe
