"""Field readers and writers shared by the J11 message modules (all big-endian, j11.md §2.1)."""

from __future__ import annotations

import ipaddress
from typing import Final

from routeb.errors import J11DecodeError, UsageError
from routeb.j11.codes import Result

MAC_SIZE: Final = 8  # EUI-64 (§4.1 0x000E)
IPV6_SIZE: Final = 16
_HEX: Final = frozenset("0123456789ABCDEF")


class Cursor:
    """Reads a message's data left to right; any shortfall is a J11DecodeError (0x11)."""

    __slots__ = ("_command", "_data", "_pos")

    def __init__(self, command: int, data: bytes) -> None:
        self._command = command
        self._data = data
        self._pos = 0

    def fail(self, reason: str, result: int = Result.INVALID_PARAMETER) -> J11DecodeError:
        """The error to raise for this message."""
        return J11DecodeError(self._command, reason, result=result)

    def take(self, count: int) -> bytes:
        end = self._pos + count
        if end > len(self._data):
            raise self.fail("data shorter than its layout", Result.PARAMETER_LENGTH)
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def s8(self) -> int:
        return int.from_bytes(self.take(1), "big", signed=True)

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "big")

    def mac(self) -> str:
        return self.take(MAC_SIZE).hex().upper()

    def ipv6(self) -> ipaddress.IPv6Address:
        return ipaddress.IPv6Address(self.take(IPV6_SIZE))

    def rest(self) -> bytes:
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def end(self) -> None:
        if self._pos != len(self._data):
            raise self.fail("data longer than its layout", Result.PARAMETER_LENGTH)


def u8(value: int, what: str) -> bytes:
    return _int(value, 1, what)


def u16(value: int, what: str) -> bytes:
    return _int(value, 2, what)


def u32(value: int, what: str) -> bytes:
    return _int(value, 4, what)


def _int(value: int, size: int, what: str) -> bytes:
    if not 0 <= value < 1 << (8 * size):
        raise UsageError(f"{what} is {8 * size} bits unsigned, got {value!r}")
    return value.to_bytes(size, "big")


def s8(value: int, what: str) -> bytes:
    """A signed byte, e.g. RSSI in dBm (§7.4)."""
    if not -128 <= value <= 127:
        raise UsageError(f"{what} is a signed byte, got {value!r}")
    return value.to_bytes(1, "big", signed=True)


def mac(value: str, what: str = "MAC address") -> bytes:
    """An EUI-64 given as 16 upper-case hex digits (as the rest of routeb prints MACs)."""
    if len(value) != 2 * MAC_SIZE or not set(value) <= _HEX:
        raise UsageError(f"{what} is 16 upper-case hex digits, got {value!r}")
    return bytes.fromhex(value)


def ipv6(value: ipaddress.IPv6Address) -> bytes:
    return value.packed


def flag(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"


def read_flag(cursor: Cursor, what: str) -> bool:
    value = cursor.u8()
    if value not in (0, 1):
        raise cursor.fail(f"{what} is 0x00 or 0x01")
    return value == 1
