"""The module side of SKSTACK IP, input: host bytes → typed commands (used by the emulator).

``CommandParser(dialect).feed(data)`` returns typed commands (:data:`ParsedCommand`) or
:class:`BadCommand`, which carries the FAIL code a real module answers (§D.0): ER04 unknown
command, ER05 wrong number of arguments (e.g. a fourth SKSCAN argument on a BP35A1), ER06 an
argument out of range or badly formatted, ER09 an overlong or undecodable line (?: inferred
from "UART input error"). It sits on :class:`CommandFramer`, which only splits the stream:
lines end in CRLF, or in CR alone (ROPT/WOPT/RUART/WUART, §D.0, and hosts that send CR only);
SKSENDTO carries DATALEN raw bytes right after its header and no line end (§D.1) — the CRLF
some hosts add after the payload (NODE-WRB) is a blank line, and blank lines are ignored.
Its mirror on the host side is :mod:`routeb.skstack.commands`; the module's output is built by
:mod:`routeb.skstack.module_output`. Sans-IO, bounded and total, like the host side.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import ClassVar, Final

from routeb._redact import Secret, redact_line
from routeb.skstack.events import Dialect
from routeb.skstack.grammar import (
    ANY_REGISTER,
    HEX_DIGITS,
    MAC_DIGITS,
    MAX_DATALEN,
    MAX_DURATION,
    MAX_HANDLE,
    MAX_PASSWORD,
    RBID_LENGTH,
    REGISTER_RANGES,
    SCAN_MODES,
    SEC_OPTIONS,
    is_hex,
    normalise_register,
)

__all__ = [
    "CR_ONLY_COMMANDS",
    "ER_ARGUMENTS",
    "ER_FAILED",
    "ER_RANGE",
    "ER_UART",
    "ER_UNSUPPORTED",
    "MAX_LINE",
    "SENDTO_HEADER_LIMIT",
    "AddNeighbourCommand",
    "BadCommand",
    "BareCommand",
    "CommandFramer",
    "CommandLine",
    "CommandParser",
    "JoinCommand",
    "Ll64Command",
    "ParsedCommand",
    "RegisterCommand",
    "ScanCommand",
    "SendToCommand",
    "SetPassword",
    "SetRouteBId",
    "WriteOptCommand",
    "WriteUartCommand",
    "parse_command",
]

# The longest B-route command is SKADDNBR (66 characters); the module's own line buffer is not
# documented, so accept generously but bounded.
MAX_LINE: Final = 512
# "SKSENDTO" + HANDLE + 39-char address + PORT + SEC + SIDE + DATALEN with spaces = 66 bytes.
SENDTO_HEADER_LIMIT: Final = 96
_SENDTO: Final = b"SKSENDTO "
# §D.0: the product-setting commands, whose lines (and answers) end with CR alone.
CR_ONLY_COMMANDS: Final = frozenset({"ROPT", "WOPT", "RUART", "WUART"})
# §D.0 FAIL codes.
ER_UNSUPPORTED: Final = 4
ER_ARGUMENTS: Final = 5
ER_RANGE: Final = 6
ER_UART: Final = 9
ER_FAILED: Final = 10
_CR: Final = 0x0D
_LF: Final = 0x0A


# --- framing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One framed command: name, arguments, SKSENDTO payload, the text as typed (for echo)."""

    name: str  # uppercased; "" for a line that is not a command at all
    args: tuple[str, ...]
    data: bytes | None  # SKSENDTO only
    text: str  # the line as typed (SKSENDTO: the header, with its trailing space)
    cr_only: bool = False  # ended with CR not followed by LF (as far as the input showed)
    garbled: bool = False  # not ASCII, too long, or an SKSENDTO header that cannot be framed
    fail_code: int | None = None  # for garbled lines: what a module answers

    def __repr__(self) -> str:
        extra = f", {len(self.data)} bytes" if self.data is not None else ""
        return f"CommandLine({redact_line(self.text)!r}{extra})"


