"""The low-voltage smart electric energy meter class 0x0288 (protocol.md §B): every B-route EPC.

Table-driven: :data:`SMART_METER_PROPERTIES` maps each EPC to a :class:`PropertySpec` with its
names, stable key, EDT size, decoder, encoder and display unit. Decoders are total (a value or
:class:`~routeb.errors.EchonetDecodeError` naming the EPC); encoders produce the exact wire bytes
(``decode(encode(v)) == v``) and raise :class:`~routeb.errors.UsageError` for values that cannot
be sent. Energy is kept as raw counts; kWh = raw × D3 × E1 in exact Decimals (§B), never floats.
Date-times are naive and on the meter's own clock (JST).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import ClassVar, Final, TypeVar

from routeb.echonet.datetime_fields import (
    datetime7_from,
    decode_datetime6,
    encode_datetime6,
    encode_datetime7,
)
from routeb.echonet.energy import (
    ENERGY_UNITS,
    MAX_COEFFICIENT,
    MAX_COUNT,
    MAX_DIGITS,
    NO_DATA_U32,
    CumulativeEnergy,
    EnergyScale,
    EnergyUnit,
    usage_between,
    usage_kwh_between,
)
from routeb.echonet.objects import SMART_METER_CLASS
from routeb.echonet.spec import PropertySpec, decoders_of, find_spec, size_error
from routeb.echonet.superclass import SuperClassValue, super_class_specs
from routeb.errors import EchonetDecodeError, UsageError
from routeb.meter_time import SLOT, SLOTS_PER_DAY

__all__ = [
    "ENERGY_UNITS",
    "HISTORY1_SLOTS",
    "NO_DATA_U32",
    "SMART_METER_CLASS",
    "SMART_METER_DECODERS",
    "SMART_METER_PROPERTIES",
    "CumulativeEnergy",
    "DailyHistory",
    "EnergyScale",
    "EnergyUnit",
    "FixedTimeEnergy",
    "HalfHourlyHistory",
    "HistoryTarget",
    "InstantaneousCurrents",
    "MinuteHistory",
    "OneMinuteEnergy",
    "PairHistory",
    "RouteBIdentification",
    "SmartMeterValue",
    "build_e5",
    "build_ed",
    "build_ef",
    "decode_property",
    "lookup_property",
    "usage_between",
    "usage_kwh_between",
]

# protocol.md §B.1 0xE7: 0x7FFFFFFE = no data; 0x7FFFFFFF / 0x80000000 are the generic
# overflow / underflow codes (§B general rules), outside the valid range.
E7_NO_DATA: Final = 0x7FFFFFFE
_S32_OVERFLOW: Final = 0x7FFFFFFF
_S32_UNDERFLOW: Final = -0x80000000
# protocol.md §B.1 0xE8: 0x7FFE = no data (and T-phase of single-phase two-wire);
# 0x7FFF / 0x8000 overflow / underflow.
E8_NO_DATA: Final = 0x7FFE
_S16_OVERFLOW: Final = 0x7FFF
_S16_UNDERFLOW: Final = -0x8000
# protocol.md §B.1 0xE2/0xE4: day u16 + 48 × u32 = 194 bytes; slot i at 00:00 + 30 min × i.
HISTORY1_SLOTS: Final = SLOTS_PER_DAY
HISTORY1_LEN: Final = 2 + 4 * HISTORY1_SLOTS
HISTORY1_UNSET_DAY: Final = 0x00FF
# protocol.md §B.1 0xE5: 0..99 days back; 0xFF default (unset).
MAX_HISTORY_DAY: Final = 99
E5_UNSET: Final = 0xFF
# protocol.md §B.1 0xEC/0xED: n 1..12 pairs, 30 minutes apart, minute 0 or 30.
HISTORY2_MAX_PAIRS: Final = 12
HISTORY2_STEP: Final = SLOT
# protocol.md §B.1 0xEE/0xEF: n 1..10 pairs, 1 minute apart.
HISTORY3_MAX_PAIRS: Final = 10
HISTORY3_STEP: Final = timedelta(minutes=1)
# protocol.md §B.1 0xEC/0xEE: date-time_6 (6) + n (1) + n × 8.
_PAIR_HEADER: Final = 7
# protocol.md §B.1 0xC0: 0x00 + 3-byte maker code + 12 free bytes = 16.
ROUTE_B_ID_FREE_LEN: Final = 12
_SLOTS48: Final = struct.Struct(">48I")
_PAIRS: Final[tuple[struct.Struct, ...]] = tuple(
    struct.Struct(f">{2 * n}I") for n in range(HISTORY2_MAX_PAIRS + 1)
)
_U32: Final = struct.Struct(">I")
_S32: Final = struct.Struct(">i")
_S16_PAIR: Final = struct.Struct(">hh")
# EA/EB: date-time (7) + u32; D0: date-time (7) + 2 × u32 (§B.1).
_FIXED_TIME: Final = struct.Struct(">HBBBBBI")
_ONE_MINUTE: Final = struct.Struct(">HBBBBBII")
# A u32 count whose top byte is 0x00..0x04 is below 0x05000000 < 99,999,999 (MAX_COUNT), so
# a run of counts whose top bytes all delete to nothing here needs no further check.
_SAFE_TOP_BYTES: Final = bytes(range(5))

T = TypeVar("T")
# The shapes of PropertySpec.decoder and .encoder (spec.py).
_Decoder = Callable[[bytes, EnergyScale | None], T]
_Encoder = Callable[[object], bytes]


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FixedTimeEnergy:
    """EA/EB (§B.1): the counter at the latest :00/:30 boundary and that time (None if unset)."""

    timestamp: datetime | None
    raw: int | None
    scale: EnergyScale | None = field(default=None, compare=False)

    def kwh(self, scale: EnergyScale | None = None) -> Decimal | None:
        """Exact kWh with ``scale`` (or the scale bound at decode time); None if unknown."""
        use = scale if scale is not None else self.scale
        return None if use is None else use.kwh(self.raw)


@dataclass(frozen=True, slots=True)
class OneMinuteEnergy:
    """D0 (§B.1, Release R): normal and reverse counters at a one-minute time stamp."""

    timestamp: datetime | None
    normal_raw: int | None
    reverse_raw: int | None
    scale: EnergyScale | None = field(default=None, compare=False)

    def normal_kwh(self, scale: EnergyScale | None = None) -> Decimal | None:
        """Exact kWh of the normal-direction counter; None if unknown."""
        use = scale if scale is not None else self.scale
        return None if use is None else use.kwh(self.normal_raw)

    def reverse_kwh(self, scale: EnergyScale | None = None) -> Decimal | None:
        """Exact kWh of the reverse-direction counter; None if unknown."""
        use = scale if scale is not None else self.scale
        return None if use is None else use.kwh(self.reverse_raw)


@dataclass(frozen=True, slots=True)
class InstantaneousCurrents:
    """E8 (§B.1): R and T phase currents in amperes (0.1 A steps); None = no data."""

    r: Decimal | None
    t: Decimal | None

    @property
    def single_phase_two_wire(self) -> bool:
        """True when T carries 0x7FFE, the single-phase two-wire marker (§B.1)."""
        return self.t is None


@dataclass(frozen=True, slots=True)
class DailyHistory:
    """E2/E4 (§B.1): the day asked for by E5 (None = unset) and 48 half-hourly raw counts."""

    day: int | None
    raw: tuple[int | None, ...]
    scale: EnergyScale | None = field(default=None, compare=False)

    def history_date(self, today: date) -> date:
        """The calendar day of the slots, given the meter's "today" (UsageError if unset)."""
        if self.day is None:
            raise UsageError("the history day is unset (E5 was never written)")
        return today - timedelta(days=self.day)

    def readings(self, today: date) -> tuple[tuple[datetime, int | None], ...]:
        """(time stamp, raw count) per slot: slot i at 00:00 + 30 min × i of the history day."""
        day = self.history_date(today)
        start = datetime(day.year, day.month, day.day)
        return tuple((start + SLOT * i, raw) for i, raw in enumerate(self.raw))

    def kwh(self, scale: EnergyScale | None = None) -> tuple[Decimal | None, ...]:
        """Exact kWh per slot (None for no data or an unknown unit)."""
        use = scale if scale is not None else self.scale
        if use is None:
            return (None,) * len(self.raw)
        return tuple(use.kwh(raw) for raw in self.raw)

    def kwh_readings(
        self, today: date, scale: EnergyScale | None = None
    ) -> tuple[tuple[datetime, Decimal | None], ...]:
        """(time stamp, kWh) per slot, as :meth:`readings`."""
        return tuple(
            (when, kwh)
            for (when, _), kwh in zip(self.readings(today), self.kwh(scale), strict=True)
        )


