"""The synchronous SQLite store on real files: schema, idempotent writes, precedence, wraps,
aggregates, retention, summaries, gaps, outbox and concurrent readers."""

from __future__ import annotations

import json
import random
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeb.echonet.energy import EnergyScale
from routeb.errors import UsageError
from routeb.storage import (
    JST,
    CumulativeReading,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterUpdate,
    RetentionPolicy,
    SchemaVersionError,
    SlotReading,
    SlotSource,
    SqliteStore,
    StorageError,
    jst_to_utc,
    latest_version,
    schema,
)
from routeb.storage import retention as retention_module
from routeb.storage.schema import APPLICATION_ID, migrations

SCALE = EnergyScale(1, Decimal("0.01"))
DAY = date(2026, 5, 20)
MIDNIGHT = datetime(2026, 5, 20, tzinfo=JST)  # 00:00 JST = 2026-05-19 15:00 UTC
SLOT = timedelta(minutes=30)
NOW = datetime(2026, 5, 21, 3, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the store's ``updated`` column and retention."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "routeb.sqlite3", clock=clock) as opened:
        yield opened


def slot(
    i: int,
    imp: int | None,
    exp: int | None = None,
    source: SlotSource = SlotSource.PUSH,
    *,
    meter: str = "home",
    scale: EnergyScale = SCALE,
    digits: int | None = 6,
) -> SlotReading:
    return SlotReading(meter, MIDNIGHT + SLOT * i, imp, exp, source, scale, digits)


# --- schema ------------------------------------------------------------------------------------


def test_migrations_ship_as_package_data() -> None:
    names = [p.name for p in resources.files("routeb.storage.migrations").iterdir()]
    assert "0001_initial.sql" in names
    assert [m.version for m in migrations()] == list(range(1, latest_version() + 1))
    for migration in migrations():
        assert migration.statements()


def test_fresh_database_is_wal_versioned_and_ours(store: SqliteStore, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "routeb.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {"meters", "instant", "cumulative", "slots", "power_minute", "power_halfhour"} <= tables
    assert {"link_events", "outbox_acks", "sequence", "store_state"} <= tables
    assert store.schema_version == latest_version()


def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with SqliteStore(path) as first:
        first.write([slot(0, 100)])
    with SqliteStore(path) as second:
        assert second.schema_version == latest_version()
        assert [s.import_raw for s in second.slots("home", MIDNIGHT, MIDNIGHT + SLOT)] == [100]


def test_database_from_a_newer_routeb_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(SchemaVersionError, match="newer") as caught:
        SqliteStore(path)
    assert caught.value.found == latest_version() + 1
    assert caught.value.supported == latest_version()
    with pytest.raises(SchemaVersionError):
        SqliteStore(path, read_only=True)
    assert path.read_bytes() == before


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="not a routeb database"):
        SqliteStore(path)


def test_garbage_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError):
        SqliteStore(path)


def test_reader_needs_an_existing_current_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no database"):
        SqliteStore(tmp_path / "missing.sqlite3", read_only=True)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_writer_creates_a_private_file_and_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "routeb.sqlite3"
    with SqliteStore(path) as store:
        store.write([slot(0, 1)])
        wal = path.with_name(path.name + "-wal")
        assert wal.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = (schema.Migration(1, "0001_broken.sql", "CREATE TABLE a (x);\nNOT SQL;\n"),)
    monkeypatch.setattr(schema, "migrations", lambda: broken)
    monkeypatch.setattr(schema, "latest_version", lambda: 1)
    path = tmp_path / "db.sqlite3"
    with pytest.raises(StorageError):
        SqliteStore(path)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    finally:
        conn.close()


# --- instantaneous readings and aggregates ----------------------------------------------------


