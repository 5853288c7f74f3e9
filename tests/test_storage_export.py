"""Export: CSV with a header, JSON lines with exact numbers, JST day ranges, every table."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.echonet.energy import EnergyScale
from routeb.errors import UsageError
from routeb.storage import (
    JST,
    CumulativeReading,
    ExportFormat,
    ExportWhat,
    InstantReading,
    LinkEvent,
    RetentionPolicy,
    SlotReading,
    SlotSource,
    SqliteStore,
    StorageError,
    export,
    export_range,
)

MIDNIGHT = datetime(2026, 5, 20, tzinfo=JST)
SLOT = timedelta(minutes=30)
SCALE = EnergyScale(1, Decimal("0.01"))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "routeb.sqlite3"
    with SqliteStore(path, retention=RetentionPolicy(None)) as store:
        store.write(
            [
                SlotReading("home", MIDNIGHT - SLOT, 999_990, None, SlotSource.HISTORY1, SCALE, 6),
                SlotReading("home", MIDNIGHT, 999_995, 3, SlotSource.PUSH, SCALE, 6),
                SlotReading("home", MIDNIGHT + SLOT, 20, 4, SlotSource.POLL, SCALE, 6),
                SlotReading("home", MIDNIGHT + 47 * SLOT, 500, None, SlotSource.HISTORY2, SCALE, 6),
                SlotReading("home", MIDNIGHT + 48 * SLOT, 510, None, SlotSource.PUSH, SCALE, 6),
                InstantReading("home", MIDNIGHT + timedelta(seconds=5), 1192, Decimal("9.8")),
                InstantReading("home", MIDNIGHT + timedelta(seconds=15), -40, Decimal("-0.4")),
                InstantReading("home", MIDNIGHT + timedelta(seconds=75), None),
                CumulativeReading("home", MIDNIGHT + timedelta(minutes=1), 999_996, 3, SCALE, 6),
                LinkEvent("home", MIDNIGHT + timedelta(minutes=2), "rejoin", 'EVENT 29, "expired"'),
            ]
        )
    return path


def run(db: Path, fmt: str, what: str, start: object, end: object, **kw: object) -> str:
    out = io.StringIO()
    export(db, start, end, out=out, fmt=fmt, what=what, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def test_slots_csv_golden(db: Path) -> None:
    text = run(db, "csv", "slots", date(2026, 5, 20), date(2026, 5, 20))
    assert text == (
        "meter,slot_start,slot_end,import_use_kwh,export_use_kwh,import_kwh,export_kwh,"
        "import_source,export_source,import_raw,export_raw,coefficient,unit_code,digits,"
        "conflicts\n"
        "home,2026-05-20T00:00:00+09:00,2026-05-20T00:30:00+09:00,0.2500,0.0100,"
        "9999.9500,0.0300,push,push,999995,3,1,2,6,0\n"
        "home,2026-05-20T00:30:00+09:00,2026-05-20T01:00:00+09:00,,,0.2000,0.0400,"
        "poll,poll,20,4,1,2,6,0\n"
        "home,2026-05-20T23:30:00+09:00,2026-05-21T00:00:00+09:00,0.1000,,5.0000,,"
        "history2,,500,,1,2,6,0\n"
    )


def test_slots_jsonl_has_exact_numbers(db: Path) -> None:
    text = run(db, "json", "slots", date(2026, 5, 20), date(2026, 5, 20))
    lines = text.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith('{"meter": "home", "slot_start": "2026-05-20T00:00:00+09:00", ')
    assert '"import_use_kwh": 0.2500, ' in lines[0]  # digits, not a quoted string
    assert '"import_kwh": 9999.9500, ' in lines[0]
    first = json.loads(lines[0], parse_float=Decimal)
    assert first["import_use_kwh"] == Decimal("0.25")
    assert first["import_raw"] == 999_995
    assert first["conflicts"] == 0
    second = json.loads(lines[1], parse_float=Decimal)
    assert second["import_use_kwh"] is None
    assert second["import_source"] == "poll"


def test_day_range_is_jst_and_inclusive() -> None:
    low, high = export_range(date(2026, 5, 20), date(2026, 5, 21))
    assert low == datetime(2026, 5, 19, 15, tzinfo=UTC)
    assert high == datetime(2026, 5, 21, 15, tzinfo=UTC)
    aware = datetime(2026, 5, 20, 1, tzinfo=UTC)
    assert export_range(aware, aware + SLOT) == (aware, aware + SLOT)
    with pytest.raises(UsageError):
        export_range(datetime(2026, 5, 20), datetime(2026, 5, 21))
    with pytest.raises(UsageError):
        export_range(date(2026, 5, 21), date(2026, 5, 20))
    with pytest.raises(UsageError):
        export_range("2026-05-20", date(2026, 5, 20))  # type: ignore[arg-type]


def test_datetime_bounds_are_half_open(db: Path) -> None:
    text = run(db, "csv", "slots", MIDNIGHT, MIDNIGHT + SLOT)
    assert text.count("\n") == 2  # header + the 00:00 slot


def test_readings_csv(db: Path) -> None:
    text = run(db, ExportFormat.CSV, ExportWhat.READINGS, date(2026, 5, 20), date(2026, 5, 20))
    assert text == (
        "meter,time,power_w,current_r_a,current_t_a\n"
        "home,2026-05-20T00:00:05+09:00,1192,9.8,\n"
        "home,2026-05-20T00:00:15+09:00,-40,-0.4,\n"
        "home,2026-05-20T00:01:15+09:00,,,\n"
    )


def test_cumulative_minutes_and_events_jsonl(db: Path) -> None:
    day = date(2026, 5, 20)
    (cumulative,) = run(db, "json", "cumulative", day, day).splitlines()
    assert json.loads(cumulative, parse_float=Decimal) == {
        "meter": "home",
        "time": "2026-05-20T00:01:00+09:00",
        "import_kwh": Decimal("9999.96"),
        "export_kwh": Decimal("0.03"),
        "import_raw": 999_996,
        "export_raw": 3,
        "coefficient": 1,
        "unit_code": 2,
        "digits": 6,
    }
    (line,) = run(db, "json", "minutes", day, day).splitlines()
    minute = json.loads(line, parse_float=Decimal)
    assert minute["minute_start"] == "2026-05-20T00:00:00+09:00"
    assert (minute["samples"], minute["power_min_w"], minute["power_max_w"]) == (2, -40, 1192)
    assert minute["power_avg_w"] == Decimal("576.0")
    assert '"power_avg_w": 576.0, ' in line
    (event,) = run(db, "json", "events", day, day).splitlines()
    assert json.loads(event)["detail"] == 'EVENT 29, "expired"'
    csv_event = run(db, "csv", "events", day, day).splitlines()[1]
    assert csv_event == 'home,2026-05-20T00:02:00+09:00,rejoin,"EVENT 29, ""expired"""'


