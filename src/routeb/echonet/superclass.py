"""The device super class (protocol.md §A.7): codecs shared by the meter and the node profile.

0x80 operation status, 0x81 installation location, 0x82 standard version, 0x88 fault status,
0x8A manufacturer code, 0x8D production number, 0x97 / 0x98 clock and the 0x9D / 0x9E / 0x9F
property maps. Decoders take ``(edt, scale)`` (the scale is unused here) and raise only
:class:`~routeb.errors.EchonetDecodeError`; encoders take any value, check its type and raise
:class:`~routeb.errors.UsageError` for what cannot be sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, time
from enum import IntEnum
from types import MappingProxyType
from typing import Final

from routeb.echonet.datetime_fields import decode_date, decode_time, encode_date, encode_time
from routeb.echonet.energy import EnergyScale
from routeb.echonet.propmap import decode_property_map, encode_property_map
from routeb.echonet.spec import PropertySpec, size_error
from routeb.errors import EchonetDecodeError, UsageError

__all__ = [
    "SUPER_CLASS_PROPERTIES",
    "FaultStatus",
    "InstallationLocation",
    "LocationCode",
    "ManufacturerCode",
    "OperationStatus",
    "StandardVersion",
    "SuperClassValue",
]

# protocol.md §A.7 0x8D: production number is 12 ASCII bytes, NUL-padded.
PRODUCTION_NUMBER_LEN: Final = 12
# protocol.md §A.7 0x81: 0x00 not set, 0xFF not fixed, 0x01 + 16 bytes position information.
LOCATION_NOT_SET: Final = 0x00
LOCATION_POSITION: Final = 0x01
LOCATION_NOT_FIXED: Final = 0xFF
LOCATION_POSITION_LEN: Final = 16
# protocol.md §A.7 0x82: release letter; Release A is lowercase 'a', B onward uppercase.
RELEASE_A: Final = 0x61
_RELEASE_B: Final = 0x42
_RELEASE_Z: Final = 0x5A


class OperationStatus(IntEnum):
    """0x80 (§A.7; §A.6 for the node profile, where 0x30 = booted): ON 0x30, OFF 0x31."""

    ON = 0x30
    OFF = 0x31


class FaultStatus(IntEnum):
    """0x88 (§A.7): 0x41 fault, 0x42 no fault."""

    FAULT = 0x41
    NO_FAULT = 0x42


class LocationCode(IntEnum):
    """The location code L of 0x81's ``0LLLLNNN`` bitmap (§A.7)."""

    LIVING = 1
    DINING = 2
    KITCHEN = 3
    BATHROOM = 4
    TOILET = 5
    WASHROOM = 6
    HALLWAY = 7
    ROOM = 8
    STAIRS = 9
    ENTRANCE = 10
    STORAGE = 11
    GARDEN = 12
    GARAGE = 13
    VERANDA = 14
    OTHER = 15


_STATUS: Final[dict[int, OperationStatus]] = {s.value: s for s in OperationStatus}
_FAULT: Final[dict[int, FaultStatus]] = {s.value: s for s in FaultStatus}


@dataclass(frozen=True, slots=True)
class InstallationLocation:
    """0x81 (§A.7): the raw code, plus the 16 position bytes when the code is 0x01."""

    code: int
    position: bytes | None = None

    @property
    def is_set(self) -> bool:
        """False for 0x00 (not set)."""
        return self.code != LOCATION_NOT_SET

    @property
    def is_fixed(self) -> bool:
        """False for 0xFF (not fixed)."""
        return self.code != LOCATION_NOT_FIXED

    @property
    def is_free_definition(self) -> bool:
        """True for codes with bit 7 set (0x80..0xFE), outside the ``0LLLLNNN`` bitmap."""
        return 0x80 <= self.code < LOCATION_NOT_FIXED

    @property
    def location(self) -> LocationCode | None:
        """The location code L (bits 6..3) when it names a place, else None."""
        if self.code & 0x80:
            return None
        code = self.code >> 3
        return LocationCode(code) if code else None

    @property
    def number(self) -> int | None:
        """The location number N (bits 2..0) when ``location`` names a place, else None."""
        return self.code & 0x07 if self.location is not None else None

    def __str__(self) -> str:
        if self.code == LOCATION_NOT_SET:
            return "not set"
        if self.code == LOCATION_NOT_FIXED:
            return "not fixed"
        if self.code == LOCATION_POSITION and self.position is not None:
            return f"position {self.position.hex().upper()}"
        location = self.location
        if location is not None:
            return f"{location.name.lower()} {self.code & 0x07}"
        if self.is_free_definition:
            return f"free definition 0x{self.code:02X}"
        return f"reserved 0x{self.code:02X}"