def test_instant_readings_are_stored_once_and_aggregated(store: SqliteStore) -> None:
    t0 = MIDNIGHT
    readings = [
        InstantReading("home", t0 + timedelta(seconds=10 * i), 100 * (i + 1), Decimal("1.5"))
        for i in range(12)  # two minutes, six samples each
    ]
    readings.append(InstantReading("home", t0 + timedelta(seconds=130), None))  # no data
    first = store.write(readings)
    assert first.instant_added == 13
    again = store.write([*readings, InstantReading("home", t0, 99_999)])  # same second: ignored
    assert (again.instant_added, again.instant_duplicate) == (0, 14)
    stored = store.instant("home", t0, t0 + timedelta(minutes=5))
    assert stored == readings
    assert stored[0].current_r == Decimal("1.5")
    minutes = store.power("home", t0, t0 + timedelta(minutes=5), "minute")
    assert [(m.samples, m.min_w, m.max_w, m.sum_w) for m in minutes] == [
        (6, 100, 600, 2100),
        (6, 700, 1200, 5700),
    ]
    assert minutes[0].avg_w == Decimal("350.0")
    (half,) = store.power("home", t0, t0 + SLOT, "halfhour")
    assert (half.samples, half.min_w, half.max_w, half.sum_w) == (12, 100, 1200, 7800)
    with pytest.raises(UsageError):
        store.power("home", t0, t0 + SLOT, "hour")  # type: ignore[arg-type]


def test_reads_reject_naive_times_and_reversed_ranges(store: SqliteStore) -> None:
    with pytest.raises(UsageError, match="aware"):
        store.missing_slots("home", datetime(2026, 5, 20), datetime(2026, 5, 21))
    with pytest.raises(UsageError):
        store.slots("home", MIDNIGHT + SLOT, MIDNIGHT)


def test_unknown_meter_reads_are_empty(store: SqliteStore) -> None:
    assert store.slots("nobody", MIDNIGHT, MIDNIGHT + SLOT) == []
    assert store.meter("nobody") is None
    assert len(store.missing_slots("nobody", MIDNIGHT, MIDNIGHT + 2 * SLOT)) == 2


def test_cumulative_keeps_raw_scale_and_exact_kwh(store: SqliteStore) -> None:
    at = MIDNIGHT + timedelta(minutes=7)
    reading = CumulativeReading("home", at, 76_999, 15, scale=SCALE, digits=6)
    assert store.write([reading, reading]).cumulative_added == 1
    (back,) = store.cumulative("home", at, at + timedelta(seconds=1))
    assert back == reading
    assert back.import_kwh == Decimal("769.99")
    assert back.scale == SCALE
    row = store.connection.execute("SELECT import_e4, unit_code FROM cumulative").fetchone()
    assert row == (7_699_900, 2)


# --- slots: precedence, conflicts, usage -------------------------------------------------------


def test_slot_learned_twice_is_stored_once(store: SqliteStore) -> None:
    store.write([slot(0, 100)])
    result = store.write([slot(0, 100, source=SlotSource.HISTORY1)])
    assert (result.slots_changed, result.slots_unchanged, result.slot_conflicts) == (0, 1, 0)
    (stored,) = store.slots("home", MIDNIGHT, MIDNIGHT + SLOT)
    assert stored.import_source is SlotSource.PUSH  # the first source stays
    assert store.connection.execute("SELECT count(*) FROM slots").fetchone()[0] == 1


def test_null_never_overwrites_and_a_later_source_fills_a_null(store: SqliteStore) -> None:
    store.write([slot(0, 100, None, SlotSource.PUSH)])
    store.write([slot(0, None, None, SlotSource.POLL)])
    store.write([slot(0, None, 7, SlotSource.HISTORY2)])
    (stored,) = store.slots("home", MIDNIGHT, MIDNIGHT + SLOT)
    assert (stored.import_raw, stored.import_source) == (100, SlotSource.PUSH)
    assert (stored.export_raw, stored.export_source) == (7, SlotSource.HISTORY2)
    assert stored.conflicts == 0


