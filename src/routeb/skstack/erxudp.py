"""ERXUDP lines in every dialect (protocol.md §D.4), parsed strictly and built exactly.

Layouts (token 0 is ``ERXUDP``; DATA follows DATALEN and one space):

- BP35A1 / RL7023-IPS, 9 tokens: ``ERXUDP SENDER DEST RPORT LPORT SENDERLLA SECURED DATALEN DATA``;
- BP35C0/C2, SA2 = 0, 10 tokens: ``… SENDERLLA SECURED SIDE DATALEN DATA``;
- BP35C0/C2, SA2 = 1, 11 tokens: ``… SENDERLLA LQI SECURED SIDE DATALEN DATA``.

DATA is hex ASCII (2 × DATALEN characters, WOPT 01) or raw binary (DATALEN bytes, which may
contain CR LF, WOPT 00), always followed by CRLF on the wire (§D.4). The layout is told apart by
field widths (SECURED and SIDE are one character, LQI two, DATALEN four), so no dialect flag is
needed. :func:`parse_header` is the incremental half shared with the stream parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from routeb.errors import SkstackProtocolError, UsageError
from routeb.skstack.events import UdpReceived
from routeb.skstack.grammar import (
    CRLF,
    HEX_BYTES,
    HEX_DIGITS,
    MAC_DIGITS,
    MAX_DATALEN,
)

__all__ = [
    "HEADER_LIMIT",
    "MAX_DATALEN",
    "PREFIX",
    "ErxudpHeader",
    "decode_data",
    "format_erxudp",
    "is_full_ipv6",
    "parse_erxudp_line",
    "parse_header",
]

PREFIX: Final = b"ERXUDP "
# grammar.MAX_DATALEN: DATALEN 0001..04D0 (1232 bytes = IPv6 minimum MTU 1280 − 40 − 8), so no
# UDP payload the module can report is longer.
# The longest valid header (§D.4 field widths): "ERXUDP" + 2 × 39-char addresses + 2 × 4-digit
# ports + 16-digit MAC + LQI 2 + SECURED 1 + SIDE 1 + DATALEN 4, with 10 separating spaces =
# 126 bytes. Anything that has not finished its header after this many bytes is garbage.
HEADER_LIMIT: Final = 160
# §D.4: "addresses are 39-char full IPv6 (uppercase, 4-hex groups)".
IPV6_TEXT_LENGTH: Final = 39


@dataclass(frozen=True, slots=True)
class ErxudpHeader:
    """Every ERXUDP field before DATA, validated (§D.4)."""

    sender: str
    destination: str
    remote_port: int
    local_port: int
    sender_mac: str
    secured: int
    side: int | None
    lqi: int | None
    length: int  # DATALEN, in bytes

    def with_data(self, data: bytes) -> UdpReceived:
        return UdpReceived(
            sender=self.sender,
            destination=self.destination,
            remote_port=self.remote_port,
            local_port=self.local_port,
            sender_mac=self.sender_mac,
            secured=self.secured,
            data=data,
            side=self.side,
            lqi=self.lqi,
        )


def is_full_ipv6(text: str) -> bool:
    """True for the 39-character, 8 × 4-hex-digit form modules print (§D.4), any letter case."""
    if len(text) != IPV6_TEXT_LENGTH:
        return False
    groups = text.split(":")
    return len(groups) == 8 and all(len(g) == 4 and set(g) <= HEX_DIGITS for g in groups)


def _hex_field(token: bytes, width: int, name: str, offset: int) -> int:
    if len(token) != width or not set(token) <= HEX_BYTES:
        raise SkstackProtocolError(f"{name} must be {width} hex digits", offset=offset)
    return int(token, 16)


def _address(token: bytes, name: str, offset: int) -> str:
    text = token.decode("latin-1")
    if not is_full_ipv6(text):
        raise SkstackProtocolError(f"{name} is not a 39-character IPv6 address", offset=offset)
    return text


def _split(buffer: bytes | bytearray) -> tuple[list[tuple[int, bytes]], int] | None:
    """Tokens (offset, bytes) from ``ERXUDP`` to DATALEN, and the offset where DATA starts."""
    tokens: list[tuple[int, bytes]] = []
    pos = 0
    limit = min(len(buffer), HEADER_LIMIT)
    while True:
        space = buffer.find(b" ", pos, limit)
        stop = space if space >= 0 else limit
        cr = buffer.find(b"\r", pos, stop)
        lf = buffer.find(b"\n", pos, stop)
        ends = [i for i in (cr, lf) if i >= 0]
        if ends:
            raise SkstackProtocolError("ERXUDP line ends before its data", offset=min(ends))
        if space < 0:
            if len(buffer) >= HEADER_LIMIT:
                raise SkstackProtocolError("ERXUDP header is too long", offset=HEADER_LIMIT)
            return None
        tokens.append((pos, bytes(buffer[pos:space])))
        pos = space + 1
        count = len(tokens)
        # tokens[6] and [7] decide the layout (see the module docstring).
        if count == 8 and len(tokens[6][1]) == 1 and len(tokens[7][1]) == 4:
            return tokens, pos  # BP35A1: SECURED DATALEN
        if count == 9 and len(tokens[6][1]) == 1 and len(tokens[7][1]) == 1:
            return tokens, pos  # BP35C2: SECURED SIDE DATALEN
        if count == 10 and len(tokens[6][1]) == 2:
            return tokens, pos  # BP35C2, SA2 = 1: LQI SECURED SIDE DATALEN
        if count >= 10:
            raise SkstackProtocolError("ERXUDP header has no known field layout", offset=pos)


def parse_header(buffer: bytes | bytearray) -> tuple[ErxudpHeader, int] | None:
    """The header at the start of ``buffer`` and the offset where DATA starts.

    None while ``buffer`` may still grow into a valid header; SkstackProtocolError as soon as
    it cannot be one (a line end or a bad field before DATALEN, an impossible DATALEN).
    """
    if not buffer.startswith(PREFIX[: len(buffer)]):
        raise SkstackProtocolError("not an ERXUDP line", offset=0)
    split = _split(buffer)
    if split is None:
        return None
    tokens, start = split
    if tokens[0][1] != b"ERXUDP":
        raise SkstackProtocolError("not an ERXUDP line", offset=0)
    (o1, sender), (o2, dest), (o3, rport), (o4, lport), (o5, mac) = tokens[1:6]
    if len(mac) != MAC_DIGITS or not set(mac) <= HEX_BYTES:
        raise SkstackProtocolError("SENDERLLA must be 16 hex digits", offset=o5)
    rest = tokens[6:]
    lqi: int | None = None
    side: int | None = None
    if len(rest) == 4:
        lqi = _hex_field(rest[0][1], 2, "LQI", rest[0][0])
        rest = rest[1:]
    secured = _hex_field(rest[0][1], 1, "SECURED", rest[0][0])
    if len(rest) == 3:
        side = _hex_field(rest[1][1], 1, "SIDE", rest[1][0])
    length_offset, length_token = rest[-1]
    length = _hex_field(length_token, 4, "DATALEN", length_offset)
    if length > MAX_DATALEN:
        raise SkstackProtocolError(f"DATALEN {length} exceeds {MAX_DATALEN}", offset=length_offset)
    header = ErxudpHeader(
        sender=_address(sender, "SENDER", o1),
        destination=_address(dest, "DEST", o2),
        remote_port=_hex_field(rport, 4, "RPORT", o3),
        local_port=_hex_field(lport, 4, "LPORT", o4),
        sender_mac=mac.decode("ascii"),
        secured=secured,
        side=side,
        lqi=lqi,
        length=length,
    )
    return header, start


def decode_data(data: bytes | bytearray, length: int, offset: int) -> bytes:
    """DATA without its CRLF: exactly 2 × length hex characters, or exactly length raw bytes."""
    if length and len(data) == 2 * length and set(data) <= HEX_BYTES:
        return bytes.fromhex(data.decode("ascii"))
    if len(data) == length:
        return bytes(data)
    raise SkstackProtocolError(
        f"DATA has {len(data)} bytes; DATALEN {length} needs {length} (binary) "
        f"or {2 * length} hex digits",
        offset=offset,
    )


def parse_erxudp_line(line: bytes) -> UdpReceived:
    """One whole ERXUDP line (trailing CRLF optional), any layout, hex or binary data.

    Strict: raises SkstackProtocolError (with the byte offset) for anything malformed.
    """
    parsed = parse_header(line)
    if parsed is None:
        raise SkstackProtocolError("ERXUDP header is incomplete", offset=len(line))
    header, start = parsed
    length = header.length
    rest = line[start:]
    # With CRLF, the body is length + 2 (binary) or 2 × length + 2 (hex) bytes. Stripping it is
    # unambiguous: a body of length + 2 bytes without CRLF would have to be hex (2 × length), so
    # length = 2, and "xx\r\n" is not hex.
    if rest.endswith(CRLF) and len(rest) - 2 in (length, 2 * length):
        rest = rest[:-2]
    return header.with_data(decode_data(rest, length, start))


def format_erxudp(rx: UdpReceived, *, hex_data: bool) -> bytes:
    """The exact line, CRLF included; the layout follows ``rx.side`` and ``rx.lqi`` (§D.4).

    Raises UsageError for values no module prints (LQI without SIDE, widths out of range).
    """
    if rx.lqi is not None and rx.side is None:
        raise UsageError("ERXUDP with LQI (SA2 = 1) always carries SIDE (§D.4)")
    for name, address in (("sender", rx.sender), ("destination", rx.destination)):
        if not is_full_ipv6(address):
            raise UsageError(f"ERXUDP {name} must be a 39-character IPv6 address: {address!r}")
    if len(rx.sender_mac) != MAC_DIGITS or not set(rx.sender_mac) <= HEX_DIGITS:
        raise UsageError("SENDERLLA is 16 hex digits")
    checks = (
        ("remote_port", rx.remote_port, 0xFFFF),
        ("local_port", rx.local_port, 0xFFFF),
        ("secured", rx.secured, 0xF),
        ("side", 0 if rx.side is None else rx.side, 0xF),
        ("lqi", 0 if rx.lqi is None else rx.lqi, 0xFF),
        ("data length", len(rx.data), MAX_DATALEN),
    )
    for name, value, top in checks:
        if not 0 <= value <= top:
            raise UsageError(f"ERXUDP {name} {value} is out of range 0..{top}")
    parts = [
        "ERXUDP",
        rx.sender,
        rx.destination,
        f"{rx.remote_port:04X}",
        f"{rx.local_port:04X}",
        rx.sender_mac,
    ]
    if rx.lqi is not None:
        parts.append(f"{rx.lqi:02X}")
    parts.append(f"{rx.secured:X}")
    if rx.side is not None:
        parts.append(f"{rx.side:X}")
    parts.append(f"{len(rx.data):04X}")
    head = (" ".join(parts) + " ").encode("ascii")
    body = rx.data.hex().upper().encode("ascii") if hex_data else rx.data
    return head + body + CRLF
