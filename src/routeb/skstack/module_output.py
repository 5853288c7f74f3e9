"""The module side of SKSTACK IP, output: the exact bytes real modules print (used by the emulator).

``ok``, ``fail``, ``event``, ``epandesc``, ``einfo``, ``ever``, ``eappver``, ``esreg``,
``ll64_line``, ``echo`` and ``erxudp`` return the lines of §D.1–§D.5 in the dialect asked for;
:class:`routeb.skstack.parser.OutputParser` parses all of them (it is their mirror on the host
side). An argument no module would print raises UsageError.
"""

from __future__ import annotations

import ipaddress

from routeb.errors import UsageError
from routeb.skstack.erxudp import format_erxudp, is_full_ipv6
from routeb.skstack.events import Dialect, UdpReceived
from routeb.skstack.grammar import CR, CRLF, MAC_DIGITS, is_hex
from routeb.skstack.module_commands import BadCommand, CommandLine, ParsedCommand

__all__ = [
    "eappver",
    "echo",
    "einfo",
    "epandesc",
    "erxudp",
    "esreg",
    "event",
    "ever",
    "fail",
    "ll64_address",
    "ll64_line",
    "ok",
]


def _end(cr_only: bool) -> bytes:
    return CR if cr_only else CRLF


def _text(text: str, what: str) -> str:
    if not (text.isascii() and text.isprintable()):
        raise UsageError(f"{what} must be printable ASCII: {text!r}")
    return text


def _byte(value: int, what: str, top: int = 0xFF) -> int:
    if not 0 <= value <= top:
        raise UsageError(f"{what} is 0..{top}, got {value!r}")
    return value


def _full_address(address: str) -> str:
    """Any IPv6 text in the form modules print: 39 characters, uppercase (§D.4)."""
    if is_full_ipv6(address):
        return address
    if not address.isascii() or "%" in address:
        raise UsageError(f"not an IPv6 address: {address!r}")
    try:
        return ipaddress.IPv6Address(address).exploded.upper()
    except ValueError:
        raise UsageError(f"not an IPv6 address: {address!r}") from None


def ok(text: str = "", *, cr_only: bool = False) -> bytes:
    """``OK`` / ``OK <text>``; CR only after ROPT/WOPT/RUART/WUART (§D.0)."""
    line = f"OK {_text(text, 'OK text')}" if text else "OK"
    return line.encode("ascii") + _end(cr_only)


def fail(code: int, *, cr_only: bool = False) -> bytes:
    """``FAIL ERxx`` (§D.0), two decimal digits."""
    return f"FAIL ER{_byte(code, 'FAIL code', 99):02d}".encode("ascii") + _end(cr_only)


def event(
    number: int, address: str, dialect: Dialect, *, side: int = 0, param: int | None = None
) -> bytes:
    """``EVENT NUM ADDR [SIDE] [PARAM]`` (§D.2): SIDE only on BP35C2-family modules.

    ``address`` is printed in the 39-character form; an empty one prints ``EVENT C0`` style
    (the wake-up event has none, §D.2). Text that is no IPv6 address (an emulator echoing what a
    host typed) is printed as given, so a bad host argument cannot crash the emulator.
    """
    parts = [f"EVENT {_byte(number, 'EVENT number'):02X}"]
    if address:
        try:
            parts.append(_full_address(address))
        except UsageError:
            if " " in _text(address, "address"):
                raise
            parts.append(address)
        if dialect.has_side:
            parts.append(str(_byte(side, "SIDE", 1)))
    if param is not None:
        parts.append(f"{_byte(param, 'EVENT param'):02X}")
    return " ".join(parts).encode("ascii") + CRLF


