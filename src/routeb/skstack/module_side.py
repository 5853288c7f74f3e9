"""The module side: bytes from a host → command lines, and the module's output lines.

Used by the emulator. ``CommandFramer(dialect).feed(data)`` returns complete commands: lines
end in CRLF, or CR alone (ROPT/WOPT/RUART/WUART, §D.0, and hosts that send CR only); SKSENDTO
carries DATALEN raw bytes right after its header and no line end (§D.1) — a CRLF some hosts
add after the payload is tolerated. The builders produce exactly what real modules print
(§D.1–§D.5), in the dialect asked for. Sans-IO and total, like the host side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from routeb.skstack.events import Dialect

__all__ = [
    "CommandFramer",
    "CommandLine",
    "einfo",
    "epandesc",
    "event",
    "fail",
    "ll64_address",
    "ok",
]

CRLF: Final = b"\r\n"
MAX_LINE: Final = 512
# §D.1 SKSENDTO: DATALEN 0001..04D0.
MAX_DATALEN: Final = 0x04D0


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One command as received: name, arguments, SKSENDTO payload, the exact header text."""

    name: str
    args: tuple[str, ...]
    data: bytes | None
    text: str  # the line as typed (for echo; SKSENDTO: the header only)
    cr_only: bool = False  # ended with CR alone (ROPT/WOPT answer with CR only too)
    garbled: bool = False  # not ASCII, too long, or a bad SKSENDTO header


class CommandFramer:
    """Incremental framing of host input; ``dialect`` decides where SKSENDTO's DATALEN is."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._buffer = bytearray()
        self._skip_lf = False

    def feed(self, data: bytes) -> list[CommandLine]:
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
        if self._skip_lf and buf[:1] == b"\n":
            del buf[0]
        if buf:
            self._skip_lf = False
        if buf.startswith(b"SKSENDTO "):
            return self._sendto()
        cr, lf = buf.find(b"\r"), buf.find(b"\n")
        ends = [i for i in (cr, lf) if i >= 0]
        if not ends:
            if len(buf) > MAX_LINE:
                buf.clear()
                return CommandLine("", (), None, "", garbled=True)
            return None
        end = min(ends)
        raw = bytes(buf[:end])
        cr_only = buf[end] == 0x0D and (end + 1 >= len(buf) or buf[end + 1] != 0x0A)
        if buf[end] == 0x0D and end + 1 < len(buf) and buf[end + 1] == 0x0A:
            del buf[: end + 2]
        else:
            if buf[end] == 0x0D and end + 1 >= len(buf):
                self._skip_lf = True
            del buf[: end + 1]
        return _line(raw, cr_only)

    def _sendto(self) -> CommandLine | None:
        buf = self._buffer
        # SKSENDTO HANDLE ADDR PORT SEC [SIDE] DATALEN<space>DATA
        fields = 7 if self.dialect.has_side else 6
        pos = 0
        tokens: list[str] = []
        while len(tokens) < fields:
            space = buf.find(b" ", pos, pos + 64)
            newline = min(
                (i for i in (buf.find(b"\r", pos), buf.find(b"\n", pos)) if i >= 0), default=-1
            )
            if newline >= 0 and (space < 0 or newline < space):
                # A line end inside the header: the wrong argument count for this dialect.
                raw = bytes(buf[:newline])
                del buf[: newline + 1]
                return _garbled_sendto(raw)
            if space < 0:
                if len(buf) - pos > 64:
                    raw = bytes(buf[:pos])
                    buf.clear()
                    return _garbled_sendto(raw)
                return None
            try:
                tokens.append(buf[pos:space].decode("ascii"))
            except UnicodeDecodeError:
                raw = bytes(buf[:space])
                del buf[: space + 1]
                return _garbled_sendto(raw)
            pos = space + 1
        length_text = tokens[-1]
        if len(length_text) != 4 or not _is_hex(length_text):
            raw = bytes(buf[:pos])
            del buf[:pos]
            return CommandLine("SKSENDTO", tuple(tokens[1:]), None, raw.decode(), garbled=True)
        length = int(length_text, 16)
        if len(buf) < pos + length:
            return None
        data = bytes(buf[pos : pos + length])
        header = bytes(buf[:pos]).decode("ascii")
        del buf[: pos + length]
        if buf.startswith(CRLF):
            del buf[:2]  # some hosts (NODE-WRB) add CRLF after the payload; harmless (§D.1)
        return CommandLine("SKSENDTO", tuple(tokens[1:]), data, header)


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789ABCDEFabcdef" for c in text)


def _garbled_sendto(raw: bytes) -> CommandLine:
    text = raw.decode("ascii", "replace")
    parts = text.split(" ")
    return CommandLine("SKSENDTO", tuple(parts[1:]), None, text, garbled=True)


def _line(raw: bytes, cr_only: bool) -> CommandLine:
    if not raw.strip():
        return CommandLine("", (), None, "")
    if len(raw) > MAX_LINE:
        return CommandLine("", (), None, "", garbled=True)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return CommandLine("", (), None, raw.decode("ascii", "replace"), garbled=True)
    if not text.isprintable():
        return CommandLine("", (), None, text, garbled=True)
    parts = text.strip().split()
    return CommandLine(parts[0].upper(), tuple(parts[1:]), None, text, cr_only)


# --- output builders ---------------------------------------------------------------------------


def ok(text: str = "", *, cr_only: bool = False) -> bytes:
    """``OK`` / ``OK <text>``; CR only after ROPT/WOPT/RUART (§D.1)."""
    line = f"OK {text}" if text else "OK"
    return line.encode("ascii") + (b"\r" if cr_only else CRLF)


def fail(code: int, *, cr_only: bool = False) -> bytes:
    """``FAIL ERxx`` (§D.0)."""
    return f"FAIL ER{code:02d}".encode("ascii") + (b"\r" if cr_only else CRLF)


def event(
    number: int, address: str, dialect: Dialect, *, side: int = 0, param: int | None = None
) -> bytes:
    """``EVENT NUM ADDR [SIDE] [PARAM]`` (§D.2): SIDE only on BP35C2-family modules."""
    parts = [f"EVENT {number:02X}", address]
    if dialect.has_side:
        parts.append(str(side))
    if param is not None:
        parts.append(f"{param:02X}")
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
) -> bytes:
    """The EPANDESC block (§D.1), fields indented by two spaces."""
    lines = [
        "EPANDESC",
        f"  Channel:{channel:02X}",
        "  Channel Page:09",
        f"  Pan ID:{pan_id:04X}",
        f"  Addr:{address}",
        f"  LQI:{lqi:02X}",
    ]
    if dialect.has_side:
        lines.append(f"  Side:{side}")
    lines.append(f"  PairID:{pair_id}")
    return "".join(f"{line}\r\n" for line in lines).encode("ascii")


def einfo(ipv6: str, mac: str, channel: int, pan_id: int, dialect: Dialect) -> bytes:
    """``EINFO`` (§D.1 SKINFO): ADDR16 FFFE last on BP35A1, SIDE on BP35C2."""
    last = "0" if dialect.has_side else "FFFE"
    return f"EINFO {ipv6} {mac} {channel:02X} {pan_id:04X} {last}\r\n".encode("ascii")


def ll64_address(mac: str) -> str:
    """SKLL64 (§D.1): FE80::/64 + the MAC with the U/L bit (0x02 of byte 0) flipped."""
    raw = bytearray(bytes.fromhex(mac))
    raw[0] ^= 0x02
    groups = ["FE80", "0000", "0000", "0000"] + [raw[i : i + 2].hex().upper() for i in (0, 2, 4, 6)]
    return ":".join(groups)