@dataclass(frozen=True, slots=True)
class StandardVersion:
    """0x82 of a device (§A.7): Appendix release letter as on the wire ('a', 'B'…'Z'), revision."""

    release: str
    revision: int

    @property
    def release_letter(self) -> str:
        """The release as an uppercase letter ('A' for the lowercase 'a' of Release A)."""
        return self.release.upper()

    def __str__(self) -> str:
        return f"Release {self.release_letter} rev {self.revision}"


@dataclass(frozen=True, slots=True)
class ManufacturerCode:
    """0x8A (§A.7): the 3-byte maker code, e.g. 0x000016 (Toshiba)."""

    code: int

    def __str__(self) -> str:
        return f"0x{self.code:06X}"


SuperClassValue = (
    int
    | InstallationLocation
    | StandardVersion
    | ManufacturerCode
    | str
    | time
    | date
    | tuple[int, ...]
    | None
)


def _int_of(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} is an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise UsageError(f"{what} is {low}..{high}, got {value}")
    return value


# --- 0x80 / 0x88 -------------------------------------------------------------------------------


def decode_operation_status(edt: bytes, _scale: EnergyScale | None = None) -> OperationStatus | int:
    """0x30/0x31 as OperationStatus; any other code is kept as a plain int (tolerated)."""
    if len(edt) != 1:
        raise size_error(0x80, edt, 1, 1)
    code = edt[0]
    return _STATUS.get(code, code)


def decode_fault_status(edt: bytes, _scale: EnergyScale | None = None) -> FaultStatus | int:
    """0x41/0x42 as FaultStatus; any other code is kept as a plain int (tolerated)."""
    if len(edt) != 1:
        raise size_error(0x88, edt, 1, 1)
    code = edt[0]
    return _FAULT.get(code, code)


def encode_byte(value: object) -> bytes:
    """One code byte (0..255), e.g. an OperationStatus or FaultStatus."""
    return bytes((_int_of(value, "a one-byte code", 0, 0xFF),))


# --- 0x81 --------------------------------------------------------------------------------------


def decode_installation_location(
    edt: bytes, _scale: EnergyScale | None = None, *, epc: int = 0x81
) -> InstallationLocation:
    """One code byte, or 0x01 followed by 16 bytes of position information (§A.7)."""
    if not edt:
        raise size_error(epc, edt, 1, 1 + LOCATION_POSITION_LEN)
    code = edt[0]
    if code == LOCATION_POSITION:
        if len(edt) != 1 + LOCATION_POSITION_LEN:
            raise EchonetDecodeError(
                "location 0x01 (position information) needs 16 more bytes",
                offset=len(edt),
                epc=epc,
            )
        return InstallationLocation(code, bytes(edt[1:]))
    if len(edt) != 1:
        raise EchonetDecodeError(
            f"location 0x{code:02X} is a single byte, EDT has {len(edt)}", offset=1, epc=epc
        )
    return InstallationLocation(code)


def encode_installation_location(value: object) -> bytes:
    """One code byte, or 0x01 + the 16 position bytes."""
    if not isinstance(value, InstallationLocation):
        raise UsageError("0x81 takes an InstallationLocation")
    code = _int_of(value.code, "an installation location code", 0, 0xFF)
    if code == LOCATION_POSITION:
        if not isinstance(value.position, bytes) or len(value.position) != LOCATION_POSITION_LEN:
            raise UsageError("location 0x01 carries exactly 16 bytes of position information")
        return bytes((code,)) + value.position
    if value.position is not None:
        raise UsageError("only location 0x01 carries position information")
    return bytes((code,))