@dataclass(frozen=True, slots=True)
class PairHistory:
    """EC/EE (§B.1): (normal, reverse) raw pairs, newest first, pair i at t − step × i."""

    STEP: ClassVar[timedelta] = HISTORY2_STEP

    timestamp: datetime | None
    pairs: tuple[tuple[int | None, int | None], ...]
    scale: EnergyScale | None = field(default=None, compare=False)

    def readings(self) -> tuple[tuple[datetime, int | None, int | None], ...]:
        """(time stamp, normal raw, reverse raw) per pair (UsageError if the time is unset)."""
        if self.timestamp is None:
            raise UsageError("the history time is unset (the meter returned its default)")
        start = self.timestamp
        step = self.STEP
        return tuple((start - step * i, n, r) for i, (n, r) in enumerate(self.pairs))

    def kwh_readings(
        self, scale: EnergyScale | None = None
    ) -> tuple[tuple[datetime, Decimal | None, Decimal | None], ...]:
        """(time stamp, normal kWh, reverse kWh) per pair; None where unknown."""
        use = scale if scale is not None else self.scale
        if use is None:
            return tuple((when, None, None) for when, _, _ in self.readings())
        return tuple((when, use.kwh(n), use.kwh(r)) for when, n, r in self.readings())


@dataclass(frozen=True, slots=True)
class HalfHourlyHistory(PairHistory):
    """EC (§B.1): up to 12 pairs, 30 minutes apart, from the ED time backwards."""

    STEP: ClassVar[timedelta] = HISTORY2_STEP


