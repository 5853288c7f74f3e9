"""Command builders (protocol.md §D.1): exact wire bytes, arguments checked, secrets masked.

Each builder returns a :class:`Command`: ``wire`` goes to the module, ``log_text`` to logs —
SKSETRBID and SKSETPWD arguments are masked there, and SKSENDTO payloads are summarised.
Numbers are uppercase hex without 0x (§D.0). ROPT/WOPT/RUART/WUART end with CR only.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from routeb._redact import MASK, Secret
from routeb.errors import UsageError

__all__ = [
    "Command",
    "ropt",
    "ruart",
    "skaddnbr",
    "skappver",
    "skinfo",
    "skjoin",
    "skll64",
    "skrejoin",
    "skreset",
    "skscan",
    "sksendto",
    "sksetpwd",
    "sksetrbid",
    "sksreg",
    "skterm",
    "skver",
    "wopt",
]

CRLF: Final = b"\r\n"
CR: Final = b"\r"
# §D.1 SKSETRBID: exactly 32 ASCII characters; SKSETPWD: LEN 1..0x20.
RBID_LENGTH: Final = 32
MAX_PASSWORD: Final = 32
# §D.1 SKSCAN: DURATION 0..14; mode 0 ED scan, 2 active with IE, 3 active without IE.
MAX_DURATION: Final = 14
SCAN_MODES: Final = (0, 2, 3)
# §D.1 SKSENDTO: HANDLE 1..6, SEC 0..2, DATALEN 0001..04D0.
MAX_HANDLE: Final = 6
MAX_SENDTO: Final = 0x04D0
# §D.3: S02 channel 0x21..0x3C.
MIN_CHANNEL: Final = 0x21
MAX_CHANNEL: Final = 0x3C


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name, the exact bytes, and a loggable text without secrets."""

    name: str
    wire: bytes
    log_text: str

    def __repr__(self) -> str:
        return f"Command({self.log_text!r})"


def _simple(*parts: str) -> Command:
    text = " ".join(parts)
    return Command(parts[0], text.encode("ascii") + CRLF, text)


def _check_address(address: str) -> str:
    try:
        ipaddress.IPv6Address(address.partition("%")[0])
    except ValueError:
        raise UsageError(f"not an IPv6 address: {address!r}") from None
    return address


def _check_mac(mac: str) -> str:
    if len(mac) != 16 or any(c not in "0123456789ABCDEFabcdef" for c in mac):
        raise UsageError("a MAC address (EUI-64) is 16 hex digits")
    return mac.upper()


def _side(side: int | None) -> list[str]:
    if side is None:
        return []
    if side not in (0, 1):
        raise UsageError("SIDE is 0 (B-route) or 1 (HAN)")
    return [str(side)]


def skver() -> Command:
    return _simple("SKVER")


def skappver() -> Command:
    return _simple("SKAPPVER")


def skinfo() -> Command:
    return _simple("SKINFO")


def skreset() -> Command:
    return _simple("SKRESET")


def skterm() -> Command:
    return _simple("SKTERM")


def skrejoin() -> Command:
    return _simple("SKREJOIN")


def sksreg(register: str, value: str | None = None) -> Command:
    """``SKSREG Sxx [value]`` (§D.3); the register as 'S2', 'S02', 'SFE', …; value in hex."""
    name = register.upper()
    if not (name.startswith("S") and 2 <= len(name) <= 3 and _hex(name[1:])):
        raise UsageError(f"not a register name: {register!r}")
    if value is None:
        return _simple("SKSREG", name)
    if not value or not _hex(value) or len(value) > 8:
        raise UsageError(f"register values are 1..8 hex digits, got {value!r}")
    return _simple("SKSREG", name, value.upper())


def _hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789ABCDEFabcdef" for c in text)


def sksetrbid(rbid: Secret) -> Command:
    """``SKSETRBID <ID>``: exactly 32 ASCII characters (never logged)."""
    value = rbid.reveal()
    if len(value) != RBID_LENGTH or not value.isascii() or not value.isprintable() or " " in value:
        raise UsageError("the B-route ID must be exactly 32 printable ASCII characters")
    return Command("SKSETRBID", f"SKSETRBID {value}".encode("ascii") + CRLF, f"SKSETRBID {MASK}")


def sksetpwd(password: Secret) -> Command:
    """``SKSETPWD <LEN hex> <PWD>`` (never logged)."""
    value = password.reveal()
    if not 1 <= len(value) <= MAX_PASSWORD or not value.isascii() or " " in value:
        raise UsageError("the password must be 1..32 ASCII characters without spaces")
    wire = f"SKSETPWD {len(value):X} {value}".encode("ascii") + CRLF
    return Command("SKSETPWD", wire, f"SKSETPWD {len(value):X} {MASK}")


def skscan(mode: int, mask: int, duration: int, *, side: int | None = None) -> Command:
    """``SKSCAN <MODE> <CHMASK 8 hex> <DURATION> [SIDE]`` (SIDE on BP35C0/C2 only)."""
    if mode not in SCAN_MODES:
        raise UsageError(f"scan mode is 0, 2 or 3, got {mode}")
    if not 0 <= mask <= 0xFFFFFFFF:
        raise UsageError("the channel mask is 32 bits")
    if not 0 <= duration <= MAX_DURATION:
        raise UsageError(f"scan duration is 0..14, got {duration}")
    return _simple("SKSCAN", str(mode), f"{mask:08X}", f"{duration:X}", *_side(side))


def skll64(mac: str) -> Command:
    """``SKLL64 <ADDR64>``: answers with the link-local address, no OK line."""
    return _simple("SKLL64", _check_mac(mac))


def skjoin(address: str) -> Command:
    return _simple("SKJOIN", _check_address(address))


def skaddnbr(address: str, mac: str) -> Command:
    return _simple("SKADDNBR", _check_address(address), _check_mac(mac))


def sksendto(
    handle: int,
    address: str,
    port: int,
    sec: int,
    data: bytes,
    *,
    side: int | None = None,
) -> Command:
    """``SKSENDTO HANDLE ADDR PORT SEC [SIDE] DATALEN `` + DATA (raw, no CRLF after it)."""
    if not 1 <= handle <= MAX_HANDLE:
        raise UsageError(f"UDP handle is 1..6, got {handle}")
    if not 0 <= port <= 0xFFFF:
        raise UsageError("port is 0..65535")
    if sec not in (0, 1, 2):
        raise UsageError("SEC is 0, 1 or 2")
    if not 1 <= len(data) <= MAX_SENDTO:
        raise UsageError(f"SKSENDTO carries 1..{MAX_SENDTO} bytes, got {len(data)}")
    parts = [
        "SKSENDTO",
        str(handle),
        _check_address(address),
        f"{port:04X}",
        str(sec),
        *_side(side),
        f"{len(data):04X}",
    ]
    head = " ".join(parts) + " "
    return Command("SKSENDTO", head.encode("ascii") + data, head + data.hex().upper())


def _cr_only(text: str) -> Command:
    return Command(text.split(" ", maxsplit=1)[0], text.encode("ascii") + CR, text)


def ropt() -> Command:
    """``ROPT`` (CR only): ``OK 00`` binary / ``OK 01`` hex ERXUDP data."""
    return _cr_only("ROPT")


def wopt(mode: int) -> Command:
    """``WOPT 00|01`` (CR only). Writes flash (≤ 10,000 times): call once per module."""
    if mode not in (0, 1):
        raise UsageError("WOPT mode is 0 (binary) or 1 (hex ASCII)")
    return _cr_only(f"WOPT {mode:02X}")


def ruart() -> Command:
    return _cr_only("RUART")
