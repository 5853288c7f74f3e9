"""Bills computed by routeb.tariff, checked against bills computed by hand.

Every expected figure is worked out in the comments: kWh × yen/kWh per line, then the line's
rounding, then the total's rounding (floor unless the test says otherwise).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.errors import UsageError
from routeb.tariff import (
    JST,
    Bill,
    CostLine,
    HalfHour,
    Tariff,
    apply_rounding,
    load_tariff,
    parse_tariff,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "tariffs"
D = Decimal


@pytest.fixture(scope="module")
def standard() -> Tariff:
    return load_tariff(EXAMPLES / "standard-tiered.toml")


@pytest.fixture(scope="module")
def tou() -> Tariff:
    return load_tariff(EXAMPLES / "time-of-use.toml")


def daily(start: date, end: date, total: str | Decimal) -> Iterator[HalfHour]:
    """``total`` kWh over every half-hour of [start, end): an equal whole-0.0001 share in each,
    the remainder in the last one (the sum is exactly ``total``, and every half-hour has a
    reading, so the fixed charges are those of the days given)."""
    total = D(total)
    slots = (end - start).days * 48
    share = (total / slots).quantize(D("0.0001"), rounding="ROUND_DOWN")
    first = datetime(start.year, start.month, start.day, tzinfo=JST)
    for i in range(slots):
        kwh = share if i < slots - 1 else total - share * (slots - 1)
        yield HalfHour(first + timedelta(minutes=30 * i), kwh)


def at(year: int, month: int, day: int, hour: int, minute: int = 0, *, kwh: str) -> HalfHour:
    return HalfHour(datetime(year, month, day, hour, minute, tzinfo=JST), D(kwh))


def line(bill: Bill, key: str) -> CostLine:
    (found,) = [ln for ln in bill.lines if ln.key == key]
    return found


def amounts(bill: Bill) -> dict[str, Decimal]:
    return {ln.key: ln.amount for ln in bill.lines}


def tiered(**changes: object) -> Tariff:
    """A small tiered tariff with hand-picked prices, changed by ``changes``."""
    data: dict[str, object] = {
        "name": "test tiered",
        "contract_amperes": 30,
        "read_day": 15,
        "base_charge": {"30": D("935.25")},
        "energy_rate": [
            {"up_to": 120, "price": D("29.80")},
            {"up_to": 300, "price": D("36.40")},
            {"price": D("40.49")},
        ],
        "fuel_adjustment": {"2026-03": D("-1.50"), "2026-04": D("-1.23"), "2026-05": D("-0.95")},
        "renewable_surcharge": {"2025": D("3.49"), "2026": D("3.98")},
        "feed_in": {"price": D("16.00")},
    }
    data.update(changes)
    return parse_tariff(data, source="test")


# -- the standard tiered example ---------------------------------------------------------------


def test_brief_example_250_kwh_two_tiers(standard: Tariff) -> None:
    # 30 A, period 2026-03-15 … 2026-04-15 (31 days), 250 kWh.
    # Bill month = month of the period's last day (2026-04-14) → April: fuel −1.20 yen/kWh;
    # fiscal year of 2026-04-14 → FY2026: 3.98 yen/kWh.
    start, end = standard.billing_period(date(2026, 3, 20))
    assert (start, end) == (date(2026, 3, 15), date(2026, 4, 15))
    bill = standard.bill(daily(start, end, "250"), start, end)
    assert amounts(bill) == {
        "base_charge": D("935.25"),  # 30 A, full period, no rounding
        "energy_tier_1": D("3576.00"),  # 120 × 29.80 = 3576.00
        "energy_tier_2": D("4732.00"),  # 130 × 36.40 = 4732.00
        "energy_tier_3": D("0"),  # 0 × 40.49
        "fuel_adjustment": D("-300"),  # 250 × −1.20 = −300.00 → floor −300
        "renewable_surcharge": D("995"),  # 250 × 3.98 = 995.00 → floor 995
    }
    # floor(935.25 + 3576 + 4732 − 300 + 995) = floor(9938.25) = 9938
    assert bill.total == D("9938")
    assert bill.import_kwh == D("250")
    assert bill.missing_slots == 0
    assert bill.feed_in_credit == 0
    assert line(bill, "energy_tier_2").quantity == D("130")
    assert line(bill, "energy_tier_2").unit_price == D("36.40")
    assert line(bill, "fuel_adjustment").unit_price == D("-1.20")
    assert "2026-04" in line(bill, "fuel_adjustment").label_en
    assert (
        line(bill, "renewable_surcharge").label_ja == "再生可能エネルギー発電促進賦課金（2026年度）"
    )


def test_three_tiers_400_kwh(standard: Tariff) -> None:
    # Same period, 400 kWh.
    start, end = date(2026, 3, 15), date(2026, 4, 15)
    bill = standard.bill(daily(start, end, "400"), start, end)
    assert amounts(bill) == {
        "base_charge": D("935.25"),
        "energy_tier_1": D("3576.00"),  # 120 × 29.80
        "energy_tier_2": D("6552.00"),  # 180 × 36.40
        "energy_tier_3": D("4049.00"),  # 100 × 40.49
        "fuel_adjustment": D("-480"),  # 400 × −1.20 = −480.00
        "renewable_surcharge": D("1592"),  # 400 × 3.98 = 1592.00
    }
    # floor(935.25 + 3576 + 6552 + 4049 − 480 + 1592) = floor(16224.25) = 16224
    assert bill.total == D("16224")


def test_negative_fuel_adjustment_with_fraction() -> None:
    # Period 2026-03-15 … 2026-04-15, 123.4 kWh; April's fuel adjustment is −1.23 yen/kWh.
    t = tiered()
    start, end = date(2026, 3, 15), date(2026, 4, 15)
    bill = t.bill(daily(start, end, "123.4"), start, end)
    assert amounts(bill) == {
        "base_charge": D("935.25"),
        "energy_tier_1": D("3576.000"),  # 120 × 29.80
        "energy_tier_2": D("123.760"),  # 3.4 × 36.40
        "energy_tier_3": D("0"),
        # 123.4 × −1.23 = −151.782 → floor → −152 (towards minus infinity)
        "fuel_adjustment": D("-152"),
        # 123.4 × 3.98 = 491.132 → floor → 491 (FY2026: last day 2026-04-14)
        "renewable_surcharge": D("491"),
    }
    # floor(935.25 + 3576 + 123.76 − 152 + 491) = floor(4974.01) = 4974
    assert bill.total == D("4974")

    # "down" drops the fraction of the absolute value: −151.782 → −151.
    down = tiered(rounding={"fuel_adjustment": "down"}).bill(daily(start, end, "123.4"), start, end)
    assert line(down, "fuel_adjustment").amount == D("-151")
    assert down.total == D("4975")  # floor(4975.01)


def test_rounding_modes_on_a_bill() -> None:
    # Period 2026-03-15 … 2026-04-15, 250 kWh, April fuel −1.23, FY2026 3.98.
    start, end = date(2026, 3, 15), date(2026, 4, 15)
    usage = list(daily(start, end, "250"))
    # fuel 250 × −1.23 = −307.5; renewables 250 × 3.98 = 995.00
    # energy 120 × 29.80 + 130 × 36.40 = 8308.00; base 935.25
    default = tiered().bill(usage, start, end)
    assert line(default, "fuel_adjustment").amount == D("-308")  # floor(−307.5)
    assert default.total == D("9930")  # floor(935.25 + 8308 − 308 + 995) = floor(9930.25)

    half_up = tiered(
        rounding={"fuel_adjustment": "round-half-up", "base_charge": "round-half-up"}
    ).bill(usage, start, end)
    assert line(half_up, "fuel_adjustment").amount == D("-308")  # −307.5 → −308 (away from 0)
    assert line(half_up, "base_charge").amount == D("935")  # 935.25 → 935
    assert half_up.total == D("9930")  # 935 + 8308 − 308 + 995 = 9930

    exact = tiered(
        rounding={"fuel_adjustment": "none", "renewable_surcharge": "none", "total": "none"}
    ).bill(usage, start, end)
    assert line(exact, "fuel_adjustment").amount == D("-307.5")
    assert exact.total == D("9930.75")  # 935.25 + 8308 − 307.5 + 995

    rounded_total = tiered(rounding={"total": "round-half-up", "base_charge": "none"})
    # 935.25 + 8308 − 308 + 995 = 9930.25 → 9930
    assert rounded_total.bill(usage, start, end).total == D("9930")


@pytest.mark.parametrize(
    ("amount", "mode", "expected"),
    [
        ("-307.5", "floor", "-308"),
        ("-307.5", "down", "-307"),
        ("-307.5", "round-half-up", "-308"),
        ("-307.4", "round-half-up", "-307"),
        ("-307.5", "none", "-307.5"),
        ("872.5", "floor", "872"),
        ("872.5", "down", "872"),
        ("872.5", "round-half-up", "873"),
        ("872.49", "round-half-up", "872"),
        ("872.5", "none", "872.5"),
        ("0", "floor", "0"),
    ],
)
def test_apply_rounding(amount: str, mode: str, expected: str) -> None:
    assert apply_rounding(D(amount), mode) == D(expected)


def test_feed_in_credit_is_separate_and_floored() -> None:
    # Sold 12.34 + 0.1 kWh (a slot with unknown export counts as 0) at 16.00 yen/kWh:
    # 12.44 × 16.00 = 199.04 → floor 199; the bill total does not change.
    t = tiered()
    start, end = date(2026, 4, 15), date(2026, 5, 15)
    sold = [
        HalfHour(datetime(2026, 4, 20, 10, tzinfo=JST), D("0"), D("12.34")),
        HalfHour(datetime(2026, 4, 20, 11, tzinfo=JST), D("0"), None),
        HalfHour(datetime(2026, 4, 21, 11, tzinfo=JST), D("0"), D("0.1")),
    ]
    bought = list(daily(start, end, "100"))
    exports = {h.start: h.export_kwh for h in sold}
    # the same half-hours, now with the energy sold in three of them
    solar = [HalfHour(h.start, h.import_kwh, exports.get(h.start)) for h in bought]
    with_solar = t.bill(solar, start, end)
    without = t.bill(bought, start, end)
    assert with_solar.export_kwh == D("12.44")
    assert with_solar.feed_in_credit == D("199")
    assert with_solar.total == without.total
    assert "feed_in" not in amounts(with_solar)
    unrounded = tiered(rounding={"feed_in": "none"}).bill(solar, start, end)
    assert unrounded.feed_in_credit == D("199.04")
    # A tariff without [feed_in] pays nothing.
    data_without = tiered().bill(sold, start, end)
    assert data_without.feed_in_credit == D("199")
    no_feed_in = parse_tariff(
        {
            "name": "no solar",
            "base_charge": {"monthly": 0},
            "energy_rate": [{"price": 30}],
        }
    )
    assert no_feed_in.bill(sold, start, end).feed_in_credit == 0


def test_missing_half_hours_are_counted_and_not_charged() -> None:
    # Three half-hours of the period without a reading (one outside it): they cost nothing,
    # and the fixed charge is charged for the 1,437 of 1,440 half-hours that have data.
    t = tiered()
    start, end = date(2026, 4, 15), date(2026, 5, 15)
    gaps = {
        datetime(2026, 4, 16, 0, tzinfo=JST),
        datetime(2026, 4, 16, 0, 30, tzinfo=JST),
        datetime(2026, 5, 14, 23, 30, tzinfo=JST),
    }
    usage = [HalfHour(h.start, None) if h.start in gaps else h for h in daily(start, end, "30")]
    usage.append(HalfHour(datetime(2026, 5, 15, 0, 0, tzinfo=JST), None))  # next period
    bill = t.bill(usage, start, end)
    assert bill.missing_slots == 3
    assert (bill.known_slots, bill.period_slots) == (1437, 1440)
    assert bill.import_kwh == sum(h.import_kwh for h in usage if h.import_kwh is not None)
    base = line(bill, "base_charge")
    assert base.amount == D("933.30")  # 935.25 × 1437 / 1440 = 933.301… → to the sen
    assert base.label_en == "Base charge (30 A, data for 1,437 of 1,440 half-hours)"
    assert base.label_ja == "基本料金（30A、30分値 1,437/1,440件分）"


def test_no_data_no_charge() -> None:
    # A period before recording began, or still to come: nothing is charged, not the base.
    t = tiered()
    bill = t.bill([], date(2026, 4, 15), date(2026, 5, 15))
    assert bill.total == 0
    assert bill.known_slots == 0
    assert line(bill, "base_charge").amount == 0
    assert str(line(bill, "base_charge").amount) == "0.00"  # never -0 or 28 digits


def test_billing_period_overridden_for_one_month(standard: Tariff) -> None:
    # read_day = 15, but read_days: 2026-05 = 12.
    assert standard.billing_period(date(2026, 4, 20)) == (date(2026, 4, 15), date(2026, 5, 12))
    assert standard.billing_period(date(2026, 5, 11)) == (date(2026, 4, 15), date(2026, 5, 12))
    assert standard.billing_period(date(2026, 5, 12)) == (date(2026, 5, 12), date(2026, 6, 15))
    assert standard.billing_periods(date(2026, 4, 1), date(2026, 6, 15)) == [
        (date(2026, 3, 15), date(2026, 4, 15)),
        (date(2026, 4, 15), date(2026, 5, 12)),
        (date(2026, 5, 12), date(2026, 6, 15)),
        (date(2026, 6, 15), date(2026, 7, 15)),
    ]
    # The short period 2026-04-15 … 2026-05-12 (27 days), 200 kWh, May fuel −0.95, FY2026.
    start, end = standard.billing_period(date(2026, 5, 1))
    bill = standard.bill(daily(start, end, "200"), start, end)
    assert amounts(bill) == {
        "base_charge": D("935.25"),  # a whole period: no proration
        "energy_tier_1": D("3576.00"),  # 120 × 29.80 (tiers not prorated by default)
        "energy_tier_2": D("2912.00"),  # 80 × 36.40
        "energy_tier_3": D("0"),
        "fuel_adjustment": D("-190"),  # 200 × −0.95 = −190.00
        "renewable_surcharge": D("796"),  # 200 × 3.98 = 796.00
    }
    # floor(935.25 + 3576 + 2912 − 190 + 796) = floor(8029.25) = 8029
    assert bill.total == D("8029")


def test_tier_proration_by_days() -> None:
    # tier_proration = "days": limits × 27 / 30 → 120 × 0.9 = 108 kWh, 300 × 0.9 = 270 kWh.
    t = tiered(read_days={"2026-05": 12}, tier_proration="days")
    start, end = date(2026, 4, 15), date(2026, 5, 12)
    bill = t.bill(daily(start, end, "200"), start, end)
    assert line(bill, "energy_tier_1").quantity == D("108.00")
    assert line(bill, "energy_tier_1").amount == D("3218.4000")  # 108 × 29.80
    assert line(bill, "energy_tier_2").amount == D("3348.8000")  # 92 × 36.40
    # floor(935.25 + 3218.40 + 3348.80 − 190 + 796) = floor(8108.45) = 8108
    assert bill.total == D("8108")


def test_partial_period_prorates_base_charge_and_tiers() -> None:
    # Period 2026-04-15 … 2026-05-12 (27 days, 1,296 half-hours); bill the first 10 days
    # [04-15, 04-25), 480 half-hours with readings, 60 kWh.
    t = tiered(read_days={"2026-05": 12})
    start, end = date(2026, 4, 15), date(2026, 4, 25)
    usage = list(daily(start, end, "60"))
    bill = t.bill(usage, start, end)
    base = line(bill, "base_charge")
    assert base.amount == D("346.39")  # 935.25 × 480/1296 = 346.388… → to the sen
    assert "data for 480 of 1,296 half-hours" in base.label_en
    assert base.source == "base_charge.30"
    # Tier limits × 480/1296: 120 → 44.44 kWh, 300 → 111.11 kWh (rounded to 0.01 kWh).
    assert line(bill, "energy_tier_1").quantity == D("44.44")
    assert line(bill, "energy_tier_1").amount == D("1324.31")  # 44.44 × 29.80 = 1324.312
    assert line(bill, "energy_tier_2").amount == D("566.38")  # 15.56 × 36.40 = 566.384
    assert line(bill, "energy_tier_2").source == "energy_rate[2].price"
    # The fuel month and fiscal year are those of the whole period (last day 2026-05-11).
    assert line(bill, "fuel_adjustment").amount == D("-57")  # 60 × −0.95 = −57.00
    assert line(bill, "fuel_adjustment").source == "fuel_adjustment.2026-05"
    assert line(bill, "renewable_surcharge").amount == D("238")  # 60 × 3.98 = 238.80 → 238
    assert line(bill, "renewable_surcharge").source == "renewable_surcharge.2026"
    # floor(346.39 + 1324.31 + 566.38 − 57 + 238) = floor(2418.08) = 2418
    assert bill.total == D("2418")
    # energy_cost: the same energy-related lines before rounding, no base charge:
    # 1324.312 + 566.384 − 57.00 + 238.80 = 2072.496
    assert t.energy_cost(usage) == D("2072.496")


def test_today_at_two_in_the_morning_is_not_a_whole_day_of_base_charge() -> None:
    # 4 half-hours of 2026-04-20 (00:00–02:00), 0.2 kWh each, in a 30-day period (1,440):
    # base 935.25 × 4/1440 = 2.60, tier 1 limit 120 × 4/1440 = 0.33 kWh.
    t = tiered()
    usage = [
        HalfHour(datetime(2026, 4, 20, tzinfo=JST) + timedelta(minutes=30 * i), D("0.2"))
        for i in range(4)
    ]
    bill = t.bill(usage, date(2026, 4, 20), date(2026, 4, 21))
    assert line(bill, "base_charge").amount == D("2.60")
    assert line(bill, "energy_tier_1").quantity == D("0.33")
    assert line(bill, "energy_tier_2").quantity == D("0.47")
    # floor(2.60 + 0.33 × 29.80 + 0.47 × 36.40 + floor(0.8 × −1.23) + floor(0.8 × 3.98))
    # = floor(2.60 + 9.83 + 17.11 − 1 + 3) = floor(31.54) = 31
    assert bill.total == D("31")


def test_fiscal_year_boundary_inside_one_period() -> None:
    # FY2025 = 3.49, FY2026 = 3.98; 100 kWh each time.
    t = tiered()
    # 2026-03-15 … 2026-04-15: last day 2026-04-14 is in FY2026 → 100 × 3.98 = 398
    bill = t.bill(daily(date(2026, 3, 15), date(2026, 4, 15), "100"), date(2026, 3, 15),
                  date(2026, 4, 15))  # fmt: skip
    assert line(bill, "renewable_surcharge").amount == D("398")
    # 2026-02-15 … 2026-03-15: FY2025 → 100 × 3.49 = 349
    feb = t.bill(daily(date(2026, 2, 15), date(2026, 3, 15), "100"), date(2026, 2, 15),
                 date(2026, 3, 15))  # fmt: skip
    assert line(feb, "renewable_surcharge").amount == D("349")
    # Calendar months (read_day = 1): 2026-03-01 … 2026-04-01 ends on 03-31 → FY2025 → 349
    cal = tiered(read_day=1)
    march = cal.bill(daily(date(2026, 3, 1), date(2026, 4, 1), "100"), date(2026, 3, 1),
                     date(2026, 4, 1))  # fmt: skip
    assert line(march, "renewable_surcharge").amount == D("349")
    # ...and its fuel adjustment is March's: 100 × −1.50 = −150
    assert line(march, "fuel_adjustment").amount == D("-150")
    # renewable_year_start_month = 5 (a utility that switches with the May bill):
    # 2026-03-15 … 2026-04-15 is then still FY2025 → 349
    may = tiered(renewable_year_start_month=5)
    late = may.bill(daily(date(2026, 3, 15), date(2026, 4, 15), "100"), date(2026, 3, 15),
                    date(2026, 4, 15))  # fmt: skip
    assert line(late, "renewable_surcharge").amount == D("349")


def test_fuel_adjustment_month_start_or_end() -> None:
    # 2026-03-15 … 2026-04-15, 100 kWh: end (default) → April −1.23 → −123; start → March
    # −1.50 → −150.
    start, end = date(2026, 3, 15), date(2026, 4, 15)
    usage = list(daily(start, end, "100"))
    assert line(tiered().bill(usage, start, end), "fuel_adjustment").amount == D("-123")
    by_start = tiered(fuel_adjustment_month="start").bill(usage, start, end)
    assert line(by_start, "fuel_adjustment").amount == D("-150")


def test_missing_rates_policy() -> None:
    # No fuel price for 2026-07. By default the price is said to be missing and the amount is
    # left out — never another month's price guessed; "latest" (asked for) uses 2026-05's
    # (−0.95) and says so; "zero" uses 0 and says so; "error" raises.
    start, end = date(2026, 6, 15), date(2026, 7, 15)
    usage = list(daily(start, end, "100"))
    omitted = tiered().bill(usage, start, end)
    fuel = line(omitted, "fuel_adjustment")
    assert (fuel.amount, fuel.unit_price, fuel.source) == (0, None, None)
    assert fuel.missing_price is True
    assert omitted.missing_prices == ("fuel_adjustment",)
    assert "no price in the tariff file" in fuel.label_en
    assert "単価が料金ファイルにありません" in fuel.label_ja
    latest = tiered(missing_rates="latest").bill(usage, start, end)
    assert line(latest, "fuel_adjustment").amount == D("-95")
    assert "price of 2026-05" in line(latest, "fuel_adjustment").label_en
    assert line(latest, "fuel_adjustment").source == "fuel_adjustment.2026-05"
    assert latest.missing_prices == ()
    zero = tiered(missing_rates="zero").bill(usage, start, end)
    assert line(zero, "fuel_adjustment").amount == 0
    assert line(zero, "fuel_adjustment").source == "missing_rates"
    with pytest.raises(UsageError, match="fuel_adjustment"):
        tiered(missing_rates="error").bill(usage, start, end)


def test_kva_base_charge() -> None:
    # 従量電灯C: 6 kVA × 311.75 yen/kVA = 1870.50 yen per month.
    t = parse_tariff(
        {
            "name": "kVA",
            "contract_kva": 6,
            "base_charge": {"per_kva": D("311.75")},
            "energy_rate": [{"price": D("30")}],
        }
    )
    assert t.contract_kva == 6
    assert t.contract_amperes is None
    bill = t.bill(
        daily(date(2026, 4, 1), date(2026, 5, 1), "0"), date(2026, 4, 1), date(2026, 5, 1)
    )
    base = line(bill, "base_charge")
    assert (base.quantity, base.unit_price, base.amount) == (D(6), D("311.75"), D("1870.50"))
    assert (base.unit, base.source) == ("kVA", "base_charge.per_kva")
    assert bill.total == D("1870")  # floor(1870.50)


def test_range_over_two_periods_adds_the_parts() -> None:
    # [2026-04-01, 2026-05-01) crosses the read day 04-15: 14 of the 31 days of the March–April
    # period and 16 of the 30 of the April–May period, every half-hour recorded, no usage.
    t = tiered()
    bill = t.bill(
        daily(date(2026, 4, 1), date(2026, 5, 1), "0"), date(2026, 4, 1), date(2026, 5, 1)
    )
    # 935.25 × 672/1488 = 422.37 and 935.25 × 768/1440 = 498.80 (each to the sen)
    assert line(bill, "base_charge").amount == D("422.37") + D("498.80")
    assert line(bill, "base_charge").label_en == "Base charge"  # two parts: a generic label
    assert len({ln.key for ln in bill.lines}) == len(bill.lines)
    assert bill.total == D("921")  # floor(921.17)


def test_minimum_charge_and_discounts() -> None:
    # 従量電灯A-like: 最低料金 522.58 yen covers the first 15 kWh; tiers from 15 kWh; a
    # discount of 55 yen per bill and one of 0.50 yen per kWh. 100 kWh in a whole period.
    t = parse_tariff(
        {
            "name": "minimum",
            "read_day": 1,
            "minimum_charge": {"amount": D("522.58"), "covers_kwh": 15},
            "energy_rate": [{"up_to": 120, "price": D("20.21")}, {"price": D("25.61")}],
            "fuel_adjustment": {"2026-04": D("-1.00")},
            "renewable_surcharge": {"2026": D("3.98")},
            "discount": [
                {"name": "Direct debit", "name_ja": "口座振替割引", "per_period": 55},
                {"name": "Set discount", "name_ja": "セット割", "per_kwh": D("0.50")},
            ],
        }
    )
    start, end = date(2026, 4, 1), date(2026, 5, 1)
    bill = t.bill(daily(start, end, "100"), start, end)
    assert amounts(bill) == {
        "minimum_charge": D("522.58"),
        "energy_tier_1": D("1717.85"),  # (100 − 15) × 20.21 = 1717.85
        "energy_tier_2": D("0"),
        "fuel_adjustment": D("-100"),
        "renewable_surcharge": D("398"),
        "discount_1": D("-55"),
        "discount_2": D("-50"),  # 100 × −0.50
    }
    assert line(bill, "minimum_charge").label_ja == "最低料金（最初の15kWhまで）"
    assert line(bill, "energy_tier_1").label_ja == "電力量料金 第1段階（15〜120kWh）"
    assert line(bill, "discount_1").source == "discount[1].per_period"
    assert line(bill, "discount_2").kind == "discount"
    # floor(522.58 + 1717.85 − 100 + 398 − 55 − 50) = floor(2433.43)
    assert bill.total == D("2433")
    assert bill.energy_cost == D("1717.85") - 100 + 398 - 50


def test_period_energy_cost_is_the_whole_periods_energy_lines() -> None:
    # A running total billed "as a whole period": the tier limits are the period's own.
    t = tiered()
    start, end = date(2026, 3, 15), date(2026, 4, 15)
    # = energy_cost of the whole period's half-hours: 120 × 29.80 + 130 × 36.40 + 250 × (−1.23
    # + 3.98) = 3576 + 4732 + 687.50 = 8995.50 (before the bill's rounding)
    assert t.energy_cost(daily(start, end, "250")) == D("8995.50")
    assert t.period_energy_cost(D("250"), date(2026, 4, 1)) == D("8995.50")
    # 10 kWh so far is still all in the first tier: 10 × (29.80 − 1.23 + 3.98) = 325.50
    assert t.period_energy_cost(D("10"), date(2026, 4, 1)) == D("325.50")
    with pytest.raises(UsageError, match="time of use"):
        load_tariff(EXAMPLES / "time-of-use.toml").period_energy_cost(D(1), start)
