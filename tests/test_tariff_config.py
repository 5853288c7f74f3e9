"""Reading tariffs: the shipped examples load, and every kind of bad TOML names its key."""

from __future__ import annotations

import ast
import copy
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.errors import ConfigError, UsageError
from routeb.tariff import JST, HalfHour, Tariff, load_tariff, parse_tariff

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "tariffs"
D = Decimal

GOOD: dict[str, object] = {
    "name": "good",
    "contract_amperes": 30,
    "read_day": 15,
    "base_charge": {"30": D("935.25")},
    "energy_rate": [
        {"up_to": 120, "price": D("29.80")},
        {"up_to": 300, "price": D("36.40")},
        {"price": D("40.49")},
    ],
    "fuel_adjustment": {"2026-04": D("-1.20")},
    "renewable_surcharge": {"2025": D("3.98")},
    "feed_in": {"price": D("16.00")},
}

TOU: dict[str, object] = {
    "name": "tou",
    "base_charge": {"monthly": 0},
    "period": [
        {"name": "night", "hours": "23:00-07:00", "price": 28},
        {"name": "day", "hours": "07:00-23:00", "days": ["weekday"], "price": 40},
        {"name": "weekend", "hours": "07:00-23:00", "days": ["holiday"], "price": 33},
    ],
}


def test_examples_load() -> None:
    standard = load_tariff(EXAMPLES / "standard-tiered.toml")
    assert standard.contract_amperes == 30
    assert standard.contract_kva is None
    assert standard.base_charge.monthly == D("935.25")
    assert [t.up_to for t in standard.tiers] == [D(120), D(300), None]
    assert standard.fuel_adjustment[2026, 4] == D("-1.20")
    assert standard.renewable_surcharge[2025] == D("3.98")
    assert standard.read_days == {(2026, 5): 12}
    assert standard.feed_in_price == D("16.00")
    tou = load_tariff(EXAMPLES / "time-of-use.toml")
    assert [p.name for p in tou.periods] == ["night", "holiday day", "day"]
    assert date(2026, 5, 6) in tou.holidays
    assert tou.contract_amperes == 40


def test_every_example_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("*.toml")) == [
        "standard-tiered.toml",
        "time-of-use.toml",
    ]


def test_toml_numbers_are_decimal_never_float() -> None:
    t = load_tariff(EXAMPLES / "standard-tiered.toml")
    assert all(type(v) is Decimal for v in t.fuel_adjustment.values())
    assert all(type(tier.price) is Decimal for tier in t.tiers)
    # A float from a caller's dict becomes the Decimal of its shortest repr.
    data = copy.deepcopy(GOOD)
    data["base_charge"] = {"30": 935.25}
    assert parse_tariff(data).base_charge.monthly == D("935.25")


def test_read_day_past_the_end_of_a_short_month() -> None:
    t = parse_tariff({**GOOD, "read_day": 31})
    assert t.billing_period(date(2026, 2, 28)) == (date(2026, 2, 28), date(2026, 3, 31))
    assert t.billing_period(date(2026, 2, 27)) == (date(2026, 1, 31), date(2026, 2, 28))


def test_contract_amperes_picks_its_price_from_the_table() -> None:
    t = parse_tariff({**GOOD, "contract_amperes": 60, "base_charge": {"30": 1, "60": 2}})
    assert t.base_charge.monthly == 2
    monthly = parse_tariff({**GOOD, "contract_amperes": 60, "base_charge": {"monthly": 5}})
    assert monthly.base_charge.monthly == 5


def _without(data: dict[str, object], key: str) -> dict[str, object]:
    return {k: v for k, v in data.items() if k != key}


def _rates(*entries: dict[str, object]) -> dict[str, object]:
    return {**GOOD, "energy_rate": list(entries)}


def _periods(*entries: dict[str, object]) -> dict[str, object]:
    return {**TOU, "period": list(entries)}


_DAY = {"name": "all", "hours": "00:00-24:00", "price": 30}