class CommandFramer:
    """Incremental framing of host input; ``dialect`` decides where SKSENDTO's DATALEN is."""

    def __init__(self, dialect: Dialect, *, max_line: int = MAX_LINE) -> None:
        self.dialect = dialect
        self._max_line = max_line
        self._buffer = bytearray()
        self._skipping = False

    @property
    def buffered(self) -> int:
        """Bytes held back for an incomplete line or payload."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[CommandLine]:
        """Every command ``data`` completes (blank lines are dropped)."""
        self._buffer += data
        out: list[CommandLine] = []
        while True:
            item = self._next()
            if item is None:
                return out
            if item.name or item.garbled:
                out.append(item)

    def _next(self) -> CommandLine | None:
        buf = self._buffer
        if self._skipping:
            # The rest of a line already reported: drop it up to its end.
            end = _line_end(buf, len(buf))
            if end < 0:
                buf.clear()
                return None
            self._take(end)
            self._skipping = False
        if not buf:
            return None
        if bytes(buf[: len(_SENDTO)]).upper() == _SENDTO:
            return self._sendto()
        end = _line_end(buf, self._max_line + 1)
        if end < 0:
            if len(buf) > self._max_line:
                text = bytes(buf[:64]).decode("ascii", "replace")
                self._skipping = True
                return CommandLine("", (), None, text, garbled=True, fail_code=ER_UART)
            return None
        cr_only = buf[end] == _CR and (end + 1 >= len(buf) or buf[end + 1] != _LF)
        raw = self._take(end)
        return _line(raw, cr_only)

    def _take(self, end: int) -> bytes:
        # A CR ends the line at once (§D.0 CR-only commands); a LF arriving later only makes an
        # empty line, and blank lines are dropped.
        buf = self._buffer
        raw = bytes(buf[:end])
        crlf = buf[end] == _CR and end + 1 < len(buf) and buf[end + 1] == _LF
        del buf[: end + 2 if crlf else end + 1]
        return raw

    def _sendto(self) -> CommandLine | None:
        # SKSENDTO HANDLE ADDR PORT SEC [SIDE] DATALEN<space>DATA (§D.1).
        buf = self._buffer
        wanted = 6 if self.dialect.has_side else 5
        tokens: list[str] = []
        pos = len(_SENDTO)
        while True:
            limit = min(len(buf), SENDTO_HEADER_LIMIT)
            space = buf.find(b" ", pos, limit)
            end = _line_end(buf, space if space >= 0 else limit, start=pos)
            if end >= 0:
                # The line ended inside the header: too few arguments for this dialect.
                raw = self._take(end)
                return _bad_sendto(raw, ER_ARGUMENTS)
            if space < 0:
                if len(buf) >= SENDTO_HEADER_LIMIT:
                    raw = bytes(buf[:SENDTO_HEADER_LIMIT])
                    self._skipping = True
                    del buf[:SENDTO_HEADER_LIMIT]
                    return _bad_sendto(raw, ER_RANGE)
                return None
            token_bytes = bytes(buf[pos:space])
            if not token_bytes.isascii():
                raw = bytes(buf[:space])
                del buf[: space + 1]
                self._skipping = True
                return _bad_sendto(raw, ER_RANGE)
            tokens.append(token_bytes.decode("ascii"))
            pos = space + 1
            count = len(tokens)
            if count == 5 and self.dialect.has_side and is_hex(tokens[4], 4):
                # A BP35A1-style header sent to a BP35C2: SIDE missing. DATALEN is known, so
                # skip the payload and stay in step.
                return self._skip_payload(pos, tokens, ER_ARGUMENTS)
            if count == 5 and not self.dialect.has_side and len(tokens[4]) == 1:
                continue  # maybe a BP35C2-style header (with SIDE) sent to a BP35A1: look on
            if count == 6 and not self.dialect.has_side:
                if is_hex(tokens[5], 4):
                    return self._skip_payload(pos, tokens, ER_ARGUMENTS)
                return self._bad_length(pos, tokens)
            if count == wanted:
                break
        length_text = tokens[-1]
        if not is_hex(length_text, 4):
            return self._bad_length(pos, tokens)
        length = int(length_text, 16)
        if not 1 <= length <= MAX_DATALEN:
            return self._bad_length(pos, tokens)
        if len(buf) < pos + length:
            return None
        data = bytes(buf[pos : pos + length])
        header = bytes(buf[:pos]).decode("ascii")
        del buf[: pos + length]
        return CommandLine("SKSENDTO", tuple(tokens), data, header)

    def _skip_payload(self, pos: int, tokens: list[str], code: int) -> CommandLine | None:
        length = int(tokens[-1], 16)
        if length > MAX_DATALEN:
            return self._bad_length(pos, tokens)
        buf = self._buffer
        if len(buf) < pos + length:
            return None
        header = bytes(buf[:pos]).decode("ascii")
        del buf[: pos + length]
        return CommandLine("SKSENDTO", tuple(tokens), None, header, garbled=True, fail_code=code)

    def _bad_length(self, pos: int, tokens: list[str]) -> CommandLine:
        # DATALEN unusable: the payload length is unknown, so resynchronise at the next line end.
        buf = self._buffer
        header = bytes(buf[:pos]).decode("ascii")
        del buf[:pos]
        self._skipping = True
        return CommandLine(
            "SKSENDTO", tuple(tokens), None, header, garbled=True, fail_code=ER_RANGE
        )


def _line_end(buf: bytearray, limit: int, *, start: int = 0) -> int:
    cr = buf.find(b"\r", start, limit)
    lf = buf.find(b"\n", start, limit)
    if cr < 0 or (0 <= lf < cr):
        return lf
    return cr


def _bad_sendto(raw: bytes, code: int) -> CommandLine:
    text = raw.decode("ascii", "replace")
    parts = text.split(" ")
    return CommandLine("SKSENDTO", tuple(parts[1:]), None, text, garbled=True, fail_code=code)


def _line(raw: bytes, cr_only: bool) -> CommandLine:
    if not raw.strip(b" "):
        return CommandLine("", (), None, "")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = raw.decode("ascii", "replace")
        return CommandLine("", (), None, text, cr_only, garbled=True, fail_code=ER_UNSUPPORTED)
    if not text.isprintable():
        return CommandLine("", (), None, text, cr_only, garbled=True, fail_code=ER_UNSUPPORTED)
    parts = text.split()
    return CommandLine(parts[0].upper(), tuple(parts[1:]), None, text, cr_only)


# --- typed commands ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Parsed:
    # The line as received (SKSENDTO: the header); it may hold a secret, so it stays out of
    # reprs and comparisons. ``log_text`` is the redacted form.
    line: str = field(default="", repr=False, compare=False)

    @property
    def log_text(self) -> str:
        return redact_line(self.line)


@dataclass(frozen=True, slots=True)
class BareCommand(_Parsed):
    """A command without arguments: SKVER, SKAPPVER, SKINFO, SKRESET, SKTERM, SKREJOIN,
    SKSAVE, SKLOAD, ROPT, RUART."""

    name: str

    @property
    def cr_only(self) -> bool:
        return self.name in CR_ONLY_COMMANDS


@dataclass(frozen=True, slots=True)
class RegisterCommand(_Parsed):
    """``SKSREG Sxx [value]``; ``register`` normalised ('S2' → 'S02'), value uppercase hex."""

    name: ClassVar[str] = "SKSREG"
    cr_only: ClassVar[bool] = False
    register: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class SetPassword(_Parsed):
    """``SKSETPWD <LEN> <PWD>``."""

    name: ClassVar[str] = "SKSETPWD"
    cr_only: ClassVar[bool] = False
    password: Secret


@dataclass(frozen=True, slots=True)
class SetRouteBId(_Parsed):
    """``SKSETRBID <ID>``."""

    name: ClassVar[str] = "SKSETRBID"
    cr_only: ClassVar[bool] = False
    rbid: Secret


@dataclass(frozen=True, slots=True)
class ScanCommand(_Parsed):
    """``SKSCAN <MODE> <CHMASK> <DURATION> [SIDE]``."""

    name: ClassVar[str] = "SKSCAN"
    cr_only: ClassVar[bool] = False
    mode: int
    mask: int
    duration: int
    side: int | None = None


@dataclass(frozen=True, slots=True)
class Ll64Command(_Parsed):
    """``SKLL64 <ADDR64>`` (MAC uppercased)."""

    name: ClassVar[str] = "SKLL64"
    cr_only: ClassVar[bool] = False
    mac: str


@dataclass(frozen=True, slots=True)
class JoinCommand(_Parsed):
    """``SKJOIN <IPADDR>`` (address in the 39-character uppercase form)."""

    name: ClassVar[str] = "SKJOIN"
    cr_only: ClassVar[bool] = False
    address: str


@dataclass(frozen=True, slots=True)
class AddNeighbourCommand(_Parsed):
    """``SKADDNBR <IPADDR> <MACADDR>``."""

    name: ClassVar[str] = "SKADDNBR"
    cr_only: ClassVar[bool] = False
    address: str
    mac: str


@dataclass(frozen=True, slots=True)
class SendToCommand(_Parsed):
    """``SKSENDTO <HANDLE> <IPADDR> <PORT> <SEC> [<SIDE>] <DATALEN> <DATA>``."""

    name: ClassVar[str] = "SKSENDTO"
    cr_only: ClassVar[bool] = False
    handle: int
    address: str
    port: int
    sec: int
    side: int | None
    data: bytes


@dataclass(frozen=True, slots=True)
class WriteOptCommand(_Parsed):
    """``WOPT <mode>`` (CR only): 0 binary, 1 hex ASCII ERXUDP data."""

    name: ClassVar[str] = "WOPT"
    cr_only: ClassVar[bool] = True
    mode: int


@dataclass(frozen=True, slots=True)
class WriteUartCommand(_Parsed):
    """``WUART <setting>`` (CR only): bit 7 flow control, low bits the baud code."""

    name: ClassVar[str] = "WUART"
    cr_only: ClassVar[bool] = True
    setting: int


ParsedCommand = (
    BareCommand
    | RegisterCommand
    | SetPassword
    | SetRouteBId
    | ScanCommand
    | Ll64Command
    | JoinCommand
    | AddNeighbourCommand
    | SendToCommand
    | WriteOptCommand
    | WriteUartCommand
)


@dataclass(frozen=True, slots=True)
class BadCommand(_Parsed):
    """A line the module rejects, with the ``FAIL ERxx`` code it answers (§D.0)."""

    name: str  # uppercased command name, "" when the line is not a command at all
    code: int
    reason: str

    @property
    def cr_only(self) -> bool:
        """Whether the FAIL answer ends in CR alone (product-setting commands, §D.0)."""
        return self.name in CR_ONLY_COMMANDS


class _Reject(Exception):  # internal control flow of parse_command; never escapes it
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


_BARE: Final = frozenset(
    {
        "SKVER",
        "SKAPPVER",
        "SKINFO",
        "SKRESET",
        "SKTERM",
        "SKREJOIN",
        "SKSAVE",
        "SKLOAD",
        "ROPT",
        "RUART",
    }
)


def _count(args: tuple[str, ...], *allowed: int) -> None:
    if len(args) not in allowed:
        raise _Reject(ER_ARGUMENTS, f"takes {' or '.join(map(str, allowed))} arguments")


def _hex_arg(text: str, name: str, *, width: int | None = None, low: int = 0, high: int) -> int:
    if not is_hex(text) or (width is not None and len(text) != width) or len(text) > 8:
        raise _Reject(ER_RANGE, f"{name} must be hex")
    value = int(text, 16)
    if not low <= value <= high:
        raise _Reject(ER_RANGE, f"{name} out of range")
    return value


def _address_arg(text: str) -> str:
    if not text or len(text) > 39 or not set(text) <= HEX_DIGITS | {":"}:
        raise _Reject(ER_RANGE, "not an IPv6 address")
    try:
        return ipaddress.IPv6Address(text).exploded.upper()
    except ValueError:
        raise _Reject(ER_RANGE, "not an IPv6 address") from None


def _mac_arg(text: str) -> str:
    if not is_hex(text, MAC_DIGITS):
        raise _Reject(ER_RANGE, "a MAC address is 16 hex digits")
    return text.upper()


def _side_arg(text: str) -> int:
    if text not in ("0", "1"):
        raise _Reject(ER_RANGE, "SIDE is 0 or 1")
    return int(text)


def _typed(cmd: CommandLine, dialect: Dialect) -> ParsedCommand:
    name, args, line = cmd.name, cmd.args, cmd.text
    if name in _BARE:
        _count(args, 0)
        return BareCommand(name, line=line)
    if name == "SKSREG":
        _count(args, 1, 2)
        register = normalise_register(args[0])
        if register is None:
            raise _Reject(ER_RANGE, "not a register name")
        if len(args) == 1:
            return RegisterCommand(register, line=line)
        low, high, _ = REGISTER_RANGES.get(register, ANY_REGISTER)
        _hex_arg(args[1], register, low=low, high=high)
        return RegisterCommand(register, args[1].upper(), line=line)
    if name == "SKSETPWD":
        _count(args, 2)
        length = _hex_arg(args[0], "LEN", low=1, high=MAX_PASSWORD)
        if len(args[1]) != length:
            raise _Reject(ER_RANGE, "LEN does not match the password")
        return SetPassword(Secret(args[1]), line=line)
    if name == "SKSETRBID":
        _count(args, 1)
        if len(args[0]) != RBID_LENGTH:
            raise _Reject(ER_RANGE, "the B-route ID is 32 characters")
        return SetRouteBId(Secret(args[0]), line=line)
    if name == "SKSCAN":
        # §D.1: BP35A1 documents three arguments (a fourth is ER05); the C2 family adds SIDE.
        _count(args, *((3, 4) if dialect.has_side else (3,)))
        if args[0] not in {str(m) for m in SCAN_MODES}:
            raise _Reject(ER_RANGE, "scan mode is 0, 2 or 3")
        mask = _hex_arg(args[1], "CHMASK", width=8, high=0xFFFFFFFF)
        duration = _hex_arg(args[2], "DURATION", high=MAX_DURATION)
        side = _side_arg(args[3]) if len(args) == 4 else None
        return ScanCommand(int(args[0]), mask, duration, side, line=line)
    if name == "SKLL64":
        _count(args, 1)
        return Ll64Command(_mac_arg(args[0]), line=line)
    if name == "SKJOIN":
        _count(args, 1)
        return JoinCommand(_address_arg(args[0]), line=line)
    if name == "SKADDNBR":
        _count(args, 2)
        return AddNeighbourCommand(_address_arg(args[0]), _mac_arg(args[1]), line=line)
    if name == "SKSENDTO":
        if cmd.data is None:
            raise _Reject(ER_ARGUMENTS, "SKSENDTO without its payload")
        _count(args, 6 if dialect.has_side else 5)
        handle = _hex_arg(args[0], "HANDLE", width=1, low=1, high=MAX_HANDLE)
        address = _address_arg(args[1])
        port = _hex_arg(args[2], "PORT", width=4, high=0xFFFF)
        sec = _hex_arg(args[3], "SEC", width=1, high=max(SEC_OPTIONS))
        side = _side_arg(args[4]) if dialect.has_side else None
        return SendToCommand(handle, address, port, sec, side, cmd.data, line=line)
    if name == "WOPT":
        _count(args, 1)
        return WriteOptCommand(_hex_arg(args[0], "WOPT mode", width=2, high=1), line=line)
    if name == "WUART":
        _count(args, 1)
        setting = _hex_arg(args[0], "WUART setting", width=2, high=0xFF)
        if setting & 0x7F > 6:
            raise _Reject(ER_RANGE, "baud code is 0..6")
        return WriteUartCommand(setting, line=line)
    raise _Reject(ER_UNSUPPORTED, "command not supported")


_GARBLED: Final = {
    ER_UNSUPPORTED: "not a command",
    ER_ARGUMENTS: "wrong number of arguments for this dialect",
    ER_RANGE: "badly formatted argument",
    ER_UART: "line too long",
}


def parse_command(cmd: CommandLine, dialect: Dialect) -> ParsedCommand | BadCommand:
    """The typed form of one framed command, or the FAIL code a module would answer."""
    if cmd.garbled:
        code = cmd.fail_code or (ER_UNSUPPORTED if not cmd.name else ER_ARGUMENTS)
        return BadCommand(cmd.name, code, _GARBLED.get(code, "garbled line"), line=cmd.text)
    try:
        return _typed(cmd, dialect)
    except _Reject as reject:
        return BadCommand(cmd.name, reject.code, reject.reason, line=cmd.text)


class CommandParser:
    """Incremental parser of host input into typed commands (see the module docstring)."""

    def __init__(self, dialect: Dialect, *, max_line: int = MAX_LINE) -> None:
        self.dialect = dialect
        self._framer = CommandFramer(dialect, max_line=max_line)

    @property
    def buffered(self) -> int:
        return self._framer.buffered

    def feed(self, data: bytes) -> list[ParsedCommand | BadCommand]:
        """Every command ``data`` completes, in order."""
        return [parse_command(line, self.dialect) for line in self._framer.feed(data)]