# --- 0x82 (device object) ------------------------------------------------------------------------


def decode_standard_version(edt: bytes, _scale: EnergyScale | None = None) -> StandardVersion:
    """``00 00 <release letter> <revision>`` (§A.7)."""
    if len(edt) != 4:
        raise size_error(0x82, edt, 4, 4)
    if edt[0] or edt[1]:
        raise EchonetDecodeError(
            "standard version bytes 1-2 must be 00 00", offset=0 if edt[0] else 1, epc=0x82
        )
    letter = edt[2]
    if letter != RELEASE_A and not _RELEASE_B <= letter <= _RELEASE_Z:
        raise EchonetDecodeError(
            f"0x{letter:02X} is not a release letter ('a', 'B'..'Z')", offset=2, epc=0x82
        )
    return StandardVersion(chr(letter), edt[3])


def encode_standard_version(value: object) -> bytes:
    """``00 00 <letter> <revision>``; Release A must be given as 'a' or 'A' (sent as 'a')."""
    if not isinstance(value, StandardVersion):
        raise UsageError("0x82 takes a StandardVersion")
    release = value.release
    if not isinstance(release, str):
        raise UsageError(f"the release is a letter, got {release!r}")
    if release == "A":
        release = "a"
    if len(release) != 1 or (release != "a" and not "B" <= release <= "Z"):
        raise UsageError(f"release must be 'a' or 'B'..'Z', got {value.release!r}")
    revision = _int_of(value.revision, "the revision", 0, 0xFF)
    return bytes((0, 0, ord(release), revision))


# --- 0x8A / 0x8D ------------------------------------------------------------------------------


def decode_manufacturer_code(edt: bytes, _scale: EnergyScale | None = None) -> ManufacturerCode:
    """The 3-byte maker code."""
    if len(edt) != 3:
        raise size_error(0x8A, edt, 3, 3)
    return ManufacturerCode(int.from_bytes(edt, "big"))


def encode_manufacturer_code(value: object) -> bytes:
    """3 bytes, big-endian."""
    if not isinstance(value, ManufacturerCode):
        raise UsageError("0x8A takes a ManufacturerCode")
    return _int_of(value.code, "a maker code", 0, 0xFFFFFF).to_bytes(3, "big")


def decode_production_number(edt: bytes, _scale: EnergyScale | None = None) -> str:
    """12 ASCII bytes with the NUL padding stripped (§A.7)."""
    if len(edt) != PRODUCTION_NUMBER_LEN:
        raise size_error(0x8D, edt, PRODUCTION_NUMBER_LEN, PRODUCTION_NUMBER_LEN)
    for i, byte in enumerate(edt):
        if byte > 0x7F:
            raise EchonetDecodeError(
                f"production number byte 0x{byte:02X} is not ASCII", offset=i, epc=0x8D
            )
    return edt.decode("ascii").rstrip("\0")


def encode_production_number(value: object) -> bytes:
    """ASCII padded with NULs to 12 bytes."""
    if not isinstance(value, str):
        raise UsageError("0x8D takes a str")
    if not value.isascii() or len(value) > PRODUCTION_NUMBER_LEN or value.endswith("\0"):
        raise UsageError("a production number is at most 12 ASCII characters, no trailing NUL")
    return value.encode("ascii").ljust(PRODUCTION_NUMBER_LEN, b"\0")


# --- 0x97 / 0x98 ------------------------------------------------------------------------------


def decode_current_time(edt: bytes, _scale: EnergyScale | None = None) -> time | None:
    """``hh mm`` (0..23, 0..59); FFFF = unset → None (§A.7)."""
    if len(edt) != 2:
        raise size_error(0x97, edt, 2, 2)
    return decode_time(edt, 0, 0x97)