BAD: list[tuple[str, dict[str, object], str]] = [
    ("missing name", _without(GOOD, "name"), "name"),
    ("empty name", {**GOOD, "name": " "}, "name"),
    ("unknown key", {**GOOD, "colour": "red"}, "colour"),
    ("odd amperage", {**GOOD, "contract_amperes": 25}, "contract_amperes"),
    ("amperes as text", {**GOOD, "contract_amperes": "30A"}, "contract_amperes"),
    ("amperes and kva", {**GOOD, "contract_kva": 6}, "contract_kva"),
    ("negative kva", {**_without(GOOD, "contract_amperes"), "contract_kva": -1}, "contract_kva"),
    ("read day 0", {**GOOD, "read_day": 0}, "read_day"),
    ("read day 32", {**GOOD, "read_day": 32}, "read_day"),
    ("read day on Feb 30", {**GOOD, "read_days": {"2026-02": 30}}, "read_days.2026-02"),
    ("read day month name", {**GOOD, "read_days": {"May": 3}}, "read_days.May"),
    ("holiday not a date", {**GOOD, "holidays": ["2026-02-30"]}, "holidays[1]"),
    ("holidays not a list", {**GOOD, "holidays": "2026-01-01"}, "holidays"),
    ("weekend day name", {**GOOD, "weekend": ["saturday"]}, "weekend[1]"),
    ("no base charge", _without(GOOD, "base_charge"), "base_charge"),
    ("base charge not a table", {**GOOD, "base_charge": 935}, "base_charge"),
    ("no price for amperes", {**GOOD, "base_charge": {"40": 1247}}, "base_charge.30"),
    ("odd amperes key", {**GOOD, "base_charge": {"30": 1, "35": 2}}, "base_charge.35"),
    ("negative base", {**GOOD, "base_charge": {"30": -1}}, "base_charge.30"),
    ("base price text", {**GOOD, "base_charge": {"30": "yen"}}, "base_charge.30"),
    ("base price bool", {**GOOD, "base_charge": {"30": True}}, "base_charge.30"),
    (
        "kva without per_kva",
        {**_without(GOOD, "contract_amperes"), "contract_kva": 6},
        "base_charge.per_kva",
    ),
    (
        "amperes table without contract",
        _without(GOOD, "contract_amperes"),
        "contract_amperes",
    ),
    (
        "no contract, no monthly",
        {**_without(GOOD, "contract_amperes"), "base_charge": {}},
        "base_charge.monthly",
    ),
    ("neither rates nor periods", _without(GOOD, "energy_rate"), "energy_rate"),
    ("both rates and periods", {**GOOD, "period": TOU["period"]}, "energy_rate"),
    ("no tiers", _rates(), "energy_rate"),
    (
        "tier price text",
        _rates({"up_to": 120, "price": 1}, {"price": "abc"}),
        "energy_rate[2].price",
    ),
    ("tier without price", _rates({"up_to": 120}, {"price": 1}), "energy_rate[1].price"),
    ("middle tier without limit", _rates({"price": 1}, {"price": 2}), "energy_rate[1].up_to"),
    (
        "limits not increasing",
        _rates({"up_to": 300, "price": 1}, {"up_to": 120, "price": 2}, {"price": 3}),
        "energy_rate[2].up_to",
    ),
    ("last tier with limit", _rates({"up_to": 120, "price": 1}), "energy_rate[1].up_to"),
    ("tier limit zero", _rates({"up_to": 0, "price": 1}, {"price": 2}), "energy_rate[1].up_to"),
    ("tier unknown key", _rates({"price": 1, "from": 0}), "energy_rate[1].from"),
    ("tier not a table", _rates(5), "energy_rate[1]"),  # type: ignore[arg-type]
    ("proration unit", {**GOOD, "tier_proration": "weeks"}, "tier_proration"),
    ("base days", {**GOOD, "tier_base_days": 0}, "tier_base_days"),
    ("fuel month 13", {**GOOD, "fuel_adjustment": {"2026-13": 1}}, "fuel_adjustment.2026-13"),
    ("fuel month text", {**GOOD, "fuel_adjustment": {"April": 1}}, "fuel_adjustment.April"),
    ("fuel price text", {**GOOD, "fuel_adjustment": {"2026-04": "x"}}, "fuel_adjustment.2026-04"),
    ("fuel month by", {**GOOD, "fuel_adjustment_month": "middle"}, "fuel_adjustment_month"),
    (
        "fiscal year key",
        {**GOOD, "renewable_surcharge": {"FY2025": 3}},
        "renewable_surcharge.FY2025",
    ),
    (
        "surcharge text",
        {**GOOD, "renewable_surcharge": {"2025": "3.98円"}},
        "renewable_surcharge.2025",
    ),
    ("year start", {**GOOD, "renewable_year_start_month": 13}, "renewable_year_start_month"),
    ("missing rates", {**GOOD, "missing_rates": "guess"}, "missing_rates"),
    ("feed-in without price", {**GOOD, "feed_in": {}}, "feed_in.price"),
    ("feed-in negative", {**GOOD, "feed_in": {"price": -1}}, "feed_in.price"),
    ("feed-in unknown", {**GOOD, "feed_in": {"price": 1, "tax": 0}}, "feed_in.tax"),
    ("rounding mode", {**GOOD, "rounding": {"total": "ceil"}}, "rounding.total"),
    ("rounding key", {**GOOD, "rounding": {"tax": "floor"}}, "rounding.tax"),
    ("period hours", _periods({**_DAY, "hours": "25:00-03:00"}), "period[1].hours"),
    ("period quarter", _periods({**_DAY, "hours": "22:15-06:00"}), "period[1].hours"),
    ("period empty", _periods({**_DAY, "hours": "07:00-07:00"}), "period[1].hours"),
    ("period hours list", _periods({**_DAY, "hours": ["00:00-24:00", "x"]}), "period[1].hours[2]"),
    ("period no hours", _periods({**_DAY, "hours": []}), "period[1].hours"),
    ("period day name", _periods({**_DAY, "days": ["funday"]}), "period[1].days[1]"),
    ("period no name", _periods(_without(_DAY, "name")), "period[1].name"),
    ("period no price", _periods(_without(_DAY, "price")), "period[1].price"),
    ("period unknown", _periods({**_DAY, "colour": 1}), "period[1].colour"),
    ("no periods", _periods(), "period"),
    (
        "period gap",
        _periods({"name": "day", "hours": "07:00-23:00", "price": 1}),
        "period",
    ),
    (
        "holiday gap",
        _periods({**_DAY, "days": ["weekday"]}),
        "period",
    ),
    (
        "same name two prices",
        _periods(_DAY, {**_DAY, "price": 31}),
        "period[2].name",
    ),
    (
        "minimum and base charge",
        {**GOOD, "minimum_charge": {"amount": 500, "covers_kwh": 15}},
        "minimum_charge",
    ),
    (
        "minimum charge without kWh",
        {**_without(GOOD, "base_charge"), "minimum_charge": {"amount": 500}},
        "minimum_charge.covers_kwh",
    ),
    ("discount without name", {**GOOD, "discount": [{"per_period": 55}]}, "discount[1].name"),
    (
        "discount with both amounts",
        {**GOOD, "discount": [{"name": "x", "per_period": 55, "per_kwh": 1}]},
        "discount[1]",
    ),
    (
        "negative discount",
        {**GOOD, "discount": [{"name": "x", "per_kwh": -1}]},
        "discount[1].per_kwh",
    ),
    ("missing_rates typo", {**GOOD, "missing_rates": "guess"}, "missing_rates"),
]


