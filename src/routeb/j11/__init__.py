"""ROHM J11: the binary UART protocol of BP35C0-J11 / BP35C2-J11-T01 / RS-WSUHA-J11 modules.

Sans-IO, both directions (j11.md): :mod:`.frame` frames bytes (both checksums, resync on the
unique code), :mod:`.requests`, :mod:`.responses` and :mod:`.notifications` hold every message
as a frozen dataclass, :mod:`.codes` the command and result codes. ``encode`` / ``decode`` /
:class:`MessageReader` in :mod:`.messages` tie them together. docs/j11-codec.md shows how.
"""

from routeb.j11 import codes, notifications, requests, responses
from routeb.j11.codes import Command, PanaOutcome, Result, SendOutcome
from routeb.j11.frame import Frame, FrameFault, FrameReader, Origin, decode_frame, encode_frame
from routeb.j11.messages import (
    HostMessage,
    Message,
    MessageReader,
    ModuleMessage,
    UnknownFrame,
    decode,
    decode_bytes,
    encode,
    link_local,
    mac_of,
)
from routeb.j11.responses import Rejected

__all__ = [
    "Command",
    "Frame",
    "FrameFault",
    "FrameReader",
    "HostMessage",
    "Message",
    "MessageReader",
    "ModuleMessage",
    "Origin",
    "PanaOutcome",
    "Rejected",
    "Result",
    "SendOutcome",
    "UnknownFrame",
    "codes",
    "decode",
    "decode_bytes",
    "decode_frame",
    "encode",
    "encode_frame",
    "link_local",
    "mac_of",
    "notifications",
    "requests",
    "responses",
]
