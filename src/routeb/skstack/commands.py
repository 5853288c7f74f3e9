"""Command builders (protocol.md §D.1): exact wire bytes, arguments checked, secrets masked.

Each builder returns a :class:`Command`: ``wire`` goes to the module, ``log_text`` to logs and
reprs — the SKSETRBID and SKSETPWD arguments are masked there (they arrive as
:class:`~routeb._redact.Secret` and are revealed only into ``wire``). Numbers are uppercase hex
without 0x (§D.0). Lines end in CRLF, except the product-setting commands ROPT/WOPT/RUART/WUART,
which end in CR alone (§D.0), and SKSENDTO, whose raw payload follows its header with no line
end at all (§D.1). An argument the protocol forbids raises UsageError.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Final

from routeb._redact import MASK, Secret
from routeb.errors import UsageError
from routeb.skstack.events import Dialect
from routeb.skstack.grammar import (
    ANY_REGISTER,
    CR,
    CRLF,
    MAC_DIGITS,
    MAX_CHANNEL,
    MAX_DATALEN,
    MAX_DURATION,
    MAX_HANDLE,
    MAX_PASSWORD,
    MIN_CHANNEL,
    RBID_LENGTH,
    REGISTER_RANGES,
    SCAN_MODES,
    SEC_OPTIONS,
    SIDES,
    is_hex,
    normalise_register,
)

__all__ = [
    "MAX_CHANNEL",
    "MAX_DURATION",
    "MAX_HANDLE",
    "MAX_PASSWORD",
    "MAX_SENDTO",
    "MIN_CHANNEL",
    "RBID_LENGTH",
    "SCAN_MODES",
    "Command",
    "normalise_register",
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
    "wuart",
]

# §D.1 RUART/WUART: bit 7 = flow control, low bits 0..6 = baud rate code.
_UART_FLOW: Final = 0x80
_UART_MAX_BAUD: Final = 6
# §D.1 SKSENDTO DATALEN (the same limit as ERXUDP's, §D.4).
MAX_SENDTO: Final = MAX_DATALEN


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name, the exact bytes, and a loggable text without secrets."""

    name: str
    wire: bytes = field(repr=False)
    log_text: str

    def __repr__(self) -> str:
        return f"Command({self.log_text!r})"

    @property
    def repeatable(self) -> bool:
        """Sending it twice has the effect of sending it once (a query, or a setting to the
        same value), so a status line lost on the UART may be asked for again."""
        return self.name in _REPEATABLE


# §D.1: queries and settings that leave the module as one sending would. Not SKSCAN/SKJOIN/
# SKSENDTO/SKTERM/SKREJOIN/SKRESET (each starts something), nor WOPT (a flash write,
# protocol.md §D.1) and WUART (changes the baud rate).
_REPEATABLE: Final = frozenset(
    {"SKVER", "SKAPPVER", "SKINFO", "SKSREG", "SKSETRBID", "SKSETPWD", "SKLL64", "SKADDNBR"}
    | {"ROPT", "RUART"}
)


def _simple(*parts: str) -> Command:
    text = " ".join(parts)
    return Command(parts[0], text.encode("ascii") + CRLF, text)


def _cr_only(*parts: str) -> Command:
    text = " ".join(parts)
    return Command(parts[0], text.encode("ascii") + CR, text)


def _address(address: str) -> str:
    """The 39-character uppercase form modules print and expect (§D.1, §D.4)."""
    if not isinstance(address, str) or "%" in address or not address.isascii():
        raise UsageError(f"not an IPv6 address: {address!r}")
    try:
        return ipaddress.IPv6Address(address).exploded.upper()
    except ValueError:
        raise UsageError(f"not an IPv6 address: {address!r}") from None


def _mac(mac: str) -> str:
    if len(mac) != MAC_DIGITS or not is_hex(mac):
        raise UsageError(f"a MAC address (EUI-64) is 16 hex digits, got {mac!r}")
    return mac.upper()


def _side(side: int | None, dialect: Dialect | None) -> list[str]:
    """SIDE as an argument list: only for the BP35C2 family (§D.1 SKSCAN/SKSENDTO)."""
    if dialect is not None:
        if not dialect.has_side:
            if side is not None:
                raise UsageError(f"{dialect.value} takes no SIDE argument (§D.1)")
            return []
        side = 0 if side is None else side
    if side is None:
        return []
    if side not in SIDES:
        raise UsageError(f"SIDE is 0 (B-route) or 1 (HAN), got {side!r}")
    return [str(side)]


def skver() -> Command:
    """``SKVER`` → ``EVER <version>`` + ``OK``."""
    return _simple("SKVER")


def skappver() -> Command:
    """``SKAPPVER`` → ``EAPPVER <version>`` + ``OK``."""
    return _simple("SKAPPVER")


def skinfo() -> Command:
    """``SKINFO`` → ``EINFO …`` + ``OK``."""
    return _simple("SKINFO")


def skreset() -> Command:
    return _simple("SKRESET")


def skterm() -> Command:
    """``SKTERM`` → ``OK``, then EVENT 27 or 28."""
    return _simple("SKTERM")


def skrejoin() -> Command:
    """``SKREJOIN`` → ``OK``, then EVENT 25 or 24."""
    return _simple("SKREJOIN")