@pytest.mark.parametrize(("data", "key"), [(d, k) for _, d, k in BAD], ids=[b[0] for b in BAD])
def test_bad_tariff_names_the_key(data: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_tariff(data, source="my.toml")
    assert info.value.key == key
    assert str(info.value).startswith(f"{key}: ")
    assert "(in my.toml)" in str(info.value)


def test_period_gap_message_says_where() -> None:
    with pytest.raises(ConfigError, match=r"no period covers mon \(listed holiday\) 00:00–00:30"):
        parse_tariff(_periods({**_DAY, "days": ["weekday"]}))
    with pytest.raises(ConfigError, match=r"no period covers sat \(weekend\) 00:00–00:30"):
        parse_tariff(_periods({**_DAY, "days": ["mon", "tue", "wed", "thu", "fri"]}))
    with pytest.raises(ConfigError, match=r"no period covers mon \(weekday\) 06:30–07:00"):
        parse_tariff(_periods({**_DAY, "hours": "07:00-06:30"}))


def test_good_data_parses() -> None:
    assert isinstance(parse_tariff(GOOD), Tariff)
    assert isinstance(parse_tariff(TOU), Tariff)


def test_load_tariff_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_tariff(tmp_path / "missing.toml")
    assert info.value.key == "tariff.file"
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x"\n[base_charge\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_tariff(broken)
    assert info.value.key == "tariff.file"
    assert "not valid TOML" in str(info.value)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "x"\n[base_charge]\nmonthly = 0\n[[energy_rate]]\nprice = "lots"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_tariff(bad)
    assert info.value.key == "energy_rate[1].price"
    assert str(bad) in str(info.value)


def test_toml_bare_keys_and_dates(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(
        "\n".join(
            [
                'name = "bare keys"',
                "read_day = 20",
                'holidays = [2026-01-01, "2026-01-02"]',
                "[read_days]",
                "2026-05 = 12",
                "[base_charge]",
                "monthly = 0",
                "[[energy_rate]]",
                "price = 30.5",
                "[fuel_adjustment]",
                "2026-04 = -1.20",
                "[renewable_surcharge]",
                "2025 = 3.98",
            ]
        ),
        encoding="utf-8",
    )
    t = load_tariff(path)
    assert t.read_days == {(2026, 5): 12}
    assert t.holidays == {date(2026, 1, 1), date(2026, 1, 2)}
    assert t.fuel_adjustment == {(2026, 4): D("-1.20")}


# -- arguments the API refuses -------------------------------------------------------------


def test_half_hour_validation() -> None:
    with pytest.raises(UsageError):
        HalfHour(datetime(2026, 5, 1, 0, 0), D(1))
    with pytest.raises(UsageError):
        HalfHour(datetime(2026, 5, 1, tzinfo=JST), D(-1))
    with pytest.raises(UsageError):
        HalfHour(datetime(2026, 5, 1, tzinfo=JST), 1.5)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        HalfHour(datetime(2026, 5, 1, tzinfo=JST), D(1), D("NaN"))


def test_bill_arguments() -> None:
    t = parse_tariff(GOOD)
    with pytest.raises(UsageError):
        t.bill([], date(2026, 5, 1), date(2026, 5, 1))
    with pytest.raises(UsageError):
        t.bill([], datetime(2026, 5, 1, tzinfo=JST), date(2026, 5, 2))
    with pytest.raises(UsageError):
        t.billing_periods(date(2026, 5, 2), date(2026, 5, 1))
    with pytest.raises(UsageError):
        t.bill(["not a half-hour"], date(2026, 5, 1), date(2026, 5, 2))  # type: ignore[list-item]


def test_duplicate_half_hours_count_once() -> None:
    t = parse_tariff(GOOD)
    slot = datetime(2026, 5, 1, 10, tzinfo=JST)
    bill = t.bill([HalfHour(slot, D(1)), HalfHour(slot, D(2))], date(2026, 5, 1), date(2026, 5, 2))
    assert bill.import_kwh == 2


# -- layering: routeb.tariff is pure ---------------------------------------------------------


def test_tariff_imports_only_stdlib_errors_the_glossary_and_the_meter_clock() -> None:
    # routeb.meter_time (L0) is constants only: JST and the 30-minute slot.
    forbidden_stdlib = {"asyncio", "socket", "time", "random", "logging", "threading", "os"}
    for path in (ROOT / "src" / "routeb" / "tariff").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "routeb":
                    allowed = {"routeb.errors", "routeb.glossary", "routeb.meter_time"}
                    assert name in allowed or name.startswith("routeb.tariff"), (
                        f"{path.name} imports {name}"
                    )
                else:
                    assert top in sys.stdlib_module_names, f"{path.name} imports {name}"
                    assert top not in forbidden_stdlib, f"{path.name} imports {name}"