@dataclass(frozen=True, slots=True)
class MinuteHistory(PairHistory):
    """EE (§B.1, Release R): up to 10 pairs, 1 minute apart, from the EF time backwards."""

    STEP: ClassVar[timedelta] = HISTORY3_STEP


@dataclass(frozen=True, slots=True)
class HistoryTarget:
    """ED/EF (§B.1): the newest time to collect (None = unset default) and the pair count."""

    timestamp: datetime | None
    count: int


@dataclass(frozen=True, slots=True)
class RouteBIdentification:
    """C0 (§B.1, Release R): maker code and the 12-byte free area of the Route B ID."""

    maker_code: int
    free: bytes

    def __str__(self) -> str:
        return f"00{self.maker_code:06X}{self.free.hex().upper()}"


SmartMeterValue = (
    SuperClassValue
    | EnergyUnit
    | CumulativeEnergy
    | FixedTimeEnergy
    | OneMinuteEnergy
    | InstantaneousCurrents
    | DailyHistory
    | PairHistory
    | HistoryTarget
    | RouteBIdentification
    | bytes
)


# --- helpers -----------------------------------------------------------------------------------


def _int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} is an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise UsageError(f"{what} is {low}..{high}, got {value}")
    return value


def _count(raw: int, offset: int, epc: int) -> int | None:
    # §B general rules: 0..99,999,999, or 0xFFFFFFFE for no data.
    if raw <= MAX_COUNT:
        return raw
    if raw == NO_DATA_U32:
        return None
    raise EchonetDecodeError(
        f"cumulative count 0x{raw:08X} is neither 0..99999999 nor 0xFFFFFFFE",
        offset=offset,
        epc=epc,
    )


def _count_bytes(raw: object) -> bytes:
    if raw is None:
        return _U32.pack(NO_DATA_U32)
    return _U32.pack(_int(raw, "a cumulative count", 0, MAX_COUNT))


def _counts(values: tuple[int, ...], base: int, epc: int) -> tuple[int | None, ...]:
    # Fast path: every value in range (the common case) keeps the unpacked tuple as is.
    if max(values) <= MAX_COUNT:
        return values
    return tuple(_count(v, base + 4 * i, epc) for i, v in enumerate(values))


# --- fast construction -------------------------------------------------------------------------
# The value classes are frozen dataclasses, whose __init__ pays an object.__setattr__ per field
# (~0.2 µs per value on the bench machine). The hot decoders (E0/E3, E2/E4, E8, EA/EB), whose
# input is already checked, fill the slots through their descriptors instead: the same object,
# and what keeps bench/codec.py's mix at or above pychonet (0.9× with the plain constructors).

_new = object.__new__


def _slot_setters(cls: type, *names: str) -> tuple[Callable[[object, object], None], ...]:
    return tuple(cls.__dict__[name].__set__ for name in names)


_ENERGY_RAW, _ENERGY_SCALE = _slot_setters(CumulativeEnergy, "raw", "scale")


# --- decoders and encoders ----------------------------------------------------------------------
# Every decoder checks the EDT size first (spec.py), then the content; errors name the EPC.


def _decode_route_b_id(edt: bytes, _scale: EnergyScale | None = None) -> RouteBIdentification:
    if len(edt) != 16:
        raise size_error(0xC0, edt, 16, 16)
    if edt[0]:
        raise EchonetDecodeError("Route B ID byte 1 must be 0x00", offset=0, epc=0xC0)
    return RouteBIdentification(edt[1] << 16 | edt[2] << 8 | edt[3], bytes(edt[4:]))


def _encode_route_b_id(value: object) -> bytes:
    if not isinstance(value, RouteBIdentification):
        raise UsageError("0xC0 takes a RouteBIdentification")
    maker = _int(value.maker_code, "the maker code", 0, 0xFFFFFF)
    if not isinstance(value.free, bytes) or len(value.free) != ROUTE_B_ID_FREE_LEN:
        raise UsageError("the Route B ID free area is exactly 12 bytes")
    return b"\x00" + maker.to_bytes(3, "big") + value.free


