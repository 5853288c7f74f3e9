"""A seeded model of a Japanese home's electricity on the meter clock: power, currents, energy.

Everything is a pure function of (seed, configuration, meter time), so any instant can be asked
for in any order. The power is piecewise constant with breakpoints on whole seconds: each
30-minute slot is built from its own seeded random stream (base load per minute, PV per
minute, and appliance runs planned per day), and the slot's exact import/export energy in
integer watt-seconds follows from its segments. Cumulative energy is a lazily extended prefix
sum of those slot energies, counted from ``epoch`` (where the counters read their initial
values), so a reading anywhere in the history window costs at most O(days) once and O(1) after.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Final

from routeb.echonet.energy import MAX_COEFFICIENT, MAX_DIGITS
from routeb.echonet.smartmeter import MAX_HISTORY_DAY
from routeb.errors import UsageError
from routeb.meter_time import SLOT_SECONDS, SLOTS_PER_DAY

__all__ = [
    "HISTORY_DAYS",
    "VOLTS_PER_LINE",
    "Direction",
    "Household",
]

# Defined once elsewhere: SLOT_SECONDS and SLOTS_PER_DAY (routeb.meter_time, §B.1 EA/EB/E2),
# MAX_DIGITS (§B.1 D7) and MAX_COEFFICIENT (§B.1 D3; this model takes 1 as the minimum, 0
# would make every reading 0 kWh) in routeb.echonet.energy; HISTORY_DAYS is §B.1 E5's
# 0 (today) .. 99 days back (routeb.echonet.smartmeter).
HISTORY_DAYS: Final = MAX_HISTORY_DAY
# §B.1 E8: currents in 0.1 A on each line of a 100/200 V single-phase three-wire service; the
# brief assumes 100 V per line, so 10 W on one line is 0.1 A.
VOLTS_PER_LINE: Final = 100

_MINUTES_PER_SLOT: Final = SLOT_SECONDS // 60
_US: Final = 1_000_000
_WUS_PER_KWH: Final = 3_600_000 * _US  # 1 kWh = 3.6e6 W·s = 3.6e12 W·µs
_SLOT_US: Final = SLOT_SECONDS * _US
_REF: Final = datetime(2000, 1, 1)  # slot 0 starts here; any midnight would do
_MINUTE_STARTS: Final = tuple(range(0, SLOT_SECONDS, 60))
_DAY_SECONDS: Final = 86_400
_SLOT_CACHE: Final = 1024  # ≈ 21 days of built slots (≈ 5 kB each)
_DAY_CACHE: Final = 128  # day plans (appliance runs, weather)

# Solar geometry for Tokyo (35.68° N, 139.77° E); JST is the 135° E meridian, so local solar
# noon is ≈ 19 minutes before 12:00 JST (plus the equation of time).
_LAT: Final = math.radians(35.68)
_LON_SHIFT_H: Final = (139.77 - 135.0) / 15.0
_TILT: Final = math.radians(30.0)  # typical south-facing roof pitch
# Inverter, wiring and soiling losses. With the weather below this gives ≈ 1,000 kWh per kWp a
# year, the usual Japanese rule of thumb (1 kW あたり年間約 1,000 kWh).
_PV_DERATE: Final = 0.80
# Hot panels lose ≈ 0.4 %/°C above 25 °C; the cell runs ≈ 25 °C above the mean daily maximum
# air temperature of Tokyo (10 °C in January … 31 °C in August), so the loss is ≈ 0.4 % × T_air.
_AIR_MAX_C: Final = (0, 10, 11, 14, 19, 23, 26, 30, 31, 27, 22, 17, 12)

# Japanese holidays that behave like weekends for almost every household (fixed dates only):
# New Year, Golden Week, Obon, year end.
_HOLIDAYS: Final = frozenset(
    {(1, 1), (1, 2), (1, 3), (5, 3), (5, 4), (5, 5)}
    | {(8, 13), (8, 14), (8, 15), (8, 16), (12, 29), (12, 30), (12, 31)}
)
# Heating / cooling need by month (0 none .. 1 peak), Kanto climate.
_COOLING: Final = (0, 0, 0, 0, 0, 0.05, 0.35, 0.85, 1.0, 0.6, 0, 0, 0)
_HEATING: Final = (0, 0.9, 0.8, 0.45, 0.1, 0, 0, 0, 0, 0, 0.05, 0.3, 0.7)
# Weather by month: P(sunny), P(partly cloudy), P(overcast); the rest is rain.
_WEATHER_P: Final = (
    (0, 0, 0),
    (0.60, 0.25, 0.10),
    (0.55, 0.25, 0.12),
    (0.40, 0.30, 0.17),
    (0.35, 0.30, 0.20),
    (0.35, 0.30, 0.20),
    (0.15, 0.30, 0.30),
    (0.30, 0.35, 0.20),
    (0.40, 0.35, 0.15),
    (0.25, 0.30, 0.25),
    (0.30, 0.30, 0.20),
    (0.45, 0.30, 0.15),
    (0.60, 0.25, 0.10),
)


class Direction(Enum):
    """Which way energy flows through the meter (§B.1)."""

    NORMAL = "normal"  # 正方向: bought from the grid (E0, E2, EA)
    REVERSE = "reverse"  # 逆方向: sold to the grid (E3, E4, EB)


class _Line(Enum):
    """Where a load hangs in a 100/200 V single-phase three-wire service."""

    R = 0
    T = 1
    BOTH = 2  # a 200 V appliance (air conditioner, IH hob): half the power on each line


def _stable_seed(*parts: object) -> int:
    """A 64-bit seed from the parts, identical in every process (unlike the salted hash())."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _rng(*parts: object) -> random.Random:
    """A random stream keyed on ``parts`` (stable across processes and runs)."""
    return random.Random(_stable_seed(*parts))


