"""Hostile fleet messages at a real `routeb ingest` (issue 15 §1): a hand-written and a
hypothesis-driven corpus published to a real Mosquitto, a real PostgreSQL behind. The worker
stays up, every valid message around the bad ones is stored exactly once, each bad one is a
dead letter with its kind, /metrics counts them by kind, the lag shows a stalled worker, and
partition creation (slow, blocked, or a partition dropped under the worker) never holds up the
other sites' batches."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeb.fleet import pg
from routeb.fleet.schema import DAY, MessageError, decode
from tests.servers.mosquitto import Broker, free_port
from tests.test_fleet_e2e import _spawn, _stop

pytestmark = pytest.mark.timeout(240)

TOPIC = "routeb-fleet/v1/x/m"
NOW = int(time.time())
SLOT = NOW - NOW % 1800


class Worker:
    """A `routeb ingest` process with its /metrics, its log in the test's directory."""

    def __init__(
        self, dsn: str, broker: Broker, directory: Path, *extra: str, name: str | None = None
    ) -> None:
        self.port = free_port()
        self.log = directory / "ingest.log"
        with self.log.open("ab") as stderr:
            self.process = _spawn(
                dsn,
                broker.url,
                name or f"hostile-{self.port}",
                stderr,
                "--listen",
                f"127.0.0.1:{self.port}",
                *extra,
            )
        self.wait_metrics()

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        return {
            line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line and not line.startswith("#")
        }

    def wait_metrics(self) -> None:
        deadline = time.monotonic() + 20
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if self.metrics()["routeb_ingest_connected"] == 1:
                    time.sleep(0.5)  # subscribed just after it says connected
                    return
            except OSError:
                pass
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.1)

    def stop(self) -> None:
        _stop(self.process)


@pytest.fixture
def worker(dsn: str, broker: Broker, tmp_path: Path) -> Iterator[Worker]:
    running = Worker(dsn, broker, tmp_path)
    try:
        yield running
    finally:
        running.stop()
    assert "Traceback" not in running.log.read_text()


def publish(broker: Broker, payloads: list[bytes], topic: str = TOPIC) -> None:
    async def send() -> None:
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5
        ) as client:
            for payload in payloads:
                await client.publish(topic, payload, qos=1)

    asyncio.run(send())


def good(site: str, *stamps: int, meter: str = "m") -> bytes:
    rows = [[ts, 100 + n, 10, None] for n, ts in enumerate(stamps or (NOW,))]
    sent = round(time.time(), 3)  # the publisher's clock: the old lag was "commit − sent"
    return json.dumps({"v": 1, "site": site, "meter": meter, "i": rows, "sent": sent}).encode()


def _query(dsn: str, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql.encode(), args).fetchall()


def stored(dsn: str) -> list[tuple[str, int]]:
    """(site, ts) of every instant row, duplicates kept."""
    rows = _query(
        dsn, "SELECT site, extract(epoch FROM ts)::bigint FROM fleet_instant ORDER BY 1, 2"
    )
    return [(str(site), int(ts)) for site, ts in rows]


def dead_letters(dsn: str) -> list[tuple[str, bytes]]:
    rows = _query(dsn, "SELECT kind, payload FROM fleet_dead_letters ORDER BY id")
    return [(str(kind), bytes(payload)) for kind, payload in rows]


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def partitions(dsn: str, table: str = "fleet_instant") -> int:
    rows = _query(dsn, "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", table)
    return int(rows[0][0])


def expected_rows(payloads: list[bytes]) -> list[tuple[str, int]]:
    """What a store of the valid ones holds: each (site, ts) once."""
    rows: set[tuple[str, int]] = set()
    for payload in payloads:
        try:
            message = decode(payload)
        except MessageError:
            continue
        rows.update((message.site, ts) for ts, *_ in message.instant)
    return sorted(rows)


def raw_message(**fields: object) -> bytes:
    return json.dumps({"v": 1, "site": "s", "meter": "m", **fields}).encode()


def slots(days: int) -> bytes:
    """A slot on each of ``days`` days back from today."""
    return raw_message(s=[[SLOT - d * DAY, 1, 1, 1, 2, 6, 0, 0, 1] for d in range(days)])


_NESTED = b"[" * 1000 + b"]" * 1000  # the 2 kB message of issue 15
_TS = str(NOW).encode()

