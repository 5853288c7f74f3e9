"""The JSON that SQLite writes for long series (storage/jsonviews.py) is, byte for byte, the JSON
of the model values: same keys, JST times, exact decimals, half-even means, nulls, every day."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routeb.echonet.energy import EnergyScale
from routeb.errors import UsageError
from routeb.storage import JST, InstantReading, SlotReading, SlotSource, SqliteStore
from routeb.web.jsonout import dumps, iso

SCALE = EnergyScale(1, Decimal("0.01"))
T0 = datetime(2026, 5, 19, 14, 0, tzinfo=UTC)  # 23:00 JST: the day changes inside the data
NOW = datetime(2026, 5, 25, tzinfo=UTC)

# Small powers and uneven sample counts hit exact ties of the 0.1 W mean, and negative means.
readings = st.lists(
    st.tuples(
        st.integers(0, 3 * 3600 - 1),  # second after T0
        st.one_of(st.none(), st.integers(-7, 7), st.integers(-40_000, 40_000)),
        st.one_of(st.none(), st.integers(-300, 300)),  # 0.1 A
        st.one_of(st.none(), st.integers(-300, 300)),
    ),
    max_size=120,
)
counters = st.lists(st.one_of(st.none(), st.integers(0, 99_999)), min_size=48 * 3, max_size=48 * 3)


def _amps(tenths: int | None) -> Decimal | None:
    return None if tenths is None else Decimal(tenths).scaleb(-1)


def _store(path: Path) -> SqliteStore:
    return SqliteStore(path, clock=lambda: NOW)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=readings)
def test_instant_and_power_views_are_the_model_json(rows: list[tuple[int, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp, _store(Path(tmp) / "db.sqlite3") as store:
        store.write(
            InstantReading("home", T0 + timedelta(seconds=s), p, _amps(r), _amps(t))
            for s, p, r, t in rows
        )
        start, end = T0 - timedelta(minutes=1), T0 + timedelta(hours=4)
        expected = [
            {
                "time": iso(r.at),
                "power_w": r.power_w,
                "current_r_a": r.current_r,
                "current_t_a": r.current_t,
            }
            for r in store.instant("home", start, end)
        ]
        assert store.instant_json("home", start, end) == dumps(expected)
        for resolution in ("minute", "halfhour"):
            stats = store.power("home", start, end, resolution)
            expected = [
                {
                    "start": iso(p.at),
                    "seconds": p.seconds,
                    "samples": p.samples,
                    "min_w": p.min_w,
                    "avg_w": p.avg_w,
                    "max_w": p.max_w,
                }
                for p in stats
            ]
            assert store.power_json("home", start, end, resolution) == dumps(expected)


def test_power_mean_ties_round_half_even_and_keep_their_sign(tmp_path: Path) -> None:
    # Four samples per minute: sums of ±1, ±3, ±2 give means of ±0.25, ±0.75, ±0.5 W exactly.
    cases = [1, 3, -1, -3, 2, -2, 0]
    with _store(tmp_path / "db.sqlite3") as store:
        for minute, total in enumerate(cases):
            at = T0 + timedelta(minutes=minute)
            powers = [total, 0, 0, 0]
            store.write(
                InstantReading("home", at + timedelta(seconds=10 * i), p)
                for i, p in enumerate(powers)
            )
        text = store.power_json("home", T0, T0 + timedelta(hours=1), "minute")
    means = [row["avg_w"] for row in json.loads(text, parse_float=str)]
    assert means == ["0.2", "0.8", "-0.2", "-0.8", "0.5", "-0.5", "0.0"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(imports=counters, exports=counters, peaks=st.lists(st.integers(-500, 9000), max_size=20))
def test_days_view_is_the_model_json(
    imports: list[int | None], exports: list[int | None], peaks: list[int]
) -> None:
    midnight = datetime(2026, 5, 20, tzinfo=JST)
    with tempfile.TemporaryDirectory() as tmp, _store(Path(tmp) / "db.sqlite3") as store:
        running_imp = running_exp = 0
        slots = []
        for i, (imp, exp) in enumerate(zip(imports, exports, strict=True)):
            running_imp += imp or 0
            running_exp += exp or 0
            slots.append(
                SlotReading(
                    "home",
                    midnight + timedelta(minutes=30 * i),
                    None if imp is None else running_imp,
                    None if exp is None else running_exp,
                    SlotSource.HISTORY1,
                    SCALE,
                    6,
                )
            )
        store.write(slots)
        store.write(
            InstantReading("home", midnight + timedelta(hours=5 * i, seconds=7), p)
            for i, p in enumerate(peaks)
        )
        first, last = date(2026, 5, 18), date(2026, 5, 24)  # days before and after the data
        days = store.day_summaries("home", first, last)
        expected = [
            {
                "date": iso(d.day),
                "import_kwh": d.import_kwh,
                "export_kwh": d.export_kwh,
                "import_slots": d.import_slots,
                "export_slots": d.export_slots,
                "expected_slots": d.expected_slots,
                "complete": d.complete,
                "peak_w": d.peak_w,
            }
            for d in days
        ]
        text, imp_e4, exp_e4 = store.days_json("home", first, last)
        assert text == dumps(expected)
        known_imp = [d.import_e4 for d in days if d.import_e4 is not None]
        known_exp = [d.export_e4 for d in days if d.export_e4 is not None]
        assert imp_e4 == (sum(known_imp) if known_imp else None)
        assert exp_e4 == (sum(known_exp) if known_exp else None)


def test_views_of_an_unknown_meter_or_an_empty_range(tmp_path: Path) -> None:
    with _store(tmp_path / "db.sqlite3") as store:
        assert store.instant_json("nobody", T0, NOW) == "[]"
        assert store.power_json("nobody", T0, NOW, "minute") == "[]"
        text, imp, exp = store.days_json("nobody", date(2026, 5, 1), date(2026, 5, 2))
        assert [d["import_kwh"] for d in json.loads(text)] == [None, None]
        assert (imp, exp) == (None, None)
        assert store.days_json("nobody", date(2026, 5, 2), date(2026, 5, 1)) == ("[]", None, None)
        with pytest.raises(UsageError):
            store.power_json("nobody", T0, NOW, "hour")  # type: ignore[arg-type]
        with pytest.raises(UsageError):
            store.instant_json("nobody", NOW, T0)
