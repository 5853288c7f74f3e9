"""The host side: bytes from the module → typed output (protocol.md §D.0–§D.4). Total.

``OutputParser.feed(data)`` returns every item ``data`` completes; bytes that do not finish an
item wait, within bounds. The rules:

- lines end in CRLF; a CR-only line (``OK 01\\r`` after ROPT/WOPT, §D.0) ends at its CR at once
  (a LF arriving later only makes an empty line); a lone LF also ends a line; blank lines
  (SKSENDTO's bare CRLF, §D.0) are skipped;
- ERXUDP is read by DATALEN, never by line splitting, since binary data may hold CR LF (§D.4).
  After DATALEN, binary data is DATALEN bytes then CRLF; hex data is 2 × DATALEN digits then
  CRLF. A hex digit is never CR, so "CRLF right after DATALEN bytes" means binary — except for
  DATALEN 0, where both readings are the same empty payload;
- the EPANDESC block (§D.1) becomes one PanDescriptor as soon as its fields are complete (the
  PairID line is the last one in every trace); a block cut short is an UnknownLine;
- echoed commands (SFE = 1, §D.0) are EchoLines, SKSETRBID/SKSETPWD arguments masked;
- a bare 39-character IPv6 line is the SKLL64 answer (§D.1, no OK line);
- anything else is an UnknownLine, kept raw but truncated; an overlong line is reported once
  and skipped up to the next line end. Nothing here raises, whatever the input, and the result
  does not depend on how the input is split into ``feed`` calls.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from routeb._redact import MASK, redact_line
from routeb.errors import SkstackProtocolError, UsageError
from routeb.skstack.erxudp import (
    HEADER_LIMIT,
    PREFIX,
    decode_data,
    is_full_ipv6,
    parse_header,
)
from routeb.skstack.events import (
    EchoLine,
    FailLine,
    InfoLine,
    LinkLocalAddress,
    ModuleEvent,
    ModuleOutput,
    OkLine,
    PanDescriptor,
    RegisterValue,
    UnknownLine,
    VersionLine,
)
from routeb.skstack.grammar import HEX_DIGITS, is_hex

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "DEFAULT_MAX_LINE",
    "ECHO_PREFIXES",
    "UNKNOWN_KEEP",
    "OutputParser",
]

# The longest ordinary line is EINFO (§D.1): about 80 characters; 512 leaves room for echoed
# commands and vendor extras without letting noise grow the buffer.
DEFAULT_MAX_LINE: Final = 512
# The most bytes held for one item. An ERXUDP is at most HEADER_LIMIT + 2 × 0x04D0 hex digits
# + CRLF = 2626 bytes (§D.4); a smaller bound rejects longer ERXUDPs as UnknownLines.
DEFAULT_MAX_BUFFER: Final = 4096
# How much of a line we do not understand is kept in an UnknownLine (enough to log it).
UNKNOWN_KEEP: Final = 120
# §D.0: with SFE = 1 the module echoes each command line first. These are the command names'
# prefixes (SK… and the product-setting commands).
ECHO_PREFIXES: Final = ("SK", "ROPT", "WOPT", "RUART", "WUART")
# §D.1 EPANDESC field names (values hex, except PairID) and the widths modules print.
_PAN_FIELDS: Final = {
    "Channel": "channel",
    "Channel Page": "channel_page",
    "Pan ID": "pan_id",
    "Addr": "address",
    "LQI": "lqi",
    "Side": "side",
    "PairID": "pair_id",
}
_PAN_REQUIRED: Final = frozenset({"channel", "channel_page", "pan_id", "address", "lqi", "pair_id"})
# A block has 6 field lines (7 with Side); more than this many is not an EPANDESC block.
_PAN_MAX_LINES: Final = 12
_PAN_INDENT: Final = "  "  # §D.1: "each field line indented by 2 spaces"
# §D.1 S0A: the pairing ID is 8 ASCII characters; allow some slack before calling it garbage.
_PAIR_ID_MAX: Final = 16
_CR: Final = 0x0D
_LF: Final = 0x0A


class OutputParser:
    """Incremental, bounded, total parser of module output (see the module docstring)."""

    def __init__(
        self, *, max_line: int = DEFAULT_MAX_LINE, max_buffer: int = DEFAULT_MAX_BUFFER
    ) -> None:
        if max_line < UNKNOWN_KEEP:
            raise UsageError(f"max_line must be at least {UNKNOWN_KEEP}")
        if max_buffer < max(max_line, HEADER_LIMIT + 2):
            raise UsageError("max_buffer must hold a whole line and an ERXUDP header")
        self._max_line = max_line
        self._max_buffer = max_buffer
        self._buffer = bytearray()
        self._skipping = False  # inside an overlong line already reported
        self._unknown = False  # the current line is already known to be garbage
        self._pan: dict[str, str] | None = None
        self._pan_lines: list[str] = []

    @property
    def buffered(self) -> int:
        """Bytes held back waiting for the rest of an item (never more than ``max_buffer``)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[ModuleOutput]:
        """Everything ``data`` completes, in order."""
        self._buffer += data
        out: list[ModuleOutput] = []
        while self._step(out):
            pass
        return out

    def reset(self) -> None:
        """Forget partial input (after SKRESET or reopening the port)."""
        self._buffer.clear()
        self._skipping = self._unknown = False
        self._pan = None
        self._pan_lines = []

    # --- framing -------------------------------------------------------------------------------

    def _step(self, out: list[ModuleOutput]) -> bool:
        buf = self._buffer
        if not buf:
            return False
        if self._skipping:
            return self._skip_line()
        if not self._unknown and buf[: len(PREFIX)] == PREFIX[: len(buf)]:
            if len(buf) >= len(PREFIX):
                return self._erxudp(out)
            # A short prefix of "ERXUDP " may still turn out to be an ordinary short line.
            if self._line_end() < 0:
                return False
        return self._line(out)

    def _line_end(self, *, bounded: bool = True) -> int:
        """Index of the first CR or LF (bounded: no further than an acceptable line), or -1."""
        buf = self._buffer
        limit = self._max_line + 1 if bounded else len(buf)
        cr = buf.find(b"\r", 0, limit)
        lf = buf.find(b"\n", 0, limit)
        if cr < 0 or (0 <= lf < cr):
            return lf
        return cr

    def _take_line(self, end: int) -> bytes:
        """The line before ``end`` (a CR or LF), removed with its line end.

        A CR ends the line at once (CR-only answers must not wait for another byte); a LF that
        follows it later makes an empty line, skipped like every blank line.
        """
        buf = self._buffer
        line = bytes(buf[:end])
        crlf = buf[end] == _CR and end + 1 < len(buf) and buf[end + 1] == _LF
        del buf[: end + 2 if crlf else end + 1]
        return line

    def _skip_line(self) -> bool:
        end = self._line_end(bounded=False)
        if end < 0:
            self._buffer.clear()
            return False
        self._take_line(end)
        self._skipping = False
        return True

    def _line(self, out: list[ModuleOutput]) -> bool:
        end = self._line_end()
        if end < 0:
            if len(self._buffer) > self._max_line:
                # Overlong: report it once, then skip to the next line end.
                self._emit_unknown(bytes(self._buffer[:UNKNOWN_KEEP]), out)
                self._skipping = True
                return True
            return False
        raw = self._take_line(end)
        if self._unknown:
            self._emit_unknown(raw[:UNKNOWN_KEEP], out)
        else:
            self._text_line(raw, out)
        return True

    def _emit_unknown(self, raw: bytes, out: list[ModuleOutput]) -> None:
        self._unknown = False
        self._end_pan(out)
        out.append(UnknownLine(raw))

    # --- ERXUDP --------------------------------------------------------------------------------

    def _erxudp(self, out: list[ModuleOutput]) -> bool:
        buf = self._buffer
        try:
            parsed = parse_header(buf)
        except SkstackProtocolError:
            return self._bad_erxudp()
        if parsed is None:
            return False
        header, start = parsed
        length = header.length
        available = len(buf) - start
        if start + length + 2 > self._max_buffer:
            return self._bad_erxudp()
        if available < length + 2:
            return False
        if buf[start + length : start + length + 2] == b"\r\n":
            end = start + length  # binary (see the module docstring)
        else:
            if start + 2 * length + 2 > self._max_buffer:
                return self._bad_erxudp()
            if available < 2 * length + 2:
                return False
            end = start + 2 * length
            if buf[end : end + 2] != b"\r\n":
                return self._bad_erxudp()
        try:
            data = decode_data(buf[start:end], length, start)
        except SkstackProtocolError:
            return self._bad_erxudp()
        del buf[: end + 2]
        self._end_pan(out)
        out.append(header.with_data(data))
        return True

    def _bad_erxudp(self) -> bool:
        # A garbled ERXUDP is reported like any line we do not understand: from its start to
        # the next line end (bounded), so the report does not depend on how bytes were chunked.
        self._unknown = True
        return True

    # --- lines ---------------------------------------------------------------------------------

    def _text_line(self, raw: bytes, out: list[ModuleOutput]) -> None:
        if not raw.strip(b" "):
            return
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError:
            self._emit_unknown(raw[:UNKNOWN_KEEP], out)
            return
        if not line.isprintable():
            self._emit_unknown(raw[:UNKNOWN_KEEP], out)
            return
        if line.startswith(_PAN_INDENT) and self._pan is not None:
            self._pan_field(line, out)
            return
        self._end_pan(out)
        if line == "EPANDESC":
            self._pan = {}
            self._pan_lines = [line]
            return
        item = _classify(line)
        out.append(UnknownLine(raw[:UNKNOWN_KEEP]) if item is None else item)

    def _pan_field(self, line: str, out: list[ModuleOutput]) -> None:
        pan = self._pan
        assert pan is not None
        name, sep, value = line.strip().partition(":")
        key = _PAN_FIELDS.get(name.strip())
        self._pan_lines.append(f"{line.partition(':')[0]}:{MASK}" if key == "pair_id" else line)
        if len(self._pan_lines) > _PAN_MAX_LINES:
            self._end_pan(out)
            return
        if sep and key is not None:
            pan[key] = value.strip()
        # Unknown field names inside the block are skipped: a newer firmware may add some.
        if pan.keys() >= _PAN_REQUIRED:
            self._pan = None
            self._pan_lines = []
            out.append(_pan_descriptor(pan))

    def _end_pan(self, out: list[ModuleOutput]) -> None:
        """A line that is not part of the open EPANDESC block: the block was cut short."""
        if self._pan is not None:
            raw = "\r\n".join(self._pan_lines).encode("ascii")
            self._pan = None
            self._pan_lines = []
            out.append(UnknownLine(raw[:UNKNOWN_KEEP]))


