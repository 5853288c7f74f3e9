"""Every J11 message, both directions: ``encode(message)`` and ``decode(frame)``, exact inverses.

``decode`` raises :class:`~routeb.errors.J11DecodeError` (and nothing else) for a checked
frame whose data does not fit its command; a code this codec does not know is kept raw as
:class:`UnknownFrame`. :class:`MessageReader` is the incremental form over a byte stream: it
returns messages and the framing / decoding errors as values, in stream order.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Final

from routeb.errors import J11DecodeError, J11FrameError
from routeb.j11._fields import MAC_SIZE, Cursor
from routeb.j11._fields import mac as mac_bytes
from routeb.j11.codes import Result
from routeb.j11.frame import Frame, FrameReader, Origin, decode_frame, encode_frame
from routeb.j11.notifications import NOTIFICATIONS, Notification
from routeb.j11.requests import REQUESTS, Request
from routeb.j11.responses import ERROR_CODES, RESPONSES, Rejected, Response, is_response_code

__all__ = [
    "HostMessage",
    "Message",
    "MessageReader",
    "ModuleMessage",
    "UnknownFrame",
    "decode",
    "decode_bytes",
    "encode",
    "link_local",
    "mac_of",
]

# j11.md §7.5: FE80::/64 + the MAC with bit 0x02 of its first byte inverted.
_LINK_LOCAL_PREFIX: Final = bytes.fromhex("FE80000000000000")
_UNIVERSAL_LOCAL_BIT: Final = 0x02


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    """A checked frame with a command code this codec does not know, kept as it came."""

    origin: Origin
    code: int
    data: bytes = field(default=b"", repr=False)

    def frame(self) -> Frame:
        return Frame(self.origin, self.code, self.data)


HostMessage = Request | UnknownFrame
ModuleMessage = Response | Rejected | Notification | UnknownFrame
Message = Request | Response | Rejected | Notification | UnknownFrame


def encode(message: Message) -> bytes:
    """The wire bytes of ``message`` (unique code, sums and all)."""
    return encode_frame(message.frame())


def decode(frame: Frame) -> Message:
    """The message in ``frame``; J11DecodeError when its data does not fit the command."""
    code, data = frame.command, frame.data
    if frame.origin is Origin.HOST:
        request = REQUESTS.get(code)
        if request is None:
            return UnknownFrame(frame.origin, code, data)
        return request.parse(Cursor(code, data))
    if code in ERROR_CODES or is_response_code(code):
        if not data:
            raise J11DecodeError(code, "a response without its result byte")
        result = Result(data[0])
        if code in ERROR_CODES or result != Result.SUCCESS:
            return Rejected(code, result, data[1:])
        response = RESPONSES.get(code)
        if response is None:
            return UnknownFrame(frame.origin, code, data)
        return response.parse(Cursor(code, data[1:]))
    notification = NOTIFICATIONS.get(code)
    if notification is None:
        return UnknownFrame(frame.origin, code, data)
    return notification.parse(Cursor(code, data))


def decode_bytes(raw: bytes, origin: Origin | None = None) -> Message:
    """One whole frame's bytes → its message (J11FrameError or J11DecodeError otherwise)."""
    return decode(decode_frame(raw, origin))


class MessageReader:
    """Incremental reader of the frames ``origin`` sends (the host reads Origin.MODULE)."""

    def __init__(self, origin: Origin) -> None:
        self._frames = FrameReader(origin)

    @property
    def pending(self) -> bool:
        """A frame is half received: call :meth:`expire` after DATA_TIMEOUT of silence."""
        return self._frames.pending

    @property
    def buffered(self) -> int:
        return self._frames.buffered

    @property
    def discarded(self) -> int:
        return self._frames.discarded

    def feed(self, data: bytes) -> list[Message | J11FrameError | J11DecodeError]:
        """Every message, and every error, that ``data`` completes."""
        return [_decoded(item) for item in self._frames.feed(data)]

    def expire(self) -> list[Message | J11FrameError | J11DecodeError]:
        """The half-received frame timed out (§2.4); see FrameReader.expire."""
        return [_decoded(item) for item in self._frames.expire()]


def _decoded(item: Frame | J11FrameError) -> Message | J11FrameError | J11DecodeError:
    if isinstance(item, J11FrameError):
        return item
    try:
        return decode(item)
    except J11DecodeError as exc:
        return exc


def link_local(mac: str) -> ipaddress.IPv6Address:
    """§7.5: a MAC (16 upper-case hex digits) → its link-local IPv6 address."""
    raw = bytearray(mac_bytes(mac))
    raw[0] ^= _UNIVERSAL_LOCAL_BIT
    return ipaddress.IPv6Address(_LINK_LOCAL_PREFIX + bytes(raw))


def mac_of(address: ipaddress.IPv6Address) -> str | None:
    """The MAC behind a link-local address (§7.5), None for any other address."""
    packed = address.packed
    if packed[:8] != _LINK_LOCAL_PREFIX:
        return None
    raw = bytearray(packed[8:])
    raw[0] ^= _UNIVERSAL_LOCAL_BIT
    return bytes(raw[:MAC_SIZE]).hex().upper()
