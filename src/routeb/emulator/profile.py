"""The configurable emulated meter: a frozen profile loaded from TOML and/or overrides.

Every key is documented in docs/emulator-profile.md. Values are checked where they are built;
a bad value raises ``ConfigError(key, message)`` naming the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final, TypeVar

from routeb.echonet.energy import ENERGY_UNITS, MAX_COEFFICIENT, MAX_DIGITS
from routeb.emulator.household import HISTORY_DAYS, Household
from routeb.errors import ConfigError

__all__ = [
    "CONTRACT_AMPERES",
    "E1_UNITS",
    "PROFILE_KEYS",
    "RELEASES",
    "WIRINGS",
    "MeterProfile",
    "load_profile",
]

# protocol.md §B.1 E1: unit code → kWh per count (other codes are undefined); the codec's table.
E1_UNITS: Final[Mapping[int, Decimal]] = ENERGY_UNITS
# §B.1 "Release history": Release F (AIF v1.01, field meters) and Release R (adds C0, D0, EE, EF).
RELEASES: Final = ("F", "R")
# §D.3 S02: channels 33..60 (0x21..0x3C).
_CHANNEL_MIN: Final = 0x21
_CHANNEL_MAX: Final = 0x3C
# §A.7 0x8A: the maker code is 3 bytes; 0x8D: the production number is 12 ASCII bytes.
_MAKER_MAX: Final = 0xFFFFFF
_SERIAL_LEN: Final = 12
# §A.7 0x81: `0 LLLL NNN`, 0x00 = not set, 0xFF = not fixed; L = 1..15 gives 0x08..0x7F;
# 0x80..0xFE are free definitions. 0x01 announces 16 bytes of position information, which a
# profile cannot hold (a controller may still Set it), and 0x02..0x07 (L = 0) are undefined.
_LOCATION_NOT_SET: Final = 0x00
_LOCATION_NOT_FIXED: Final = 0xFF
_LOCATION_MIN: Final = 0x08
_LOCATION_MAX: Final = 0xFE
# Low-voltage contract currents offered in Japan (従量電灯B: 10..60 A); the limiter sizes.
CONTRACT_AMPERES: Final = (10, 15, 20, 30, 40, 50, 60)
# Single-phase three-wire (100/200 V, two measured lines) or two-wire (100 V, one line, E8 T
# reads 0x7FFE: §B.1 E8, §G.7).
WIRINGS: Final = ("1P3W", "1P2W")
_MAX_PV_KW: Final = Decimal(50)  # the low-voltage grid-connection limit for PV is < 50 kW
_MAX_LOAD_SCALE: Final = Decimal(10)
_MAX_OFFSET: Final = timedelta(days=366)
# Installed at most a century before the start (a bound that keeps every date representable).
_MAX_INSTALLED_DAYS: Final = Decimal(36_500)
_ABSENT: Final = "absent"  # TOML has no null: `coefficient = "absent"` = the meter lacks D3
_AUTO: Final = "auto"  # `pan_id = "auto"` = derived from the MAC; `initial_export = "auto"`
_AUTO_KEYS: Final = frozenset({"pan_id", "initial_export"})
# `initial_export = "auto"` with solar: enough reverse energy for the queryable history (E4,
# EC, EE reach back history_days + 1 days at most) not to run below zero. 8 kWh per kW of PV
# and day bounds the model's clearest June day (≈ 5.5 kWh/kW, docs/emulator-profile.md).
_PV_KWH_PER_KW_DAY: Final = 8
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class MeterProfile:
    """One emulated meter: identity, radio, register scaling and the household behind it."""

    # household model
    seed: int = 1
    solar: bool = False
    pv_kw: Decimal = Decimal("4.5")
    load_scale: Decimal = Decimal(1)
    contract_amperes: int = 30
    wiring: str = "1P3W"
    # ECHONET identity (§A.7, §B.1)
    release: str = "F"
    maker_code: int = 0x000016  # Toshiba, as in the real Release-F captures (§A.7, §F)
    serial_number: str = "EMU000000001"
    location: int = 0x61  # the real meter's 0x81 value (§A.7): L = 12 (garden), N = 1
    # energy registers (§B general rules, §B.1 D3/E1/D7)
    coefficient: int | None = 1
    unit_code: int | None = 0x02
    digits: int = 6
    initial_import: int = 432_100
    initial_export: int | None = None  # None = "auto"
    reverse_measurement: bool = True
    # history and clock
    history_days: int = HISTORY_DAYS
    installed_days_ago: Decimal = Decimal(400)
    clock_offset: timedelta = timedelta(0)
    # radio (§D.1 EPANDESC, §D.3)
    mac: str = "0011223344556677"
    channel: int = 0x3B
    pan_id: int | None = None

    def __post_init__(self) -> None:
        _validate(self)
        object.__setattr__(self, "mac", self.mac.upper())
        object.__setattr__(self, "wiring", self.wiring.upper())
        object.__setattr__(self, "release", self.release.upper())

    # -- derived values ------------------------------------------------------------------------

    @property
    def unit_kwh(self) -> Decimal:
        """kWh per count of the E1 unit; 1 kWh when the meter lacks E1 (§B.1 E1 code 0x00)."""
        return Decimal(1) if self.unit_code is None else E1_UNITS[self.unit_code]

    @property
    def multiplier_kwh(self) -> Decimal:
        """kWh per raw count: coefficient (1 when D3 is absent) × unit (§B general rules)."""
        return (1 if self.coefficient is None else self.coefficient) * self.unit_kwh

    @property
    def three_wire(self) -> bool:
        """Whether the service is single-phase three-wire (both E8 currents measured)."""
        return self.wiring == "1P3W"

    @property
    def effective_pan_id(self) -> int:
        """``pan_id``, or the low 16 bits of the MAC when it is None ("auto")."""
        if self.pan_id is not None:
            return self.pan_id
        # §D.3 S03: the PAN ID observed on real meters is the low 16 bits of their EUI-64.
        return int(self.mac[-4:], 16)

    @property
    def effective_initial_export(self) -> int:
        """``initial_export``, or for "auto" (None) a counter that never runs below zero.

        Without solar nothing is ever sold, so "auto" is 0. With solar it is the most the
        panels could have exported over the history a controller can ask for (the shorter of
        the installation age and ``history_days`` + 1 days), so E4/EC/EE before the start do not
        show a counter that ran below zero and wrapped (mod 10^digits, §B, if even that is
        too small for the register).
        """
        if self.initial_export is not None:
            return self.initial_export
        if not self.solar:
            return 0
        days = min(self.installed_days_ago, Decimal(self.history_days + 1))
        kwh = self.pv_kw * _PV_KWH_PER_KW_DAY * days
        counts = int(-(-kwh // self.multiplier_kwh))  # ceiling
        wrap: int = 10**self.digits
        return counts % wrap

    def installed_at(self, epoch: datetime) -> datetime:
        """When the meter was installed, given the meter time at which the emulator started."""
        return epoch - timedelta(days=float(self.installed_days_ago))

    def build_household(self, epoch: datetime) -> Household:
        """The household behind this meter, its counters reading the initial values at ``epoch``."""
        m = self.multiplier_kwh
        return Household(
            self.seed,
            epoch=epoch,
            pv_watts=int(self.pv_kw * 1000) if self.solar else 0,
            load_scale=self.load_scale,
            contract_amperes=self.contract_amperes,
            three_wire=self.three_wire,
            initial_import_kwh=self.initial_import * m,
            initial_export_kwh=self.effective_initial_export * m,
            installed=self.installed_at(epoch),
            history_days=self.history_days,
        )

    # -- loading and dumping -------------------------------------------------------------------

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, object], *, base: MeterProfile | None = None, source: str = ""
    ) -> MeterProfile:
        """``base`` (default: the defaults) with the keys of ``data`` converted and replaced."""
        where = f" (in {source})" if source else ""
        values = (base or cls()).to_values()
        for key, raw in data.items():
            convert = _CONVERTERS.get(key)
            if convert is None:
                known = ", ".join(PROFILE_KEYS)
                raise ConfigError(key, f"unknown key{where}; known keys: {known}")
            try:
                values[key] = convert(key, raw)
            except ConfigError as exc:
                raise ConfigError(key, f"{_message(exc)}{where}") from None
        try:
            return _construct(values)
        except ConfigError as exc:
            raise ConfigError(exc.key, f"{_message(exc)}{where}") from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> MeterProfile:
        """The profile in the TOML file at ``path`` (missing keys take their defaults)."""
        return load_profile(path)

    def to_values(self) -> dict[str, object]:
        """Every key with its typed value (the constructor's keyword arguments)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_toml(self) -> str:
        """This profile as a TOML document that loads back to an equal profile."""
        lines = []
        for key, value in self.to_values().items():
            lines.append(f"{key} = {_toml_value(key, value)}")
        return "\n".join(lines) + "\n"


def load_profile(
    path: str | os.PathLike[str] | None = None, overrides: Mapping[str, object] | None = None
) -> MeterProfile:
    """The defaults, then the TOML file at ``path`` (if any), then ``overrides`` (CLI options)."""
    profile = MeterProfile()
    if path is not None:
        file = Path(path)
        try:
            with file.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError("profile", f"cannot read {file}: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("profile", f"{file} is not valid TOML: {exc}") from exc
        profile = MeterProfile.from_mapping(data, source=str(file))
    if overrides:
        profile = MeterProfile.from_mapping(overrides, base=profile, source="overrides")
    return profile


# -- conversion (raw TOML / CLI values → typed values) ------------------------------------------


def _message(exc: ConfigError) -> str:
    """The message of a ConfigError without its ``key: `` prefix."""
    text = str(exc)
    prefix = f"{exc.key}: "
    return text.removeprefix(prefix)


def _to_int(key: str, raw: object) -> int:
    """An integer from an int or a string such as "0x3B" (never a bool)."""
    if isinstance(raw, bool):
        raise ConfigError(key, f"must be an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip().replace("_", ""), 0)
        except ValueError:
            pass
    raise ConfigError(key, f"must be an integer, got {raw!r}")


def _to_optional_int(key: str, raw: object) -> int | None:
    """An integer, or None for "absent" (TOML) / None (overrides)."""
    if raw is None or raw == _ABSENT:
        return None
    return _to_int(key, raw)


def _to_auto_int(key: str, raw: object) -> int | None:
    """An integer, or None for "auto" (pan_id: from the MAC; initial_export: derived)."""
    if raw is None or raw == _AUTO:
        return None
    return _to_int(key, raw)


def _to_bool(key: str, raw: object) -> bool:
    """A boolean from a bool or the strings "true" / "false"."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in {"true", "false"}:
        return raw.strip().lower() == "true"
    raise ConfigError(key, f"must be true or false, got {raw!r}")


def _to_str(key: str, raw: object) -> str:
    """A string, as is."""
    if isinstance(raw, str):
        return raw
    raise ConfigError(key, f"must be a string, got {raw!r}")


def _to_decimal(key: str, raw: object) -> Decimal:
    """A finite Decimal from an int, float (by its shortest repr), string or Decimal."""
    if isinstance(raw, bool):
        raise ConfigError(key, f"must be a number, got {raw!r}")
    try:
        if isinstance(raw, Decimal | int):
            value = Decimal(raw)
        elif isinstance(raw, float | str):
            value = Decimal(str(raw).strip())
        else:
            raise ConfigError(key, f"must be a number, got {raw!r}")
    except InvalidOperation:
        raise ConfigError(key, f"must be a number, got {raw!r}") from None
    if not value.is_finite():
        raise ConfigError(key, f"must be a finite number, got {raw!r}")
    return value


def _to_offset(key: str, raw: object) -> timedelta:
    """A clock skew from a timedelta or a number of seconds (meter minus true time)."""
    if isinstance(raw, timedelta):
        return raw
    seconds = _to_decimal(key, raw)
    if abs(seconds) > Decimal(_MAX_OFFSET.total_seconds()):
        raise ConfigError(key, f"must be within ±{_MAX_OFFSET.days} days, got {raw!r} s")
    return timedelta(seconds=float(seconds))


_CONVERTERS: Final = {
    "seed": _to_int,
    "solar": _to_bool,
    "pv_kw": _to_decimal,
    "load_scale": _to_decimal,
    "contract_amperes": _to_int,
    "wiring": _to_str,
    "release": _to_str,
    "maker_code": _to_int,
    "serial_number": _to_str,
    "location": _to_int,
    "coefficient": _to_optional_int,
    "unit_code": _to_optional_int,
    "digits": _to_int,
    "initial_import": _to_int,
    "initial_export": _to_auto_int,
    "reverse_measurement": _to_bool,
    "history_days": _to_int,
    "installed_days_ago": _to_decimal,
    "clock_offset": _to_offset,
    "mac": _to_str,
    "channel": _to_int,
    "pan_id": _to_auto_int,
}
PROFILE_KEYS: Final = tuple(_CONVERTERS)


def _typed(values: Mapping[str, object], key: str, kind: type[_T]) -> _T:
    """``values[key]``, whose type the converters already guaranteed."""
    value = values[key]
    assert isinstance(value, kind), key
    return value


def _optional(values: Mapping[str, object], key: str) -> int | None:
    """``values[key]``: an int or None (guaranteed by the converters)."""
    value = values[key]
    assert value is None or isinstance(value, int), key
    return value


def _construct(v: Mapping[str, object]) -> MeterProfile:
    """A MeterProfile from converted values."""
    return MeterProfile(
        seed=_typed(v, "seed", int),
        solar=_typed(v, "solar", bool),
        pv_kw=_typed(v, "pv_kw", Decimal),
        load_scale=_typed(v, "load_scale", Decimal),
        contract_amperes=_typed(v, "contract_amperes", int),
        wiring=_typed(v, "wiring", str),
        release=_typed(v, "release", str),
        maker_code=_typed(v, "maker_code", int),
        serial_number=_typed(v, "serial_number", str),
        location=_typed(v, "location", int),
        coefficient=_optional(v, "coefficient"),
        unit_code=_optional(v, "unit_code"),
        digits=_typed(v, "digits", int),
        initial_import=_typed(v, "initial_import", int),
        initial_export=_optional(v, "initial_export"),
        reverse_measurement=_typed(v, "reverse_measurement", bool),
        history_days=_typed(v, "history_days", int),
        installed_days_ago=_typed(v, "installed_days_ago", Decimal),
        clock_offset=_typed(v, "clock_offset", timedelta),
        mac=_typed(v, "mac", str),
        channel=_typed(v, "channel", int),
        pan_id=_optional(v, "pan_id"),
    )


def _toml_value(key: str, value: object) -> str:
    """One value in TOML syntax."""
    if value is None:
        return f'"{_AUTO}"' if key in _AUTO_KEYS else f'"{_ABSENT}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"0x{value:06X}" if key == "maker_code" else str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return repr(value.total_seconds())
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- validation ---------------------------------------------------------------------------------


def _check_int(key: str, value: object, low: int, high: int, what: str = "") -> None:
    """``value`` is an int (not a bool) within low..high."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(key, f"must be {what or f'{low}..{high}'}, got {value}")


def _validate(p: MeterProfile) -> None:
    """Raise ConfigError naming the first key of ``p`` that is out of range or inconsistent."""
    if isinstance(p.seed, bool) or not isinstance(p.seed, int):
        raise ConfigError("seed", f"must be an integer, got {p.seed!r}")
    if not isinstance(p.pv_kw, Decimal) or not (0 < p.pv_kw <= _MAX_PV_KW):
        raise ConfigError("pv_kw", f"must be > 0 and <= {_MAX_PV_KW} kW, got {p.pv_kw}")
    if not isinstance(p.load_scale, Decimal) or not (0 < p.load_scale <= _MAX_LOAD_SCALE):
        raise ConfigError("load_scale", f"must be > 0 and <= {_MAX_LOAD_SCALE}, got {p.load_scale}")
    if p.contract_amperes not in CONTRACT_AMPERES:
        choices = ", ".join(map(str, CONTRACT_AMPERES))
        raise ConfigError("contract_amperes", f"must be one of {choices}, got {p.contract_amperes}")
    if not isinstance(p.wiring, str) or p.wiring.upper() not in WIRINGS:
        raise ConfigError("wiring", f"must be one of {', '.join(WIRINGS)}, got {p.wiring!r}")
    if not isinstance(p.release, str) or p.release.upper() not in RELEASES:
        raise ConfigError("release", f"must be one of {', '.join(RELEASES)}, got {p.release!r}")
    _check_int("maker_code", p.maker_code, 0, _MAKER_MAX, "a 3-byte code 0x000000..0xFFFFFF")
    serial = p.serial_number
    if not (
        isinstance(serial, str)
        and 1 <= len(serial) <= _SERIAL_LEN
        and all(" " <= c <= "~" for c in serial)
    ):
        raise ConfigError(
            "serial_number", f"must be 1..{_SERIAL_LEN} printable ASCII characters, got {serial!r}"
        )
    loc = p.location
    if loc not in {_LOCATION_NOT_SET, _LOCATION_NOT_FIXED}:
        _check_int(
            "location",
            loc,
            _LOCATION_MIN,
            _LOCATION_MAX,
            "0x00 (not set), 0xFF (not fixed), 0x08..0x7F (0 LLLL NNN, L = 1..15) or "
            "0x80..0xFE (free definition)",
        )
    if p.coefficient is not None:
        _check_int("coefficient", p.coefficient, 1, MAX_COEFFICIENT)
    if p.unit_code is not None and p.unit_code not in E1_UNITS:
        codes = ", ".join(f"0x{c:02X}" for c in E1_UNITS)
        raise ConfigError("unit_code", f"must be one of {codes} or absent, got {p.unit_code!r}")
    _check_int("digits", p.digits, 1, MAX_DIGITS)
    wrap = 10**p.digits
    for key, reading in (
        ("initial_import", p.initial_import),
        ("initial_export", p.initial_export),
    ):
        if reading is not None:
            _check_int(key, reading, 0, wrap - 1, f"0..{wrap - 1} (below 10^digits)")
    _check_int("history_days", p.history_days, 0, HISTORY_DAYS)
    ago = p.installed_days_ago
    if not isinstance(ago, Decimal) or not ago.is_finite() or not 0 <= ago <= _MAX_INSTALLED_DAYS:
        raise ConfigError(
            "installed_days_ago", f"must be a number 0..{_MAX_INSTALLED_DAYS}, got {ago}"
        )
    if not isinstance(p.clock_offset, timedelta) or abs(p.clock_offset) > _MAX_OFFSET:
        raise ConfigError("clock_offset", f"must be within ±{_MAX_OFFSET.days} days")
    mac = p.mac
    if not (
        isinstance(mac, str) and len(mac) == 16 and all(c in "0123456789abcdefABCDEF" for c in mac)
    ):
        raise ConfigError("mac", f"must be 16 hex digits (an EUI-64), got {mac!r}")
    _check_int("channel", p.channel, _CHANNEL_MIN, _CHANNEL_MAX, "0x21..0x3C (33..60)")
    if p.pan_id is not None:
        _check_int("pan_id", p.pan_id, 0, 0xFFFF, "0x0000..0xFFFF")
    for key, flag in (("solar", p.solar), ("reverse_measurement", p.reverse_measurement)):
        if not isinstance(flag, bool):
            raise ConfigError(key, f"must be true or false, got {flag!r}")
    if p.solar and not p.reverse_measurement:
        raise ConfigError(
            "reverse_measurement", "must be true when solar = true (a PV home sells energy)"
        )