def test_disagreeing_sources_keep_the_first_and_count_a_conflict(store: SqliteStore) -> None:
    store.write([slot(0, 100)])
    seq = store.slots("home", MIDNIGHT, MIDNIGHT + SLOT)[0].seq
    result = store.write([slot(0, 101, source=SlotSource.HISTORY1)])
    assert result.slot_conflicts == 1
    (stored,) = store.slots("home", MIDNIGHT, MIDNIGHT + SLOT)
    assert (stored.import_raw, stored.import_source, stored.conflicts) == (100, "push", 1)
    assert stored.seq == seq  # a conflict alone is not a change to publish
    other_scale = slot(0, None, 5, scale=EnergyScale(1, Decimal("0.1")))
    assert store.write([other_scale]).slot_conflicts == 1
    assert store.slots("home", MIDNIGHT, MIDNIGHT + SLOT)[0].export_raw is None


def test_all_null_slot_creates_no_row(store: SqliteStore) -> None:
    assert store.write([slot(0, None, None)]).slots_unchanged == 1
    assert store.slots("home", MIDNIGHT, MIDNIGHT + SLOT) == []
    assert store.missing_slots("home", MIDNIGHT, MIDNIGHT + SLOT) == [MIDNIGHT]


def test_usage_is_derived_between_boundaries_across_the_wrap(store: SqliteStore) -> None:
    raws = [999_980, 999_990, 5, 30]  # 6 digits: wraps between 01:00 and 01:30
    store.write([slot(i, raw, i) for i, raw in enumerate(raws)])
    stored = store.slots("home", MIDNIGHT, MIDNIGHT + 4 * SLOT)
    assert [s.import_use_kwh for s in stored] == [
        Decimal("0.1"),
        Decimal("0.15"),
        Decimal("0.25"),
        None,  # the next boundary is not known yet
    ]
    assert [s.export_use_e4 for s in stored] == [100, 100, 100, None]
    assert stored[0].import_kwh == Decimal("9999.8")
    store.write([slot(4, 31)])
    assert store.slot("home", MIDNIGHT + 3 * SLOT).import_use_e4 == 100  # type: ignore[union-attr]


def test_usage_fills_when_the_gap_is_backfilled_out_of_order(store: SqliteStore) -> None:
    store.write([slot(0, 100), slot(2, 300)])
    assert [s.import_use_e4 for s in store.slots("home", MIDNIGHT, MIDNIGHT + 3 * SLOT)] == [
        None,
        None,
    ]
    store.write([slot(1, 180, source=SlotSource.HISTORY2)])
    assert [s.import_use_e4 for s in store.slots("home", MIDNIGHT, MIDNIGHT + 3 * SLOT)] == [
        8000,
        12000,
        None,
    ]


def test_usage_is_unknown_across_a_scale_change_or_a_reset(store: SqliteStore) -> None:
    store.write([slot(0, 100), slot(1, 110, scale=EnergyScale(1, Decimal("0.1"))), slot(2, 50)])
    assert [s.import_use_e4 for s in store.slots("home", MIDNIGHT, MIDNIGHT + 3 * SLOT)] == [
        None,
        None,
        None,
    ]


def test_digits_learned_later_enable_the_wrap(store: SqliteStore) -> None:
    store.write([slot(0, 999_990, digits=None), slot(1, 10, digits=None)])
    assert store.slot("home", MIDNIGHT).import_use_e4 is None  # type: ignore[union-attr]
    store.write([slot(0, 999_990, source=SlotSource.HISTORY1, digits=6)])
    assert store.slot("home", MIDNIGHT).import_use_e4 == 2000  # type: ignore[union-attr]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=3))
def test_final_state_does_not_depend_on_order_or_repeats(rng: random.Random, dup: int) -> None:
    truth = {i: (1000 + 37 * i) % 10**6 for i in range(10)}
    sources = list(SlotSource)
    readings = [
        slot(i, raw if rng.random() > 0.2 else None, None, rng.choice(sources))
        for i, raw in truth.items()
        for _ in range(1 + dup)
    ]
    readings += [slot(i, raw, None, rng.choice(sources)) for i, raw in truth.items()]
    rng.shuffle(readings)
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "db.sqlite3") as db:
        for start in range(0, len(readings), 7):
            db.write(readings[start : start + 7])
        stored = db.slots("home", MIDNIGHT, MIDNIGHT + 10 * SLOT)
    assert [s.import_raw for s in stored] == list(truth.values())
    assert [s.import_use_e4 for s in stored] == [3700] * 9 + [None]
    assert all(s.conflicts == 0 for s in stored)