def _decode_one_minute(edt: bytes, scale: EnergyScale | None = None) -> OneMinuteEnergy:
    if len(edt) != 15:
        raise size_error(0xD0, edt, 15, 15)
    fields = _ONE_MINUTE.unpack(edt)
    normal = fields[6]
    reverse = fields[7]
    if normal > MAX_COUNT:
        normal = _count(normal, 7, 0xD0)
    if reverse > MAX_COUNT:
        reverse = _count(reverse, 11, 0xD0)
    return OneMinuteEnergy(datetime7_from(fields, edt, 0xD0), normal, reverse, scale)


def _encode_one_minute(value: object) -> bytes:
    if not isinstance(value, OneMinuteEnergy):
        raise UsageError("0xD0 takes a OneMinuteEnergy")
    return (
        encode_datetime7(value.timestamp)
        + _count_bytes(value.normal_raw)
        + _count_bytes(value.reverse_raw)
    )


def _decode_coefficient(edt: bytes, _scale: EnergyScale | None = None) -> int:
    if len(edt) != 4:
        raise size_error(0xD3, edt, 4, 4)
    value: int = _U32.unpack(edt)[0]
    if value > MAX_COEFFICIENT:
        raise EchonetDecodeError(f"coefficient {value} is above 999999", offset=0, epc=0xD3)
    return value


def _encode_coefficient(value: object) -> bytes:
    return _int(value, "the D3 coefficient", 0, MAX_COEFFICIENT).to_bytes(4, "big")


def _decode_digits(edt: bytes, _scale: EnergyScale | None = None) -> int:
    if len(edt) != 1:
        raise size_error(0xD7, edt, 1, 1)
    digits = edt[0]
    if not 1 <= digits <= MAX_DIGITS:
        raise EchonetDecodeError(f"effective digits {digits} is outside 1..8", epc=0xD7)
    return digits


def _encode_digits(value: object) -> bytes:
    return bytes((_int(value, "D7 digits", 1, MAX_DIGITS),))


def _energy_decoder(epc: int) -> _Decoder[CumulativeEnergy]:
    def decode(edt: bytes, scale: EnergyScale | None = None) -> CumulativeEnergy:
        if len(edt) != 4:
            raise size_error(epc, edt, 4, 4)
        count: int = _U32.unpack(edt)[0]
        energy: CumulativeEnergy = _new(CumulativeEnergy)
        _ENERGY_RAW(energy, count if count <= MAX_COUNT else _count(count, 0, epc))
        _ENERGY_SCALE(energy, scale)
        return energy

    decode.__doc__ = f"The counter of 0x{epc:02X} (§B.1): 0..99999999 or None (no data)."
    return decode


def _encode_energy(value: object) -> bytes:
    if not isinstance(value, CumulativeEnergy):
        raise UsageError("a cumulative energy EPC takes a CumulativeEnergy")
    return _count_bytes(value.raw)


def _decode_unit(edt: bytes, _scale: EnergyScale | None = None) -> EnergyUnit:
    if len(edt) != 1:
        raise size_error(0xE1, edt, 1, 1)
    # §B.1 0xE1: undefined codes are kept (multiplier None), never guessed.
    return EnergyUnit(edt[0])


def _encode_unit(value: object) -> bytes:
    if not isinstance(value, EnergyUnit):
        raise UsageError("0xE1 takes an EnergyUnit")
    return bytes((value.code,))


_HISTORY_DAY, _HISTORY_RAW, _HISTORY_SCALE = _slot_setters(DailyHistory, "day", "raw", "scale")


def _history1_decoder(epc: int) -> _Decoder[DailyHistory]:
    def decode(edt: bytes, scale: EnergyScale | None = None) -> DailyHistory:
        if len(edt) != HISTORY1_LEN:
            raise size_error(epc, edt, HISTORY1_LEN, HISTORY1_LEN)
        day = edt[0] << 8 | edt[1]
        if day > MAX_HISTORY_DAY and day != HISTORY1_UNSET_DAY:
            raise EchonetDecodeError(
                f"history day {day} is neither 0..99 nor 0x00FF", offset=0, epc=epc
            )
        counts: tuple[int, ...] = _SLOTS48.unpack_from(edt, 2)
        raw: tuple[int | None, ...] = counts
        # Top bytes 0x00..0x04 only: every slot is a count, no check per value needed.
        if edt[2::4].translate(None, _SAFE_TOP_BYTES):
            raw = tuple(_count(v, 2 + 4 * i, epc) for i, v in enumerate(counts))
        history: DailyHistory = _new(DailyHistory)
        _HISTORY_DAY(history, None if day == HISTORY1_UNSET_DAY else day)
        _HISTORY_RAW(history, raw)
        _HISTORY_SCALE(history, scale)
        return history

    decode.__doc__ = f"Day and 48 half-hourly counters of 0x{epc:02X} (§B.1)."
    return decode


