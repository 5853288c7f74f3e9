"""The host side: bytes from the module → typed output (protocol.md §D.0–§D.4). Total.

``OutputParser.feed(data)`` returns every complete item; bytes that do not finish an item
wait, within bounds. Rules:
- lines end in CRLF; CR-only lines (``OK 01\\r`` after ROPT/WOPT, §D.0) end at the CR at once
  (a LF that follows later is swallowed); blank lines (SKSENDTO's bare CRLF) are skipped;
- ERXUDP is read by DATALEN, never by line splitting: binary data may hold CR LF (§D.4);
  binary and hex data are told apart by where the CRLF falls;
- the EPANDESC block (§D.1) becomes one PanDescriptor when its PairID line arrives;
- echoed commands (SFE = 1) are EchoLines with SKSETRBID/SKSETPWD arguments masked;
- anything else is an UnknownLine (bounded); nothing here raises, whatever the input.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from routeb._redact import redact_line
from routeb.errors import SkstackProtocolError
from routeb.skstack.erxudp import PREFIX, decode_data, header_fields, split_header
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
    UdpReceived,
    UnknownLine,
    VersionLine,
)

__all__ = ["OutputParser"]

DEFAULT_MAX_LINE: Final = 512
UNKNOWN_KEEP: Final = 120
_ECHO_PREFIXES: Final = ("SK", "ROPT", "WOPT", "RUART", "WUART")
_HEX: Final = frozenset("0123456789ABCDEFabcdef")
# protocol.md §D.1 EPANDESC field names (values hex), in the order modules print them.
_PAN_FIELDS: Final = {
    "Channel": "channel",
    "Channel Page": "channel_page",
    "Pan ID": "pan_id",
    "Addr": "address",
    "LQI": "lqi",
    "Side": "side",
    "PairID": "pair_id",
}


def _is_hex(text: str, width: int | None = None) -> bool:
    return bool(text) and set(text) <= _HEX and (width is None or len(text) == width)


class OutputParser:
    """Incremental, bounded, total parser of module output."""

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE) -> None:
        self._buffer = bytearray()
        self._max_line = max_line
        self._swallow_lf = False
        self._discarding = False
        self._pan: dict[str, str] | None = None

    def feed(self, data: bytes) -> list[ModuleOutput]:
        """Everything ``data`` completes, in order."""
        self._buffer += data
        out: list[ModuleOutput] = []
        while self._step(out):
            pass
        return out

    # --- framing -------------------------------------------------------------------------------

    def _step(self, out: list[ModuleOutput]) -> bool:
        buf = self._buffer
        if not buf:
            return False
        if self._swallow_lf:
            self._swallow_lf = False
            if buf[0] == 0x0A:
                del buf[0]
                return True
        if self._discarding:
            return self._discard_to_line_end()
        if buf.startswith(PREFIX) or PREFIX.startswith(bytes(buf[: len(PREFIX)])):
            if len(buf) < len(PREFIX):
                return self._maybe_line_end(out)
            return self._erxudp(out)
        return self._line(out)

    def _discard_to_line_end(self) -> bool:
        buf = self._buffer
        end = _line_end(buf)
        if end < 0:
            buf.clear()
            return False
        self._consume_line(end)
        self._discarding = False
        return True

    def _maybe_line_end(self, out: list[ModuleOutput]) -> bool:
        # A short prefix of "ERXUDP " may still be an ordinary (short) line.
        if _line_end(self._buffer) >= 0:
            return self._line(out)
        return False

    def _consume_line(self, end: int) -> bytes:
        buf = self._buffer
        line = bytes(buf[:end])
        if buf[end] == 0x0D:
            if end + 1 < len(buf):
                del buf[: end + 2 if buf[end + 1] == 0x0A else end + 1]
            else:
                del buf[: end + 1]
                self._swallow_lf = True
        else:
            del buf[: end + 1]
        return line

    def _line(self, out: list[ModuleOutput]) -> bool:
        buf = self._buffer
        end = _line_end(buf)
        if end < 0:
            if len(buf) > self._max_line:
                out.append(UnknownLine(bytes(buf[:UNKNOWN_KEEP])))
                buf.clear()
                self._discarding = True
            return False
        line = self._consume_line(end)
        if len(line) > self._max_line:
            out.append(UnknownLine(line[:UNKNOWN_KEEP]))
            return True
        self._text_line(line, out)
        return True

    def _erxudp(self, out: list[ModuleOutput]) -> bool:
        buf = self._buffer
        try:
            split = split_header(buf)
            if split is None:
                return False
            tokens, start = split
            fields, length = header_fields(tokens)
        except SkstackProtocolError:
            return self._bad_erxudp(out)
        self._flush_pan(out)
        available = len(buf) - start
        # Binary: DATALEN bytes then CRLF. Hex: 2 × DATALEN characters then CRLF (hex has no
        # CR at position DATALEN, so the first test never mistakes hex for binary).
        if available < length + 2:
            return False
        if buf[start + length : start + length + 2] == b"\r\n":
            end = start + length
        else:
            if available < 2 * length + 2:
                return False
            end = start + 2 * length
            if buf[end : end + 2] != b"\r\n":
                return self._bad_erxudp(out)
        try:
            data = decode_data(bytes(buf[start:end]), length, start)
        except SkstackProtocolError:
            return self._bad_erxudp(out)
        del buf[: end + 2]
        out.append(UdpReceived(data=data, **fields))  # type: ignore[arg-type]
        return True

    def _bad_erxudp(self, out: list[ModuleOutput]) -> bool:
        # Garbled ERXUDP: report it and resynchronise at the next line end.
        out.append(UnknownLine(bytes(self._buffer[:UNKNOWN_KEEP])))
        del self._buffer[: len(PREFIX)]
        self._discarding = True
        return True

    # --- lines ---------------------------------------------------------------------------------

    def _text_line(self, raw: bytes, out: list[ModuleOutput]) -> None:
        if not raw.strip():
            return
        try:
            line = raw.decode("ascii")
        except UnicodeDecodeError:
            self._flush_pan(out)
            out.append(UnknownLine(raw[:UNKNOWN_KEEP]))
            return
        if not line.isprintable():
            self._flush_pan(out)
            out.append(UnknownLine(raw[:UNKNOWN_KEEP]))
            return
        if line.startswith("  ") and self._pan is not None:
            self._pan_field(line.strip(), out)
            return
        self._flush_pan(out)
        item = self._classify(line)
        if item is not None:
            out.append(item)

    def _classify(self, line: str) -> ModuleOutput | None:
        word, _, rest = line.partition(" ")
        if word == "EPANDESC" and not rest:
            self._pan = {}
            return None
        parsed: ModuleOutput | None = None
        if word == "OK":
            parsed = OkLine(rest.strip())
        elif word == "FAIL":
            code = rest.strip()
            if code.startswith("ER") and code[2:].isdigit() and len(code) == 4:
                parsed = FailLine(int(code[2:]))
        elif word in ("EVER", "EAPPVER") and rest:
            parsed = VersionLine(word, rest.strip())
        elif word == "EVENT":
            parsed = _event(rest.split(" "))
        elif word == "EINFO":
            parsed = _info(rest.split(" "))
        elif word == "ESREG" and rest:
            parsed = RegisterValue(rest.strip())
        elif word.startswith(_ECHO_PREFIXES):
            parsed = EchoLine(redact_line(line))
        elif len(line) == 39 and line.count(":") == 7 and not rest:
            try:
                ipaddress.IPv6Address(line)
            except ValueError:
                parsed = None
            else:
                parsed = LinkLocalAddress(line)
        if parsed is None:
            return UnknownLine(line.encode("ascii")[:UNKNOWN_KEEP])
        return parsed

    def _pan_field(self, text: str, out: list[ModuleOutput]) -> None:
        assert self._pan is not None
        name, sep, value = text.partition(":")
        key = _PAN_FIELDS.get(name)
        if not sep or key is None:
            self._flush_pan(out, incomplete=True)
            out.append(UnknownLine(text.encode("ascii")[:UNKNOWN_KEEP]))
            return
        self._pan[key] = value.strip()
        if key == "pair_id":
            pan = self._pan
            self._pan = None
            out.append(_pan_descriptor(pan))

    def _flush_pan(self, out: list[ModuleOutput], *, incomplete: bool = True) -> None:
        if self._pan is not None:
            self._pan = None
            if incomplete:
                out.append(UnknownLine(b"EPANDESC (incomplete)"))


def _line_end(buf: bytearray) -> int:
    cr = buf.find(b"\r")
    lf = buf.find(b"\n")
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)


def _event(tokens: list[str]) -> ModuleEvent | None:
    # §D.2: EVENT NUM ADDR [SIDE] [PARAM]; SIDE is one digit, PARAM two hex digits.
    if tokens == ["C0"]:
        return ModuleEvent(0xC0, "")  # the wake-up signal has no address (§D.2)
    if len(tokens) < 2 or not _is_hex(tokens[0], 2) or not tokens[1]:
        return None
    number = int(tokens[0], 16)
    address = tokens[1]
    side = param = None
    for token in tokens[2:]:
        if token in ("0", "1") and side is None and param is None:
            side = int(token)
        elif _is_hex(token, 2) and param is None:
            param = int(token, 16)
        else:
            return None
    return ModuleEvent(number, address, side, param)


def _info(tokens: list[str]) -> InfoLine | None:
    # §D.1 SKINFO: IPADDR ADDR64 CHANNEL PANID, then ADDR16 (BP35A1) or SIDE (BP35C2).
    if len(tokens) not in (5, 6):
        return None
    ipv6, mac, channel, pan = tokens[:4]
    if not (_is_hex(mac, 16) and _is_hex(channel, 2) and _is_hex(pan, 4)):
        return None
    addr16: int | None = None
    side: int | None = None
    for token in tokens[4:]:
        if _is_hex(token, 4) and addr16 is None:
            addr16 = int(token, 16)
        elif token in ("0", "1"):
            side = int(token)
        else:
            return None
    return InfoLine(ipv6, mac, int(channel, 16), int(pan, 16), addr16, side)


def _pan_descriptor(fields: dict[str, str]) -> ModuleOutput:
    try:
        return PanDescriptor(
            channel=int(fields["channel"], 16),
            channel_page=int(fields.get("channel_page", "09"), 16),
            pan_id=int(fields["pan_id"], 16),
            address=fields["address"],
            lqi=int(fields["lqi"], 16),
            pair_id=fields["pair_id"],
            side=int(fields["side"], 16) if "side" in fields else None,
        )
    except (KeyError, ValueError):
        return UnknownLine(b"EPANDESC (malformed)")