# --- summaries, gaps --------------------------------------------------------------------------


def test_day_and_month_summaries_are_exact_by_jst_day(store: SqliteStore) -> None:
    # 49 boundaries 00:00 … 24:00 JST on 2026-05-20, 0.37 kWh per slot, export 0.01 kWh.
    store.write([slot(i, 10_000 + 37 * i, 2 * i) for i in range(49)])
    store.write([InstantReading("home", MIDNIGHT + timedelta(hours=18), 4321)])
    day, next_day = store.day_summaries("home", DAY, DAY + timedelta(days=1))
    assert day.import_kwh == Decimal("17.76")  # 48 × 0.37, exactly
    assert day.export_kwh == Decimal("0.96")
    assert (day.import_slots, day.boundaries, day.complete, day.peak_w) == (48, 48, True, 4321)
    assert next_day.import_kwh is None  # 00:00 on the 21st has no next boundary
    assert (next_day.boundaries, next_day.complete) == (1, False)
    (may,) = store.month_summaries("home", DAY, DAY)
    assert may.month == date(2026, 5, 1)
    assert may.import_kwh == Decimal("17.76")
    assert (may.expected_slots, may.complete_days, may.complete) == (31 * 48, 1, False)
    assert store.day_summaries("nobody", DAY, DAY)[0].import_e4 is None


def test_jst_day_boundaries_not_utc(store: SqliteStore) -> None:
    # 23:30 JST belongs to the 20th; 00:00 JST on the 21st (15:00 UTC on the 20th) does not.
    store.write([slot(47, 100), slot(48, 110), slot(49, 130)])
    days = store.day_summaries("home", DAY, DAY + timedelta(days=1))
    assert [(d.day, d.import_e4) for d in days] == [(DAY, 1000), (date(2026, 5, 21), 2000)]


def test_missing_slots_and_gaps_per_day(store: SqliteStore) -> None:
    present = [i for i in range(48) if i not in (3, 4, 5, 40, 41)]
    store.write([slot(i, 100 + i) for i in present])
    store.write([slot(41, None, 5)])  # export only: import still missing
    missing = store.missing_slots("home", MIDNIGHT, MIDNIGHT + 48 * SLOT)
    assert missing == [MIDNIGHT + SLOT * i for i in (3, 4, 5, 40, 41)]
    assert all(m.tzinfo is not None for m in missing)
    (gap,) = store.gaps("home", DAY, DAY)
    assert gap.day == DAY
    assert len(gap.missing) == 5
    assert [(a.astimezone(JST).strftime("%H:%M"), b.astimezone(JST).strftime("%H:%M"))
            for a, b in gap.ranges()] == [("01:30", "02:30"), ("20:00", "20:30")]  # fmt: skip
    unaligned = store.missing_slots("home", MIDNIGHT + timedelta(minutes=80), MIDNIGHT + 3 * SLOT)
    assert unaligned == []


def test_backfill_times_round_trip_from_naive_jst(store: SqliteStore) -> None:
    meter_time = datetime(2026, 5, 20, 13, 30)  # what E2/EC report
    store.write([SlotReading("home", jst_to_utc(meter_time), 5, None, SlotSource.HISTORY2)])
    (stored,) = store.slots("home", MIDNIGHT, MIDNIGHT + timedelta(days=1))
    assert stored.at.astimezone(JST).replace(tzinfo=None) == meter_time


# --- meters and events -------------------------------------------------------------------------


