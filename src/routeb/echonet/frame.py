"""ECHONET Lite frames: a strict, total, sans-IO codec (protocol.md §A.1–§A.4).

``decode_frame`` returns a :class:`Frame` (EHD2 0x81, specified message format) or a
:class:`Format2Frame` (EHD2 0x82, arbitrary format, kept opaque) and raises
:class:`~routeb.errors.EchonetDecodeError` — and nothing else — for any other input.
``encode_frame`` is its exact inverse.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from operator import itemgetter
from typing import TYPE_CHECKING, Final, NamedTuple

from routeb.errors import EchonetDecodeError, UsageError

__all__ = [
    "EHD1_ECHONET_LITE",
    "EHD2_FORMAT1",
    "EHD2_FORMAT2",
    "EOJ",
    "ESV",
    "Format2Frame",
    "Frame",
    "Property",
    "decode_frame",
    "encode_frame",
]

# protocol.md §A.1: EHD1 0x10 = ECHONET Lite; EHD2 0x81 = format 1, 0x82 = format 2.
EHD1_ECHONET_LITE: Final = 0x10
EHD2_FORMAT1: Final = 0x81
EHD2_FORMAT2: Final = 0x82
# protocol.md §A.1: EHD(2) + TID(2) + SEOJ(3) + DEOJ(3) + ESV(1) + OPC(1).
_HEADER_LEN: Final = 12
_MAX_OPC: Final = 255  # OPC is one byte, 1..255 (§A.1)
_MAX_PDC: Final = 255  # PDC is one byte (§A.1)


class ESV(IntEnum):
    """ECHONET Lite service codes (protocol.md §A.2)."""

    SETI = 0x60
    SETC = 0x61
    GET = 0x62
    INF_REQ = 0x63
    SETGET = 0x6E
    SET_RES = 0x71
    GET_RES = 0x72
    INF = 0x73
    INFC = 0x74
    INFC_RES = 0x7A
    SETGET_RES = 0x7E
    SETI_SNA = 0x50
    SETC_SNA = 0x51
    GET_SNA = 0x52
    INF_SNA = 0x53
    SETGET_SNA = 0x5E

    @property
    def is_sna(self) -> bool:
        """True for the "not possible" answers 0x50–0x5F (§A.2)."""
        return 0x50 <= self <= 0x5F

    @property
    def is_setget(self) -> bool:
        """True for the three SetGet codes, whose EDATA carries two property lists (§A.4)."""
        return self in _SETGET_ESVS


_SETGET_ESVS: Final = frozenset({ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA})
_ESV_BY_CODE: Final[dict[int, ESV]] = {e.value: e for e in ESV}


@dataclass(frozen=True, slots=True, order=True)
class EOJ:
    """An ECHONET object: class group, class code and instance (one byte each)."""

    class_group: int
    class_code: int
    instance: int

    def __post_init__(self) -> None:
        for part in (self.class_group, self.class_code, self.instance):
            if not 0 <= part <= 0xFF:
                raise UsageError(f"EOJ bytes must be 0..255, got {part}")

    @classmethod
    def from_bytes(cls, data: bytes) -> EOJ:
        """The EOJ in three bytes."""
        if len(data) != 3:
            raise UsageError("an EOJ is exactly 3 bytes")
        return _eoj(data[0], data[1], data[2])

    @classmethod
    def parse(cls, text: str) -> EOJ:
        """Parse ``028801`` or ``0x028801``."""
        raw = text.strip().lower().removeprefix("0x")
        if len(raw) != 6:
            raise UsageError(f"an EOJ is 6 hex digits, got {text!r}")
        try:
            return cls.from_bytes(bytes.fromhex(raw))
        except ValueError as exc:
            raise UsageError(f"an EOJ is 6 hex digits, got {text!r}") from exc

    @property
    def class_id(self) -> int:
        """Class group and class code as one 16-bit number, e.g. 0x0288."""
        return self.class_group << 8 | self.class_code

    def to_bytes(self) -> bytes:
        """The three wire bytes."""
        return bytes((self.class_group, self.class_code, self.instance))

    def __str__(self) -> str:
        return f"{self.class_group:02X}{self.class_code:02X}{self.instance:02X}"


# Decoding creates many EOJs that are all alike (05FF01, 028801, 0EF001): share them.
_EOJ_CACHE: dict[int, EOJ] = {}
_EOJ_CACHE_MAX: Final = 4096


def _eoj(a: int, b: int, c: int) -> EOJ:
    key = a << 16 | b << 8 | c
    eoj = _EOJ_CACHE.get(key)
    if eoj is None:
        eoj = EOJ(a, b, c)
        if len(_EOJ_CACHE) < _EOJ_CACHE_MAX:
            _EOJ_CACHE[key] = eoj
    return eoj


class _PropertyFields(NamedTuple):
    epc: int
    edt: bytes = b""


class Property(_PropertyFields):
    """One ``EPC PDC EDT`` triple; PDC is ``len(edt)`` (0 for a Get request or an SNA entry).

    A tuple underneath: decoding builds thousands per second, and tuples are the cheapest
    immutable value Python has. Public construction is validated; the decoder, whose input is
    already checked byte by byte, builds them directly.
    """

    __slots__ = ()

    def __new__(cls, epc: int, edt: bytes = b"") -> Property:
        if isinstance(epc, bool) or not isinstance(epc, int) or not 0 <= epc <= 0xFF:
            raise UsageError(f"EPC must be 0..255, got {epc!r}")
        if not isinstance(edt, bytes):
            edt = bytes(edt)
        if len(edt) > _MAX_PDC:
            raise UsageError(f"EDT of EPC 0x{epc:02X} is longer than 255 bytes")
        return tuple.__new__(cls, (epc, edt))

    def __repr__(self) -> str:
        return f"Property(epc=0x{self.epc:02X}, edt={self.edt!r})"

    @property
    def pdc(self) -> int:
        """The property data counter."""
        return len(self.edt)


_tuple_new = tuple.__new__


_FrameTuple = tuple[int, EOJ, EOJ, ESV, tuple[Property, ...], tuple[Property, ...]]


class Frame(_FrameTuple):
    """A format-1 ECHONET Lite frame (protocol.md §A.1).

    ``properties`` is the only list for every ESV except SetGet / SetGet_Res / SetGet_SNA, where
    it is the Set list and ``get_properties`` is the Get list (§A.4). Both keep wire order and
    repeated EPCs. Like :class:`Property`, a validated tuple underneath: the decoder builds it
    with one ``tuple.__new__``, the cheapest way CPython has to make an immutable value.
    """

    __slots__ = ()
    __match_args__ = ("tid", "seoj", "deoj", "esv", "properties", "get_properties")

    if TYPE_CHECKING:
        tid: int
        seoj: EOJ
        deoj: EOJ
        esv: ESV
        properties: tuple[Property, ...]
        get_properties: tuple[Property, ...]
    else:
        tid = property(itemgetter(0), doc="Transaction ID, 0..65535.")
        seoj = property(itemgetter(1), doc="Source object.")
        deoj = property(itemgetter(2), doc="Destination object.")
        esv = property(itemgetter(3), doc="Service code.")
        properties = property(itemgetter(4), doc="The (Set) property list.")
        get_properties = property(itemgetter(5), doc="The Get list of SetGet ESVs, else ().")

    def __new__(
        cls,
        tid: int,
        seoj: EOJ,
        deoj: EOJ,
        esv: ESV,
        properties: Iterable[Property],
        get_properties: Iterable[Property] = (),
    ) -> Frame:
        if isinstance(tid, bool) or not isinstance(tid, int) or not 0 <= tid <= 0xFFFF:
            raise UsageError(f"TID must be 0..65535, got {tid!r}")
        if not isinstance(seoj, EOJ) or not isinstance(deoj, EOJ):
            raise UsageError("SEOJ and DEOJ must be EOJs")
        try:
            esv = ESV(esv)
        except ValueError:
            raise UsageError(f"unknown ESV {esv!r}") from None
        props = tuple(properties)
        get_props = tuple(get_properties)
        if esv in _SETGET_ESVS:
            if len(props) > _MAX_OPC or len(get_props) > _MAX_OPC:
                raise UsageError("a SetGet list holds at most 255 properties")
        else:
            if get_props:
                raise UsageError(f"{esv.name} carries no second property list")
            if not 1 <= len(props) <= _MAX_OPC:
                raise UsageError("a frame carries 1..255 properties")
        for prop in (*props, *get_props):
            if not isinstance(prop, Property):
                raise UsageError(f"frame properties must be Property, got {prop!r}")
        return _tuple_new(cls, (tid, seoj, deoj, esv, props, get_props))

    def __getnewargs__(self) -> _FrameTuple:
        return (self[0], self[1], self[2], self[3], self[4], self[5])

    def __repr__(self) -> str:
        return (
            f"Frame(tid={self[0]}, seoj={self[1]!r}, deoj={self[2]!r}, esv=ESV.{self[3].name}, "
            f"properties={self[4]!r}, get_properties={self[5]!r})"
        )

    def first(self, epc: int) -> Property | None:
        """The first property with this EPC, or None."""
        for prop in self.properties:
            if prop.epc == epc:
                return prop
        return None


@dataclass(frozen=True, slots=True)
class Format2Frame:
    """A format-2 (arbitrary message format) frame: TID and an opaque payload (§A.1)."""

    tid: int
    payload: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.tid <= 0xFFFF:
            raise UsageError(f"TID must be 0..65535, got {self.tid}")


def _decode_properties(
    data: bytes, pos: int, count: int, end: int
) -> tuple[tuple[Property, ...], int]:
    """``count`` × ``EPC PDC EDT`` from ``pos``; the properties and the offset after them."""
    items: list[Property] = []
    append = items.append
    prop_new = _tuple_new
    try:
        for _ in range(count):
            stop = pos + 2 + data[pos + 1]
            if stop > end:
                raise EchonetDecodeError(
                    f"PDC {data[pos + 1]} of EPC 0x{data[pos]:02X} runs past the end of the frame",
                    offset=pos + 1,
                )
            append(prop_new(Property, (data[pos], data[pos + 2 : stop])))
            pos = stop
    except IndexError:
        # data[pos + 1] past the end: the EPC or PDC itself is missing.
        raise EchonetDecodeError(
            "frame ends before the EPC/PDC of a property the OPC announced", offset=pos
        ) from None
    return tuple(items), pos


# Decoding meets the same few headers over and over (028801 → 05FF01 Get_Res, 0EF001 INF…):
# SEOJ DEOJ ESV (frame bytes 4..10) → the validated (SEOJ, DEOJ, ESV), bounded like the EOJs.
_HEADER_CACHE: dict[bytes, tuple[EOJ, EOJ, ESV]] = {}
_HEADER_CACHE_MAX: Final = 4096


def _header(key: bytes) -> tuple[EOJ, EOJ, ESV]:
    esv = _ESV_BY_CODE.get(key[6])
    if esv is None:
        raise EchonetDecodeError(f"unknown ESV 0x{key[6]:02X}", offset=10)
    header = (_eoj(key[0], key[1], key[2]), _eoj(key[3], key[4], key[5]), esv)
    if len(_HEADER_CACHE) < _HEADER_CACHE_MAX:
        _HEADER_CACHE[key] = header
    return header


def decode_frame(data: bytes | bytearray | memoryview) -> Frame | Format2Frame:
    """Decode one ECHONET Lite frame strictly; raise EchonetDecodeError for anything else."""
    if type(data) is not bytes:
        data = bytes(data)
    end = len(data)
    if end < 4:
        raise EchonetDecodeError("frame shorter than EHD1 EHD2 TID", offset=end)
    if data[0] != EHD1_ECHONET_LITE:
        raise EchonetDecodeError(f"EHD1 0x{data[0]:02X} is not ECHONET Lite (0x10)", offset=0)
    ehd2 = data[1]
    if ehd2 != EHD2_FORMAT1:
        if ehd2 == EHD2_FORMAT2:
            return Format2Frame(data[2] << 8 | data[3], data[4:])
        raise EchonetDecodeError(f"EHD2 0x{ehd2:02X} is neither 0x81 nor 0x82", offset=1)
    if end < _HEADER_LEN:
        raise EchonetDecodeError("EDATA header truncated (SEOJ DEOJ ESV OPC)", offset=end)
    key = data[4:11]
    header = _HEADER_CACHE.get(key) or _header(key)
    esv = header[2]
    opc = data[11]
    if esv in _SETGET_ESVS:
        props, pos = _decode_properties(data, _HEADER_LEN, opc, end)
        if pos >= end:
            raise EchonetDecodeError("SetGet frame ends before OPCGet", offset=pos)
        get_props, pos = _decode_properties(data, pos + 1, data[pos], end)
    elif opc == 1 and end >= _HEADER_LEN + 2 and end == _HEADER_LEN + 2 + data[13]:
        # The commonest frame of all, one property filling the rest exactly (§A.1).
        props = (_tuple_new(Property, (data[12], data[14:])),)
        get_props = ()
        pos = end
    else:
        if opc == 0:
            raise EchonetDecodeError("OPC is 0; a frame carries 1..255 properties", offset=11)
        props, pos = _decode_properties(data, _HEADER_LEN, opc, end)
        get_props = ()
    if pos != end:
        raise EchonetDecodeError(
            f"{end - pos} trailing byte(s) after the properties the OPC announced", offset=pos
        )
    # Everything was checked above: build the Frame without re-running its validation.
    return _tuple_new(Frame, (data[2] << 8 | data[3], header[0], header[1], esv, props, get_props))


def _encode_properties(out: bytearray, props: Iterable[Property]) -> None:
    for prop in props:
        out.append(prop.epc)
        out.append(len(prop.edt))
        out += prop.edt


def encode_frame(frame: Frame | Format2Frame) -> bytes:
    """The exact wire bytes of a frame; ``decode_frame(encode_frame(f)) == f``."""
    if isinstance(frame, Format2Frame):
        return bytes((EHD1_ECHONET_LITE, EHD2_FORMAT2, frame.tid >> 8, frame.tid & 0xFF)) + (
            frame.payload
        )
    out = bytearray((EHD1_ECHONET_LITE, EHD2_FORMAT1, frame.tid >> 8, frame.tid & 0xFF))
    out += frame.seoj.to_bytes()
    out += frame.deoj.to_bytes()
    out.append(frame.esv)
    out.append(len(frame.properties))
    _encode_properties(out, frame.properties)
    if frame.esv in _SETGET_ESVS:
        out.append(len(frame.get_properties))
        _encode_properties(out, frame.get_properties)
    return bytes(out)
