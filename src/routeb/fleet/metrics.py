"""Prometheus metrics of an ingest worker (text format 0.0.4, hand-rendered)."""

from __future__ import annotations

import bisect
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from routeb.export.prometheus import CONTENT_TYPE
from routeb.fleet.schema import REJECTIONS

__all__ = ["Histogram", "IngestMetrics", "Waiting", "metrics_app"]

LATENCY_BUCKETS: Final = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0,
    10.0, 30.0, 60.0, 300.0,
)  # fmt: skip


@dataclass(slots=True)
class Histogram:
    """Cumulative buckets, sum and count."""

    bounds: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float, n: int = 1) -> None:
        """Add ``n`` observations of ``value``."""
        self.counts[bisect.bisect_left(self.bounds, value)] += n
        self.total += value * n
        self.count += n

    def quantile(self, q: float) -> float | None:
        """Linear interpolation inside the bucket holding quantile ``q``."""
        if not self.count:
            return None
        rank = q * self.count
        seen = 0
        low = 0.0
        for i, n in enumerate(self.counts):
            high = self.bounds[i] if i < len(self.bounds) else self.bounds[-1]
            if seen + n >= rank and n:
                return low + (high - low) * (rank - seen) / n
            seen += n
            low = high
        return self.bounds[-1]

    def lines(self, name: str) -> list[str]:
        """Exposition lines."""
        out = []
        running = 0
        for bound, n in zip(self.bounds, self.counts, strict=False):
            running += n
            out.append(f'{name}_bucket{{le="{bound}"}} {running}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {self.total!r}")
        out.append(f"{name}_count {self.count}")
        return out


@dataclass(frozen=True, slots=True)
class Waiting:
    """What a worker holds right now: received, not yet acknowledged."""

    unacked: int = 0
    parked: int = 0  # of which waiting for their partitions
    oldest: float | None = None  # time.monotonic() of the oldest one's arrival


@dataclass(slots=True)
class IngestMetrics:
    """Counters the worker updates; ``render()`` for /metrics."""

    messages: int = 0
    readings: int = 0
    rows_inserted: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)  # by kind
    batches: int = 0
    failed_batches: int = 0
    fallbacks: int = 0  # readings COPYs that met stored rows and took the staging path
    partitions_created: int = 0
    partition_errors: int = 0
    connected: bool = False
    batch_seconds: Histogram = field(default_factory=Histogram)
    latency_seconds: Histogram = field(default_factory=Histogram)
    # The worker's view of what it holds, read at every scrape (so a stuck worker shows).
    waiting: Callable[[], Waiting] = Waiting
    _window: deque[tuple[float, int, int]] = field(default_factory=deque)

    def committed(
        self,
        messages: int,
        readings: int,
        inserted: int,
        took: float,
        fallbacks: int = 0,
        dead: Iterable[str] = (),
    ) -> None:
        """One batch committed (``dead``: the kind of each of its dead letters)."""
        self.fallbacks += fallbacks
        self.messages += messages
        self.readings += readings
        self.rows_inserted += inserted
        self.dead_letters.update(dead)
        self.batches += 1
        self.batch_seconds.observe(took)
        now = time.monotonic()
        self._window.append((now, self.messages, self.readings))
        while self._window and now - self._window[0][0] > 10.0:
            self._window.popleft()

    def lag_seconds(self, waiting: Waiting) -> float:
        """How long the oldest message held has waited (0: none)."""
        if waiting.oldest is None:
            return 0.0
        return round(max(0.0, time.monotonic() - waiting.oldest), 3)

    def rates(self) -> tuple[float, float]:
        """(messages/s, readings/s) over the last ~10 s."""
        if len(self._window) < 2:
            return 0.0, 0.0
        (t0, m0, r0), (t1, m1, r1) = self._window[0], self._window[-1]
        span = max(time.monotonic() - t0, t1 - t0, 1e-9)
        return (m1 - m0) / span, (r1 - r0) / span

    def render(self) -> str:
        """The exposition text."""
        per_message, per_reading = self.rates()
        lines: list[str] = []

        def metric(name: str, kind: str, help_text: str, value: float | int) -> None:
            lines.extend((f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value}"))

        metric("routeb_ingest_messages_total", "counter", "MQTT messages committed", self.messages)
        metric("routeb_ingest_readings_total", "counter", "Readings received", self.readings)
        metric("routeb_ingest_rows_total", "counter", "New rows written", self.rows_inserted)
        lines.extend(
            (
                "# HELP routeb_ingest_dead_letters_total Messages kept as dead letters, by kind",
                "# TYPE routeb_ingest_dead_letters_total counter",
            )
        )
        for kind in (*REJECTIONS, *sorted(set(self.dead_letters) - set(REJECTIONS))):
            lines.append(
                f'routeb_ingest_dead_letters_total{{kind="{kind}"}} {self.dead_letters[kind]}'
            )
        metric("routeb_ingest_batches_total", "counter", "Batches committed", self.batches)
        metric(
            "routeb_ingest_failed_batches_total", "counter", "Failed writes", self.failed_batches
        )
        metric(
            "routeb_ingest_fallbacks_total",
            "counter",
            "Direct COPYs that met stored rows (redeliveries, replays) and were redone by upsert",
            self.fallbacks,
        )
        metric("routeb_ingest_messages_per_second", "gauge", "Last 10 s", round(per_message, 3))
        metric("routeb_ingest_readings_per_second", "gauge", "Last 10 s", round(per_reading, 3))
        waiting = self.waiting()
        metric(
            "routeb_ingest_lag_seconds",
            "gauge",
            "Age of the oldest message received and not yet committed (grows while stuck)",
            self.lag_seconds(waiting),
        )
        metric(
            "routeb_ingest_unacked_messages",
            "gauge",
            "Received, not yet committed",
            waiting.unacked,
        )
        metric(
            "routeb_ingest_parked_messages",
            "gauge",
            "Valid messages waiting for their partitions",
            waiting.parked,
        )
        metric(
            "routeb_ingest_partitions_created_total",
            "counter",
            "Partitions this worker created",
            self.partitions_created,
        )
        metric(
            "routeb_ingest_partition_errors_total",
            "counter",
            "Failed partition creations (tried again)",
            self.partition_errors,
        )
        metric("routeb_ingest_connected", "gauge", "1 when connected", int(self.connected))
        for name, histogram, help_text in (
            ("routeb_ingest_batch_seconds", self.batch_seconds, "Batch write latency"),
            ("routeb_ingest_latency_seconds", self.latency_seconds, "Publish to commit"),
        ):
            lines.extend((f"# HELP {name} {help_text}", f"# TYPE {name} histogram"))
            lines.extend(histogram.lines(name))
        return "\n".join(lines) + "\n"


def metrics_app(metrics: IngestMetrics) -> web.Application:
    """/metrics and /healthz."""

    async def render(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True, "connected": metrics.connected})

    app = web.Application()
    app.router.add_get("/metrics", render)
    app.router.add_get("/healthz", health)
    return app
