"""``routeb db check`` notices wrong data (issue 17 §5) and stays quiet on right data.

Right data: 90 days of an emulated household and a solar one, written through the storage
API as the daemon writes them (history slots, pushes, E0/E3 readings every 10 minutes), with
a counter wrap. Wrong data: two writers recording one meter from two different households,
interleaved — as two ``routeb run`` on one database did.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.echonet.energy import EnergyScale
from routeb.emulator.household import Direction, Household
from routeb.storage import (
    CumulativeReading,
    RetentionPolicy,
    SlotReading,
    SlotSource,
    SqliteStore,
    check,
    jst_to_utc,
)
from routeb.storage.consistency import DEFAULT_CAPACITY_VA, day_limit_e4

START = datetime(2026, 2, 1)  # naive JST, as the meter counts
DAYS = 90
SLOT = timedelta(minutes=30)
UNIT = Decimal("0.01")
SCALE = EnergyScale(1, UNIT)
DIGITS = 6


def _counters(home: Household, t: datetime) -> tuple[int, int | None]:
    imp = home.counter_at(t, Direction.NORMAL, 1, UNIT, DIGITS)
    exp = home.counter_at(t, Direction.REVERSE, 1, UNIT, DIGITS) if home.has_pv else None
    return imp, exp


def _records(
    meter: str, home: Household, days: int, *, readings_days: int = 20
) -> Iterator[SlotReading | CumulativeReading]:
    """What the daemon stores: a day of history per E5, pushes for the last days, E0/E3 every
    10 minutes (at odd seconds, as the host clock takes them) for the last ``readings_days``."""
    for i in range(days * 48):
        at = START + SLOT * i
        imp, exp = _counters(home, at)
        source = SlotSource.PUSH if i >= (days - readings_days) * 48 else SlotSource.HISTORY1
        yield SlotReading(meter, jst_to_utc(at), imp, exp, source, SCALE, DIGITS)
    first = START + timedelta(days=days - readings_days)
    for i in range(readings_days * 24 * 6):
        at = first + timedelta(minutes=10 * i, seconds=17)
        imp, exp = _counters(home, at)
        yield CumulativeReading(meter, jst_to_utc(at), imp, exp, SCALE, DIGITS)


def _write(path: Path, records: Iterable[SlotReading | CumulativeReading]) -> None:
    with SqliteStore(path, retention=RetentionPolicy(None)) as store:
        batch: list[SlotReading | CumulativeReading] = []
        for record in records:
            batch.append(record)
            if len(batch) == 2000:
                store.write(batch)
                batch = []
        store.write(batch)


@pytest.fixture(scope="module")
def clean_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clean") / "homes.sqlite3"
    # 9995 kWh on a 6-digit 0.01 kWh counter: it wraps at 10000 kWh within the 90 days.
    house = Household(11, epoch=START, initial_import_kwh=9995)
    solar = Household(12, epoch=START, pv_watts=5500, initial_import_kwh=321)
    _write(path, _records("house", house, DAYS))
    _write(path, _records("solar", solar, DAYS))
    return path


def test_no_false_positives_on_90_days_of_two_homes(clean_db: Path) -> None:
    report = check(clean_db)
    text = report.summary()
    assert report.ok, text
    assert [m.meter for m in report.meters] == ["house", "solar"]
    for meter in report.meters:
        assert meter.findings.clean, text
        assert meter.conflict_slots == 0
        assert meter.missing == 0
        assert meter.present == DAYS * 48
    # The wrap really happened, and the solar home really sold.
    with SqliteStore(clean_db, read_only=True) as store:
        raws = [s.import_raw for s in store.slots("house", jst_to_utc(START), jst_to_utc(
            START + timedelta(days=DAYS)))]  # fmt: skip
        assert raws[-1] is not None
        assert raws[0] is not None
        assert raws[-1] < raws[0]
    solar = next(m for m in report.meters if m.meter == "solar")
    assert solar.findings.baseline_e4[1] is not None
    assert solar.findings.baseline_e4[1] > 0
    assert text.endswith("result: OK, 0 half-hour values missing")


def test_the_contract_bounds_a_day(clean_db: Path) -> None:
    assert check(clean_db, capacity_va=3000).ok  # 30 A: the emulated homes stay under it
    tight = check(clean_db, capacity_va=100)  # 1 A could not have supplied these days
    assert not tight.ok
    days = tight.meters[0].findings.impossible_days
    assert days
    assert {d.rule for d in days} == {"contract"}
    assert "impossible daily totals" in tight.summary()


def test_day_limit_rules() -> None:
    # Baseline: 10 × the median, but never below 1.5 × 6 kVA over the day.
    floor = int(1.5 * DEFAULT_CAPACITY_VA * 24 * 10)
    assert day_limit_e4(48, None, 130_000) == (floor, "baseline")
    assert day_limit_e4(48, None, 300_000) == (3_000_000, "baseline")  # a 30 kWh median
    assert day_limit_e4(24, None, 300_000) == (1_500_000, "baseline")  # half a day known
    assert day_limit_e4(48, None, None) is None  # no complete day yet: no baseline
    assert day_limit_e4(48, 3000, None) == (int(1.5 * 3000 * 24 * 10), "contract")
    assert day_limit_e4(0, 3000, 1) is None


# The second daemon started on the 15th day: the two weeks before are clean.
SECOND_FROM = jst_to_utc(START + timedelta(days=14))


def _missed(record: SlotReading | CumulativeReading) -> bool:
    """The boundaries the first writer missed and the second one recorded (every 3 hours)."""
    return (
        isinstance(record, SlotReading)
        and record.at >= SECOND_FROM
        and record.at.minute == 30
        and record.at.hour % 3 == 0
    )


def _interleaved(path: Path) -> None:
    """Two daemons on one meter key, each recording its own household (as two ``routeb run``
    sharing one database did): the second fills what the first missed, disagrees with some
    of the rest, and its E0 readings sit between the first one's."""
    ours = Household(21, epoch=START, initial_import_kwh=1200)
    theirs = Household(22, epoch=START, initial_import_kwh=4800)
    days = 20
    _write(path, (r for r in _records("meter", ours, days, readings_days=3) if not _missed(r)))
    second: list[SlotReading | CumulativeReading] = []
    for record in _records("meter", theirs, days, readings_days=3):
        if isinstance(record, CumulativeReading):
            second.append(
                CumulativeReading(
                    "meter",
                    record.at + timedelta(minutes=5),
                    record.import_raw,
                    None,
                    SCALE,
                    DIGITS,
                )
            )
        elif _missed(record) or (
            record.at >= SECOND_FROM and record.at.minute == 0 and record.at.hour % 6 == 0
        ):
            second.append(record)  # fills a missed boundary, or contradicts a stored one
    _write(path, second)


