"""ERXUDP lines in every dialect (protocol.md §D.4), parsed strictly and built exactly.

Layouts, by the tokens before DATA:
- BP35A1 / RL7023-IPS (9): ``ERXUDP SENDER DEST RPORT LPORT SENDERLLA SECURED DATALEN DATA``;
- BP35C0/C2 (10): ``… SENDERLLA SECURED SIDE DATALEN DATA``;
- BP35C0/C2 with SA2 = 1 (11): ``… SENDERLLA LQI SECURED SIDE DATALEN DATA``.
DATA is hex ASCII (2 × DATALEN characters, WOPT 01) or raw binary (DATALEN bytes, which may
contain CR LF), always followed by CRLF on the wire. The layout is told apart by field widths
(SECURED and SIDE are one character, LQI two, DATALEN four), so no dialect flag is needed.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from routeb.errors import SkstackProtocolError
from routeb.skstack.events import UdpReceived

__all__ = ["HEADER_LIMIT", "MAX_DATALEN", "format_erxudp", "parse_erxudp_line", "split_header"]

PREFIX: Final = b"ERXUDP "
CRLF: Final = b"\r\n"
# protocol.md §D.1 SKSENDTO: DATALEN 0001..04D0 (1232 bytes), the module's UDP payload limit.
MAX_DATALEN: Final = 0x04D0
# The longest header: "ERXUDP" + 2 × 39-char addresses + ports, MAC, LQI, flags, DATALEN.
HEADER_LIMIT: Final = 160
_HEX: Final = frozenset(b"0123456789ABCDEFabcdef")


def _hex_field(token: bytes, width: int, name: str, offset: int) -> int:
    if len(token) != width or not set(token) <= _HEX:
        raise SkstackProtocolError(f"{name} must be {width} hex digits", offset=offset)
    return int(token, 16)


def _address(token: bytes, name: str, offset: int) -> str:
    try:
        text = token.decode("ascii")
        ipaddress.IPv6Address(text)
    except (UnicodeDecodeError, ValueError):
        raise SkstackProtocolError(f"{name} is not an IPv6 address", offset=offset) from None
    return text


def split_header(buffer: bytes | bytearray) -> tuple[list[tuple[int, bytes]], int] | None:
    """Tokens (offset, bytes) up to and including DATALEN, and the offset where DATA starts.

    None when ``buffer`` does not hold the whole header yet. Raises SkstackProtocolError when
    what is there cannot be an ERXUDP header (a line end or a bad width before DATALEN).
    """
    tokens: list[tuple[int, bytes]] = []
    pos = 0
    limit = min(len(buffer), HEADER_LIMIT)
    while True:
        space = buffer.find(b" ", pos, limit)
        line_end = min(
            (i for i in (buffer.find(b"\r", pos, limit), buffer.find(b"\n", pos, limit)) if i >= 0),
            default=-1,
        )
        if line_end >= 0 and (space < 0 or line_end < space):
            raise SkstackProtocolError("ERXUDP line ends before its data", offset=line_end)
        if space < 0:
            if len(buffer) >= HEADER_LIMIT:
                raise SkstackProtocolError("ERXUDP header is too long", offset=HEADER_LIMIT)
            return None
        tokens.append((pos, bytes(buffer[pos:space])))
        pos = space + 1
        count = len(tokens)
        # tokens[0] is "ERXUDP"; [6] decides the layout (see the module docstring).
        if count == 8 and len(tokens[6][1]) == 1 and len(tokens[7][1]) == 4:
            return tokens, pos  # BP35A1: SECURED DATALEN
        if count == 9 and len(tokens[6][1]) == 1 and len(tokens[7][1]) == 1:
            return tokens, pos  # BP35C2: SECURED SIDE DATALEN
        if count == 10 and len(tokens[6][1]) == 2:
            return tokens, pos  # BP35C2, SA2 = 1: LQI SECURED SIDE DATALEN
        if count >= 10:
            raise SkstackProtocolError("ERXUDP header has no recognisable layout", offset=pos)


def header_fields(tokens: list[tuple[int, bytes]]) -> tuple[dict[str, object], int]:
    """The typed header fields and DATALEN (validated)."""
    if tokens[0][1] != b"ERXUDP":
        raise SkstackProtocolError("not an ERXUDP line", offset=0)
    (o1, sender), (o2, dest), (o3, rport), (o4, lport), (o5, mac) = tokens[1:6]
    fields: dict[str, object] = {
        "sender": _address(sender, "SENDER", o1),
        "destination": _address(dest, "DEST", o2),
        "remote_port": _hex_field(rport, 4, "RPORT", o3),
        "local_port": _hex_field(lport, 4, "LPORT", o4),
        "sender_mac": mac.decode("ascii") if len(mac) == 16 and set(mac) <= _HEX else None,
    }
    if fields["sender_mac"] is None:
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
    fields.update(secured=secured, side=side, lqi=lqi)
    return fields, length


def decode_data(rest: bytes, length: int, offset: int) -> bytes:
    """DATA as bytes: exactly 2×length hex characters or exactly length raw bytes."""
    if len(rest) == 2 * length and length and set(rest) <= _HEX:
        return bytes.fromhex(rest.decode("ascii"))
    if len(rest) == length:
        return bytes(rest)
    raise SkstackProtocolError(
        f"DATA has {len(rest)} bytes, DATALEN says {length} (binary) or {2 * length} (hex)",
        offset=offset,
    )


def parse_erxudp_line(line: bytes) -> UdpReceived:
    """One whole ERXUDP line (trailing CRLF optional), any layout, hex or binary data."""
    if not line.startswith(PREFIX):
        raise SkstackProtocolError("not an ERXUDP line", offset=0)
    split = split_header(line)
    if split is None:
        raise SkstackProtocolError("ERXUDP header is incomplete", offset=len(line))
    tokens, start = split
    fields, length = header_fields(tokens)
    rest = line[start:]
    if len(rest) in (length + 2, 2 * length + 2) and rest.endswith(CRLF):
        candidate = rest[:-2]
        if len(candidate) in (length, 2 * length):
            rest = candidate
    data = decode_data(rest, length, start)
    return UdpReceived(data=data, **fields)  # type: ignore[arg-type]


def format_erxudp(rx: UdpReceived, *, hex_data: bool) -> bytes:
    """The exact line, CRLF included; the layout follows ``rx.side`` and ``rx.lqi``."""
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
    if rx.side is not None or rx.lqi is not None:
        parts.append(f"{rx.side or 0:X}")
    parts.append(f"{len(rx.data):04X}")
    head = (" ".join(parts) + " ").encode("ascii")
    body = rx.data.hex().upper().encode("ascii") if hex_data else rx.data
    return head + body + CRLF