def test_meter_filter_and_empty_result(db: Path) -> None:
    day = date(2026, 5, 20)
    assert run(db, "csv", "slots", day, day, meter="other") == (
        "meter,slot_start,slot_end,import_use_kwh,export_use_kwh,import_kwh,export_kwh,"
        "import_source,export_source,import_raw,export_raw,coefficient,unit_code,digits,"
        "conflicts\n"
    )
    assert run(db, "json", "slots", date(2020, 1, 1), date(2020, 1, 1)) == ""


def test_bad_choices_and_missing_database(db: Path, tmp_path: Path) -> None:
    day = date(2026, 5, 20)
    with pytest.raises(UsageError, match="csv, json"):
        run(db, "xml", "slots", day, day)
    with pytest.raises(UsageError, match="slots"):
        run(db, "csv", "everything", day, day)
    missing = tmp_path / "none.sqlite3"
    with pytest.raises(StorageError):
        run(missing, "csv", "slots", day, day)
    assert not missing.exists()


def test_export_reads_while_a_writer_is_open(db: Path) -> None:
    with SqliteStore(db, retention=RetentionPolicy(None)) as writer:
        writer.write([SlotReading("home", MIDNIGHT + 2 * SLOT, 30, 5, SlotSource.PUSH, SCALE, 6)])
        text = run(db, "csv", "slots", date(2026, 5, 20), date(2026, 5, 20))
    assert "2026-05-20T01:00:00+09:00" in text
    assert "home,2026-05-20T00:30:00+09:00,2026-05-20T01:00:00+09:00,0.1000,0.0100" in text