def epandesc(
    channel: int,
    pan_id: int,
    address: str,
    lqi: int,
    pair_id: str,
    dialect: Dialect,
    *,
    side: int = 0,
    channel_page: int = 9,
) -> bytes:
    """The EPANDESC block (§D.1): field lines indented by two spaces, Side on BP35C2 only."""
    if not is_hex(address, MAC_DIGITS):
        raise UsageError("Addr is the meter's MAC, 16 hex digits")
    if not pair_id or " " in _text(pair_id, "PairID"):
        raise UsageError("PairID is one word")
    lines = [
        "EPANDESC",
        f"  Channel:{_byte(channel, 'channel'):02X}",
        f"  Channel Page:{_byte(channel_page, 'channel page'):02X}",
        f"  Pan ID:{_byte(pan_id, 'PAN ID', 0xFFFF):04X}",
        f"  Addr:{address}",
        f"  LQI:{_byte(lqi, 'LQI'):02X}",
    ]
    if dialect.has_side:
        lines.append(f"  Side:{_byte(side, 'SIDE', 1)}")
    lines.append(f"  PairID:{pair_id}")
    return "".join(f"{line}\r\n" for line in lines).encode("ascii")


def einfo(
    ipv6: str,
    mac: str,
    channel: int,
    pan_id: int,
    dialect: Dialect,
    *,
    side: int = 0,
    addr16: int = 0xFFFE,
) -> bytes:
    """``EINFO`` (§D.1 SKINFO): ADDR16 (FFFE) last on BP35A1, SIDE last on BP35C2."""
    if not is_hex(mac, MAC_DIGITS):
        raise UsageError("ADDR64 is 16 hex digits")
    last = (
        str(_byte(side, "SIDE", 1))
        if dialect.has_side
        else f"{_byte(addr16, 'ADDR16', 0xFFFF):04X}"
    )
    head = f"EINFO {_full_address(ipv6)} {mac} {_byte(channel, 'channel'):02X}"
    return f"{head} {_byte(pan_id, 'PAN ID', 0xFFFF):04X} {last}\r\n".encode("ascii")


def _version(kind: str, version: str) -> bytes:
    if not version or " " in _text(version, kind):
        raise UsageError(f"{kind} takes one word")
    return f"{kind} {version}\r\n".encode("ascii")


def ever(version: str) -> bytes:
    """``EVER <version>`` (§D.1 SKVER), e.g. ``1.2.10`` (BP35A1) or ``1.5.2`` (BP35C2)."""
    return _version("EVER", version)


def eappver(version: str) -> bytes:
    """``EAPPVER <version>`` (§D.1 SKAPPVER), e.g. ``rev26e``."""
    return _version("EAPPVER", version)


def esreg(value: str) -> bytes:
    """``ESREG <value>`` answering ``SKSREG Sxx`` (§D.1)."""
    if not value or " " in _text(value, "ESREG value"):
        raise UsageError("ESREG takes one word")
    return f"ESREG {value}\r\n".encode("ascii")


def ll64_address(mac: str) -> str:
    """SKLL64 (§D.1): FE80::/64 + the MAC with the U/L bit (0x02 of byte 0) flipped, 39 chars."""
    if not is_hex(mac, MAC_DIGITS):
        raise UsageError(f"a MAC address (EUI-64) is 16 hex digits, got {mac!r}")
    raw = bytearray(bytes.fromhex(mac))
    raw[0] ^= 0x02
    groups = ["FE80", "0000", "0000", "0000"] + [raw[i : i + 2].hex().upper() for i in (0, 2, 4, 6)]
    return ":".join(groups)


def ll64_line(mac: str) -> bytes:
    """The whole SKLL64 answer: the address line alone, no OK (§D.1)."""
    return ll64_address(mac).encode("ascii") + CRLF


def echo(command: CommandLine | ParsedCommand | BadCommand) -> bytes:
    """The echo of a command with SFE = 1 (§D.0): the line, or SKSENDTO's header, plus CRLF."""
    text = command.text if isinstance(command, CommandLine) else command.line
    return text.encode("ascii", "replace") + CRLF


def erxudp(rx: UdpReceived, *, hex_data: bool) -> bytes:
    """An ERXUDP line (§D.4); see :func:`routeb.skstack.erxudp.format_erxudp`."""
    return format_erxudp(rx, hex_data=hex_data)
