"""Fleet ingest throughput: simulator → Mosquitto → `routeb ingest` (1 and 2 workers) → PostgreSQL.

Next to it, in the same rounds, two baselines that put the same rows straight into the same
(empty) partitioned tables in one transaction, without MQTT, JSON or validation:

- the *binary* COPY (the stricter one, and the real limit): the rows encoded in PostgreSQL's
  binary COPY format *before* the clock starts, so that the timed window holds only the bytes
  streamed to the server and the commit — the format the workers use;
- the *text* COPY (the baseline of earlier runs, kept for comparison): text COPY with one
  ``write_row`` and one ``strftime`` per row inside the timed window.

Latency = publish (message "sent") → batch committed, from the workers' histograms.

    python bench/ingest.py [--homes 400] [--hours 3] [--step 3600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg.copy import Copy, FileWriter

sys.path.insert(0, str(Path(__file__).parents[1]))

from routeb.fleet import pg
from routeb.fleet.metrics import Histogram
from routeb.fleet.schema import FleetMessage, encode, topic_for
from routeb.fleet.settings import FleetSettings, mqtt_client
from routeb.fleet.simulator import FleetSimulator
from tests.servers.mosquitto import Broker, free_port
from tests.servers.postgres import Postgres


def _count(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM fleet_instant) + (SELECT count(*) FROM fleet_cumulative)"
            " + (SELECT count(*) FROM fleet_slots)"
        ).fetchone()
        return int(row[0]) if row else 0  # type: ignore[call-overload]


def _fresh(server: Postgres) -> str:
    dsn = server.create_database()
    with psycopg.connect(dsn) as conn:
        pg.migrate(conn)
    return dsn


# (table, message field, columns after site and meter, binary types of all columns).
_TABLES = (
    ("fleet_instant", "instant", 4, ("text", "text", "int8", "int4", "int2", "int2")),
    (
        "fleet_cumulative",
        "cumulative",
        6,
        ("text", "text", "int8", "int8", "int8", "int4", "int2", "int2"),
    ),
    (
        "fleet_slots",
        "slots",
        9,
        ("text", "text", "int8", "int8", "int8", "int4", "int2", "int2", "int8", "int8", "int8"),
    ),
)
# PostgreSQL's binary timestamptz: int64 microseconds since 2000-01-01 UTC (as fleet/pg.py).
_PG_EPOCH = 946_684_800


def _unique_rows(
    messages: list[FleetMessage], kind: str, cols: int
) -> Iterator[tuple[object, ...]]:
    """(site, meter, ts, …) of every row the fleet store ends up with (slots once each)."""
    seen: set[tuple[str, int]] = set()
    for m in messages:
        for row in getattr(m, kind):
            if kind == "slots":
                if (m.meter, row[0]) in seen:
                    continue
                seen.add((m.meter, row[0]))
            yield (m.site, m.meter, *row[:cols])


def binary_copy(dsn: str, sim_messages: list[FleetMessage]) -> tuple[int, float]:
    """The stricter baseline: pre-encoded binary COPY; the clock covers only send and commit."""
    conn = pg.connect(dsn)
    pg.PartitionKeeper().for_messages(conn, sim_messages)
    encoded: list[tuple[str, bytes]] = []
    rows = 0
    with conn.cursor() as cur:
        for table, kind, cols, types in _TABLES:
            buffer = io.BytesIO()
            with Copy(cur, binary=True, writer=FileWriter(buffer)) as copy:
                copy.set_types(list(types))
                for site, meter, ts, *values in _unique_rows(sim_messages, kind, cols):
                    copy.write_row((site, meter, (ts - _PG_EPOCH) * 1_000_000, *values))
                    rows += 1
            encoded.append((f"COPY {table} FROM STDIN (FORMAT BINARY)", buffer.getvalue()))
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        for statement, data in encoded:
            with cur.copy(statement.encode()) as copy:
                copy.write(data)
    took = time.perf_counter() - started
    conn.close()
    return rows, took


def raw_copy(dsn: str, sim_messages: list[FleetMessage]) -> tuple[int, float]:
    """The earlier baseline: text COPY, one write_row and strftime per row in the window."""
    conn = pg.connect(dsn)
    pg.PartitionKeeper().for_messages(conn, sim_messages)
    rows = 0
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        for table, kind, cols in (
            ("fleet_instant", "instant", 4),
            ("fleet_cumulative", "cumulative", 6),
            ("fleet_slots", "slots", 9),
        ):
            seen: set[tuple[str, int]] = set()
            with cur.copy(f"COPY {table} FROM STDIN".encode()) as copy:
                for m in sim_messages:
                    for row in getattr(m, kind):
                        if kind == "slots":
                            if (m.meter, row[0]) in seen:
                                continue
                            seen.add((m.meter, row[0]))
                        ts = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(row[0]))
                        copy.write_row((m.site, m.meter, ts, *row[1:cols]))
                        rows += 1
    took = time.perf_counter() - started
    conn.close()
    return rows, took


_PLACEHOLDER = 1_000_000_000.123456
_PLACEHOLDER_TEXT = b'"sent":1000000000.123456'


async def publish(url: str, items: list[tuple[str, bytes]]) -> None:
    settings = FleetSettings(url=url, max_inflight=1000)
    clients = [mqtt_client(settings, f"bench-{n}", clean_start=True) for n in range(2)]
    for c in clients:
        await c.__aenter__()
    try:
        sem = asyncio.Semaphore(2000)

        async def one(n: int, topic: str, payload: bytes) -> None:
            async with sem:
                stamp = f'"sent":{time.time():.6f}'.encode()
                payload = payload.replace(_PLACEHOLDER_TEXT, stamp, 1)
                await clients[n % 2].publish(topic, payload, qos=1, timeout=120)

        await asyncio.gather(*(one(n, t, p) for n, (t, p) in enumerate(items)))
    finally:
        for c in clients:
            await c.__aexit__(None, None, None)


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


def _rows_written(ports: list[int]) -> int:
    return int(sum(_metric(port, "routeb_ingest_rows_total") for port in ports))


def _latency(ports: list[int]) -> Histogram:
    merged = Histogram()
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        previous = 0
        for i, bound in enumerate(merged.bounds):
            key = f'routeb_ingest_latency_seconds_bucket{{le="{bound}"}} '
            line = next(x for x in text.splitlines() if x.startswith(key))
            value = int(line.split()[-1])
            merged.counts[i] += value - previous
            previous = value
        merged.count = sum(merged.counts)
    return merged


def end_to_end(
    server: Postgres, broker: Broker, workers: int, messages: list[FleetMessage], expected: int
) -> dict[str, float]:
    dsn = _fresh(server)
    ports = [free_port() for _ in range(workers)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "routeb",
                "ingest",
                "--db",
                dsn,
                "--mqtt",
                broker.url,
                "--worker",
                f"bench-{workers}-{n}",
                "--listen",
                f"127.0.0.1:{ports[n]}",
                "--group",
                f"bench{workers}",
            ],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
        )
        for n in range(workers)
    ]
    try:
        time.sleep(2.5)
        # The homes' own work, before the clock starts: each payload is encoded with a
        # placeholder send time of the same width, filled in as the payload is published.
        items = []
        for m in messages:
            m.sent = _PLACEHOLDER
            items.append((topic_for("routeb-fleet", m.site, m.meter), encode(m)))
            m.sent = None
        started = time.time()
        asyncio.run(publish(broker.url, items))
        # The workers' own counters of committed new rows: polling count(*) over the growing
        # tables ten times a second would load the very database being measured.
        while _rows_written(ports) < expected:
            time.sleep(0.05)
        took = time.time() - started
        stored = _count(dsn)
        if stored != expected:
            raise SystemExit(f"{workers} worker(s): {stored} rows stored, {expected} expected")
        hist = _latency(ports)
        return {
            "rows": expected,
            "seconds": took,
            "rate": expected / took,
            "p50": hist.quantile(0.5) or 0.0,
            "p99": hist.quantile(0.99) or 0.0,
        }
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


@contextlib.contextmanager
def _broker() -> Iterator[Broker]:
    broker = Broker(Path(tempfile.mkdtemp()))
    broker.config.write_text(
        f"listener {broker.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_inflight_messages 1000\nmax_queued_messages 0\nlog_type error\n"
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--homes", type=int, default=400)
    parser.add_argument("--hours", type=int, default=3)
    parser.add_argument("--step", type=int, default=3600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sim = FleetSimulator(args.homes, poll=10, max_rows=5000)
    t = time.perf_counter()
    for _ in range(args.hours * 3600 // args.step):
        sim.advance(args.step)
    messages = [m for h in sim.homes for m in h.backlog]
    expected = sum(sim.generated.values())
    readings = sum(m.readings for m in messages)
    print(f"generated {readings} readings in {len(messages)} messages "
          f"({time.perf_counter() - t:.1f} s); unique rows {expected}")  # fmt: skip
    server = Postgres()
    server.start()
    try:
        # Interleaved rounds (the machine is shared and noisy): each round measures the raw
        # COPY and both worker counts back to back; ratios are taken within a round.
        baselines = {"binary": binary_copy, "text": raw_copy}
        base_rates: dict[str, list[float]] = {name: [] for name in baselines}
        results: dict[int, list[dict[str, float]]] = {1: [], 2: []}
        shares: dict[tuple[int, str], list[float]] = {
            (w, name): [] for w in (1, 2) for name in baselines
        }
        for round_ in range(1, args.rounds + 1):
            for name, baseline in baselines.items():
                rows, took = baseline(_fresh(server), messages)
                if rows != expected:
                    raise SystemExit(f"{name} COPY wrote {rows} rows, {expected} expected")
                base_rates[name].append(rows / took)
                print(
                    f"round {round_}: {name} COPY {rows} rows in {took:.2f} s "
                    f"= {rows / took:,.0f}/s"
                )
            for workers in (1, 2):
                # A fresh broker each time: the sessions of earlier runs' workers would
                # otherwise queue (and later replay) every message published after them.
                with _broker() as broker:
                    r = end_to_end(server, broker, workers, messages, expected)
                results[workers].append(r)
                for name in baselines:
                    shares[workers, name].append(r["rate"] / base_rates[name][-1])
                print(
                    f"round {round_}: {workers} worker(s) {r['rate']:,.0f} readings/s "
                    f"({shares[workers, 'binary'][-1]:.0%} of binary COPY, "
                    f"{shares[workers, 'text'][-1]:.0%} of text COPY), "
                    f"latency p50 {r['p50']:.2f} s p99 {r['p99']:.2f} s",
                    flush=True,
                )
        median = statistics.median
        print(f"\nmedians of {args.rounds} rounds:")
        for name in baselines:
            rates = base_rates[name]
            print(
                f"  {name} COPY: {median(rates):,.0f} rows/s ({min(rates):,.0f}–{max(rates):,.0f})"
            )
        for workers in (1, 2):
            rs = results[workers]
            share = {name: shares[workers, name] for name in baselines}
            print(
                f"  {workers} worker(s): {median(r['rate'] for r in rs):,.0f} readings/s; "
                + "; ".join(
                    f"{median(v):.0%} of {name} COPY ({min(v):.0%}–{max(v):.0%})"
                    for name, v in share.items()
                )
                + f" (medians of per-round ratios); latency p50 "
                f"{median(r['p50'] for r in rs):.2f} s p99 {median(r['p99'] for r in rs):.2f} s"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