def test_two_writers_interleaving_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "two.sqlite3"
    _interleaved(path)
    report = check(path)
    (meter,) = report.meters
    found = meter.findings
    text = report.summary()
    assert not report.ok, text
    assert meter.conflict_slots > 0
    assert found.backward_count > 0
    assert found.mismatch_count > 0
    assert found.impossible_days
    assert all(d.rule == "baseline" for d in found.impossible_days)
    assert all(d.used_e4 > d.limit_e4 for d in found.impossible_days)
    assert "counter went backwards" in text
    assert "cumulative readings disagree with the half-hour counters (" in text
    assert found.readings_ahead > 0
    assert found.readings_behind > 0
    assert "with conflicting sources" in text
    assert "impossible daily totals" in text
    assert text.endswith("half-hour values missing")
    assert "result: DAMAGED" in text


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "routeb", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
        | {"ROUTEB_CONFIG": "/dev/null"},
    )


def test_cli_exit_status_and_meter_filter(tmp_path: Path, clean_db: Path) -> None:
    bad = tmp_path / "two.sqlite3"
    _interleaved(bad)
    damaged = _cli("db", "check", "--db", str(bad))
    assert damaged.returncode == 1, damaged.stderr
    assert "result: DAMAGED" in damaged.stdout
    good = _cli("db", "check", "--db", str(clean_db), "--meter", "solar")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "meter solar:" in good.stdout
    assert "meter house:" not in good.stdout
    assert good.stdout.rstrip().endswith("result: OK, 0 half-hour values missing")
    unknown = _cli("db", "check", "--db", str(clean_db), "--meter", "nope")
    assert unknown.returncode == 2
    assert unknown.stderr.strip().splitlines() == [
        f"routeb: --meter: no meter 'nope' in {clean_db} (meters: house, solar)"
    ]


def test_a_meter_clock_off_by_20_minutes_is_a_note_not_damage(tmp_path: Path) -> None:
    path = tmp_path / "skew.sqlite3"
    home = Household(31, epoch=START, initial_import_kwh=50)
    _write(path, (
        CumulativeReading(r.meter, r.at - timedelta(minutes=20), r.import_raw, None, SCALE, DIGITS)
        if isinstance(r, CumulativeReading) else r
        for r in _records("skewed", home, 5, readings_days=2)
    ))  # fmt: skip
    report = check(path)
    found = report.meters[0].findings
    assert found.readings_ahead > 0
    assert found.readings_behind == 0
    assert found.clock_difference
    assert report.ok, report.summary()
    assert "note: " in report.summary()
    assert "run ahead of the half-hour counters" in report.summary()


def test_a_stored_usage_that_its_counters_do_not_give(tmp_path: Path) -> None:
    path = tmp_path / "usage.sqlite3"
    _write(path, _records("m", Household(41, epoch=START), 3, readings_days=1))
    with SqliteStore(path) as store:  # damage the way a bug or a hand edit would
        store.connection.execute(
            "UPDATE slots SET import_use_e4 = import_use_e4 + 1 WHERE slot_start = ?",
            (int(jst_to_utc(START + SLOT * 7).timestamp()),),
        )
    report = check(path)
    assert not report.ok
    (wrong,) = report.meters[0].findings.usage
    assert wrong.at == jst_to_utc(START + SLOT * 7)
    assert wrong.stored_e4 == (wrong.expected_e4 or 0) + 1
    assert "1 half-hours whose usage is not what their counters give" in report.summary()


def test_cli_takes_the_contract_from_the_tariff(tmp_path: Path, clean_db: Path) -> None:
    tariff = tmp_path / "tariff.toml"
    tariff.write_text(
        'name = "0.2 kVA"\ncontract_kva = 0.2\nread_day = 1\n[base_charge]\nper_kva = 300\n'
        "[[energy_rate]]\nprice = 30\n"
    )
    config = tmp_path / "config.toml"
    config.write_text(f'[storage]\ndb = "{clean_db}"\n[tariff]\nfile = "{tariff}"\n')
    config.chmod(0o600)
    result = _cli("db", "check", "--config", str(config), "--meter", "house")
    # 0.2 kVA: 7.2 kWh a day at most (with the limiter's margin), less than these homes use.
    assert result.returncode == 1, result.stdout + result.stderr
    assert "(the contract)" in result.stdout
    assert check(clean_db, meter="house", capacity_va=200).meters[0].findings.impossible_days
