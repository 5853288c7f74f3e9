"""Reading a tariff from TOML: every problem is a ConfigError naming the key."""

from __future__ import annotations

import calendar
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from routeb.errors import ConfigError
from routeb.meter_time import SLOTS_PER_DAY
from routeb.tariff._rounding import ROUNDING_MODES
from routeb.tariff._tariff import (
    BaseCharge,
    Discount,
    MinimumCharge,
    Rounding,
    Tariff,
    Tier,
    TouPeriod,
)

__all__ = ["CONTRACT_AMPERES", "load_tariff", "parse_tariff"]

#: Contract amperages of the Japanese residential plans (従量電灯B, スタンダードS, …).
CONTRACT_AMPERES: Final = (10, 15, 20, 30, 40, 50, 60)

_TOP_KEYS: Final = frozenset(
    {
        "name",
        "contract_amperes",
        "contract_kva",
        "read_day",
        "read_days",
        "holidays",
        "weekend",
        "base_charge",
        "energy_rate",
        "period",
        "tier_proration",
        "tier_base_days",
        "fuel_adjustment",
        "fuel_adjustment_month",
        "renewable_surcharge",
        "renewable_year_start_month",
        "missing_rates",
        "feed_in",
        "rounding",
        "minimum_charge",
        "discount",
    }
)
_DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES: Final = {
    "everyday": "everyday",
    "all": "everyday",
    "毎日": "everyday",
    "weekday": "weekday",
    "weekdays": "weekday",
    "平日": "weekday",
    "holiday": "holiday",
    "holidays": "holiday",
    "休日": "holiday",
    **{name: name for name in _DAY_NAMES},
}
_HOURS_RE: Final = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~〜～]\s*(\d{1,2}):(\d{2})\s*$")
_MONTH_RE: Final = re.compile(r"^(\d{4})-(\d{2})$")