def _encode_history1(value: object) -> bytes:
    if not isinstance(value, DailyHistory):
        raise UsageError("E2/E4 take a DailyHistory")
    day = HISTORY1_UNSET_DAY if value.day is None else _int(value.day, "the day", 0, 99)
    if not isinstance(value.raw, tuple | list) or len(value.raw) != HISTORY1_SLOTS:
        raise UsageError(f"E2/E4 carry a sequence of exactly 48 slots, got {value.raw!r:.40}")
    return day.to_bytes(2, "big") + b"".join(_count_bytes(raw) for raw in value.raw)


def _decode_history_day(edt: bytes, _scale: EnergyScale | None = None) -> int | None:
    if len(edt) != 1:
        raise size_error(0xE5, edt, 1, 1)
    day = edt[0]
    if day == E5_UNSET:
        return None
    if day > MAX_HISTORY_DAY:
        raise EchonetDecodeError(f"history day {day} is neither 0..99 nor 0xFF", epc=0xE5)
    return day


def _encode_history_day(value: object) -> bytes:
    if value is None:
        return bytes((E5_UNSET,))
    return bytes((_int(value, "the E5 day", 0, MAX_HISTORY_DAY),))


def _decode_power(edt: bytes, _scale: EnergyScale | None = None) -> int | None:
    if len(edt) != 4:
        raise size_error(0xE7, edt, 4, 4)
    watts: int = _S32.unpack(edt)[0]
    if watts >= E7_NO_DATA or watts == _S32_UNDERFLOW:
        if watts == E7_NO_DATA:
            return None
        raise EchonetDecodeError(
            f"instantaneous power 0x{watts & 0xFFFFFFFF:08X} is an overflow/underflow code",
            offset=0,
            epc=0xE7,
        )
    return watts


def _encode_power(value: object) -> bytes:
    if value is None:
        return E7_NO_DATA.to_bytes(4, "big")
    watts = _int(value, "instantaneous power (W)", _S32_UNDERFLOW + 1, E7_NO_DATA - 1)
    return watts.to_bytes(4, "big", signed=True)


# Decimal amperes by 0.1 A count: the range is small (±3276.7 A) and a house stays within a
# few hundred counts, so memoising the conversion is cheap and saves most of E8's decode time.
# Only valid counts are stored (never the sentinels), at most 65,533 entries.
_AMPERES: dict[int, Decimal] = {}


def _amperes(raw: int, offset: int) -> Decimal | None:
    if raw == E8_NO_DATA:
        return None
    if raw in (_S16_OVERFLOW, _S16_UNDERFLOW):
        raise EchonetDecodeError(
            f"current 0x{raw & 0xFFFF:04X} is an overflow/underflow code", offset=offset, epc=0xE8
        )
    value = _AMPERES[raw] = Decimal(raw).scaleb(-1)
    return value


_CURRENT_R, _CURRENT_T = _slot_setters(InstantaneousCurrents, "r", "t")


def _decode_currents(edt: bytes, _scale: EnergyScale | None = None) -> InstantaneousCurrents:
    if len(edt) != 4:
        raise size_error(0xE8, edt, 4, 4)
    r, t = _S16_PAIR.unpack(edt)
    r_amperes = _AMPERES.get(r)
    if r_amperes is None:
        r_amperes = _amperes(r, 0)
    t_amperes = _AMPERES.get(t)
    if t_amperes is None:
        t_amperes = _amperes(t, 2)
    currents: InstantaneousCurrents = _new(InstantaneousCurrents)
    _CURRENT_R(currents, r_amperes)
    _CURRENT_T(currents, t_amperes)
    return currents


