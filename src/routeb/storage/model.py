"""What the store keeps: one frozen dataclass per record, exact units, and the conversions.

Units on disk (docs/storage.md): energy as integer units of 0.0001 kWh (0.1 Wh, columns ``*_e4``),
power in W, currents in 0.1 A, times as UTC unix seconds. The API speaks Decimal kWh, Decimal
amperes and aware datetimes; every conversion is exact or raises :class:`UsageError`.

Every legal meter energy value is raw × D3 × E1 with E1 ∈ {10^-4 … 10^4} kWh and an integer D3
(protocol.md §B.1), so it is a whole number of 0.0001 kWh and sums of them are exact in SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Context, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from routeb.echonet.energy import ENERGY_UNITS, MAX_COEFFICIENT, MAX_COUNT, MAX_DIGITS, EnergyScale
from routeb.errors import UsageError
from routeb.meter_time import SLOTS_PER_DAY
from routeb.storage.times import SLOT_SECONDS, from_epoch, to_epoch

__all__ = [
    "Change",
    "CumulativeReading",
    "DayGaps",
    "DaySummary",
    "InstantReading",
    "LinkEvent",
    "MeterMetadata",
    "MeterRecord",
    "MeterUpdate",
    "MonthSummary",
    "PowerStats",
    "PurgeResult",
    "Record",
    "RetentionPolicy",
    "Slot",
    "SlotReading",
    "SlotSource",
    "WriteResult",
    "e4_to_kwh",
    "kwh_to_e4",
    "slot_usage_e4",
    "unit_code_of",
]

# Wide enough that no conversion here ever rounds, whatever the thread's decimal context is.
_EXACT: Final = Context(prec=60)
# protocol.md §B.1 0xE1: unit code → 0.0001 kWh per count (10^(exponent + 4)).
UNIT_E4_FACTORS: Final[Mapping[int, int]] = MappingProxyType(
    {code: int(_EXACT.scaleb(kwh, 4)) for code, kwh in ENERGY_UNITS.items()}
)
# SQLite INTEGER is a signed 64-bit value.
_INT64_MAX: Final = 2**63 - 1
# protocol.md §B.1 0xE7: valid power 0x80000001..0x7FFFFFFD (W).
MIN_POWER_W: Final = -2_147_483_647
MAX_POWER_W: Final = 2_147_483_645
# protocol.md §B.1 0xE8: valid currents 0x8001..0x7FFD in 0.1 A.
MIN_CURRENT_DA: Final = -32_767
MAX_CURRENT_DA: Final = 32_765
MAX_KEY_LENGTH: Final = 200
MAX_TEXT_LENGTH: Final = 4000


# --- units -------------------------------------------------------------------------------------


def kwh_to_e4(kwh: Decimal) -> int:
    """Exact kWh → integer 0.0001 kWh; UsageError unless ``kwh`` is a multiple of 0.0001."""
    if isinstance(kwh, bool) or not isinstance(kwh, (Decimal, int)):
        raise UsageError(f"energy must be a Decimal kWh, got {type(kwh).__name__}")
    value = Decimal(kwh)
    if not value.is_finite():
        raise UsageError(f"energy must be finite, got {value}")
    scaled = _EXACT.scaleb(value, 4)
    if scaled != scaled.to_integral_value():
        raise UsageError(f"{value} kWh is not a multiple of 0.0001 kWh")
    e4 = int(scaled)
    if abs(e4) > _INT64_MAX:
        raise UsageError(f"{value} kWh is too large to store")
    return e4


def e4_to_kwh(e4: int | None) -> Decimal | None:
    """Integer 0.0001 kWh → exact Decimal kWh with four decimals (None stays None)."""
    return None if e4 is None else _EXACT.scaleb(Decimal(e4), -4)


def _tenths(value: Decimal | int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise UsageError(f"{what} must be a Decimal, got {type(value).__name__}")
    number = Decimal(value)
    if not number.is_finite():
        raise UsageError(f"{what} must be finite, got {number}")
    scaled = _EXACT.scaleb(number, 1)
    if scaled != scaled.to_integral_value():
        raise UsageError(f"{what} {number} A is not a multiple of 0.1 A")
    tenths = int(scaled)
    if not MIN_CURRENT_DA <= tenths <= MAX_CURRENT_DA:
        raise UsageError(f"{what} {number} A is outside the E8 range")
    return tenths


def amperes_of_tenths(tenths: int | None) -> Decimal | None:
    """0.1 A steps (as stored) → exact Decimal amperes (None stays None)."""
    return None if tenths is None else _EXACT.scaleb(Decimal(tenths), -1)


def unit_code_of(scale: EnergyScale) -> int | None:
    """The E1 code of ``scale.unit`` (None when unknown); UsageError if it is no E1 unit."""
    if scale.unit is None:
        return None
    for code, kwh in ENERGY_UNITS.items():
        if kwh == scale.unit:
            return code
    raise UsageError(f"{scale.unit} kWh is not an E1 unit (1, 0.1 … 0.0001, 10 … 10000)")


def scale_of(coefficient: int, unit_code: int | None) -> EnergyScale:
    """The EnergyScale stored as (coefficient, unit code)."""
    unit = None if unit_code is None else ENERGY_UNITS.get(unit_code)
    return EnergyScale(coefficient, unit)


def counter_e4(raw: int | None, coefficient: int, unit_code: int | None) -> int | None:
    """raw × D3 × E1 in 0.0001 kWh; None for no data, an unknown unit, or beyond int64."""
    if raw is None or unit_code is None:
        return None
    factor = UNIT_E4_FACTORS.get(unit_code)
    if factor is None:
        return None
    value = raw * coefficient * factor
    return value if value <= _INT64_MAX else None


def slot_usage_e4(
    earlier_raw: int | None,
    later_raw: int | None,
    coefficient: int,
    unit_code: int | None,
    digits: int | None,
) -> int | None:
    """Energy (0.0001 kWh) between two boundary counters read with the same scale.

    A counter that went down is a wrap at 10^digits (protocol.md §B) only when the wrapped
    difference is under half the modulus; a bigger step backwards (meter replaced or reset) and
    any backwards step with unknown digits give None rather than a made-up number.
    """
    if earlier_raw is None or later_raw is None or unit_code is None:
        return None
    factor = UNIT_E4_FACTORS.get(unit_code)
    if factor is None:
        return None
    if later_raw >= earlier_raw:
        counts = later_raw - earlier_raw
    elif digits is None:
        return None
    else:
        modulus = 10**digits
        if earlier_raw >= modulus:
            return None
        counts = later_raw - earlier_raw + modulus
        if 2 * counts >= modulus:
            return None
    value = counts * coefficient * factor
    return value if value <= _INT64_MAX else None


BoundaryCounters = tuple[int | None, int | None, int, int | None, int | None]
"""A stored boundary: import raw, export raw, D3, E1 code, D7 (the slots table's columns)."""


def boundary_usage(
    here: BoundaryCounters, after: BoundaryCounters | None
) -> tuple[int | None, int | None]:
    """The (import, export) usage of the slot from ``here`` to the next boundary ``after``.

    None without the next boundary or across a change of D3 × E1; D7 is the one known, and
    unknown when the two boundaries disagree on it.
    """
    if after is None or (here[2], here[3]) != (after[2], after[3]):
        return None, None
    digits = here[4] if here[4] is not None else after[4]
    if here[4] is not None and after[4] is not None and here[4] != after[4]:
        digits = None
    return (
        slot_usage_e4(here[0], after[0], here[2], here[3], digits),
        slot_usage_e4(here[1], after[1], here[2], here[3], digits),
    )


# --- validation helpers ------------------------------------------------------------------------


def _key(meter: object) -> str:
    if not isinstance(meter, str) or not meter or len(meter) > MAX_KEY_LENGTH:
        raise UsageError(f"a meter key is a non-empty string of ≤ {MAX_KEY_LENGTH} characters")
    if not meter.isprintable():
        raise UsageError("a meter key must be printable")
    return meter


def _int_or_none(value: object, what: str, low: int, high: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} must be an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise UsageError(f"{what} must be {low}..{high}, got {value}")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH:
        raise UsageError(f"{what} must be a string of ≤ {MAX_TEXT_LENGTH} characters")
    return value


def _second(record: object, at: datetime, what: str = "at") -> int:
    """Validate and normalise ``record.at`` to a whole second in UTC; returns unix seconds."""
    seconds = to_epoch(at, what)
    object.__setattr__(record, what, from_epoch(seconds))
    return seconds


def _scale(scale: object) -> EnergyScale:
    if not isinstance(scale, EnergyScale):
        raise UsageError(f"scale must be an EnergyScale, got {type(scale).__name__}")
    unit_code_of(scale)
    return scale


# --- records the collector writes --------------------------------------------------------------


class SlotSource(StrEnum):
    """Where a 30-minute boundary value came from (all equally trusted; first non-null wins)."""

    PUSH = "push"  # the meter's EA/EB INF at :00/:30 (AIF 3.2.1)
    POLL = "poll"  # a Get of EA/EB (AIF 3.3.1 fallback)
    HISTORY1 = "history1"  # E2/E4 after E5 (one day)
    HISTORY2 = "history2"  # EC after ED (up to 12 boundaries)

    @classmethod
    def parse(cls, value: SlotSource | str) -> SlotSource:
        """``value`` as a SlotSource; UsageError for an unknown name."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise UsageError(f"unknown slot source {value!r} (expected {names})") from None


@dataclass(frozen=True, slots=True)
class MeterMetadata:
    """What routeb knows about a meter; None = unknown (an update never erases a known value)."""

    maker_code: int | None = None
    serial: str | None = None
    release: str | None = None
    coefficient: int | None = None
    unit_code: int | None = None
    digits: int | None = None
    get_map: tuple[int, ...] | None = None
    set_map: tuple[int, ...] | None = None
    inf_map: tuple[int, ...] | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _int_or_none(self.maker_code, "maker_code", 0, 0xFFFFFF)
        _int_or_none(self.coefficient, "coefficient", 0, MAX_COEFFICIENT)
        _int_or_none(self.unit_code, "unit_code", 0, 0xFF)
        _int_or_none(self.digits, "digits", 1, MAX_DIGITS)
        for name in ("serial", "release"):
            value = getattr(self, name)
            if value is not None:
                _text(value, name)
        for name in ("get_map", "set_map", "inf_map"):
            value = getattr(self, name)
            if value is None:
                continue
            epcs = tuple(value)
            for epc in epcs:
                _int_or_none(epc, name, 0, 0xFF)
            object.__setattr__(self, name, epcs)
        extra = dict(self.extra)
        for key, value in extra.items():
            _text(key, "extra key")
            _text(value, "extra value")
        object.__setattr__(self, "extra", MappingProxyType(extra))

    def to_json(self) -> dict[str, object]:
        """The JSON object stored in ``meters.metadata`` (unknown values left out)."""
        out: dict[str, object] = {}
        for name in (
            "maker_code",
            "serial",
            "release",
            "coefficient",
            "unit_code",
            "digits",
        ):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("get_map", "set_map", "inf_map"):
            value = getattr(self, name)
            if value is not None:
                out[name] = list(value)
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_json(cls, document: str) -> MeterMetadata:
        """Parse ``meters.metadata``; keys this routeb does not know (or cannot read) are kept
        on disk but ignored here."""
        try:
            data = json.loads(document)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()

        def number(name: str) -> int | None:
            value = data.get(name)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        def string(name: str) -> str | None:
            value = data.get(name)
            return value if isinstance(value, str) else None

        def epcs(name: str) -> tuple[int, ...] | None:
            value = data.get(name)
            if isinstance(value, list) and all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                return tuple(value)
            return None

        extra = data.get("extra")
        try:
            return cls(
                maker_code=number("maker_code"),
                serial=string("serial"),
                release=string("release"),
                coefficient=number("coefficient"),
                unit_code=number("unit_code"),
                digits=number("digits"),
                get_map=epcs("get_map"),
                set_map=epcs("set_map"),
                inf_map=epcs("inf_map"),
                extra={k: v for k, v in extra.items() if isinstance(k, str) and isinstance(v, str)}
                if isinstance(extra, dict)
                else {},
            )
        except UsageError:
            return cls()


@dataclass(frozen=True, slots=True)
class MeterUpdate:
    """``meter`` was seen at ``at`` with ``metadata`` (merged into what is stored)."""

    meter: str
    at: datetime
    metadata: MeterMetadata = field(default_factory=MeterMetadata)

    def __post_init__(self) -> None:
        _key(self.meter)
        _second(self, self.at)
        if not isinstance(self.metadata, MeterMetadata):
            raise UsageError("metadata must be a MeterMetadata")


@dataclass(frozen=True, slots=True)
class InstantReading:
    """E7 power (W) and E8 currents (A, 0.1 A steps) at ``at`` (stored to the second, UTC).

    None = no data; ``current_t`` is None on single-phase two-wire service (§B.1 0xE8).
    """

    meter: str
    at: datetime
    power_w: int | None
    current_r: Decimal | None = None
    current_t: Decimal | None = None

    def __post_init__(self) -> None:
        _key(self.meter)
        _second(self, self.at)
        _int_or_none(self.power_w, "power_w", MIN_POWER_W, MAX_POWER_W)
        for name in ("current_r", "current_t"):
            object.__setattr__(self, name, amperes_of_tenths(_tenths(getattr(self, name), name)))

    @property
    def current_r_da(self) -> int | None:
        """R-phase current in 0.1 A."""
        return _tenths(self.current_r, "current_r")

    @property
    def current_t_da(self) -> int | None:
        """T-phase current in 0.1 A."""
        return _tenths(self.current_t, "current_t")


def _raw(value: object, what: str) -> int | None:
    return _int_or_none(value, what, 0, MAX_COUNT)


@dataclass(frozen=True, slots=True)
class CumulativeReading:
    """E0/E3 raw counters at ``at`` with the D3 × E1 scale and the D7 digits they were read with."""

    meter: str
    at: datetime
    import_raw: int | None
    export_raw: int | None = None
    scale: EnergyScale = field(default_factory=EnergyScale)
    digits: int | None = None

    def __post_init__(self) -> None:
        _key(self.meter)
        _second(self, self.at)
        _raw(self.import_raw, "import_raw")
        _raw(self.export_raw, "export_raw")
        _scale(self.scale)
        _int_or_none(self.digits, "digits", 1, MAX_DIGITS)

    @property
    def unit_code(self) -> int | None:
        """The E1 code of the scale (None = unknown unit)."""
        return unit_code_of(self.scale)

    @property
    def import_kwh(self) -> Decimal | None:
        """The normal-direction counter in exact kWh (None if no data or unknown unit)."""
        return e4_to_kwh(counter_e4(self.import_raw, self.scale.coefficient, self.unit_code))

    @property
    def export_kwh(self) -> Decimal | None:
        """The reverse-direction counter in exact kWh (None if no data or unknown unit)."""
        return e4_to_kwh(counter_e4(self.export_raw, self.scale.coefficient, self.unit_code))


@dataclass(frozen=True, slots=True)
class SlotReading:
    """The counters at the :00/:30 boundary ``at`` as one source reported them."""

    meter: str
    at: datetime
    import_raw: int | None
    export_raw: int | None
    source: SlotSource
    scale: EnergyScale = field(default_factory=EnergyScale)
    digits: int | None = None

    def __post_init__(self) -> None:
        _key(self.meter)
        seconds = _second(self, self.at)
        if seconds % SLOT_SECONDS:
            raise UsageError(f"a slot starts on a :00/:30 boundary, got {self.at.isoformat()}")
        _raw(self.import_raw, "import_raw")
        _raw(self.export_raw, "export_raw")
        object.__setattr__(self, "source", SlotSource.parse(self.source))
        _scale(self.scale)
        _int_or_none(self.digits, "digits", 1, MAX_DIGITS)


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """Something that happened to the link or session (connected, rejoin, backfill, …)."""

    meter: str
    at: datetime
    kind: str
    detail: str = ""

    def __post_init__(self) -> None:
        _key(self.meter)
        _second(self, self.at)
        if not _text(self.kind, "kind"):
            raise UsageError("an event kind is not empty")
        _text(self.detail, "detail")


Record = MeterUpdate | InstantReading | CumulativeReading | SlotReading | LinkEvent


# --- what reads return -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterRecord:
    """A meter as stored: internal id, the caller's key, metadata, first and last seen."""

    id: int
    meter: str
    metadata: MeterMetadata
    first_seen: datetime
    last_seen: datetime
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Slot:
    """One stored 30-minute boundary: counters per direction with their source, and the usage
    from this boundary to the next (``*_use_*``; None until the next boundary is known)."""

    meter: str
    at: datetime
    import_raw: int | None
    import_source: SlotSource | None
    export_raw: int | None
    export_source: SlotSource | None
    coefficient: int
    unit_code: int | None
    digits: int | None
    import_e4: int | None
    export_e4: int | None
    import_use_e4: int | None
    export_use_e4: int | None
    conflicts: int = 0
    seq: int = 0
    updated: datetime | None = None

    @property
    def scale(self) -> EnergyScale:
        """The D3 × E1 scale of the counters."""
        return scale_of(self.coefficient, self.unit_code)

    @property
    def import_kwh(self) -> Decimal | None:
        """The normal-direction counter at the boundary, exact kWh."""
        return e4_to_kwh(self.import_e4)

    @property
    def export_kwh(self) -> Decimal | None:
        """The reverse-direction counter at the boundary, exact kWh."""
        return e4_to_kwh(self.export_e4)

    @property
    def import_use_kwh(self) -> Decimal | None:
        """Energy bought in [at, at + 30 min), exact kWh."""
        return e4_to_kwh(self.import_use_e4)

    @property
    def export_use_kwh(self) -> Decimal | None:
        """Energy sold in [at, at + 30 min), exact kWh."""
        return e4_to_kwh(self.export_use_e4)


@dataclass(frozen=True, slots=True)
class PowerStats:
    """Instantaneous power over one minute or one half hour: samples, min, sum and max (W)."""

    meter: str
    at: datetime
    seconds: int
    samples: int
    min_w: int
    max_w: int
    sum_w: int

    @property
    def avg_w(self) -> Decimal:
        """The mean power, rounded half-even to 0.1 W."""
        mean = _EXACT.divide(Decimal(self.sum_w), Decimal(self.samples))
        return mean.quantize(Decimal("0.1"), context=_EXACT)


class _Totals:
    """What a day's and a month's summary derive alike from their sums and slot counts."""

    __slots__ = ()
    import_e4: int | None
    export_e4: int | None
    import_slots: int
    expected_slots: int

    @property
    def import_kwh(self) -> Decimal | None:
        """Energy bought over the slots with a known usage, exact kWh."""
        return e4_to_kwh(self.import_e4)

    @property
    def export_kwh(self) -> Decimal | None:
        """Energy sold over the slots with a known usage, exact kWh."""
        return e4_to_kwh(self.export_e4)

    @property
    def complete(self) -> bool:
        """True when every slot of the period has a known import usage."""
        return self.import_slots == self.expected_slots


@dataclass(frozen=True, slots=True)
class DaySummary(_Totals):
    """One JST calendar day: energy from the day's 48 slot usages and how complete they are."""

    meter: str
    day: date
    import_e4: int | None
    export_e4: int | None
    import_slots: int
    export_slots: int
    boundaries: int
    peak_w: int | None = None
    expected_slots: int = SLOTS_PER_DAY


@dataclass(frozen=True, slots=True)
class MonthSummary(_Totals):
    """One JST calendar month, the sum of its days."""

    meter: str
    month: date
    import_e4: int | None
    export_e4: int | None
    import_slots: int
    export_slots: int
    expected_slots: int
    complete_days: int


@dataclass(frozen=True, slots=True)
class DayGaps:
    """The boundaries of one JST day with no import counter."""

    meter: str
    day: date
    missing: tuple[datetime, ...]
    expected: int = SLOTS_PER_DAY

    def ranges(self) -> tuple[tuple[datetime, datetime], ...]:
        """The missing boundaries merged into [first, last] runs."""
        runs: list[tuple[datetime, datetime]] = []
        for at in self.missing:
            if runs and (at - runs[-1][1]).total_seconds() == SLOT_SECONDS:
                runs[-1] = (runs[-1][0], at)
            else:
                runs.append((at, at))
        return tuple(runs)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long raw instantaneous and cumulative readings are kept (None = forever).

    Slots, per-minute and per-30-minute power aggregates, meters and link events are kept forever.
    """

    raw_days: int | None = 31

    def __post_init__(self) -> None:
        _int_or_none(self.raw_days, "raw_days", 1, 100_000)


@dataclass(slots=True)
class WriteResult:
    """What one committed batch did (counts)."""

    instant_added: int = 0
    instant_duplicate: int = 0
    cumulative_added: int = 0
    cumulative_duplicate: int = 0
    too_old: int = 0
    slots_changed: int = 0
    slots_unchanged: int = 0
    slot_conflicts: int = 0
    events_added: int = 0
    meters_changed: int = 0
    rejected: int = 0

    def add(self, other: WriteResult) -> None:
        """Add ``other``'s counts to these."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """What a retention pass deleted, and the new horizon (raw rows before it are gone)."""

    instant_deleted: int
    cumulative_deleted: int
    horizon: datetime | None


@dataclass(frozen=True, slots=True)
class Change:
    """One outbox entry: a row not yet acknowledged by a consumer, in ``seq`` order."""

    seq: int
    table: str
    record: MeterRecord | InstantReading | CumulativeReading | Slot | LinkEvent


def slot_source(value: str | None) -> SlotSource | None:
    """A stored source name as SlotSource (None stays None)."""
    return None if value is None else SlotSource(value)


def epoch_or_none(value: int | None) -> datetime | None:
    """Stored unix seconds (or NULL) as an aware datetime."""
    return None if value is None else from_epoch(value)
