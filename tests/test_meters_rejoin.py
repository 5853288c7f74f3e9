"""A join right after the meter ended a session (several meters on one dongle, peers.md).

The emulator's rejoin guard gives no PANA answer to a join within S seconds of the meter's
last session ending (EVENT 24). With ``rejoin_retry_after`` the session waits and joins once
more from its cache instead of rescanning; without it (one meter per dongle) it rescans.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from routeb._redact import Secret
from routeb.driver.cache import ScanCache, meter_key
from routeb.driver.session import BRouteSession, SessionSettings
from routeb.emulator.app import (
    DEFAULT_ID,
    DEFAULT_PASSWORD,
    Emulator,
    EmulatorOptions,
    meter_credentials,
)
from routeb.errors import PanaTimeoutError

# 100 emulator seconds × time scale 0.01: a join within 1 s of SKTERM gets no answer.
GUARD = 100.0


async def _twice(tmp_path: Path, retry_after: float) -> BRouteSession:
    emulator = Emulator(EmulatorOptions(time_scale=0.01, meters=2, rejoin_guard=GUARD))
    ready = await emulator.start()
    rbid, password = meter_credentials(DEFAULT_ID, DEFAULT_PASSWORD, 2)
    settings = SessionSettings(rejoin_retry_after=retry_after, join_timeout=5.0)
    try:
        for _ in range(2):
            session = BRouteSession(
                str(ready["serial"]),
                Secret(rbid),
                Secret(password),
                state_dir=tmp_path,
                settings=settings,
            )
            await session.connect()
            assert session.ready
            await session.close()  # SKTERM: the meter starts cleaning up
    finally:
        await emulator.close()
    return session


async def test_an_event_24_join_is_retried_after_the_pause_not_rescanned(tmp_path: Path) -> None:
    session = await _twice(tmp_path, retry_after=1.5)
    kinds = [e.kind for e in session.stats.history]
    assert session.stats.recovery.scans == 0, kinds  # joined from the cache, twice
    assert session.stats.recovery.joins == 2  # the rejected one and the retry
    assert "rejoin" in kinds


async def test_without_the_retry_the_cache_is_doubted_but_good_credentials_never_latch(
    tmp_path: Path,
) -> None:
    """Why the retry exists: without it the session forgets its cache and rescans, which is
    quicker than the meter's clean-up, so that join fails too. Before issue 16 §4 a beacon
    then EVENT 24 read as rejected credentials (a false latch); now a PANA nobody answered
    is never a rejection, so the session fails this connect and the next one joins."""
    with pytest.raises(PanaTimeoutError):
        await _twice(tmp_path, retry_after=0.0)
    rbid, password = meter_credentials(DEFAULT_ID, DEFAULT_PASSWORD, 2)
    cache = ScanCache(tmp_path)
    assert cache.latched_reason(meter_key(Secret(rbid)), Secret(rbid), Secret(password)) is None
