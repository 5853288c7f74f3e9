"""A caller that gives up on a store call (cancelled, timed out) must not stop the writer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from routeb.storage import AsyncStore, SqliteStore


async def test_a_cancelled_call_leaves_the_writer_running(tmp_path: Path) -> None:
    store = AsyncStore(tmp_path / "db.sqlite3")
    await store.open()
    try:

        def slow(_: SqliteStore) -> str:
            time.sleep(0.3)
            return "slow"

        first = asyncio.create_task(store.call(slow))
        second = asyncio.create_task(store.call(lambda _: "never needed"))
        await asyncio.sleep(0.05)
        second.cancel()  # gives up while the writer is busy with the first
        flush = asyncio.create_task(asyncio.wait_for(store.flush(), timeout=0.01))
        assert await first == "slow"
        assert await asyncio.gather(second, flush, return_exceptions=True)
        # The writer is still there: later calls and flushes are answered.
        assert await asyncio.wait_for(store.call(lambda _: "still here"), 5) == "still here"
        await asyncio.wait_for(store.flush(), 5)
    finally:
        await store.close()
