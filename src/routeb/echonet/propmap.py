"""Property maps 0x9D / 0x9E / 0x9F (and 0x9B / 0x9C): list form and bitmap form (§A.5)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from routeb.errors import EchonetDecodeError, UsageError

__all__ = ["BITMAP_THRESHOLD", "decode_property_map", "encode_property_map"]

# protocol.md §A.5: fewer than 16 EPCs → list form (1 + N bytes); 16 or more → 17-byte bitmap.
BITMAP_THRESHOLD: Final = 16
_BITMAP_LEN: Final = 17
_MIN_EPC: Final = 0x80  # property maps only describe EPCs 0x80..0xFF (§A.5)


def decode_property_map(edt: bytes, *, epc: int | None = None) -> tuple[int, ...]:
    """The EPCs of a property map, ascending; EchonetDecodeError when the EDT is malformed."""
    if not edt:
        raise EchonetDecodeError("empty property map", offset=0, epc=epc)
    count = edt[0]
    if count < BITMAP_THRESHOLD:
        if len(edt) != 1 + count:
            raise EchonetDecodeError(
                f"list-form map of {count} EPCs must be {1 + count} bytes, got {len(edt)}",
                offset=min(len(edt), 1 + count),
                epc=epc,
            )
        epcs = edt[1:]
        for i, code in enumerate(epcs):
            if code < _MIN_EPC:
                raise EchonetDecodeError(
                    f"EPC 0x{code:02X} in a property map is below 0x80", offset=1 + i, epc=epc
                )
        if len(set(epcs)) != count:
            raise EchonetDecodeError("repeated EPC in a property map", offset=1, epc=epc)
        return tuple(sorted(epcs))
    if len(edt) != _BITMAP_LEN:
        raise EchonetDecodeError(
            f"bitmap property map must be 17 bytes, got {len(edt)}",
            offset=min(len(edt), _BITMAP_LEN),
            epc=epc,
        )
    found = sorted(
        (bit + 8) << 4 | low for low in range(16) for bit in range(8) if edt[1 + low] >> bit & 1
    )
    if len(found) != count:
        raise EchonetDecodeError(
            f"bitmap property map announces {count} EPCs but marks {len(found)}",
            offset=0,
            epc=epc,
        )
    return tuple(found)


def encode_property_map(epcs: Iterable[int]) -> bytes:
    """The EDT for a set of EPCs (0x80..0xFF): list form below 16 EPCs, bitmap from 16 up."""
    codes = sorted(set(epcs))
    for code in codes:
        if not _MIN_EPC <= code <= 0xFF:
            raise UsageError(f"a property map holds EPCs 0x80..0xFF, got 0x{code:02X}")
    if len(codes) < BITMAP_THRESHOLD:
        return bytes((len(codes), *codes))
    bitmap = bytearray(_BITMAP_LEN)
    bitmap[0] = len(codes)
    for code in codes:
        # byte index = low nibble, bit number = high nibble − 8 (§A.5)
        bitmap[1 + (code & 0x0F)] |= 1 << ((code >> 4) - 8)
    return bytes(bitmap)