def test_meter_metadata_merges_and_seen_times(store: SqliteStore) -> None:
    t1, t2 = MIDNIGHT, MIDNIGHT + timedelta(hours=1)
    store.write([MeterUpdate("home", t1, MeterMetadata(serial="A1", digits=6, extra={"a": "1"}))])
    store.write(
        [
            MeterUpdate("home", t2, MeterMetadata(release="F", extra={"b": "2"})),
            InstantReading("home", t2 + timedelta(minutes=5), 100),
        ]
    )
    record = store.meter("home")
    assert record is not None
    meta = record.metadata
    assert (meta.serial, meta.release, meta.digits) == ("A1", "F", 6)
    assert dict(meta.extra) == {"a": "1", "b": "2"}
    assert record.first_seen == t1
    assert record.last_seen == t2 + timedelta(minutes=5)
    assert [m.meter for m in store.meters()] == ["home"]
    raw = store.connection.execute("SELECT metadata FROM meters").fetchone()[0]
    assert json.loads(raw)["serial"] == "A1"
    assert store.write([MeterUpdate("home", t2, MeterMetadata(serial="A1"))]).meters_changed == 0


def test_unknown_metadata_keys_survive_an_update(store: SqliteStore) -> None:
    store.write([MeterUpdate("home", MIDNIGHT)])
    store.connection.execute("UPDATE meters SET metadata = '{\"future\": [1, 2]}'")
    store.write([MeterUpdate("home", MIDNIGHT, MeterMetadata(serial="X"))])
    raw = json.loads(store.connection.execute("SELECT metadata FROM meters").fetchone()[0])
    assert raw == {"future": [1, 2], "serial": "X"}


def test_events_are_kept_in_order_and_deduplicated(store: SqliteStore) -> None:
    events = [
        LinkEvent("home", MIDNIGHT, "connected", "meter session up"),
        LinkEvent("home", MIDNIGHT + timedelta(minutes=12), "rejoin", "EVENT 29"),
        LinkEvent("other", MIDNIGHT + timedelta(minutes=1), "connected"),
    ]
    assert store.write(events + events[:1]).events_added == 3
    assert store.events("home", MIDNIGHT, MIDNIGHT + SLOT) == events[:2]
    assert len(store.events(None, MIDNIGHT, MIDNIGHT + SLOT)) == 3


def test_a_failed_batch_is_rolled_back_entirely(store: SqliteStore) -> None:
    with pytest.raises(UsageError):
        store.write([slot(0, 100), "not a record"])  # type: ignore[list-item]
    assert store.slots("home", MIDNIGHT, MIDNIGHT + SLOT) == []
    assert store.meters() == []
    store.write([slot(0, 100)])  # the meter cache was not left pointing at a rolled-back id
    assert [m.meter for m in store.meters()] == ["home"]


# --- retention ---------------------------------------------------------------------------------


def test_retention_deletes_raw_keeps_aggregates_and_refuses_older(
    tmp_path: Path, clock: Clock
) -> None:
    with SqliteStore(tmp_path / "db.sqlite3", retention=RetentionPolicy(2), clock=clock) as db:
        base = NOW - timedelta(days=3)
        old = [InstantReading("home", base + timedelta(seconds=10 * i), 100) for i in range(30)]
        new = [InstantReading("home", NOW - timedelta(seconds=10 * i), 200) for i in range(1, 4)]
        db.write(old + new + [CumulativeReading("home", base, 1, scale=SCALE)])
        db.write([slot(0, 5)])
        result = db.purge()
        assert (result.instant_deleted, result.cumulative_deleted) == (30, 1)
        assert result.horizon == NOW - timedelta(days=2)
        assert db.raw_horizon() == result.horizon
        assert db.instant("home", base, NOW) == sorted(new, key=lambda r: r.at)
        minutes = db.power("home", base, base + timedelta(minutes=10))
        assert sum(m.samples for m in minutes) == 30  # aggregates stay
        # Re-sending an old reading must not count it twice in the kept aggregates.
        assert db.write(old[:5]).too_old == 5
        assert sum(m.samples for m in db.power("home", base, base + timedelta(minutes=10))) == 30
        assert len(db.slots("home", MIDNIGHT, MIDNIGHT + SLOT)) == 1  # slots stay
        # The horizon never moves back.
        clock.now = NOW - timedelta(days=1)
        assert db.purge().horizon == NOW - timedelta(days=2)


