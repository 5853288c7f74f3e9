"""The lexical facts of SKSTACK IP that both sides share (protocol.md §D.0–§D.4), defined once.

The host side (command builders, output parser) and the module side (command parser, output
builders, the emulator) import these; none of them keeps a copy.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = [
    "CR",
    "CRLF",
    "HEX_BYTES",
    "HEX_DIGITS",
    "MAC_DIGITS",
    "MAX_CHANNEL",
    "MAX_DATALEN",
    "MAX_DURATION",
    "MAX_HANDLE",
    "MAX_PASSWORD",
    "MIN_CHANNEL",
    "MIN_LIFETIME",
    "RBID_LENGTH",
    "REGISTER_RANGES",
    "SCAN_MODES",
    "SEC_OPTIONS",
    "SIDES",
    "RegisterRange",
    "is_hex",
    "normalise_register",
]

# §D.0: lines end in CRLF; the product-setting commands (ROPT/WOPT/RUART/WUART) in CR alone.
CRLF: Final = b"\r\n"
CR: Final = b"\r"
# §D.0: numbers are hex without 0x; modules print upper case and accept either.
HEX_DIGITS: Final = frozenset("0123456789ABCDEFabcdef")
HEX_BYTES: Final = frozenset(b"0123456789ABCDEFabcdef")
# §D.1 SKLL64 / §D.4 SENDERLLA: a MAC (EUI-64) is 16 hex digits.
MAC_DIGITS: Final = 16
# §D.1 SKSETRBID: exactly 32 ASCII characters; SKSETPWD: LEN 1..0x20.
RBID_LENGTH: Final = 32
MAX_PASSWORD: Final = 32
# §D.1 SKSCAN: DURATION 0..14; mode 0 ED scan, 2 active with IE (B-route), 3 active without IE.
MAX_DURATION: Final = 14
SCAN_MODES: Final = (0, 2, 3)
# §D.1 SKSENDTO: HANDLE 1..6, SEC 0..2, DATALEN 0001..04D0 (also ERXUDP's, §D.4).
MAX_HANDLE: Final = 6
SEC_OPTIONS: Final = (0, 1, 2)
MAX_DATALEN: Final = 0x04D0
# §D.3: S02 channel 0x21..0x3C (33..60).
MIN_CHANNEL: Final = 0x21
MAX_CHANNEL: Final = 0x3C
# §D.3 S16: PANA session lifetime 0x3C..0xFFFFFFFF seconds.
MIN_LIFETIME: Final = 0x3C
# §D.2 / §D.1: SIDE 0 = B-route (Wi-SUN), 1 = HAN.
SIDES: Final = (0, 1)


def is_hex(text: str, width: int | None = None) -> bool:
    """Non-empty hex digits (either case), exactly ``width`` of them if given."""
    return bool(text) and set(text) <= HEX_DIGITS and (width is None or len(text) == width)


class RegisterRange(NamedTuple):
    """A register's documented range, and how many digits an int value is printed with."""

    low: int
    high: int
    digits: int


# §D.3: registers whose values have a documented range; any other takes 1..8 hex digits.
REGISTER_RANGES: Final[dict[str, RegisterRange]] = {
    "S02": RegisterRange(MIN_CHANNEL, MAX_CHANNEL, 2),
    "S03": RegisterRange(0, 0xFFFF, 4),
    "S15": RegisterRange(0, 1, 1),
    "S16": RegisterRange(MIN_LIFETIME, 0xFFFFFFFF, 1),
    "S17": RegisterRange(0, 1, 1),
    "SA0": RegisterRange(0, 1, 1),
    "SA1": RegisterRange(0, 1, 1),
    "SFE": RegisterRange(0, 1, 1),
    "SFF": RegisterRange(0, 1, 1),
}
ANY_REGISTER: Final = RegisterRange(0, 0xFFFFFFFF, 1)


def normalise_register(register: str) -> str | None:
    """``S2`` → ``S02``, ``sfe`` → ``SFE``; None when it is not a register name (§D.1 SKSREG)."""
    name = register.upper()
    if not (name.startswith("S") and 2 <= len(name) <= 3 and is_hex(name[1:])):
        return None
    return f"S{int(name[1:], 16):02X}"