def sksreg(register: str, value: str | int | None = None) -> Command:
    """``SKSREG Sxx [value]`` (§D.3): read (no value) or write a register.

    ``register`` as 'S2', 'S02', 'SFE', …, sent as given (modules accept both spellings);
    ``value`` as hex text or an int (printed in hex). Ranges of §D.3 are checked.
    """
    name = normalise_register(register)
    if name is None:
        raise UsageError(f"not a register name: {register!r}")
    if value is None:
        return _simple("SKSREG", register.upper())
    low, high, digits = REGISTER_RANGES.get(name, ANY_REGISTER)
    if isinstance(value, int):
        number = value
        text = f"{value:0{digits}X}"
    else:
        if not is_hex(value) or len(value) > 8:
            raise UsageError(f"register values are 1..8 hex digits, got {value!r}")
        number = int(value, 16)
        text = value.upper()
    if not low <= number <= high:
        raise UsageError(f"{name} takes 0x{low:X}..0x{high:X}, got 0x{number:X}")
    return _simple("SKSREG", register.upper(), text)


def _printable_token(value: str) -> bool:
    return value.isascii() and value.isprintable() and " " not in value


def sksetrbid(rbid: Secret) -> Command:
    """``SKSETRBID <ID>``: exactly 32 printable ASCII characters (§D.1); never logged."""
    value = rbid.reveal()
    if len(value) != RBID_LENGTH or not _printable_token(value):
        raise UsageError("the B-route ID must be exactly 32 printable ASCII characters")
    return Command("SKSETRBID", f"SKSETRBID {value}".encode("ascii") + CRLF, f"SKSETRBID {MASK}")


def sksetpwd(password: Secret) -> Command:
    """``SKSETPWD <LEN hex> <PWD>``: 1..32 printable ASCII characters (§D.1); never logged."""
    value = password.reveal()
    if not 1 <= len(value) <= MAX_PASSWORD or not _printable_token(value):
        raise UsageError("the password must be 1..32 printable ASCII characters without spaces")
    wire = f"SKSETPWD {len(value):X} {value}".encode("ascii") + CRLF
    return Command("SKSETPWD", wire, f"SKSETPWD {len(value):X} {MASK}")


def skscan(
    mode: int,
    mask: int,
    duration: int,
    *,
    side: int | None = None,
    dialect: Dialect | None = None,
) -> Command:
    """``SKSCAN <MODE> <CHMASK 8 hex> <DURATION> [SIDE]`` (§D.1).

    SIDE is sent when given, or (with ``dialect``) always on the BP35C2 family and never on the
    others — a BP35A1 rejects the fourth argument.
    """
    if mode not in SCAN_MODES:
        raise UsageError(f"scan mode is 0, 2 or 3, got {mode!r}")
    if not 0 <= mask <= 0xFFFFFFFF:
        raise UsageError("the channel mask is 32 bits")
    if not 0 <= duration <= MAX_DURATION:
        raise UsageError(f"scan duration is 0..14, got {duration!r}")
    return _simple("SKSCAN", str(mode), f"{mask:08X}", f"{duration:X}", *_side(side, dialect))


def skll64(mac: str) -> Command:
    """``SKLL64 <ADDR64>``: answered by the link-local address alone, no OK line (§D.1)."""
    return _simple("SKLL64", _mac(mac))


def skjoin(address: str) -> Command:
    """``SKJOIN <IPADDR>`` → ``OK``, then EVENT 25 (joined) or EVENT 24 (failed)."""
    return _simple("SKJOIN", _address(address))


def skaddnbr(address: str, mac: str) -> Command:
    """``SKADDNBR <IPADDR> <MACADDR>``: a neighbour entry, saving an NS before SKSENDTO."""
    return _simple("SKADDNBR", _address(address), _mac(mac))


def sksendto(
    handle: int,
    address: str,
    port: int,
    sec: int,
    data: bytes,
    *,
    side: int | None = None,
    dialect: Dialect | None = None,
) -> Command:
    """``SKSENDTO HANDLE ADDR PORT SEC [SIDE] DATALEN `` + DATA raw, no line end (§D.1)."""
    if not 1 <= handle <= MAX_HANDLE:
        raise UsageError(f"UDP handle is 1..6, got {handle!r}")
    if not 0 <= port <= 0xFFFF:
        raise UsageError("port is 0..65535")
    if sec not in SEC_OPTIONS:
        raise UsageError("SEC is 0, 1 or 2")
    if not 1 <= len(data) <= MAX_SENDTO:
        raise UsageError(f"SKSENDTO carries 1..{MAX_SENDTO} bytes, got {len(data)}")
    parts = [
        "SKSENDTO",
        str(handle),
        _address(address),
        f"{port:04X}",
        str(sec),
        *_side(side, dialect),
        f"{len(data):04X}",
    ]
    head = " ".join(parts) + " "
    # The payload is ECHONET Lite (no secrets): logged as hex so traces can be replayed.
    return Command("SKSENDTO", head.encode("ascii") + bytes(data), head + data.hex().upper())


def ropt() -> Command:
    """``ROPT`` (CR only) → ``OK 00`` (binary ERXUDP data) or ``OK 01`` (hex), or FAIL ER04."""
    return _cr_only("ROPT")


def wopt(mode: int) -> Command:
    """``WOPT 00|01`` (CR only). Writes flash (≤ 10,000 times, §D.1): once per module."""
    if mode not in (0, 1):
        raise UsageError("WOPT mode is 0 (binary) or 1 (hex ASCII)")
    return _cr_only("WOPT", f"{mode:02X}")


def ruart() -> Command:
    """``RUART`` (CR only) → ``OK <hex>``: bit 7 flow control, low bits the baud code."""
    return _cr_only("RUART")


def wuart(setting: int) -> Command:
    """``WUART <hex>`` (CR only, §D.1). Changes the baud rate after the next reset: take care."""
    if not 0 <= setting & ~_UART_FLOW <= _UART_MAX_BAUD or not 0 <= setting <= 0xFF:
        raise UsageError("WUART takes a baud code 0..6, optionally | 0x80 for flow control")
    return _cr_only("WUART", f"{setting:02X}")
