"""``routeb db check``: integrity, constraints, sequence, and gaps per meter per JST day."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.echonet.energy import EnergyScale
from routeb.storage import (
    JST,
    InstantReading,
    RetentionPolicy,
    SlotReading,
    SlotSource,
    SqliteStore,
    StorageError,
    check,
    latest_version,
)

MIDNIGHT = datetime(2026, 5, 20, tzinfo=JST)
SLOT = timedelta(minutes=30)
SCALE = EnergyScale(1, Decimal("0.1"))


def fill(path: Path, skip: set[int], count: int = 96) -> None:
    """Two JST days of boundaries for meter "home", except the indexes in ``skip``."""
    with SqliteStore(path, retention=RetentionPolicy(None)) as store:
        store.write(
            SlotReading("home", MIDNIGHT + SLOT * i, 1000 + i, None, SlotSource.PUSH, SCALE, 6)
            for i in range(count)
            if i not in skip
        )


def test_healthy_database_with_gaps(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    fill(path, skip={3, 4, 5, 50})
    with SqliteStore(path) as store:  # the same value again from another source: no conflict
        store.write([SlotReading("home", MIDNIGHT + SLOT, 1001, None, SlotSource.HISTORY1, SCALE)])
    report = check(path)
    assert report.ok
    assert report.integrity == ("ok",)
    assert report.schema_version == latest_version()
    assert report.journal_mode == "wal"
    (meter,) = report.meters
    assert (meter.expected, meter.present, meter.missing) == (96, 92, 4)
    assert meter.first_slot == MIDNIGHT
    assert meter.last_slot == MIDNIGHT + 95 * SLOT
    assert meter.conflict_slots == 0
    assert [(g.day, len(g.missing)) for g in meter.gaps] == [
        (date(2026, 5, 20), 3),
        (date(2026, 5, 21), 1),
    ]
    assert report.counts["slots"] == 92
    text = report.summary()
    assert "integrity: ok" in text
    assert "2026-05-20: 3 missing (01:30–02:30)" in text
    assert "2026-05-21: 1 missing (01:00)" in text
    assert "conflicting" not in text
    assert text.endswith("result: OK, 4 half-hour values missing")


def test_a_conflicting_source_is_damage(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    fill(path, skip=set())
    with SqliteStore(path) as store:
        store.write([SlotReading("home", MIDNIGHT + SLOT, 9, None, SlotSource.HISTORY2, SCALE)])
    report = check(path)
    assert not report.ok
    assert report.meters[0].conflict_slots == 1
    assert report.meters[0].wrong
    text = report.summary()
    assert "1 with conflicting sources" in text
    assert text.endswith("result: DAMAGED, 0 half-hour values missing")


def test_quick_check_and_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SqliteStore(path).close()
    report = check(path, quick=True)
    assert report.ok
    assert report.meters == ()
    assert report.missing_slots == 0


def test_meter_without_slots(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    with SqliteStore(path, retention=RetentionPolicy(None)) as store:
        store.write([InstantReading("home", MIDNIGHT, 5)])
    report = check(path)
    assert report.ok
    assert report.meters[0].first_slot is None
    assert "meter home: no half-hour values" in report.summary()


def test_many_gap_days_are_summarised(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    count = 48 * 40
    fill(path, skip={i for i in range(1, count - 1) if i % 48 == 7}, count=count)
    report = check(path)
    assert len(report.meters[0].gaps) == 40
    assert "… and 10 more days with gaps" in report.summary()


def test_corruption_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    fill(path, skip=set(), count=48 * 60)  # several pages of slots
    size = path.stat().st_size
    assert size > 40_000
    with path.open("r+b") as raw:
        raw.seek(size // 2)
        raw.write(b"\xa5" * 8192)
    report = check(path)
    assert not report.ok
    assert report.integrity != ("ok",)
    assert "integrity: FAILED" in report.summary()
    assert "DAMAGED" in report.summary()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"\x00junk" * 1000)
    report = check(path)
    assert not report.ok
    with pytest.raises(StorageError):
        check(tmp_path / "missing.sqlite3")


def test_newer_schema_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    fill(path, skip=set(), count=4)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    report = check(path)
    assert not report.ok
    assert "newer" in report.problems[0]


def test_duplicates_are_found_without_trusting_the_indexes(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    fill(path, skip=set(), count=4)
    # Simulate a damaged schema: the same table without its UNIQUE constraint, then a duplicate.
    conn = sqlite3.connect(path, isolation_level=None)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'slots'").fetchone()[0]
    conn.executescript(
        "BEGIN; ALTER TABLE slots RENAME TO slots_old;"
        + sql.replace("UNIQUE (meter_id, slot_start),", "")
        + "; INSERT INTO slots SELECT * FROM slots_old; DROP TABLE slots_old;"
        "INSERT INTO slots (seq, meter_id, slot_start, import_raw, import_e4, import_source,"
        " coefficient, unit_code, digits, updated) SELECT 1000, meter_id, slot_start, import_raw,"
        " import_e4, import_source, coefficient, unit_code, digits, updated FROM slots LIMIT 1;"
        "UPDATE sequence SET value = 1000; COMMIT;"
    )
    conn.close()
    report = check(path)
    assert report.integrity == ("ok",)
    assert not report.ok
    assert report.duplicates == ("slots (meter, slot_start): 1 duplicated keys",)


def test_foreign_keys_and_sequence_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    fill(path, skip=set(), count=4)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO instant (seq, meter_id, ts, power_w) VALUES (500, 99, 0, 1)")
    conn.execute("UPDATE sequence SET value = 3")
    conn.close()
    report = check(path)
    assert not report.ok
    assert report.foreign_keys == ("instant row 500 → meters",)
    assert report.problems == ("sequence 3 is below the highest seq in use (500)",)
