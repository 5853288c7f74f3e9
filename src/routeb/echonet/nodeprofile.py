"""The node profile object 0x0EF001 (protocol.md §A.6): typed decode and encode.

0x80 operating status, 0x82 version information, 0x83 identification number, 0x88 fault
status, 0x8A maker code, 0x8D production number, 0x9D–0x9F property maps, 0xBF unique
identifier, 0xD3/0xD4 instance and class counts, 0xD5/0xD6 instance lists and 0xD7 class list.
Unknown EPCs decode to their raw bytes (tolerated, not fatal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from routeb.echonet.energy import EnergyScale
from routeb.echonet.frame import EOJ, _eoj
from routeb.echonet.objects import (
    CONTROLLER_EOJ,
    NODE_PROFILE_CLASS,
    NODE_PROFILE_EOJ,
    SMART_METER_EOJ,
)
from routeb.echonet.spec import PropertySpec, decoders_of, find_spec, size_error
from routeb.echonet.superclass import SuperClassValue, super_class_specs
from routeb.errors import EchonetDecodeError, UsageError

__all__ = [
    "CONTROLLER_EOJ",
    "FORMAT_ARBITRARY",
    "FORMAT_SPECIFIED",
    "NODE_PROFILE_CLASS",
    "NODE_PROFILE_DECODERS",
    "NODE_PROFILE_EOJ",
    "NODE_PROFILE_PROPERTIES",
    "SMART_METER_EOJ",
    "IdentificationNumber",
    "NodeProfileValue",
    "VersionInfo",
    "decode_node_profile_property",
    "lookup_node_profile_property",
]

# protocol.md §A.6 0x82: byte 3 is the message-format bitmap.
FORMAT_SPECIFIED: Final = 0x01
FORMAT_ARBITRARY: Final = 0x02
# protocol.md §A.6 0x83: 0xFE + 3-byte maker code + 13 unique bytes = 17 bytes.
ID_PREFIX: Final = 0xFE
ID_UNIQUE_LEN: Final = 13
# protocol.md §A.6: D5/D6 list at most 84 EOJs (1 + 3 × 84 = 253 bytes); D7 at most 8 classes.
MAX_INSTANCES: Final = 84
MAX_CLASSES: Final = 8
# protocol.md §A.6 0xD4: 1..253 classes, the node profile class included.
MAX_CLASS_COUNT: Final = 253


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """0x82 of the node profile (§A.6): ECHONET Lite version and supported message formats."""

    major: int
    minor: int
    formats: int = FORMAT_SPECIFIED

    @property
    def specified_format(self) -> bool:
        """Supports the specified message format (format 1, EHD2 0x81)."""
        return bool(self.formats & FORMAT_SPECIFIED)

    @property
    def arbitrary_format(self) -> bool:
        """Supports the arbitrary message format (format 2, EHD2 0x82)."""
        return bool(self.formats & FORMAT_ARBITRARY)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor:02d}"


@dataclass(frozen=True, slots=True)
class IdentificationNumber:
    """0x83 of the node profile (§A.6): 0xFE, the maker code and 13 unique bytes."""

    maker_code: int
    unique: bytes

    def __str__(self) -> str:
        return f"FE{self.maker_code:06X}{self.unique.hex().upper()}"


NodeProfileValue = SuperClassValue | VersionInfo | IdentificationNumber | tuple[EOJ, ...] | bytes


def _check_int(value: object, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{what} is an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise UsageError(f"{what} is {low}..{high}, got {value}")
    return value


def _decode_version(edt: bytes, _scale: EnergyScale | None = None) -> VersionInfo:
    if len(edt) != 4:
        raise size_error(0x82, edt, 4, 4)
    if edt[3]:
        raise EchonetDecodeError("version information byte 4 must be 0x00", offset=3, epc=0x82)
    return VersionInfo(edt[0], edt[1], edt[2])


def _encode_version(value: object) -> bytes:
    if not isinstance(value, VersionInfo):
        raise UsageError("node profile 0x82 takes a VersionInfo")
    return bytes(
        (
            _check_int(value.major, "the major version", 0, 0xFF),
            _check_int(value.minor, "the minor version", 0, 0xFF),
            _check_int(value.formats, "the format bitmap", 0, 0xFF),
            0,
        )
    )


def _decode_identification(edt: bytes, _scale: EnergyScale | None = None) -> IdentificationNumber:
    if len(edt) != 4 + ID_UNIQUE_LEN:
        raise size_error(0x83, edt, 4 + ID_UNIQUE_LEN, 4 + ID_UNIQUE_LEN)
    if edt[0] != ID_PREFIX:
        raise EchonetDecodeError(
            f"identification number starts with 0x{edt[0]:02X}, expected 0xFE", offset=0, epc=0x83
        )
    return IdentificationNumber(edt[1] << 16 | edt[2] << 8 | edt[3], bytes(edt[4:]))


def _encode_identification(value: object) -> bytes:
    if not isinstance(value, IdentificationNumber):
        raise UsageError("node profile 0x83 takes an IdentificationNumber")
    maker = _check_int(value.maker_code, "the maker code", 0, 0xFFFFFF)
    if not isinstance(value.unique, bytes) or len(value.unique) != ID_UNIQUE_LEN:
        raise UsageError("an identification number carries exactly 13 unique bytes")
    return bytes((ID_PREFIX,)) + maker.to_bytes(3, "big") + value.unique


def _decode_unique_identifier(edt: bytes, _scale: EnergyScale | None = None) -> int:
    if len(edt) != 2:
        raise size_error(0xBF, edt, 2, 2)
    return edt[0] << 8 | edt[1]


def _encode_u16(value: object) -> bytes:
    return _check_int(value, "a 2-byte value", 0, 0xFFFF).to_bytes(2, "big")


def _decode_instance_count(edt: bytes, _scale: EnergyScale | None = None) -> int:
    if len(edt) != 3:
        raise size_error(0xD3, edt, 3, 3)
    return edt[0] << 16 | edt[1] << 8 | edt[2]


def _encode_instance_count(value: object) -> bytes:
    return _check_int(value, "the instance count", 0, 0xFFFFFF).to_bytes(3, "big")


def _decode_class_count(edt: bytes, _scale: EnergyScale | None = None) -> int:
    if len(edt) != 2:
        raise size_error(0xD4, edt, 2, 2)
    count = edt[0] << 8 | edt[1]
    if not 1 <= count <= MAX_CLASS_COUNT:
        raise EchonetDecodeError(f"class count {count} is outside 1..253", offset=0, epc=0xD4)
    return count


def _encode_class_count(value: object) -> bytes:
    return _check_int(value, "the class count", 1, MAX_CLASS_COUNT).to_bytes(2, "big")


def _instance_list_decoder(epc: int) -> Callable[[bytes, EnergyScale | None], tuple[EOJ, ...]]:
    def decode(edt: bytes, _scale: EnergyScale | None = None) -> tuple[EOJ, ...]:
        # §A.6: N (0..84), then N × EOJ (3 bytes each); the length must match N exactly.
        if not edt:
            raise size_error(epc, edt, 1, 1 + 3 * MAX_INSTANCES)
        count = edt[0]
        if count > MAX_INSTANCES:
            raise EchonetDecodeError(
                f"instance list announces {count} EOJs, at most 84", offset=0, epc=epc
            )
        if len(edt) != 1 + 3 * count:
            raise EchonetDecodeError(
                f"instance list of {count} EOJs must be {1 + 3 * count} bytes, got {len(edt)}",
                offset=min(len(edt), 1 + 3 * count),
                epc=epc,
            )
        if count == 1:  # a meter's list: 01 028801 (§A.6)
            return (_eoj(edt[1], edt[2], edt[3]),)
        return tuple(_eoj(edt[i], edt[i + 1], edt[i + 2]) for i in range(1, len(edt), 3))

    decode.__doc__ = f"The EOJs of instance list 0x{epc:02X} (§A.6)."
    return decode


def _encode_instance_list(value: object) -> bytes:
    if not isinstance(value, tuple | list):
        raise UsageError("an instance list takes a sequence of EOJs")
    if len(value) > MAX_INSTANCES:
        raise UsageError("an instance list holds at most 84 EOJs")
    out = bytearray((len(value),))
    for eoj in value:
        if not isinstance(eoj, EOJ):
            raise UsageError("an instance list holds EOJs")
        out += eoj.to_bytes()
    return bytes(out)


def _decode_class_list(edt: bytes, _scale: EnergyScale | None = None) -> tuple[int, ...]:
    # §A.6 0xD7: N (up to 8), then N × class code (2 bytes); node profile class excluded.
    if not edt:
        raise size_error(0xD7, edt, 1, 1 + 2 * MAX_CLASSES)
    count = edt[0]
    if count > MAX_CLASSES:
        raise EchonetDecodeError(f"class list announces {count} classes, at most 8", epc=0xD7)
    if len(edt) != 1 + 2 * count:
        raise EchonetDecodeError(
            f"class list of {count} classes must be {1 + 2 * count} bytes, got {len(edt)}",
            offset=min(len(edt), 1 + 2 * count),
            epc=0xD7,
        )
    return tuple(edt[i] << 8 | edt[i + 1] for i in range(1, len(edt), 2))


def _encode_class_list(value: object) -> bytes:
    if not isinstance(value, tuple | list):
        raise UsageError("a class list takes a sequence of class codes (e.g. 0x0288)")
    if len(value) > MAX_CLASSES:
        raise UsageError("a class list holds at most 8 classes")
    out = bytearray((len(value),))
    for code in value:
        out += _check_int(code, "a class code", 0, 0xFFFF).to_bytes(2, "big")
    return bytes(out)


def _node_profile_specs() -> dict[int, PropertySpec[NodeProfileValue]]:
    base = super_class_specs()
    specs: dict[int, PropertySpec[NodeProfileValue]] = {
        epc: base[epc] for epc in (0x88, 0x8A, 0x8D, 0x9D, 0x9E, 0x9F)
    }
    op = base[0x80]
    # fmt: off
    extra: list[PropertySpec[NodeProfileValue]] = [
        PropertySpec(
            0x80, "operating_status", "Operating status", "動作状態", 1, 1,
            op.decoder, op.encoder,
        ),
        PropertySpec(
            0x82, "version_information", "Version information", "Version情報", 4, 4,
            _decode_version, _encode_version,
        ),
        PropertySpec(
            0x83, "identification_number", "Identification number", "識別番号", 17, 17,
            _decode_identification, _encode_identification,
        ),
        PropertySpec(
            0xBF, "unique_identifier", "Unique identifier data", "個体識別情報", 2, 2,
            _decode_unique_identifier, _encode_u16,
        ),
        PropertySpec(
            0xD3, "self_node_instances", "Number of self-node instances",
            "自ノードインスタンス数", 3, 3, _decode_instance_count, _encode_instance_count,
        ),
        PropertySpec(
            0xD4, "self_node_classes", "Number of self-node classes", "自ノードクラス数", 2, 2,
            _decode_class_count, _encode_class_count,
        ),
        PropertySpec(
            0xD5, "instance_list_notification", "Instance list notification",
            "インスタンスリスト通知", 1, 253, _instance_list_decoder(0xD5), _encode_instance_list,
        ),
        PropertySpec(
            0xD6, "self_node_instance_list", "Self-node instance list S",
            "自ノードインスタンスリストS", 1, 253, _instance_list_decoder(0xD6),
            _encode_instance_list,
        ),
        PropertySpec(
            0xD7, "self_node_class_list", "Self-node class list S", "自ノードクラスリストS",
            1, 17, _decode_class_list, _encode_class_list,
        ),
    ]
    # fmt: on
    for spec in extra:
        specs[spec.epc] = spec
    return dict(sorted(specs.items()))


NODE_PROFILE_PROPERTIES: Final[Mapping[int, PropertySpec[NodeProfileValue]]] = MappingProxyType(
    _node_profile_specs()
)


NODE_PROFILE_DECODERS: Final[
    Mapping[int, Callable[[bytes, EnergyScale | None], NodeProfileValue]]
] = MappingProxyType(decoders_of(NODE_PROFILE_PROPERTIES))
"""EPC → decoder (``spec.decoder``): one call per property when decoding whole frames."""


def decode_node_profile_property(epc: int, edt: bytes) -> NodeProfileValue:
    """The typed value of a node-profile EDT; unknown EPCs give their raw bytes."""
    decode = NODE_PROFILE_DECODERS.get(epc)
    if decode is None:
        return bytes(edt)
    return decode(edt, None)


def lookup_node_profile_property(text: str) -> PropertySpec[NodeProfileValue]:
    """The node-profile spec named by ``0xD5``, ``d5`` or its key."""
    return find_spec(text, NODE_PROFILE_PROPERTIES)