class _Reader:
    """Validation helpers that know the file name for messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, message: str) -> ConfigError:
        where = f" (in {self.source})" if self.source else ""
        return ConfigError(key, message + where)

    def table(self, value: object, key: str) -> Mapping[str, object]:
        if not isinstance(value, Mapping):
            raise self.error(key, f"must be a table (got {_show(value)})")
        for k in value:
            if not isinstance(k, str):
                raise self.error(key, f"keys must be strings (got {k!r})")
        return value

    def only(self, table: Mapping[str, object], allowed: frozenset[str], prefix: str) -> None:
        for k in table:
            if k not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.error(f"{prefix}{k}", f"unknown key (known keys: {known})")

    def text(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"must be a non-empty string (got {_show(value)})")
        return value.strip()

    def integer(self, value: object, key: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be a whole number from {lo} to {hi} (got {_show(value)})")
        if not lo <= value <= hi:
            raise self.error(key, f"must be from {lo} to {hi} (got {value})")
        return value

    def number(self, value: object, key: str, *, positive: bool = False) -> Decimal:
        """A price or quantity as Decimal (TOML floats are read as Decimal, never float)."""
        number: Decimal | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, Decimal):
            number = value
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = Decimal(repr(value))  # a float from a caller's dict: its shortest repr
        elif isinstance(value, str):
            try:
                number = Decimal(value.strip().replace(",", ""))
            except InvalidOperation:
                number = None
        if number is None or not number.is_finite():
            raise self.error(key, f"must be a number (got {_show(value)})")
        if positive and number <= 0:
            raise self.error(key, f"must be more than 0 (got {number})")
        return number

    def choice(self, value: object, key: str, choices: Sequence[str]) -> str:
        if not isinstance(value, str) or value not in choices:
            options = ", ".join(f'"{c}"' for c in choices)
            raise self.error(key, f"must be one of {options} (got {_show(value)})")
        return value

    def month(self, text: str, key: str) -> tuple[int, int]:
        match = _MONTH_RE.match(text)
        if match is None or not 1 <= int(match[2]) <= 12:
            raise self.error(key, 'must be a month written "YYYY-MM", e.g. "2026-04"')
        return int(match[1]), int(match[2])

    def day(self, value: object, key: str) -> date:
        if isinstance(value, datetime):
            raise self.error(key, f"must be a date, not a date and time (got {value})")
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.error(key, f'must be a date written "YYYY-MM-DD" (got {_show(value)})')

    def array(self, value: object, key: str) -> list[object]:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise self.error(key, f"must be a list (got {_show(value)})")
        return list(value)


def _show(value: object) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return repr(value)


def load_tariff(path: Path) -> Tariff:
    """Read a tariff TOML file (docs/tariffs.md). Problems raise ConfigError naming the key."""
    try:
        with path.open("rb") as f:
            data = tomllib.load(f, parse_float=Decimal)
    except OSError as e:
        raise ConfigError("tariff.file", f"cannot read {path}: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("tariff.file", f"{path} is not valid TOML: {e}") from e
    return parse_tariff(data, source=str(path))


def parse_tariff(data: Mapping[str, object], source: str = "") -> Tariff:
    """Build a tariff from parsed TOML (or any mapping of the same shape)."""
    r = _Reader(source)
    data = r.table(data, "tariff")
    r.only(data, _TOP_KEYS, "")
    if "name" not in data:
        raise r.error("name", "missing: give the plan a name")
    name = r.text(data["name"], "name")

    amperes = kva = None
    if "contract_amperes" in data:
        amperes = r.integer(data["contract_amperes"], "contract_amperes", 1, 1000)
        if amperes not in CONTRACT_AMPERES:
            allowed = ", ".join(map(str, CONTRACT_AMPERES))
            raise r.error("contract_amperes", f"must be one of {allowed} (got {amperes})")
    if "contract_kva" in data:
        kva = r.number(data["contract_kva"], "contract_kva", positive=True)
        if amperes is not None:
            raise r.error("contract_kva", "give contract_amperes or contract_kva, not both")

    read_day = r.integer(data.get("read_day", 1), "read_day", 1, 31)
    read_days: dict[tuple[int, int], int] = {}
    for month_text, value in r.table(data.get("read_days", {}), "read_days").items():
        key = f"read_days.{month_text}"
        year, month = r.month(month_text, key)
        read_days[year, month] = r.integer(value, key, 1, calendar.monthrange(year, month)[1])

    holidays = frozenset(
        r.day(v, f"holidays[{i}]")
        for i, v in enumerate(r.array(data.get("holidays", []), "holidays"), 1)
    )
    weekend: set[int] = set()
    for i, v in enumerate(r.array(data.get("weekend", ["sat", "sun"]), "weekend"), 1):
        weekend.add(_DAY_NAMES.index(r.choice(v, f"weekend[{i}]", _DAY_NAMES)))

    minimum = _minimum_charge(r, data)
    base = (
        BaseCharge(Decimal(0), "", None, None)
        if minimum is not None
        else _base_charge(r, data, amperes, kva)
    )

    if ("energy_rate" in data) == ("period" in data):
        raise r.error(
            "energy_rate",
            "give either [[energy_rate]] (tiered plan) or [[period]] (time-of-use plan), "
            "exactly one of them",
        )
    tiers = _tiers(r, data["energy_rate"]) if "energy_rate" in data else ()
    periods = _periods(r, data["period"], frozenset(weekend)) if "period" in data else ()

    fuel: dict[tuple[int, int], Decimal] = {}
    for month_text, value in r.table(data.get("fuel_adjustment", {}), "fuel_adjustment").items():
        key = f"fuel_adjustment.{month_text}"
        fuel[r.month(month_text, key)] = r.number(value, key)
    renewable: dict[int, Decimal] = {}
    table = r.table(data.get("renewable_surcharge", {}), "renewable_surcharge")
    for year_text, value in table.items():
        key = f"renewable_surcharge.{year_text}"
        if not re.fullmatch(r"\d{4}", year_text):
            raise r.error(key, "must be a fiscal year written as 4 digits, e.g. 2025 = 3.98")
        renewable[int(year_text)] = r.number(value, key)

    feed_in_price = None
    if "feed_in" in data:
        feed_in = r.table(data["feed_in"], "feed_in")
        r.only(feed_in, frozenset({"price"}), "feed_in.")
        if "price" not in feed_in:
            raise r.error("feed_in.price", "missing: the price of sold energy in yen per kWh")
        feed_in_price = r.number(feed_in["price"], "feed_in.price")
        if feed_in_price < 0:
            raise r.error("feed_in.price", f"must not be negative (got {feed_in_price})")

    rounding_table = r.table(data.get("rounding", {}), "rounding")
    fields = frozenset(Rounding.__dataclass_fields__)
    r.only(rounding_table, fields, "rounding.")
    rounding = Rounding(
        **{k: r.choice(v, f"rounding.{k}", ROUNDING_MODES) for k, v in rounding_table.items()}
    )

    return Tariff(
        name=name,
        contract_amperes=amperes,
        contract_kva=kva,
        read_day=read_day,
        read_days=read_days,
        base_charge=base,
        tiers=tiers,
        periods=periods,
        fuel_adjustment=fuel,
        fuel_adjustment_month=r.choice(
            data.get("fuel_adjustment_month", "end"), "fuel_adjustment_month", ("end", "start")
        ),
        renewable_surcharge=renewable,
        renewable_year_start_month=r.integer(
            data.get("renewable_year_start_month", 4), "renewable_year_start_month", 1, 12
        ),
        missing_rates=r.choice(
            data.get("missing_rates", "omit"),
            "missing_rates",
            ("omit", "latest", "zero", "error"),
        ),
        feed_in_price=feed_in_price,
        rounding=rounding,
        tier_proration=r.choice(
            data.get("tier_proration", "none"), "tier_proration", ("none", "days")
        ),
        tier_base_days=r.integer(data.get("tier_base_days", 30), "tier_base_days", 1, 366),
        holidays=holidays,
        weekend=frozenset(weekend),
        minimum_charge=minimum,
        discounts=_discounts(r, data.get("discount", [])),
    )


def _minimum_charge(r: _Reader, data: Mapping[str, object]) -> MinimumCharge | None:
    """最低料金 (e.g. 従量電灯A): a charge that includes the first kWh; instead of a base charge."""
    if "minimum_charge" not in data:
        return None
    if "base_charge" in data:
        raise r.error("minimum_charge", "give [base_charge] or [minimum_charge], not both")
    table = r.table(data["minimum_charge"], "minimum_charge")
    r.only(table, frozenset({"amount", "covers_kwh"}), "minimum_charge.")
    for required in ("amount", "covers_kwh"):
        if required not in table:
            raise r.error(f"minimum_charge.{required}", "missing")
    amount = r.number(table["amount"], "minimum_charge.amount")
    if amount < 0:
        raise r.error("minimum_charge.amount", f"must not be negative (got {amount})")
    covers = r.number(table["covers_kwh"], "minimum_charge.covers_kwh", positive=True)
    return MinimumCharge(amount, covers)


def _discounts(r: _Reader, value: object) -> tuple[Discount, ...]:
    """[[discount]]: yen off per billing period (``per_period``) or per kWh (``per_kwh``)."""
    out: list[Discount] = []
    for i, entry in enumerate(r.array(value, "discount"), 1):
        key = f"discount[{i}]"
        table = r.table(entry, key)
        r.only(table, frozenset({"name", "name_ja", "per_period", "per_kwh"}), f"{key}.")
        if "name" not in table:
            raise r.error(f"{key}.name", "missing")
        name = r.text(table["name"], f"{key}.name")
        name_ja = r.text(table.get("name_ja", name), f"{key}.name_ja")
        if ("per_period" in table) == ("per_kwh" in table):
            raise r.error(key, "give exactly one of per_period (yen off a bill) or per_kwh")
        which = "per_period" if "per_period" in table else "per_kwh"
        off = r.number(table[which], f"{key}.{which}", positive=True)
        out.append(
            Discount(
                name,
                name_ja,
                off if which == "per_period" else Decimal(0),
                off if which == "per_kwh" else Decimal(0),
                f"{key}.{which}",
            )
        )
    return tuple(out)


def _base_charge(
    r: _Reader, data: Mapping[str, object], amperes: int | None, kva: Decimal | None
) -> BaseCharge:
    if "base_charge" not in data:
        raise r.error(
            "base_charge", "missing: give prices by amperes, per_kva, or monthly = 0 for none"
        )
    table = r.table(data["base_charge"], "base_charge")
    by_amperes: dict[int, Decimal] = {}
    for k, v in table.items():
        key = f"base_charge.{k}"
        if k in {"per_kva", "monthly"}:
            r.number(v, key)
            continue
        if not k.isdigit() or int(k) not in CONTRACT_AMPERES:
            allowed = ", ".join(map(str, CONTRACT_AMPERES))
            raise r.error(key, f"unknown key: use contract amperes ({allowed}), per_kva or monthly")
        price = r.number(v, key)
        if price < 0:
            raise r.error(key, f"must not be negative (got {price})")
        by_amperes[int(k)] = price

    if amperes is not None:
        if amperes in by_amperes:
            monthly = by_amperes[amperes]
            return BaseCharge(monthly, f"{amperes} A", None, monthly, f"base_charge.{amperes}")
        if "monthly" not in table:
            raise r.error(
                f"base_charge.{amperes}",
                f"missing: no base charge for contract_amperes = {amperes}",
            )
    elif kva is not None:
        if "per_kva" not in table:
            raise r.error("base_charge.per_kva", "missing: contract_kva needs a price per kVA")
        per_kva = r.number(table["per_kva"], "base_charge.per_kva")
        if per_kva < 0:
            raise r.error("base_charge.per_kva", f"must not be negative (got {per_kva})")
        return BaseCharge(
            per_kva * kva, f"{kva.normalize():f} kVA", kva, per_kva, "base_charge.per_kva"
        )
    elif by_amperes:
        raise r.error("contract_amperes", "missing: base_charge lists prices by amperes; set yours")
    if "monthly" not in table:
        raise r.error("base_charge.monthly", "missing: give the monthly base charge (0 for none)")
    monthly = r.number(table["monthly"], "base_charge.monthly")
    if monthly < 0:
        raise r.error("base_charge.monthly", f"must not be negative (got {monthly})")
    return BaseCharge(monthly, "", None, monthly, "base_charge.monthly")


def _tiers(r: _Reader, value: object) -> tuple[Tier, ...]:
    entries = r.array(value, "energy_rate")
    if not entries:
        raise r.error("energy_rate", "must hold at least one [[energy_rate]]")
    tiers: list[Tier] = []
    previous = Decimal(0)
    for i, entry in enumerate(entries, 1):
        key = f"energy_rate[{i}]"
        table = r.table(entry, key)
        r.only(table, frozenset({"up_to", "price"}), f"{key}.")
        if "price" not in table:
            raise r.error(f"{key}.price", "missing: the price in yen per kWh")
        price = r.number(table["price"], f"{key}.price")
        last = i == len(entries)
        if "up_to" not in table:
            if not last:
                raise r.error(f"{key}.up_to", "missing: only the last tier may omit up_to")
            tiers.append(Tier(None, price))
            continue
        if last:
            raise r.error(f"{key}.up_to", "the last tier must not have up_to (it has no limit)")
        up_to = r.number(table["up_to"], f"{key}.up_to", positive=True)
        if up_to <= previous:
            raise r.error(f"{key}.up_to", f"must be more than the tier before ({previous})")
        previous = up_to
        tiers.append(Tier(up_to, price))
    return tuple(tiers)


def _slots(r: _Reader, text: object, key: str) -> frozenset[int]:
    if not isinstance(text, str) or (match := _HOURS_RE.match(text)) is None:
        raise r.error(
            key, f'must be hours written "HH:MM-HH:MM", e.g. "22:00-08:00" (got {_show(text)})'
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    for h, m in ((h1, m1), (h2, m2)):
        if m not in {0, 30} or h > 24 or (h == 24 and m != 0):
            raise r.error(
                key, f"times must be on the hour or half hour, 00:00 to 24:00 (got {text!r})"
            )
    first, end = h1 * 2 + m1 // 30, h2 * 2 + m2 // 30
    if first == SLOTS_PER_DAY:
        first = 0
    if first == end:
        raise r.error(key, f'is empty; write "00:00-24:00" for the whole day (got {text!r})')
    if end > first:
        return frozenset(range(first, end))
    return frozenset(range(first, SLOTS_PER_DAY)) | frozenset(range(end))


def _periods(r: _Reader, value: object, weekend: frozenset[int]) -> tuple[TouPeriod, ...]:
    entries = r.array(value, "period")
    if not entries:
        raise r.error("period", "must hold at least one [[period]]")
    periods: list[TouPeriod] = []
    prices: dict[str, Decimal] = {}
    for i, entry in enumerate(entries, 1):
        key = f"period[{i}]"
        table = r.table(entry, key)
        r.only(table, frozenset({"name", "name_ja", "hours", "days", "price"}), f"{key}.")
        for required in ("name", "hours", "price"):
            if required not in table:
                raise r.error(f"{key}.{required}", "missing")
        name = r.text(table["name"], f"{key}.name")
        name_ja = r.text(table.get("name_ja", name), f"{key}.name_ja")
        price = r.number(table["price"], f"{key}.price")
        if prices.setdefault(name, price) != price:
            raise r.error(
                f"{key}.name",
                f"{name!r} is used with two prices ({prices[name]} and {price}); "
                "give the periods different names",
            )
        hours = table["hours"]
        hour_list = [hours] if isinstance(hours, str) else r.array(hours, f"{key}.hours")
        if not hour_list:
            raise r.error(f"{key}.hours", "must hold at least one range of hours")
        slots: frozenset[int] = frozenset()
        for j, text in enumerate(hour_list, 1):
            where = f"{key}.hours" if isinstance(hours, str) else f"{key}.hours[{j}]"
            slots |= _slots(r, text, where)
        days_value = table.get("days", ["everyday"])
        day_list = (
            [days_value] if isinstance(days_value, str) else r.array(days_value, f"{key}.days")
        )
        if not day_list:
            raise r.error(f"{key}.days", "must hold at least one kind of day")
        days = frozenset(
            _DAY_ALIASES[r.choice(d, f"{key}.days[{j}]", tuple(_DAY_ALIASES))]
            for j, d in enumerate(day_list, 1)
        )
        periods.append(TouPeriod(name, name_ja, price, slots, days))

    # Every half-hour of every kind of day must belong to a period.
    for weekday, day_name in enumerate(_DAY_NAMES):
        for holiday in (True,) if weekday in weekend else (False, True):
            tags = {"everyday", day_name, "holiday" if holiday else "weekday"}
            covered: set[int] = set()
            for period in periods:
                if period.days & tags:
                    covered |= period.slots
            gaps = sorted(set(range(SLOTS_PER_DAY)) - covered)
            if gaps:
                if weekday in weekend:
                    kind = f"{day_name} (weekend)"
                else:
                    kind = f"{day_name} (listed holiday)" if holiday else f"{day_name} (weekday)"
                t = gaps[0]
                raise r.error(
                    "period",
                    f"no period covers {kind} {t // 2:02d}:{t % 2 * 30:02d}"
                    f"–{(t + 1) // 2:02d}:{(t + 1) % 2 * 30:02d}",
                )
    return tuple(periods)
