"""The fleet writer on a real PostgreSQL: readings COPYed straight into the partitioned tables,
and the staging path when a batch meets rows already stored (redeliveries, replays)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest

from routeb.fleet import pg
from routeb.fleet.metrics import IngestMetrics
from routeb.fleet.schema import FleetMessage

T0 = int(datetime(2026, 6, 1, 15, 0, tzinfo=UTC).timestamp())


def _message(site: str, start: int, count: int, power: int = 100) -> FleetMessage:
    message = FleetMessage(site, "meter")
    message.instant = [(start + 10 * i, power + i, 12, None) for i in range(count)]
    message.cumulative = [(start + 60 * i, 1000 + i, 5, 1, 0x02, 6) for i in range(count // 6)]
    return message


def _rows(dsn: str) -> dict[str, object]:
    with psycopg.connect(dsn) as conn:
        instant = conn.execute(
            "SELECT site, extract(epoch FROM ts)::bigint, power_w, current_r_da, current_t_da "
            "FROM fleet_instant ORDER BY 1, 2"
        ).fetchall()
        cumulative = conn.execute(
            "SELECT site, extract(epoch FROM ts)::bigint, import_raw, export_raw, coefficient, "
            "unit_code, digits FROM fleet_cumulative ORDER BY 1, 2"
        ).fetchall()
        meters = conn.execute(
            "SELECT site, extract(epoch FROM last_ts)::bigint, last_power_w FROM fleet_meters "
            "ORDER BY 1"
        ).fetchall()
    return {"instant": instant, "cumulative": cumulative, "meters": meters}


def _expected(messages: list[FleetMessage]) -> dict[str, object]:
    # The first write of a (site, meter, ts) wins: readings never change.
    instant: dict[tuple[str, int], tuple[object, ...]] = {}
    cumulative: dict[tuple[str, int], tuple[object, ...]] = {}
    for m in messages:
        for row in m.instant:
            instant.setdefault((m.site, row[0]), (m.site, *row))
        for row in m.cumulative:
            cumulative.setdefault((m.site, row[0]), (m.site, *row))
    latest: dict[object, tuple[object, ...]] = {}
    for site, ts, power, *_ in sorted(instant.values()):
        latest[site] = (site, ts, power)
    return {
        "instant": sorted(instant.values()),
        "cumulative": sorted(cumulative.values()),
        "meters": sorted(latest.values()),
    }


def test_a_fresh_batch_is_copied_straight_in_with_the_meters_times(dsn: str) -> None:
    messages = [_message("a", T0, 60), _message("b", T0 + 5, 30, power=-400)]
    writer = pg.Writer(dsn)
    try:
        stats = writer.write(messages)
    finally:
        writer.close()
    assert stats.fallbacks == 0
    assert stats.received == stats.inserted == 60 + 10 + 30 + 5
    assert _rows(dsn) == _expected(messages)


def test_rows_already_stored_take_the_staging_path_and_are_never_duplicated(dsn: str) -> None:
    first = [_message("a", T0, 60)]
    again = [
        _message("a", T0 + 300, 60),  # half of it is already stored
        _message("b", T0, 12),
        _message("b", T0, 12),  # the same rows twice in one batch
    ]
    writer = pg.Writer(dsn)
    try:
        writer.write(first)
        stats = writer.write(again)
        replay = writer.write(first + again)
    finally:
        writer.close()
    assert stats.fallbacks == 2  # instant and cumulative each met a stored row
    metrics = IngestMetrics()
    metrics.committed(3, stats.received, stats.inserted, 0.01, stats.fallbacks)
    assert "routeb_ingest_fallbacks_total 2\n" in metrics.render()
    assert stats.inserted == (30 + 5) + (12 + 2)
    assert replay.inserted == 0
    assert _rows(dsn) == _expected(first + again)


def test_two_writers_with_the_same_redelivered_rows_store_them_once(dsn: str) -> None:
    # A message redelivered to a second worker while the first still holds it: the same rows
    # in two concurrent transactions, in opposite message order.
    messages = [_message(f"s{n}", T0 + n, 90) for n in range(8)]
    errors: list[BaseException] = []

    def write(batch: list[FleetMessage]) -> None:
        writer = pg.Writer(dsn)
        try:
            for _ in range(3):
                try:
                    writer.write(batch)
                    return
                except psycopg.errors.DeadlockDetected:  # the worker retries a failed batch
                    writer.reset()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            writer.close()

    threads = [
        threading.Thread(target=write, args=(messages,)),
        threading.Thread(target=write, args=(messages[::-1],)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert _rows(dsn) == _expected(messages)


def _partitions(conn: psycopg.Connection[tuple[object, ...]], table: str) -> set[str]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    return {str(name) for (name,) in rows}


def test_a_partition_is_made_while_a_batch_holds_the_table(dsn: str) -> None:
    # A writer's transaction is open on fleet_instant (a long COPY, a long query): making a
    # partition must not wait for it, nor make the writers behind it wait.
    keeper = pg.PartitionKeeper()
    with psycopg.connect(dsn) as busy, psycopg.connect(dsn) as maker:
        keeper.load(maker)
        spans = keeper.missing([_message("a", T0, 6)])
        keeper.create(maker, spans)
        busy.execute(
            "INSERT INTO fleet_instant VALUES ('a', 'm', to_timestamp(%s), 1, 1, 1)", (T0,)
        )
        maker.execute("SET lock_timeout = '2s'")
        maker.commit()
        later = keeper.missing([_message("a", T0 + 5 * 86_400, 6)])
        assert {name for name, *_ in later} == {
            "fleet_instant_p20260606",
            "fleet_cumulative_p20260606",
        }
        assert keeper.create(maker, later) == 2  # LockNotAvailable if it had to wait
        busy.commit()
        assert "fleet_instant_p20260606" in _partitions(busy, "fleet_instant")
        # The partition takes rows and keys like any other.
        busy.execute(
            "INSERT INTO fleet_instant VALUES ('a', 'm', to_timestamp(%s), 1, 1, 1)",
            (T0 + 5 * 86_400,),
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            busy.execute(
                "INSERT INTO fleet_instant VALUES ('a', 'm', to_timestamp(%s), 2, 2, 2)",
                (T0 + 5 * 86_400,),
            )


def test_only_the_days_with_readings_get_partitions(dsn: str) -> None:
    message = FleetMessage("a", "m")
    message.instant = [(T0 - 300 * 86_400, 1, 1, 1), (T0, 2, 2, 2)]  # 300 days apart
    writer = pg.Writer(dsn)
    try:
        writer.write([message])
    finally:
        writer.close()
    with psycopg.connect(dsn) as conn:
        assert _partitions(conn, "fleet_instant") == {
            "fleet_instant_p20250805",
            "fleet_instant_p20260601",
        }
        assert _partitions(conn, "fleet_cumulative") == set()


def test_the_keeper_reads_what_exists_again_after_a_drop(dsn: str) -> None:
    keeper = pg.PartitionKeeper()
    message = _message("a", T0, 6)
    with psycopg.connect(dsn) as conn:
        keeper.load(conn)
        keeper.create(conn, keeper.missing([message]))
        assert keeper.covers(message)
        conn.execute("DROP TABLE fleet_instant_p20260601")
        conn.commit()
        assert keeper.covers(message)  # what it knew
        keeper.load(conn)
        assert not keeper.covers(message)
        assert [name for name, *_ in keeper.missing([message])] == ["fleet_instant_p20260601"]