# (payload, kind of its dead letter)
HOSTILE: list[tuple[bytes, str]] = [
    (_NESTED, "depth"),
    (b'{"v":1,"site":"s","meter":"m","x":' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", "depth"),
    (b"[" * 200_000, "depth"),
    (b'{"v":1,"site":"s","meter":"m","i":[' + b"[]," * 90_000 + b"[]]}", "type"),
    (b'{"v":1,"site":"s","meter":"m","c":[' + b"[]," * 100_001 + b"[]]}", "rows"),
    (good("s") + b" " * (1 << 20), "oversize"),
    (b'{"v":1,"site":"s","meter":"m","i":[[' + _TS + b',"1",2,3]]}', "type"),
    (b'{"v":true,"site":"s","meter":"m"}', "version"),
    (b'{"v":1,"site":["s"],"meter":"m"}', "identity"),
    (b'{"v":1,"site":"s","meter":"m","i":{"0":[1,2,3,4]}}', "type"),
    (b'{"v":1,"site":"s","site":"t","meter":"m","i":[[' + _TS + b",1,1,1]]}", "duplicate_key"),
    (b"\xff\xfe{\x00", "encoding"),
    (good("s").replace(b'"s"', b'"\xc3\x28"'), "encoding"),
    (b"not json", "json"),
    (b"", "json"),
    (b'{"v":1,"site":"s","meter":"m","sent":NaN}', "json"),
    (good("s", 2**37), "window"),
    (good("s", NOW - 3 * 365 * DAY), "window"),
    (good("s", *(NOW - d * DAY for d in range(300))), "days"),
    (slots(5000), "days"),  # issue 15: ~10,000 partitions once
    (slots(20_000), "window"),
    (raw_message(s=[[SLOT + 1, 1, 1, 1, 2, 6, 0, 0, 1]]), "boundary"),
]


def test_a_hostile_corpus_never_stops_the_worker(dsn: str, broker: Broker, worker: Worker) -> None:
    # Valid messages from several sites around every bad one; two valid ones that are odd but
    # fine: a huge array under an unknown key, and readings on 20 old days (new partitions).
    valid = [good(f"site-{n}", NOW - n) for n in range(len(HOSTILE) + 1)]
    odd = [
        raw_message(site="big", i=[[NOW, 1, 1, 1]], x=[0] * 300_000),
        good("spread", *(NOW - d * 9 * DAY for d in range(20))),
    ]
    payloads = [valid[0]]
    for (bad, _), ok in zip(HOSTILE, valid[1:], strict=True):
        payloads += [bad, ok]
    payloads += [*odd, valid[0]]  # and one valid message twice
    before = partitions(dsn)
    publish(broker, payloads)
    expected = expected_rows(payloads)
    until(
        lambda: len(dead_letters(dsn)) >= len(HOSTILE) and stored(dsn) == expected,
        60,
        f"{len(dead_letters(dsn))} dead letters, {len(stored(dsn))} of {len(expected)} rows",
    )
    assert worker.process.poll() is None
    assert stored(dsn) == expected  # every valid reading once
    letters = dead_letters(dsn)
    assert [kind for kind, _ in letters] == [kind for _, kind in HOSTILE]
    for (kind, kept), (payload, _) in zip(letters, HOSTILE, strict=True):
        assert kept == (payload[: 64 * 1024] if kind == "oversize" else payload)
    # The spread message made its 20 days' partitions, the rejected ones none.
    assert partitions(dsn) <= before + 20
    metrics = worker.metrics()
    for kind, count in Counter(kind for _, kind in HOSTILE).items():
        assert metrics[f'routeb_ingest_dead_letters_total{{kind="{kind}"}}'] == count
    assert metrics['routeb_ingest_dead_letters_total{kind="range"}'] == 0
    assert metrics["routeb_ingest_messages_total"] == len(payloads)
    assert metrics["routeb_ingest_partitions_created_total"] >= 19
    until(lambda: worker.metrics()["routeb_ingest_unacked_messages"] == 0, 10, "acknowledged")
    assert worker.metrics()["routeb_ingest_lag_seconds"] == 0


# --- generated corpus ----------------------------------------------------------------------------

_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def _hostile(draw: st.DrawFn) -> bytes:
    """A message with one hostile change: nesting, a huge or junk array, a field of the wrong
    type, a key twice, bytes that are not UTF-8, a cut, a spread, a time stamp off the window."""
    rows = [[NOW - draw(st.integers(0, 3 * DAY)), draw(st.integers(-500, 5000)), None, None]]
    message: dict[str, Any] = {"v": 1, "site": "gen", "meter": "m", "i": rows}
    how = draw(st.sampled_from(["nest", "array", "field", "dup", "bytes", "cut", "spread", "ts"]))
    raw = json.dumps(message).encode()
    if how == "nest":
        depth = draw(st.integers(17, 5000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"k":', b"}")]))
        return raw[:-1] + b',"x":' + opener * depth + b"0" + closer * depth + b"}"
    if how == "array":
        item = draw(st.sampled_from([b"[]", b"0", b'"x"', b"[1,2,3,4]", b"null"]))
        return raw[:-1] + b',"i":[' + b",".join([item] * draw(st.integers(10, 100_000))) + b"]}"
    if how == "field":
        message[draw(st.sampled_from(["v", "site", "meter", "i", "sent"]))] = draw(_junk)
        return json.dumps(message).encode()
    if how == "dup":
        return raw[:-1] + b',"' + draw(st.sampled_from([b"v", b"site", b"i"])) + b'":1}'
    if how == "bytes":
        mutable = bytearray(raw)
        mutable[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0x80, 0xFF))
        return bytes(mutable)
    if how == "cut":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "spread":
        days = draw(st.integers(65, 3000))
        message["i"] = [[NOW - d * DAY, 1, None, None] for d in range(days)]
        return json.dumps(message).encode()
    message["i"][0][0] = draw(st.sampled_from([2**37, 2**40, -1, 0, NOW + 3 * DAY, 10**30]))
    return json.dumps(message).encode()


def test_a_generated_corpus_never_stops_the_worker(
    dsn: str, broker: Broker, worker: Worker
) -> None:
    published: list[bytes] = []
    examples = iter(range(10**6))

    @settings(
        max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(corpus=st.lists(_hostile(), min_size=2, max_size=8))
    def check(corpus: list[bytes]) -> None:
        n = next(examples)
        kinds = []
        payloads = [good(f"gen-{n}-0", NOW - n)]
        for i, bad in enumerate(corpus):
            try:
                decode(bad)
            except MessageError as exc:
                kinds.append(exc.kind)
            payloads += [bad, good(f"gen-{n}-{i + 1}", NOW - n)]
        published.extend(payloads)
        letters_before = len(dead_letters(dsn))
        publish(broker, payloads)
        expected = expected_rows(published)
        until(
            lambda: (
                len(dead_letters(dsn)) == letters_before + len(kinds) and stored(dsn) == expected
            ),
            60,
            f"example {n}: {len(dead_letters(dsn)) - letters_before} of {len(kinds)} letters",
        )
        assert worker.process.poll() is None
        assert [kind for kind, _ in dead_letters(dsn)[letters_before:]] == kinds

    check()
    metrics = worker.metrics()
    total = sum(v for k, v in metrics.items() if k.startswith("routeb_ingest_dead_letters_total"))
    assert total == len(dead_letters(dsn))
    assert metrics["routeb_ingest_messages_total"] == len(published)


# --- a stalled worker, slow partitions ---------------------------------------------------------


def test_the_lag_shows_a_stalled_worker(dsn: str, broker: Broker, worker: Worker) -> None:
    publish(broker, [good("first")])
    until(lambda: stored(dsn) == [("first", NOW)], 20, "the first message")
    with psycopg.connect(dsn) as blocker:
        blocker.execute("LOCK TABLE fleet_instant IN ACCESS EXCLUSIVE MODE")  # the COPY waits
        publish(broker, [good("stuck")])
        time.sleep(3.0)
        metrics = worker.metrics()
        assert metrics["routeb_ingest_lag_seconds"] >= 2.0
        assert metrics["routeb_ingest_unacked_messages"] == 1
        blocker.rollback()
    until(lambda: ("stuck", NOW) in stored(dsn), 20, "the stuck message after the lock")
    until(lambda: worker.metrics()["routeb_ingest_lag_seconds"] == 0, 10, "the lag back to 0")


def test_partition_creation_never_stalls_other_sites(
    dsn: str, broker: Broker, worker: Worker
) -> None:
    spread = good("history", *(NOW - (10 + d) * DAY for d in range(30)))
    with psycopg.connect(dsn, autocommit=True) as blocker:
        # Another worker creating partitions for a long time holds this lock.
        blocker.execute("SELECT pg_advisory_lock(%s)", (pg._LOCK + 1,))
        publish(broker, [spread, *(good(f"now-{n}") for n in range(5))])
        until(
            lambda: {site for site, _ in stored(dsn)} == {f"now-{n}" for n in range(5)},
            10,
            "the other sites, while the history waits for its partitions",
        )
        assert worker.metrics()["routeb_ingest_parked_messages"] == 1
        assert worker.metrics()["routeb_ingest_lag_seconds"] > 0
        blocker.execute("SELECT pg_advisory_unlock(%s)", (pg._LOCK + 1,))
    until(lambda: len(stored(dsn)) == 5 + 30, 30, "the history once its partitions exist")
    assert worker.metrics()["routeb_ingest_parked_messages"] == 0


def test_a_partition_dropped_under_the_worker_is_made_again(
    dsn: str, broker: Broker, worker: Worker
) -> None:
    day = NOW - 20 * DAY
    publish(broker, [good("a", day)])
    until(lambda: stored(dsn) == [("a", day)], 20, "the first message")
    name = f"fleet_instant_p{time.strftime('%Y%m%d', time.gmtime(day))}"
    with psycopg.connect(dsn) as conn:
        conn.execute(f"DROP TABLE {name}".encode())  # an operator's retention
    publish(broker, [good("b", day + 60), good("c")])
    until(lambda: stored(dsn) == [("b", day + 60), ("c", NOW)], 30, "the day again")
    assert worker.metrics()["routeb_ingest_failed_batches_total"] >= 1


def test_the_limits_are_flags(dsn: str, broker: Broker, tmp_path: Path) -> None:
    strict = Worker(dsn, broker, tmp_path, "--max-days", "2", "--max-message-bytes", "2000")
    try:
        publish(broker, [good("ok", NOW, NOW - DAY), good("days", NOW, NOW - DAY, NOW - 2 * DAY)])
        publish(broker, [good("size", *range(NOW - 500, NOW))])
        until(lambda: len(dead_letters(dsn)) == 2, 20, "two dead letters")
        assert [kind for kind, _ in dead_letters(dsn)] == ["days", "oversize"]
        assert {site for site, _ in stored(dsn)} == {"ok"}
    finally:
        strict.stop()
    result = subprocess.run(
        [sys.executable, "-m", "routeb", "ingest", "--db", dsn, "--max-days", "0"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")},
    )
    assert result.returncode == 2
    assert re.search(r"argument --max-days: 0 is not in 1\.\.10000", result.stderr)
    assert "Traceback" not in result.stderr


def test_a_message_postgresql_always_rejects_becomes_a_dead_letter(
    dsn: str, broker: Broker, worker: Worker
) -> None:
    # A constraint the schema does not know (an operator's CHECK): PostgreSQL rejects the row
    # on every attempt. Retried for ever, it held its whole batch and every later one.
    with psycopg.connect(dsn) as conn:
        conn.execute(b"ALTER TABLE fleet_instant ADD CONSTRAINT no_4242 CHECK (power_w <> 4242)")
    rejected = raw_message(site="rejected", i=[[NOW, 4242, 10, None]])
    publish(broker, [good("before"), rejected, good("after")])
    until(
        lambda: {site for site, _ in stored(dsn)} == {"before", "after"},
        60,
        "the messages around the rejected one",
    )
    until(lambda: len(dead_letters(dsn)) == 1, 30, "the rejected message as a dead letter")
    ((kind, payload),) = dead_letters(dsn)
    assert kind == "database"
    assert decode(payload) == decode(rejected)  # as the schema re-encodes it
    (reason,) = _query(dsn, "SELECT reason FROM fleet_dead_letters")[0]
    assert "no_4242" in reason
    publish(broker, [good("later")])  # the worker goes on
    until(lambda: ("later", NOW) in stored(dsn), 20, "a message after the dead letter")
    metrics = worker.metrics()
    assert metrics['routeb_ingest_dead_letters_total{kind="database"}'] == 1
    assert metrics["routeb_ingest_unacked_messages"] == 0
    assert sorted(stored(dsn)) == [("after", NOW), ("before", NOW), ("later", NOW)]


def test_a_later_ack_never_loses_an_earlier_uncommitted_message(
    dsn: str, broker: Broker, tmp_path: Path
) -> None:
    # The parked message (its partition cannot be made: the lock is held) is older than the
    # ones committed and acknowledged after it. MQTT acknowledges each message by its id, so
    # a worker that dies then leaves it with the broker, which hands it to the same client id.
    spread = good("parked", NOW - 40 * DAY)
    first = Worker(dsn, broker, tmp_path, name="ordered")
    try:
        with psycopg.connect(dsn, autocommit=True) as blocker:
            blocker.execute("SELECT pg_advisory_lock(%s)", (pg._LOCK + 1,))
            publish(broker, [spread, good("later-1"), good("later-2")])
            until(
                lambda: {site for site, _ in stored(dsn)} == {"later-1", "later-2"},
                20,
                "the later messages, acknowledged before the parked one",
            )
            assert first.metrics()["routeb_ingest_parked_messages"] == 1
            first.stop()  # dies with the earlier message uncommitted
            blocker.execute("SELECT pg_advisory_unlock(%s)", (pg._LOCK + 1,))
    finally:
        first.stop()
    second = Worker(dsn, broker, tmp_path, name="ordered")
    try:
        until(lambda: ("parked", NOW - 40 * DAY) in stored(dsn), 30, "the redelivered message")
        assert sorted(stored(dsn)) == [
            ("later-1", NOW),
            ("later-2", NOW),
            ("parked", NOW - 40 * DAY),
        ]
    finally:
        second.stop()
    assert "Traceback" not in second.log.read_text()