def encode_current_time(value: object) -> bytes:
    """``hh mm``."""
    if value is not None and not isinstance(value, time):
        raise UsageError("0x97 takes a datetime.time")
    return encode_time(value)


def decode_current_date(edt: bytes, _scale: EnergyScale | None = None) -> date | None:
    """``YYYY MM DD``; FFFFFFFF = unset → None (§A.7)."""
    if len(edt) != 4:
        raise size_error(0x98, edt, 4, 4)
    return decode_date(edt, 0, 0x98)


def encode_current_date(value: object) -> bytes:
    """``YYYY MM DD``."""
    if value is not None and not isinstance(value, date):
        raise UsageError("0x98 takes a datetime.date")
    return encode_date(value)


# --- 0x9D / 0x9E / 0x9F -----------------------------------------------------------------------


def _map_decoder(epc: int) -> Callable[[bytes, EnergyScale | None], tuple[int, ...]]:
    def decode(edt: bytes, _scale: EnergyScale | None = None) -> tuple[int, ...]:
        # The map checks its own size: 1 + N bytes (N < 16) or 17 (§A.5).
        return decode_property_map(edt, epc=epc)

    decode.__doc__ = f"The EPCs of property map 0x{epc:02X}, ascending (§A.5)."
    return decode


def encode_map(value: object) -> bytes:
    """The map of a collection of EPCs (§A.5)."""
    if not isinstance(value, tuple | list | set | frozenset):
        raise UsageError("a property map takes a collection of EPCs")
    codes: list[int] = [_int_of(code, "an EPC", 0x80, 0xFF) for code in value]
    return encode_property_map(codes)


def super_class_specs() -> dict[int, PropertySpec[SuperClassValue]]:
    """Fresh specs of the device super class EPCs (§A.7), for class tables to extend."""
    # fmt: off
    specs: list[PropertySpec[SuperClassValue]] = [
        PropertySpec(
            0x80, "operation_status", "Operation status", "動作状態", 1, 1,
            decode_operation_status, encode_byte,
        ),
        PropertySpec(
            0x81, "installation_location", "Installation location", "設置場所", 1, 17,
            decode_installation_location, encode_installation_location,
        ),
        PropertySpec(
            0x82, "standard_version", "Standard version information", "規格Version情報", 4, 4,
            decode_standard_version, encode_standard_version,
        ),
        PropertySpec(
            0x88, "fault_status", "Fault status", "異常発生状態", 1, 1,
            decode_fault_status, encode_byte,
        ),
        PropertySpec(
            0x8A, "manufacturer_code", "Manufacturer code", "メーカコード", 3, 3,
            decode_manufacturer_code, encode_manufacturer_code,
        ),
        PropertySpec(
            0x8D, "production_number", "Production number", "製造番号", 12, 12,
            decode_production_number, encode_production_number,
        ),
        PropertySpec(
            0x97, "current_time", "Current time setting", "現在時刻設定", 2, 2,
            decode_current_time, encode_current_time,
        ),
        PropertySpec(
            0x98, "current_date", "Current date setting", "現在年月日設定", 4, 4,
            decode_current_date, encode_current_date,
        ),
        PropertySpec(
            0x9D, "inf_property_map", "Status change announcement property map",
            "状変アナウンスプロパティマップ", 1, 17, _map_decoder(0x9D), encode_map,
        ),
        PropertySpec(
            0x9E, "set_property_map", "Set property map", "Setプロパティマップ", 1, 17,
            _map_decoder(0x9E), encode_map,
        ),
        PropertySpec(
            0x9F, "get_property_map", "Get property map", "Getプロパティマップ", 1, 17,
            _map_decoder(0x9F), encode_map,
        ),
    ]
    # fmt: on
    return {spec.epc: spec for spec in specs}


SUPER_CLASS_PROPERTIES: Final[Mapping[int, PropertySpec[SuperClassValue]]] = MappingProxyType(
    super_class_specs()
)