def _classify(line: str) -> ModuleOutput | None:
    word, _, rest = line.partition(" ")
    if word == "OK":
        return OkLine(rest.strip())
    if word == "FAIL":
        code = rest.strip()
        # §D.0: "FAIL ERxx", two decimal digits.
        if len(code) == 4 and code.startswith("ER") and code[2:].isdigit():
            return FailLine(int(code[2:]))
        return None
    if word in ("EVER", "EAPPVER"):
        version = rest.strip()
        return VersionLine(word, version) if version and " " not in version else None
    if word == "EVENT":
        return _event(rest.split(" "))
    if word == "EINFO":
        return _info(rest.split(" "))
    if word == "ESREG":
        # Values are hex (§D.3), except S0A, the 8 ASCII characters of the pairing ID.
        value = rest.strip()
        return RegisterValue(value) if value and " " not in value else None
    if word.startswith(ECHO_PREFIXES):
        return EchoLine(redact_line(line))
    if not rest and is_full_ipv6(line):
        return LinkLocalAddress(line)
    return None


def _is_address(text: str) -> bool:
    if not text or len(text) > 39 or not set(text) <= HEX_DIGITS | {":"}:
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _event(tokens: list[str]) -> ModuleEvent | None:
    # §D.2: EVENT NUM ADDR [SIDE] [PARAM]; NUM and PARAM two hex digits, SIDE one digit (BP35C2
    # family only, before PARAM). The widths tell SIDE and PARAM apart without a dialect.
    if not tokens or not is_hex(tokens[0], 2):
        return None
    number = int(tokens[0], 16)
    if len(tokens) == 1:
        # §D.2: C0 (wake-up) is the one event without an address.
        return ModuleEvent(number, "") if number == 0xC0 else None
    address = tokens[1]
    if not _is_address(address):
        return None
    side: int | None = None
    param: int | None = None
    extra = tokens[2:]
    if len(extra) > 2:
        return None
    if extra and len(extra[0]) == 1:
        if extra[0] not in ("0", "1"):
            return None
        side = int(extra.pop(0))
    if extra:
        if len(extra) != 1 or not is_hex(extra[0], 2):
            return None
        param = int(extra[0], 16)
    return ModuleEvent(number, address, side, param)