def _between(rng: random.Random, low: float, high: float) -> float:
    """A uniform draw in [low, high) from ``rng.random()`` only (stable across Python versions)."""
    return low + (high - low) * rng.random()


def _round_div(num: int, den: int) -> int:
    """num / den rounded half away from zero (den > 0)."""
    q, r = divmod(abs(num), den)
    q += 2 * r >= den
    return q if num >= 0 else -q


def _check_naive(t: datetime) -> None:
    """Refuse aware datetimes: the model runs on the meter's naive local (JST) clock."""
    if t.tzinfo is not None:
        raise UsageError(f"meter time must be a naive JST datetime, got {t.isoformat()}")


def _locate(t: datetime) -> tuple[int, int]:
    """(slot index, microseconds into the slot) of a naive meter time."""
    _check_naive(t)
    return divmod((t - _REF) // timedelta(microseconds=1), _SLOT_US)


def _slot_start(k: int) -> datetime:
    """The meter time at which slot ``k`` begins."""
    return _REF + timedelta(seconds=k * SLOT_SECONDS)


@dataclass(frozen=True, slots=True)
class _Traits:
    """The seeded character of one household."""

    standby_w: float
    fridge_w: int
    fridge_period_s: int
    fridge_on_s: int
    morning_w: float
    daytime_w: float
    evening_w: float
    occupancy: float  # chance that someone is home on a weekday daytime
    r_share: float  # share of the 100 V base load on the R line
    power_factor_permille: int
    has_dishwasher: bool
    has_dryer: bool
    ac_gain: float


@dataclass(frozen=True, slots=True)
class _Day:
    """One day's plan: base-load levels, appliance runs per slot, weather and sun."""

    levels: tuple[float, ...]  # base load (W) at the 49 half-hour boundaries 00:00 … 24:00
    noise: float  # amplitude of the minute-to-minute base-load noise
    pieces: tuple[tuple[tuple[int, int, int, int], ...], ...]  # per slot: (start, end, W_R, W_T)
    clearness: tuple[float, ...]  # sky clearness 0..1 at the 49 boundaries
    flicker: float  # amplitude of minute-to-minute cloud noise
    sun_a: float  # sin(el) = sun_a + sun_b · cos(hour angle)
    sun_b: float
    tilt_a: float  # cos(incidence on the tilted panel) = tilt_a + tilt_b · cos(hour angle)
    tilt_b: float
    solar_shift_h: float  # local solar time − JST clock time, in hours
    pv_scale: float  # W of AC output per W/m² of irradiance on the panel (size, losses, heat)


@dataclass(frozen=True, slots=True)
class _Slot:
    """One 30-minute slot as piecewise-constant segments, with exact energies in W·s."""

    starts: tuple[int, ...]  # segment starts, seconds into the slot (starts[0] == 0)
    net: tuple[int, ...]  # net power (W, negative = export)
    load_r: tuple[int, ...]  # consumption on line R (W)
    load_t: tuple[int, ...]  # consumption on line T (W)
    pv: tuple[int, ...]  # PV generation (W)
    cum_import: tuple[int, ...]  # W·s imported from the slot start to each segment start
    cum_export: tuple[int, ...]
    import_ws: int
    export_ws: int


class _Plan:
    """Appliance runs of one day, split into per-slot pieces (seconds relative to the slot)."""

    __slots__ = ("pieces", "scale", "three_wire")

    def __init__(self, *, scale: float, three_wire: bool) -> None:
        self.pieces: list[list[tuple[int, int, int, int]]] = [[] for _ in range(SLOTS_PER_DAY)]
        self.scale = scale
        self.three_wire = three_wire

    def add(self, start_h: float, minutes: float, watts: float, line: _Line) -> None:
        """Run ``watts`` for ``minutes`` from ``start_h`` hours into the day (clipped to it)."""
        start = max(0, round(start_h * 3600))
        end = min(_DAY_SECONDS, start + max(1, round(minutes * 60)))
        if start >= end:
            return
        w = round(watts * self.scale)
        # a single-phase two-wire home has only one live line: everything lands on R
        if not self.three_wire or line is _Line.R:
            w_r, w_t = w, 0
        elif line is _Line.T:
            w_r, w_t = 0, w
        else:
            w_r = (w + 1) // 2
            w_t = w - w_r
        s = start
        while s < end:
            k, off = divmod(s, SLOT_SECONDS)
            stop = min(end, (k + 1) * SLOT_SECONDS)
            self.pieces[k].append((off, stop - k * SLOT_SECONDS, w_r, w_t))
            s = stop


def _bump(h: float, centre: float, width: float) -> float:
    """A Gaussian bump of height 1."""
    z = (h - centre) / width
    return math.exp(-0.5 * z * z)


def _window(h: float, begin: float, end: float, soft: float) -> float:
    """≈ 1 between ``begin`` and ``end`` hours, with logistic edges ``soft`` hours wide."""
    rise = 1.0 / (1.0 + math.exp(-(h - begin) / soft))
    fall = 1.0 / (1.0 + math.exp((h - end) / soft))
    return rise * fall


class Household:
    """A deterministic home behind the meter: net power, currents and exact energy counters."""

    __slots__ = (
        "_bwd",
        "_cap_w",
        "_days",
        "_epoch_k",
        "_epoch_off",
        "_epoch_wus",
        "_fwd",
        "_initial_kwh",
        "_load_scale",
        "_multipliers",
        "_pv_watts",
        "_seed",
        "_slots",
        "_three_wire",
        "_traits",
        "epoch",
        "history_days",
        "installed",
    )

    def __init__(
        self,
        seed: int,
        *,
        epoch: datetime,
        pv_watts: int = 0,
        load_scale: float | Decimal = 1,
        contract_amperes: int = 30,
        three_wire: bool = True,
        initial_import_kwh: Decimal | int = 0,
        initial_export_kwh: Decimal | int = 0,
        installed: datetime | None = None,
        history_days: int = HISTORY_DAYS,
    ) -> None:
        _check_naive(epoch)
        if installed is not None:
            _check_naive(installed)
        if pv_watts < 0:
            raise UsageError(f"pv_watts must be >= 0, got {pv_watts}")
        if not float(load_scale) > 0:
            raise UsageError(f"load_scale must be > 0, got {load_scale}")
        if contract_amperes <= 0:
            raise UsageError(f"contract_amperes must be > 0, got {contract_amperes}")
        if not 0 <= history_days <= HISTORY_DAYS:
            raise UsageError(f"history_days must be 0..{HISTORY_DAYS}, got {history_days}")
        self._seed = seed
        self.epoch = epoch
        self.installed = installed
        self.history_days = history_days
        self._pv_watts = pv_watts
        self._load_scale = float(load_scale)
        self._three_wire = three_wire
        self._traits = self._make_traits()
        # The limiter (契約アンペア) opens above the contract current on a line; a real home
        # keeps below it, so the model clips each line's load to that current.
        self._cap_w = contract_amperes * VOLTS_PER_LINE * self._traits.power_factor_permille // 1000
        self._initial_kwh = {
            Direction.NORMAL: Fraction(initial_import_kwh),
            Direction.REVERSE: Fraction(initial_export_kwh),
        }
        self._days: OrderedDict[int, _Day] = OrderedDict()
        self._slots: OrderedDict[int, _Slot] = OrderedDict()
        self._epoch_k, self._epoch_off = _locate(epoch)
        self._epoch_wus: tuple[int, int] | None = None
        # _fwd[i] = (import, export) W·s from the start of slot epoch_k to the start of
        # epoch_k + i; _bwd[i] = W·s from the start of epoch_k − i to the start of epoch_k.
        self._fwd: list[tuple[int, int]] = [(0, 0)]
        self._bwd: list[tuple[int, int]] = [(0, 0)]
        self._multipliers: dict[tuple[int, Decimal], Fraction] = {}

    # -- public queries ------------------------------------------------------------------------

    @property
    def seed(self) -> int:
        """The seed every random stream of this home derives from."""
        return self._seed

    @property
    def has_pv(self) -> bool:
        """Whether the home has a PV system (and so can export)."""
        return self._pv_watts > 0

    def power_at(self, t: datetime) -> int:
        """Net power in W at meter time ``t``: positive = buying, negative = selling (§B.1 E7)."""
        slot, i = self._segment(t)
        return slot.net[i]

    def currents_at(self, t: datetime) -> tuple[int, int | None]:
        """(R, T) currents in 0.1 A at ``t``; T is None on a single-phase two-wire service (E8)."""
        slot, i = self._segment(t)
        pf = self._traits.power_factor_permille
        pv = slot.pv[i]
        if not self._three_wire:
            # load current = P / (100 V × pf); PV current at unity power factor (§B.1 E8)
            return _round_div(slot.load_r[i] * 100 * 10 - pv * pf, 10 * pf), None
        # a 200 V inverter pushes pv / 200 V through both lines: pv / 20 in 0.1 A per line
        r = _round_div(slot.load_r[i] * 100 * 20 - pv * pf, 20 * pf)
        t_ = _round_div(slot.load_t[i] * 100 * 20 - pv * pf, 20 * pf)
        return r, t_

    def import_wh_at(self, t: datetime) -> Fraction:
        """Exact energy bought (Wh) from ``epoch`` to ``t`` (negative before the epoch)."""
        return Fraction(self._energy_wus(t)[0], 3600 * _US)

    def export_wh_at(self, t: datetime) -> Fraction:
        """Exact energy sold (Wh) from ``epoch`` to ``t`` (negative before the epoch)."""
        return Fraction(self._energy_wus(t)[1], 3600 * _US)

    def energy_wh_at(self, t: datetime, direction: Direction) -> Fraction:
        """Exact energy (Wh) in ``direction`` from ``epoch`` to ``t``."""
        return self.import_wh_at(t) if direction is Direction.NORMAL else self.export_wh_at(t)

    def counter_at(
        self,
        t: datetime,
        direction: Direction,
        coefficient: int | None = 1,
        unit: Decimal = Decimal("0.01"),
        digits: int = 6,
    ) -> int:
        """The raw counter at ``t``: floor(kWh / (D3 × E1)) mod 10^D7 (§B general rules)."""
        m = self._multiplier(coefficient, unit, digits)
        wus = self._energy_wus(t)[direction is Direction.REVERSE]
        wrap: int = 10**digits
        return self._counts(wus, direction, m) % wrap

    def fixed_time_reading(
        self,
        now: datetime,
        direction: Direction,
        coefficient: int | None = 1,
        unit: Decimal = Decimal("0.01"),
        digits: int = 6,
    ) -> tuple[datetime, int]:
        """The latest :00/:30 boundary at or before ``now`` and the counter there (§B.1 EA/EB)."""
        k, _ = _locate(now)
        at = _slot_start(k)
        return at, self.counter_at(at, direction, coefficient, unit, digits)

    def has_history(self, point: datetime, now: datetime) -> bool:
        """Whether the meter holds a reading for ``point`` at ``now`` (§B.1 E2/EC/EE rules)."""
        _check_naive(point)
        _check_naive(now)
        if point > now:
            return False  # the future is "no data" (0xFFFFFFFE, §B)
        if self.installed is not None and point < self.installed:
            return False  # the meter did not exist yet
        return (now.date() - point.date()).days <= self.history_days  # §B.1 E5: 0..99 days

    def slot_counters(
        self,
        day: date,
        direction: Direction,
        *,
        now: datetime,
        coefficient: int | None = 1,
        unit: Decimal = Decimal("0.01"),
        digits: int = 6,
    ) -> list[int | None]:
        """The 48 readings of ``day`` at 00:00 … 23:30 (§B.1 E2/E4), None where there is no data."""
        start = datetime(day.year, day.month, day.day)
        points = [start + timedelta(seconds=SLOT_SECONDS * i) for i in range(SLOTS_PER_DAY)]
        return self._points(
            points, direction, now=now, coefficient=coefficient, unit=unit, digits=digits
        )

    def counters_back(
        self,
        at: datetime,
        count: int,
        step: timedelta,
        direction: Direction,
        *,
        now: datetime,
        coefficient: int | None = 1,
        unit: Decimal = Decimal("0.01"),
        digits: int = 6,
    ) -> list[int | None]:
        """Readings at ``at``, ``at − step``, … (§B.1 EC: 30 min, EE: 1 min); None = no data."""
        if count < 0:
            raise UsageError(f"count must be >= 0, got {count}")
        points = [at - step * i for i in range(count)]
        return self._points(
            points, direction, now=now, coefficient=coefficient, unit=unit, digits=digits
        )

    # -- counters ------------------------------------------------------------------------------

    def _multiplier(self, coefficient: int | None, unit: Decimal, digits: int) -> Fraction:
        """W·µs per count for (D3, E1), validated; cached."""
        if not 1 <= digits <= MAX_DIGITS:
            raise UsageError(f"digits (D7) must be 1..{MAX_DIGITS}, got {digits}")
        coef = 1 if coefficient is None else coefficient  # §B: D3 defaults to 1 when absent
        key = (coef, unit)
        m = self._multipliers.get(key)
        if m is None:
            if not 1 <= coef <= MAX_COEFFICIENT:
                raise UsageError(f"coefficient (D3) must be 1..{MAX_COEFFICIENT}, got {coef}")
            if not unit > 0:
                raise UsageError(f"unit (E1) must be > 0 kWh, got {unit}")
            m = Fraction(coef) * Fraction(unit) * _WUS_PER_KWH
            self._multipliers[key] = m
        return m

    def _counts(self, wus: int, direction: Direction, m: Fraction) -> int:
        """Whole counts of ``m`` W·µs in the initial reading plus ``wus`` (before the wrap)."""
        return (self._initial_kwh[direction] * _WUS_PER_KWH + wus) // m

    def _points(
        self,
        points: list[datetime],
        direction: Direction,
        *,
        now: datetime,
        coefficient: int | None,
        unit: Decimal,
        digits: int,
    ) -> list[int | None]:
        """Counters at ``points``, None where the meter holds no data."""
        m = self._multiplier(coefficient, unit, digits)
        wrap: int = 10**digits
        index = direction is Direction.REVERSE
        out: list[int | None] = []
        for p in points:
            if self.has_history(p, now):
                out.append(self._counts(self._energy_wus(p)[index], direction, m) % wrap)
            else:
                out.append(None)
        return out

    # -- energy --------------------------------------------------------------------------------

    def _energy_wus(self, t: datetime) -> tuple[int, int]:
        """(import, export) in W·µs from ``epoch`` to ``t``."""
        k, off = _locate(t)
        if self._epoch_wus is None:
            self._epoch_wus = self._within(self._epoch_k, self._epoch_off)
        p_imp, p_exp = self._prefix(k)
        w_imp, w_exp = self._within(k, off)
        e_imp, e_exp = self._epoch_wus
        return p_imp * _US + w_imp - e_imp, p_exp * _US + w_exp - e_exp

    def _within(self, k: int, off_us: int) -> tuple[int, int]:
        """(import, export) W·µs from the start of slot ``k`` to ``off_us`` into it."""
        if off_us == 0:
            return 0, 0
        slot = self._slot(k)
        i = bisect_right(slot.starts, off_us // _US) - 1
        rest = off_us - slot.starts[i] * _US
        p = slot.net[i]
        return (
            slot.cum_import[i] * _US + (p * rest if p > 0 else 0),
            slot.cum_export[i] * _US + (-p * rest if p < 0 else 0),
        )

    def _prefix(self, k: int) -> tuple[int, int]:
        """(import, export) W·s from the start of the epoch's slot to the start of slot ``k``."""
        i = k - self._epoch_k
        if i >= 0:
            fwd = self._fwd
            while len(fwd) <= i:
                slot = self._slot(self._epoch_k + len(fwd) - 1, keep=False)
                imp, exp = fwd[-1]
                fwd.append((imp + slot.import_ws, exp + slot.export_ws))
            return fwd[i]
        bwd = self._bwd
        while len(bwd) <= -i:
            slot = self._slot(self._epoch_k - len(bwd), keep=False)
            imp, exp = bwd[-1]
            bwd.append((imp + slot.import_ws, exp + slot.export_ws))
        imp, exp = bwd[-i]
        return -imp, -exp

    # -- the model -----------------------------------------------------------------------------

    def _segment(self, t: datetime) -> tuple[_Slot, int]:
        """The slot holding ``t`` and the index of the segment in force at ``t``."""
        k, off = _locate(t)
        slot = self._slot(k)
        return slot, bisect_right(slot.starts, off // _US) - 1

    def _slot(self, k: int, *, keep: bool = True) -> _Slot:
        """Slot ``k``, from the LRU cache or built (and cached unless ``keep`` is False)."""
        slot = self._slots.get(k)
        if slot is not None:
            self._slots.move_to_end(k)
            return slot
        slot = self._build_slot(k)
        if keep:
            self._slots[k] = slot
            if len(self._slots) > _SLOT_CACHE:
                self._slots.popitem(last=False)
        return slot

    def _day(self, n: int) -> _Day:
        """The plan of day ``n`` (days since 2000-01-01), from the LRU cache or built."""
        day = self._days.get(n)
        if day is not None:
            self._days.move_to_end(n)
            return day
        day = self._build_day(n)
        self._days[n] = day
        if len(self._days) > _DAY_CACHE:
            self._days.popitem(last=False)
        return day

    def _make_traits(self) -> _Traits:
        """The household's seeded character (sizes, habits, appliances)."""
        rng = _rng(self._seed, "household")
        period = round(_between(rng, 35, 55) * 60)
        return _Traits(
            standby_w=_between(rng, 130, 190),
            fridge_w=round(_between(rng, 90, 140)),
            fridge_period_s=period,
            fridge_on_s=round(period * _between(rng, 0.35, 0.5)),
            morning_w=_between(rng, 250, 450),
            daytime_w=_between(rng, 200, 380),
            evening_w=_between(rng, 380, 650),
            occupancy=_between(rng, 0.1, 0.8),
            r_share=_between(rng, 0.4, 0.65),
            power_factor_permille=round(_between(rng, 880, 960)),
            has_dishwasher=rng.random() < 0.4,
            has_dryer=rng.random() < 0.3,
            ac_gain=_between(rng, 0.7, 1.2),
        )

    def _build_day(self, n: int) -> _Day:
        """Plan day ``n``: occupancy, base-load levels, appliance runs, weather, sun."""
        rng = _rng(self._seed, "day", n)
        d = _REF.date() + timedelta(days=n)
        tr = self._traits
        weekend = d.weekday() >= 5 or (d.month, d.day) in _HOLIDAYS
        away = rng.random() < 0.03  # a trip: nobody home all day
        home = weekend or rng.random() < tr.occupancy
        wake = _between(rng, 7.0, 8.8) if weekend else _between(rng, 5.8, 6.9)
        bed = _between(rng, 22.4, 24.2) + (0.3 if weekend else 0.0)
        factor = _between(rng, 0.85, 1.15)
        # darker months switch the lights on earlier (sunset ≈ 16:30 in December, 19:00 in June)
        dusk = 17.6 + 1.2 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 172) / 365)
        levels: list[float] = []
        for i in range(SLOTS_PER_DAY + 1):
            h = i / 2
            w = tr.standby_w
            if not away:
                w += tr.morning_w * _bump(h, wake + 0.8, 0.7)
                w += (tr.daytime_w if home else 0.25 * tr.daytime_w) * _window(h, 9.5, 16.5, 0.6)
                w += tr.evening_w * _window(h, dusk, bed, 0.5) * (0.8 + 0.2 * _bump(h, 20.5, 1.5))
            levels.append(w * factor * self._load_scale)

        plan = _Plan(scale=self._load_scale, three_wire=self._three_wire)
        # refrigerator compressor cycles, all day long, on the kitchen line
        t = -rng.random() * tr.fridge_period_s
        while t < _DAY_SECONDS:
            plan.add(t / 3600, tr.fridge_on_s / 60, tr.fridge_w, _Line.T)
            t += tr.fridge_period_s * _between(rng, 0.9, 1.1)
        if not away:
            self._plan_meals(plan, rng, wake=wake, bed=bed, home=home, weekend=weekend)
            self._plan_chores(plan, rng, wake=wake, bed=bed, weekend=weekend)
            self._plan_climate(plan, rng, d, wake=wake, bed=bed, home=home)

        sky, flicker = self._plan_sky(rng, d)
        doy = d.timetuple().tm_yday
        decl = math.radians(23.44) * math.sin(2 * math.pi * (284 + doy) / 365)
        b = 2 * math.pi * (doy - 81) / 364
        eot_min = 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)
        return _Day(
            levels=tuple(levels),
            noise=_between(rng, 0.03, 0.08),
            pieces=tuple(tuple(p) for p in plan.pieces),
            clearness=tuple(max(0.02, min(1.0, c)) for c in sky),
            flicker=flicker,
            sun_a=math.sin(_LAT) * math.sin(decl),
            sun_b=math.cos(_LAT) * math.cos(decl),
            # a panel tilted β towards the south sees the sun as if at latitude φ − β
            tilt_a=math.sin(_LAT - _TILT) * math.sin(decl),
            tilt_b=math.cos(_LAT - _TILT) * math.cos(decl),
            solar_shift_h=_LON_SHIFT_H + eot_min / 60,
            pv_scale=self._pv_watts / 1000.0 * _PV_DERATE * (1.0 - 0.004 * _AIR_MAX_C[d.month]),
        )

    def _plan_meals(
        self,
        plan: _Plan,
        rng: random.Random,
        *,
        wake: float,
        bed: float,
        home: bool,
        weekend: bool,
    ) -> None:
        """Kettle, microwave, rice cooker and IH hob around breakfast, lunch and dinner."""
        if rng.random() < 0.35:  # rice cooker on a timer, done at breakfast
            at = wake - _between(rng, 0.6, 0.9)
            plan.add(at, _between(rng, 12, 16), 1150, _Line.R)
            plan.add(at + 0.25, _between(rng, 15, 25), 260, _Line.R)
        plan.add(wake + _between(rng, 0.1, 0.5), _between(rng, 3, 5), 1250, _Line.R)  # kettle
        if rng.random() < 0.7:
            plan.add(wake + _between(rng, 0.3, 0.9), _between(rng, 1, 3), 1400, _Line.T)
        if rng.random() < (0.7 if weekend else 0.35):
            plan.add(wake + _between(rng, 0.2, 0.7), _between(rng, 5, 12), 1400, _Line.BOTH)
        if home:
            lunch = _between(rng, 11.8, 12.8)
            if rng.random() < 0.8:
                plan.add(lunch, _between(rng, 2, 4), 1400, _Line.T)
            if rng.random() < 0.5:
                plan.add(lunch + 0.1, _between(rng, 6, 15), _between(rng, 1400, 2000), _Line.BOTH)
            if rng.random() < 0.5:
                plan.add(_between(rng, 14.5, 16.0), _between(rng, 3, 5), 1250, _Line.R)
        dinner = _between(rng, 18.3, 19.6)
        if rng.random() < 0.8:
            at = dinner - _between(rng, 0.9, 1.2)
            plan.add(at, _between(rng, 12, 16), 1150, _Line.R)
            plan.add(at + 0.25, _between(rng, 15, 25), 260, _Line.R)
        if rng.random() < 0.85:
            cook = dinner - _between(rng, 0.2, 0.6)
            plan.add(cook, _between(rng, 10, 25), _between(rng, 1500, 2800), _Line.BOTH)
        for _ in range(1 + (rng.random() < 0.6)):
            plan.add(dinner + _between(rng, -0.4, 0.3), _between(rng, 1, 4), 1400, _Line.T)
        if rng.random() < 0.5:
            plan.add(min(dinner + _between(rng, 0.5, 2.0), bed - 0.2), 4, 1250, _Line.R)
        if self._traits.has_dishwasher and rng.random() < 0.85:
            at = dinner + _between(rng, 0.8, 1.8)
            plan.add(at, 20, 1000, _Line.T)
            plan.add(at + 0.34, 60, 90, _Line.T)

    def _plan_chores(
        self, plan: _Plan, rng: random.Random, *, wake: float, bed: float, weekend: bool
    ) -> None:
        """Hair dryer, washing machine, dryer and vacuum cleaner."""
        if rng.random() < 0.5:
            plan.add(wake + _between(rng, 0.4, 1.0), _between(rng, 4, 8), 1200, _Line.T)
        if rng.random() < 0.75:
            plan.add(_between(rng, 21.0, max(21.1, bed - 0.3)), _between(rng, 5, 10), 1200, _Line.T)
        if rng.random() < (0.9 if weekend else 0.5):
            at = wake + _between(rng, 0.3, 2.5) if weekend or rng.random() < 0.6 else 20.5
            plan.add(at, _between(rng, 40, 55), 380, _Line.T)
            if self._traits.has_dryer and rng.random() < 0.6:
                plan.add(at + 0.9, _between(rng, 70, 110), 1150, _Line.R)
        if rng.random() < (0.6 if weekend else 0.2):
            plan.add(_between(rng, 9.5, 11.5), _between(rng, 10, 20), 950, _Line.R)

    def _plan_climate(
        self,
        plan: _Plan,
        rng: random.Random,
        d: date,
        *,
        wake: float,
        bed: float,
        home: bool,
    ) -> None:
        """Air-conditioner sessions by season: a pull-down run, then compressor cycles."""
        cool = _COOLING[d.month] * _between(rng, 0.5, 1.3)
        heat = _HEATING[d.month] * _between(rng, 0.5, 1.3)
        gain = self._traits.ac_gain
        sessions: list[tuple[float, float, float]] = []  # (start h, end h, intensity)
        if cool > 0.3:
            if home and rng.random() < cool:
                sessions.append((_between(rng, 12.5, 14.0), _between(rng, 16.5, 18.0), cool))
            if rng.random() < cool + 0.2:
                sessions.append((_between(rng, 17.5, 19.0), bed, cool))
            if rng.random() < cool - 0.3:  # left on through the night, both ends of the day
                sessions.append((bed, 24.0, cool * 0.7))
                sessions.append((0.0, wake, cool * 0.7))
        if heat > 0.3:
            sessions.append((wake - 0.3, wake + _between(rng, 0.8, 1.6), heat))
            if home and rng.random() < heat:
                sessions.append((_between(rng, 10.0, 13.0), _between(rng, 15.0, 17.0), heat))
            if rng.random() < heat + 0.3:
                sessions.append((_between(rng, 17.0, 18.5), bed, heat))
        for begin, end, intensity in sessions:
            h = begin
            if h < end:
                pull = _between(rng, 10, 20)
                plan.add(h, pull, _between(rng, 1200, 1900) * gain, _Line.BOTH)
                h += pull / 60
            while h < end:
                on = _between(rng, 6, 18)
                watts = _between(rng, 300, 750) * gain * (0.6 + 0.4 * intensity)
                plan.add(h, on, watts, _Line.BOTH)
                h += on / 60
                off = _between(rng, 3, 10)
                plan.add(h, off, 45, _Line.BOTH)  # fan only
                h += off / 60

    def _plan_sky(self, rng: random.Random, d: date) -> tuple[list[float], float]:
        """Sky clearness at the 49 boundaries and the amplitude of its minute flicker."""
        p_sun, p_part, p_over = _WEATHER_P[d.month]
        r = rng.random()
        if r < p_sun:
            clear, spread, flicker = _between(rng, 0.9, 1.0), 0.03, 0.02
        elif r < p_sun + p_part:
            clear, spread, flicker = _between(rng, 0.45, 0.8), 0.18, 0.2
        elif r < p_sun + p_part + p_over:
            clear, spread, flicker = _between(rng, 0.15, 0.35), 0.08, 0.06
        else:
            clear, spread, flicker = _between(rng, 0.04, 0.14), 0.03, 0.03
        sky: list[float] = []
        drift = 0.0
        for _ in range(SLOTS_PER_DAY + 1):
            drift = 0.75 * drift + spread * (rng.random() + rng.random() - 1.0)
            sky.append(clear + drift)
        return sky, flicker

    def _build_slot(self, k: int) -> _Slot:
        """Slot ``k`` as segments: base load per minute, PV per minute, appliance pieces."""
        n, s = divmod(k, SLOTS_PER_DAY)
        day = self._day(n)
        rng = _rng(self._seed, "slot", k)
        base_r, base_t = self._base_minutes(day, s, rng)
        pv = self._pv_minutes(day, s, rng)
        pieces = day.pieces[s]
        delta: dict[int, list[int]] = {}
        points: list[int] | tuple[int, ...] = _MINUTE_STARTS
        if pieces:
            for start, end, w_r, w_t in pieces:
                d0 = delta.setdefault(start, [0, 0])
                d0[0] += w_r
                d0[1] += w_t
                if end < SLOT_SECONDS:
                    d1 = delta.setdefault(end, [0, 0])
                    d1[0] -= w_r
                    d1[1] -= w_t
            points = sorted(delta.keys() | set(_MINUTE_STARTS))
        cap = self._cap_w
        three_wire = self._three_wire
        ev_r = ev_t = 0
        net: list[int] = []
        load_r: list[int] = []
        load_t: list[int] = []
        pv_seg: list[int] = []
        for p in points:
            d = delta.get(p)
            if d is not None:
                ev_r += d[0]
                ev_t += d[1]
            m = p // 60
            lr = min(base_r[m] + ev_r, cap)
            lt = min(base_t[m] + ev_t, cap) if three_wire else 0
            g = pv[m]
            load_r.append(lr)
            load_t.append(lt)
            pv_seg.append(g)
            net.append(lr + lt - g)
        cum_i: list[int] = []
        cum_e: list[int] = []
        imp = exp = 0
        for p, e, w in zip(points, [*points[1:], SLOT_SECONDS], net, strict=True):
            cum_i.append(imp)
            cum_e.append(exp)
            if w > 0:
                imp += w * (e - p)
            else:
                exp -= w * (e - p)
        return _Slot(
            starts=tuple(points),
            net=tuple(net),
            load_r=tuple(load_r),
            load_t=tuple(load_t),
            pv=tuple(pv_seg),
            cum_import=tuple(cum_i),
            cum_export=tuple(cum_e),
            import_ws=imp,
            export_ws=exp,
        )

    def _base_minutes(self, day: _Day, s: int, rng: random.Random) -> tuple[list[int], list[int]]:
        """The base load (W) on lines R and T for each minute of slot ``s``: level × noise."""
        share = self._traits.r_share if self._three_wire else 1.0
        lv0 = day.levels[s]
        step = (day.levels[s + 1] - lv0) / _MINUTES_PER_SLOT
        amp = day.noise
        noise = 0.0
        base_r: list[int] = []
        base_t: list[int] = []
        for m in range(_MINUTES_PER_SLOT):
            noise = 0.7 * noise + amp * (rng.random() + rng.random() - 1.0)
            w = round((lv0 + step * (m + 0.5)) * (1.0 + noise))
            wr = round(w * share)
            base_r.append(wr)
            base_t.append(w - wr)
        return base_r, base_t

    def _pv_minutes(self, day: _Day, s: int, rng: random.Random) -> list[int]:
        """PV output (W) for each minute of slot ``s`` of ``day`` (clear-sky bell × clouds)."""
        if not self._pv_watts:
            return [0] * _MINUTES_PER_SLOT
        c0 = day.clearness[s]
        c_step = (day.clearness[s + 1] - c0) / _MINUTES_PER_SLOT
        out: list[int] = []
        cloud = 0.0
        for m in range(_MINUTES_PER_SLOT):
            cloud = 0.6 * cloud + day.flicker * (rng.random() + rng.random() - 1.0)
            solar_h = (s * _MINUTES_PER_SLOT + m + 0.5) / 60 + day.solar_shift_h
            cos_h = math.cos(math.radians(15.0 * (solar_h - 12.0)))
            sin_el = day.sun_a + day.sun_b * cos_h
            if sin_el <= 0.01:
                out.append(0)
                continue
            # Meinel clear-sky beam (W/m²) on the tilted panel plus a diffuse share.
            beam = 1353.0 * 0.7 ** ((1.0 / sin_el) ** 0.678)
            incidence = max(0.0, day.tilt_a + day.tilt_b * cos_h)
            irradiance = beam * incidence + 120.0 * sin_el
            sky = max(0.02, min(1.0, c0 + c_step * (m + 0.5) + cloud))
            out.append(round(day.pv_scale * irradiance * sky))
        return out
