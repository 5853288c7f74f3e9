"""The InfluxDB sink: the store's outbox, batch by batch, acknowledged only after a 204.

The backlog is the outbox itself (consumer ``influxdb``, the same SQLite outbox the fleet
stream reads): during an InfluxDB outage nothing is acknowledged, so everything is written
once the server is back. It is bounded: raw readings (E7/E8, E0/E3) older than
``backlog_days`` when they are finally sent are skipped and counted (the store's own
retention removes them too); half-hours — the meter's history — are never skipped. A batch
sent twice (a lost acknowledgement) writes the same points again, which InfluxDB overwrites:
every point ends up there exactly once.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar
from urllib.parse import urlencode, urlsplit

import aiohttp

from routeb._redact import Secret
from routeb.errors import ConfigError, RouteBError
from routeb.influx.lines import lines_of
from routeb.storage.model import Change, CumulativeReading, InstantReading
from routeb.storage.sqlite import SqliteStore
from routeb.storage.times import to_epoch

__all__ = ["CONSUMER", "InfluxSettings", "InfluxSink", "write_url"]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")
CONSUMER: Final = "influxdb"
_RETRY_MIN: Final = 1.0
_RETRY_MAX: Final = 300.0
_DAY: Final = 86400


class InfluxError(RouteBError):
    """InfluxDB did not take a batch (unreachable, refused, or an error status)."""


@dataclass(frozen=True, slots=True)
class InfluxSettings:
    """[influxdb] in the config (docs/influxdb.md)."""

    url: str
    version: int = 2
    token: Secret | None = None
    org: str = ""
    bucket: str = "routeb"
    database: str = "routeb"
    username: str | None = None
    password: Secret | None = None
    measurement: str = "routeb"
    interval: float = 10.0
    batch: int = 5000
    backlog_days: int = 31
    timeout: float = 30.0


def write_url(settings: InfluxSettings) -> str:
    """1.x: ``/write?db=…``; 2.x and 3.x: ``/api/v2/write?org=…&bucket=…``; seconds."""
    parts = urlsplit(settings.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("influxdb.url", "must look like http://127.0.0.1:8086")
    base = settings.url.rstrip("/")
    if settings.version == 1:
        return f"{base}/write?" + urlencode({"db": settings.database, "precision": "s"})
    query = {"org": settings.org, "bucket": settings.bucket, "precision": "s"}
    return f"{base}/api/v2/write?" + urlencode({k: v for k, v in query.items() if v})


def _headers(settings: InfluxSettings) -> dict[str, str]:
    headers = {"Content-Type": "text/plain; charset=utf-8"}
    if settings.token is not None:
        headers["Authorization"] = f"Token {settings.token.reveal()}"
    elif settings.username and settings.password is not None:
        pair = f"{settings.username}:{settings.password.reveal()}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    return headers


class InfluxSink:
    """Writes the outbox of ``db_path`` to InfluxDB until stopped (a :class:`Sink`)."""

    name = "influxdb"

    def __init__(
        self,
        settings: InfluxSettings,
        db_path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.db_path = Path(db_path)
        self.clock = clock
        self.url = write_url(settings)
        self.written_lines = 0
        self.skipped = 0  # raw readings past the backlog bound
        self.acked_seq = 0
        self.last_error: str | None = None
        self.idle = asyncio.Event()  # set whenever the outbox was found empty
        self._store: SqliteStore | None = None
        self._stopping = asyncio.Event()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="routeb-influx-outbox")

    async def _in_thread(self, function: Callable[[SqliteStore], _T]) -> _T:
        def call() -> _T:
            if self._store is None:
                self._store = SqliteStore(self.db_path)
            return function(self._store)

        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _fresh(self, change: Change) -> bool:
        record = change.record
        if isinstance(record, InstantReading | CumulativeReading):
            age = self.clock() - to_epoch(record.at)
            return age <= self.settings.backlog_days * _DAY
        return True

    async def drain_once(self, http: aiohttp.ClientSession) -> int:
        """Write one batch of the outbox and acknowledge it; the number of changes covered."""
        changes = await self._in_thread(lambda s: s.pending(CONSUMER, self.settings.batch))
        if not changes:
            return 0
        fresh = [c for c in changes if self._fresh(c)]
        if len(fresh) < len(changes):
            self.skipped += len(changes) - len(fresh)
            _LOG.warning(
                "influxdb: %d raw readings older than %d days skipped (backlog bound)",
                len(changes) - len(fresh),
                self.settings.backlog_days,
            )
        lines = lines_of(self.settings.measurement, fresh)
        if lines:
            await self._write(http, "\n".join(lines) + "\n")
        last = changes[-1].seq
        await self._in_thread(lambda s: s.acknowledge(CONSUMER, last))
        self.acked_seq = last
        self.written_lines += len(lines)
        return len(changes)

    async def _write(self, http: aiohttp.ClientSession, body: str) -> None:
        try:
            async with http.post(
                self.url, data=body.encode(), headers=_headers(self.settings)
            ) as response:
                if response.status in (200, 204):
                    return
                text = (await response.text()).strip().splitlines()
                detail = text[0][:200] if text else response.reason or ""
                raise InfluxError(f"InfluxDB answered {response.status}: {detail}")
        except aiohttp.ClientError as exc:
            reason = str(exc).strip().splitlines()
            raise InfluxError(
                f"InfluxDB at {self.settings.url}: {reason[0] if reason else type(exc).__name__}"
            ) from None
        except TimeoutError:
            raise InfluxError(f"InfluxDB at {self.settings.url} did not answer in time") from None

    async def run(self) -> None:
        """Drain, wait ``interval``, drain again; on trouble one log line and backoff."""
        delay = _RETRY_MIN
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                while not self._stopping.is_set():
                    try:
                        while await self.drain_once(http):
                            self.idle.clear()
                        if self.last_error is not None:
                            _LOG.info("influxdb: writing again")
                        self.last_error = None
                        delay = _RETRY_MIN
                        self.idle.set()
                        wait = self.settings.interval
                    except (InfluxError, RouteBError, OSError) as exc:
                        message = str(exc)
                        level = logging.DEBUG if message == self.last_error else logging.WARNING
                        _LOG.log(level, "influxdb: %s; trying again in %.0f s", message, delay)
                        self.last_error = message
                        wait, delay = delay, min(_RETRY_MAX, delay * 2)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), wait)
                # A clean stop: what was recorded since the last batch goes out now (bounded
                # by the daemon's stop timeout; anything left is written at the next start).
                with contextlib.suppress(InfluxError, RouteBError, OSError):
                    while await self.drain_once(http):
                        pass
        finally:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close)
            self._thread.shutdown(wait=False)

    async def stop(self) -> None:
        """Stop after the current batch; what was not acknowledged is written next time."""
        self._stopping.set()