def _info(tokens: list[str]) -> InfoLine | None:
    # §D.1 SKINFO: IPADDR ADDR64 CHANNEL PANID, then ADDR16 (BP35A1) or SIDE (BP35C2); accept
    # ADDR16 followed by SIDE too (§H: the C0/C2 field list is not certain).
    if len(tokens) not in (5, 6):
        return None
    ipv6, mac, channel, pan = tokens[:4]
    if not (_is_address(ipv6) and is_hex(mac, 16) and is_hex(channel, 2)):
        return None
    if not is_hex(pan, 4):
        return None
    addr16: int | None = None
    side: int | None = None
    last = tokens[4:]
    if len(last) == 2 or is_hex(last[0], 4):
        if not is_hex(last[0], 4):
            return None
        addr16 = int(last.pop(0), 16)
    if last:
        if last[0] not in ("0", "1"):
            return None
        side = int(last[0])
    return InfoLine(ipv6, mac, int(channel, 16), int(pan, 16), addr16, side)


def _pan_descriptor(fields: dict[str, str]) -> ModuleOutput:
    channel, page, pan_id = fields["channel"], fields["channel_page"], fields["pan_id"]
    address, lqi, pair_id = fields["address"], fields["lqi"], fields["pair_id"]
    side = fields.get("side")
    valid = (
        is_hex(channel, 2)
        and is_hex(page, 2)
        and is_hex(pan_id, 4)
        and is_hex(address, 16)
        and is_hex(lqi, 2)
        and 0 < len(pair_id) <= _PAIR_ID_MAX
        and " " not in pair_id
        and (side is None or side in ("0", "1"))
    )
    if not valid:
        return UnknownLine(b"EPANDESC (malformed block)")
    return PanDescriptor(
        channel=int(channel, 16),
        channel_page=int(page, 16),
        pan_id=int(pan_id, 16),
        address=address,
        lqi=int(lqi, 16),
        pair_id=pair_id,
        side=None if side is None else int(side),
    )