def _current_bytes(value: object, phase: str) -> bytes:
    if value is None:
        return E8_NO_DATA.to_bytes(2, "big")
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise UsageError(f"{phase}-phase current is a Decimal (amperes), got {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():  # NaN, sNaN (would trap), ±inf
        raise UsageError(f"{phase}-phase current {value} is not a number of amperes")
    tenths = Decimal(value).scaleb(1)
    if not tenths.is_finite() or tenths != tenths.to_integral_value():
        raise UsageError(f"{phase}-phase current {value} A is not a multiple of 0.1 A")
    raw = _int(int(tenths), f"{phase}-phase current (0.1 A)", _S16_UNDERFLOW + 1, E8_NO_DATA - 1)
    return raw.to_bytes(2, "big", signed=True)


def _encode_currents(value: object) -> bytes:
    if not isinstance(value, InstantaneousCurrents):
        raise UsageError("0xE8 takes InstantaneousCurrents")
    return _current_bytes(value.r, "R") + _current_bytes(value.t, "T")


_FIXED_WHEN, _FIXED_RAW, _FIXED_SCALE = _slot_setters(FixedTimeEnergy, "timestamp", "raw", "scale")


def _fixed_time_decoder(epc: int) -> _Decoder[FixedTimeEnergy]:
    def decode(edt: bytes, scale: EnergyScale | None = None) -> FixedTimeEnergy:
        if len(edt) != 11:
            raise size_error(epc, edt, 11, 11)
        fields = _FIXED_TIME.unpack(edt)
        raw = fields[6]
        if raw > MAX_COUNT:
            raw = _count(raw, 7, epc)
        energy: FixedTimeEnergy = _new(FixedTimeEnergy)
        _FIXED_WHEN(energy, datetime7_from(fields, edt, epc))
        _FIXED_RAW(energy, raw)
        _FIXED_SCALE(energy, scale)
        return energy

    decode.__doc__ = f"Time stamp and counter of 0x{epc:02X} (§B.1)."
    return decode


def _encode_fixed_time(value: object) -> bytes:
    if not isinstance(value, FixedTimeEnergy):
        raise UsageError("EA/EB take a FixedTimeEnergy")
    return encode_datetime7(value.timestamp) + _count_bytes(value.raw)


def _check_half_hour(when: datetime | None, epc: int) -> None:
    if when is not None and when.minute not in (0, 30):
        raise EchonetDecodeError(
            f"minute {when.minute} is neither 0 nor 30 (0x00/0x1E)", offset=5, epc=epc
        )


def _pairs_decoder(epc: int, max_pairs: int, cls: type[PairHistory]) -> _Decoder[PairHistory]:
    max_size = _PAIR_HEADER + 8 * max_pairs
    half_hourly = cls is HalfHourlyHistory

    def decode(edt: bytes, scale: EnergyScale | None = None) -> PairHistory:
        size = len(edt)
        if size < _PAIR_HEADER + 8 or size > max_size:
            raise size_error(epc, edt, _PAIR_HEADER + 8, max_size)
        when = decode_datetime6(edt, 0, epc)
        if half_hourly:
            _check_half_hour(when, epc)
        count = edt[6]
        if not 1 <= count <= max_pairs:
            raise EchonetDecodeError(
                f"pair count {count} is outside 1..{max_pairs}", offset=6, epc=epc
            )
        if size != _PAIR_HEADER + 8 * count:
            raise EchonetDecodeError(
                f"{count} pairs need {_PAIR_HEADER + 8 * count} bytes, EDT has {size}",
                offset=min(size, _PAIR_HEADER + 8 * count),
                epc=epc,
            )
        flat = _counts(_PAIRS[count].unpack_from(edt, _PAIR_HEADER), _PAIR_HEADER, epc)
        pairs = tuple(zip(flat[0::2], flat[1::2], strict=True))
        return cls(when, pairs, scale)

    decode.__doc__ = f"Time stamp and (normal, reverse) pairs of 0x{epc:02X} (§B.1)."
    return decode


def _pairs_encoder(cls: type[PairHistory], max_pairs: int) -> _Encoder:
    def encode(value: object) -> bytes:
        if type(value) is not cls:
            raise UsageError(f"this EPC takes a {cls.__name__}")
        assert isinstance(value, PairHistory)  # for the type checker; checked just above
        if value.timestamp is not None and cls is HalfHourlyHistory:
            _half_hour_or_raise(value.timestamp)
        if not isinstance(value.pairs, tuple | list) or not all(
            isinstance(pair, tuple | list) and len(pair) == 2 for pair in value.pairs
        ):
            raise UsageError(f"{cls.__name__} pairs are (normal, reverse) count pairs")
        count = len(value.pairs)
        if not 1 <= count <= max_pairs:
            raise UsageError(f"{cls.__name__} carries 1..{max_pairs} pairs, got {count}")
        out = bytearray(encode_datetime6(value.timestamp))
        out.append(count)
        for normal, reverse in value.pairs:
            out += _count_bytes(normal)
            out += _count_bytes(reverse)
        return bytes(out)

    encode.__doc__ = f"date-time_6, n and n × (normal, reverse) of a {cls.__name__}."
    return encode


def _half_hour_or_raise(when: object) -> None:
    if isinstance(when, datetime) and when.minute not in (0, 30):
        raise UsageError("EC/ED times fall on :00 or :30 (use build_ed to floor them)")


def _target_decoder(epc: int, max_pairs: int) -> _Decoder[HistoryTarget]:
    def decode(edt: bytes, _scale: EnergyScale | None = None) -> HistoryTarget:
        if len(edt) != 7:
            raise size_error(epc, edt, 7, 7)
        when = decode_datetime6(edt, 0, epc)
        if epc == 0xED:
            _check_half_hour(when, epc)
        count = edt[6]
        if not 1 <= count <= max_pairs:
            raise EchonetDecodeError(
                f"pair count {count} is outside 1..{max_pairs}", offset=6, epc=epc
            )
        return HistoryTarget(when, count)

    decode.__doc__ = f"date-time_6 and pair count of 0x{epc:02X} (§B.1)."
    return decode


def _target_encoder(epc: int, max_pairs: int) -> _Encoder:
    def encode(value: object) -> bytes:
        if not isinstance(value, HistoryTarget):
            raise UsageError(f"0x{epc:02X} takes a HistoryTarget")
        if value.timestamp is not None and epc == 0xED:
            _half_hour_or_raise(value.timestamp)
        count = _int(value.count, "the pair count", 1, max_pairs)
        return encode_datetime6(value.timestamp) + bytes((count,))

    encode.__doc__ = f"date-time_6 and n of 0x{epc:02X}."
    return encode


# --- the table ---------------------------------------------------------------------------------


def _smart_meter_specs() -> dict[int, PropertySpec[SmartMeterValue]]:
    specs: dict[int, PropertySpec[SmartMeterValue]] = dict(super_class_specs())
    kwh = "kWh"
    # Names and sizes: protocol.md §B.1 (MRA Release R).
    # fmt: off
    rows: list[PropertySpec[SmartMeterValue]] = [
        PropertySpec(
            0xC0, "route_b_id", "Route B identification number", "Bルート識別番号", 16, 16,
            _decode_route_b_id, _encode_route_b_id,
        ),
        PropertySpec(
            0xD0, "one_minute_energy",
            "One-minute measured cumulative amounts of electric energy (normal and reverse)",
            "1分積算電力量計測値（正方向、逆方向計測値）", 15, 15,
            _decode_one_minute, _encode_one_minute, kwh, scaled=True,
        ),
        PropertySpec(
            0xD3, "energy_coefficient", "Coefficient", "係数", 4, 4,
            _decode_coefficient, _encode_coefficient,
        ),
        PropertySpec(
            0xD7, "energy_digits",
            "Number of effective digits for cumulative amounts of electric energy",
            "積算電力量有効桁数", 1, 1, _decode_digits, _encode_digits, "digits",
        ),
        PropertySpec(
            0xE0, "cumulative_energy_normal",
            "Measured cumulative amount of electric energy (normal direction)",
            "積算電力量計測値（正方向計測値）", 4, 4,
            _energy_decoder(0xE0), _encode_energy, kwh, scaled=True,
        ),
        PropertySpec(
            0xE1, "energy_unit",
            "Unit for cumulative amounts of electric energy (normal and reverse directions)",
            "積算電力量単位（正方向、逆方向計測値）", 1, 1, _decode_unit, _encode_unit, kwh,
        ),
        PropertySpec(
            0xE2, "history_normal",
            "Historical data of measured cumulative amounts of electric energy 1"
            " (normal direction)",
            "積算電力量計測値履歴１（正方向計測値）", HISTORY1_LEN, HISTORY1_LEN,
            _history1_decoder(0xE2), _encode_history1, kwh, scaled=True,
        ),
        PropertySpec(
            0xE3, "cumulative_energy_reverse",
            "Measured cumulative amount of electric energy (reverse direction)",
            "積算電力量計測値（逆方向計測値）", 4, 4,
            _energy_decoder(0xE3), _encode_energy, kwh, scaled=True,
        ),
        PropertySpec(
            0xE4, "history_reverse",
            "Historical data of measured cumulative amounts of electric energy 1"
            " (reverse direction)",
            "積算電力量計測値履歴１（逆方向計測値）", HISTORY1_LEN, HISTORY1_LEN,
            _history1_decoder(0xE4), _encode_history1, kwh, scaled=True,
        ),
        PropertySpec(
            0xE5, "history_day",
            "Day for which the historical data 1 is to be retrieved", "積算履歴収集日１",
            1, 1, _decode_history_day, _encode_history_day, "days ago",
        ),
        PropertySpec(
            0xE7, "instantaneous_power", "Measured instantaneous electric power",
            "瞬時電力計測値", 4, 4, _decode_power, _encode_power, "W",
        ),
        PropertySpec(
            0xE8, "instantaneous_currents", "Measured instantaneous currents", "瞬時電流計測値",
            4, 4, _decode_currents,
            _encode_currents, "A",
        ),
        PropertySpec(
            0xEA, "fixed_time_energy_normal",
            "Cumulative amounts of electric energy measured at fixed time (normal direction)",
            "定時積算電力量計測値（正方向計測値）", 11, 11,
            _fixed_time_decoder(0xEA), _encode_fixed_time, kwh, scaled=True,
        ),
        PropertySpec(
            0xEB, "fixed_time_energy_reverse",
            "Cumulative amounts of electric energy measured at fixed time (reverse direction)",
            "定時積算電力量計測値（逆方向計測値）", 11, 11,
            _fixed_time_decoder(0xEB), _encode_fixed_time, kwh, scaled=True,
        ),
        PropertySpec(
            0xEC, "history_30min",
            "Historical data of measured cumulative amounts of electric energy 2"
            " (normal and reverse directions)",
            "積算電力量計測値履歴２（正方向、逆方向計測値）",
            _PAIR_HEADER + 8, _PAIR_HEADER + 8 * HISTORY2_MAX_PAIRS,
            _pairs_decoder(0xEC, HISTORY2_MAX_PAIRS, HalfHourlyHistory),
            _pairs_encoder(HalfHourlyHistory, HISTORY2_MAX_PAIRS), kwh, scaled=True,
        ),
        PropertySpec(
            0xED, "history_30min_target",
            "Day for which the historical data 2 is to be retrieved", "積算履歴収集日２", 7, 7,
            _target_decoder(0xED, HISTORY2_MAX_PAIRS), _target_encoder(0xED, HISTORY2_MAX_PAIRS),
        ),
        PropertySpec(
            0xEE, "history_1min",
            "Historical data of measured cumulative amounts of electric energy 3"
            " (normal and reverse directions)",
            "積算電力量計測値履歴３（正方向、逆方向計測値）",
            _PAIR_HEADER + 8, _PAIR_HEADER + 8 * HISTORY3_MAX_PAIRS,
            _pairs_decoder(0xEE, HISTORY3_MAX_PAIRS, MinuteHistory),
            _pairs_encoder(MinuteHistory, HISTORY3_MAX_PAIRS), kwh, scaled=True,
        ),
        PropertySpec(
            0xEF, "history_1min_target",
            "Day for which the historical data 3 is to be retrieved", "積算履歴収集日３", 7, 7,
            _target_decoder(0xEF, HISTORY3_MAX_PAIRS), _target_encoder(0xEF, HISTORY3_MAX_PAIRS),
        ),
    ]
    # fmt: on
    for spec in rows:
        specs[spec.epc] = spec
    return dict(sorted(specs.items()))


SMART_METER_PROPERTIES: Final[Mapping[int, PropertySpec[SmartMeterValue]]] = MappingProxyType(
    _smart_meter_specs()
)


SMART_METER_DECODERS: Final[
    Mapping[int, Callable[[bytes, EnergyScale | None], SmartMeterValue]]
] = MappingProxyType(decoders_of(SMART_METER_PROPERTIES))
"""EPC → decoder (``spec.decoder``): one call per property when decoding whole frames."""


def decode_property(epc: int, edt: bytes, scale: EnergyScale | None = None) -> SmartMeterValue:
    """The typed value of a 0x0288 EDT, energy bound to ``scale``; unknown EPCs give raw bytes."""
    decode = SMART_METER_DECODERS.get(epc)
    if decode is None:
        return bytes(edt)
    return decode(edt, scale)


def lookup_property(text: str) -> PropertySpec[SmartMeterValue]:
    """The 0x0288 spec named by ``0xE7``, ``e7``, ``E7`` or a key like ``instantaneous_power``."""
    return find_spec(text, SMART_METER_PROPERTIES)


# --- set-value builders (§B.2) ------------------------------------------------------------------


def build_e5(days_ago: int) -> bytes:
    """The E5 EDT asking for the history of ``days_ago`` (0 = today .. 99)."""
    return bytes((_int(days_ago, "the E5 day", 0, MAX_HISTORY_DAY),))


def _naive_datetime(when: object) -> datetime:
    if not isinstance(when, datetime):
        raise UsageError(f"expected a datetime, got {type(when).__name__}")
    if when.tzinfo is not None:
        raise UsageError("pass the meter's naive local (JST) time, without tzinfo")
    return when


def build_ed(when: datetime, count: int) -> bytes:
    """The ED EDT: ``when`` floored to :00/:30 and ``count`` pairs (1..12) going back 30 min."""
    start = _naive_datetime(when)
    start = start.replace(minute=start.minute // 30 * 30, second=0, microsecond=0)
    return encode_datetime6(start) + bytes((_int(count, "the ED count", 1, HISTORY2_MAX_PAIRS),))


def build_ef(when: datetime, count: int) -> bytes:
    """The EF EDT: ``when`` to the minute and ``count`` pairs (1..10) going back 1 min."""
    start = _naive_datetime(when).replace(second=0, microsecond=0)
    return encode_datetime6(start) + bytes((_int(count, "the EF count", 1, HISTORY3_MAX_PAIRS),))