def test_retention_forever(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "db.sqlite3", retention=RetentionPolicy(None)) as db:
        db.write([InstantReading("home", datetime(2000, 1, 1, tzinfo=UTC), 1)])
        assert db.purge().instant_deleted == 0
        assert db.raw_horizon() is None


def test_purge_works_in_chunks(
    tmp_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention_module, "PURGE_CHUNK", 7)
    with SqliteStore(tmp_path / "db.sqlite3", retention=RetentionPolicy(1), clock=clock) as db:
        base = NOW - timedelta(days=5)
        db.write([InstantReading("home", base + timedelta(seconds=i), i) for i in range(50)])
        assert db.purge().instant_deleted == 50
        assert db.counts()["instant"] == 0


# --- outbox ------------------------------------------------------------------------------------


def test_outbox_returns_unacknowledged_rows_oldest_first(store: SqliteStore) -> None:
    store.write([InstantReading("home", MIDNIGHT, 100), slot(0, 100)])
    store.write([LinkEvent("home", MIDNIGHT, "connected")])
    pending = store.pending("mqtt")
    assert [c.table for c in pending] == ["meters", "instant", "slots", "link_events"]
    seqs = [c.seq for c in pending]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)
    store.acknowledge("mqtt", seqs[1])
    assert [c.table for c in store.pending("mqtt")] == ["slots", "link_events"]
    assert store.pending("mqtt", limit=1)[0].table == "slots"
    store.acknowledge("mqtt", seqs[-1])
    assert store.pending("mqtt") == []
    # The slot gets its usage when the next boundary arrives: both come back to publish.
    store.write([slot(1, 130)])
    changed = store.pending("mqtt")
    assert [(c.table, c.record.at) for c in changed] == [  # type: ignore[union-attr]
        ("slots", MIDNIGHT + SLOT),  # the new boundary
        ("slots", MIDNIGHT),  # the one before, now with its usage
    ]
    assert changed[1].record.import_use_e4 == 3000  # type: ignore[union-attr]
    assert changed[0].seq > seqs[-1]
    # Acknowledgements never go back, and other consumers are independent.
    store.acknowledge("mqtt", 1)
    assert store.acked("mqtt") == seqs[-1]
    assert len(store.pending("fleet")) == 5  # meter, instant, two slots, event
    with pytest.raises(UsageError):
        store.acknowledge("mqtt", -1)


def test_sequence_never_reuses_values_after_retention(tmp_path: Path, clock: Clock) -> None:
    with SqliteStore(tmp_path / "db.sqlite3", retention=RetentionPolicy(1), clock=clock) as db:
        db.write([InstantReading("home", NOW - timedelta(days=3), 1)])
        first = db.pending("x")[-1].seq
        db.purge()
        db.write([InstantReading("home", NOW, 2)])
        assert db.pending("x")[-1].seq > first


# --- concurrency -------------------------------------------------------------------------------


def test_reader_sees_commits_while_the_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with SqliteStore(path) as writer, SqliteStore(path, read_only=True) as reader:
        writer.write([slot(0, 100)])
        assert len(reader.slots("home", MIDNIGHT, MIDNIGHT + SLOT)) == 1
        with pytest.raises(UsageError):
            reader.write([slot(1, 110)])
        # A reader's long snapshot does not block the writer (WAL).
        reader.connection.execute("BEGIN")
        assert reader.connection.execute("SELECT count(*) FROM slots").fetchone()[0] == 1
        writer.write([slot(1, 110)])
        assert reader.connection.execute("SELECT count(*) FROM slots").fetchone()[0] == 1
        reader.connection.execute("COMMIT")
        assert len(reader.slots("home", MIDNIGHT, MIDNIGHT + 2 * SLOT)) == 2


def test_a_locked_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with SqliteStore(path, busy_timeout=0.05) as db, pytest.raises(StorageError) as caught:
            db.write([slot(0, 1)])
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


# --- per-day rollups (migration 0002) ---------------------------------------------------------

_GROUPED = (
    "SELECT meter_id, (slot_start + 32400) / 86400, sum(import_use_e4), sum(export_use_e4), "
    "count(import_use_e4), count(export_use_e4), count(import_raw) FROM slots "
    "GROUP BY 1, 2 ORDER BY 1, 2"
)


def _rollups(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        stored = conn.execute("SELECT * FROM slot_days ORDER BY 1, 2").fetchall()
        return stored, conn.execute(_GROUPED).fetchall()
    finally:
        conn.close()


def test_day_rollups_always_equal_the_slots_they_sum(tmp_path: Path, clock: Clock) -> None:
    rng = random.Random(7)
    path = tmp_path / "routeb.sqlite3"
    with SqliteStore(path, clock=clock) as db:
        for _ in range(60):  # out of order, across JST midnights, overwrites and both meters
            batch = []
            for _ in range(rng.randrange(1, 30)):
                i = rng.randrange(-60, 160)
                value = 10_000 + 37 * i + rng.choice((0, 0, 0, 5))
                source = rng.choice((SlotSource.PUSH, SlotSource.POLL, SlotSource.HISTORY1))
                batch.append(
                    slot(i, value, 200 + 2 * i, source, meter=rng.choice(("home", "shop")))
                )
            db.write(batch)
            db.write(
                [
                    InstantReading(
                        "home",
                        MIDNIGHT + timedelta(minutes=rng.randrange(-900, 4000)),
                        rng.randrange(0, 6000),
                    )
                ]
            )
        stored, grouped = _rollups(path)
        assert stored == grouped
        days = db.day_summaries("home", DAY - timedelta(days=2), DAY + timedelta(days=3))
        assert sum(d.import_slots for d in days) == sum(r[4] for r in grouped if r[0] == 1)  # type: ignore[misc]


def test_migration_2_rolls_up_an_existing_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    (first,) = [m for m in migrations() if m.version == 1]
    for statement in first.statements():
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.close()
    with SqliteStore(path) as db:  # a v1 database with data, written by a v2 store …
        db.write([slot(i, 10_000 + 37 * i) for i in range(49)])
        db.write([InstantReading("home", MIDNIGHT + timedelta(hours=18), 4321)])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TABLE slot_days")  # … then brought back to version 1 with its data
    conn.execute("DROP TABLE power_day")
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with SqliteStore(path) as db:
        assert db.schema_version == latest_version()
        (day,) = db.day_summaries("home", DAY, DAY)
        assert (day.import_kwh, day.peak_w) == (Decimal("17.76"), 4321)
    stored, grouped = _rollups(path)
    assert stored == grouped


def test_month_summaries_sum_their_days(tmp_path: Path, clock: Clock) -> None:
    rng = random.Random(11)
    with SqliteStore(tmp_path / "routeb.sqlite3", clock=clock) as db:
        # Three months around JST month ends, with holes; slot 0 = 2026-05-20 00:00 JST.
        present = [i for i in range(-48 * 25, 48 * 50) if rng.random() < 0.97]
        db.write([slot(i, 10_000 + 37 * (i + 48 * 25)) for i in present])
        first, last = date(2026, 4, 10), date(2026, 8, 3)
        months = db.month_summaries("home", first, last)
        assert [m.month for m in months] == [date(2026, m, 1) for m in (4, 5, 6, 7, 8)]
        for month in months:
            following = (month.month + timedelta(days=32)).replace(day=1)
            days = db.day_summaries("home", month.month, following - timedelta(days=1))
            known = [d.import_e4 for d in days if d.import_e4 is not None]
            assert month.import_e4 == (sum(known) if known else None)
            assert month.import_slots == sum(d.import_slots for d in days)
            assert month.expected_slots == 48 * len(days)
            assert month.complete_days == sum(d.complete for d in days)
        assert months[-1].import_e4 is None  # August: no data at all
        assert sum(m.complete_days for m in months) > 0
