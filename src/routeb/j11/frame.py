"""J11 framing (j11.md §2): unique code, command code, message length, two checksums, data.

``encode_frame`` builds the bytes of a :class:`Frame`; ``decode_frame`` is its strict inverse
for exactly one frame and raises :class:`~routeb.errors.J11FrameError` and nothing else.
:class:`FrameReader` frames a byte stream incrementally, as the module's receiver does (§2.4):
bytes before the unique code are dropped, every fault comes out as a ``J11FrameError`` value
(never raised) and the reader resynchronises on the next unique code. It holds no clock: the IO
layer calls :meth:`FrameReader.expire` when a partial frame has waited ``DATA_TIMEOUT``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Final

from routeb.errors import J11FrameError, UsageError

__all__ = [
    "DATA_TIMEOUT",
    "HEADER_SIZE",
    "MAX_DATA",
    "MAX_FRAME",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "Frame",
    "FrameFault",
    "FrameReader",
    "Origin",
    "checksum",
    "decode_frame",
    "encode_frame",
]

# j11.md §2.1: D0EA83FC from the host (requests), D0F9EE5D from the module (responses and
# notifications).
_HOST_UNIQUE: Final = bytes.fromhex("D0EA83FC")
_MODULE_UNIQUE: Final = bytes.fromhex("D0F9EE5D")
# §2.1: unique code (4) + command (2) + length (2) + header checksum (2) + data checksum (2).
HEADER_SIZE: Final = 12
_SUMMED_HEADER: Final = 8  # §2.1: the header checksum covers bytes 0..7
# §2.1: the message length counts both checksums and the data, so at least 4 (§2.4: less → 0xF2).
MIN_LENGTH: Final = 4
# §2.1: the module accepts frames of at most 1361 bytes → message length ≤ 0x0549 (else 0xF3).
MAX_FRAME: Final = 1361
MAX_LENGTH: Final = MAX_FRAME - _SUMMED_HEADER
MAX_DATA: Final = MAX_LENGTH - MIN_LENGTH
# §2.4: a frame cut short is discarded after 1 s without more bytes (result 0x13).
DATA_TIMEOUT: Final = 1.0


class Origin(Enum):
    """Who sent a frame, which its unique code says (§2.1)."""

    HOST = "host"
    MODULE = "module"

    @property
    def unique_code(self) -> bytes:
        """The 4-byte unique code that starts this side's frames."""
        return _HOST_UNIQUE if self is Origin.HOST else _MODULE_UNIQUE


class FrameFault(StrEnum):
    """Why bytes are not a frame; the module's answer to each is in j11.md §2.4 / §6."""

    UNIQUE_CODE = "unique-code"  # bytes before a unique code: dropped, never answered (§2.10.6)
    HEADER_CHECKSUM = "header-checksum"  # command unknown → 0x2FFF, result 0xF0 (§2.10.8)
    DATA_CHECKSUM = "data-checksum"  # result 0xF1
    UNDERSIZE = "undersize"  # message length < 4 → 0xF2
    OVERSIZE = "oversize"  # message length > 1353 → 0xF3 (§2.10.1)
    TRUNCATED = "truncated"  # the data stopped short for 1 s → 0x13 (§2.10.3)
    TRAILING = "trailing"  # decode_frame only: bytes after the frame


def checksum(data: bytes | bytearray | memoryview) -> int:
    """§2.1 / §2.6: the plain byte sum, overflow ignored (mod 0x10000)."""
    return sum(data) & 0xFFFF


@dataclass(frozen=True, slots=True)
class Frame:
    """One checked frame: who sent it, the command code and the data (never in the repr)."""

    origin: Origin
    command: int
    data: bytes = field(default=b"", repr=False)

    def __repr__(self) -> str:
        return f"Frame({self.origin.name}, 0x{self.command:04X}, {len(self.data)} bytes)"


def encode_frame(frame: Frame) -> bytes:
    """The wire bytes of ``frame``, both checksums computed (§2.1)."""
    if not 0 <= frame.command <= 0xFFFF:
        raise UsageError(f"a J11 command code is 16 bits, got {frame.command!r}")
    if len(frame.data) > MAX_DATA:
        raise UsageError(f"J11 frame data is at most {MAX_DATA} bytes, got {len(frame.data)}")
    length = MIN_LENGTH + len(frame.data)
    head = frame.origin.unique_code + frame.command.to_bytes(2, "big") + length.to_bytes(2, "big")
    sums = checksum(head).to_bytes(2, "big") + checksum(frame.data).to_bytes(2, "big")
    return head + sums + frame.data


def _origin_of(unique: bytes) -> Origin | None:
    if unique == _HOST_UNIQUE:
        return Origin.HOST
    if unique == _MODULE_UNIQUE:
        return Origin.MODULE
    return None


def decode_frame(raw: bytes, origin: Origin | None = None) -> Frame:
    """Exactly one frame (from ``origin`` if given); J11FrameError for anything else."""
    found = _origin_of(bytes(raw[:4]))
    if found is None or (origin is not None and found is not origin):
        raise J11FrameError(FrameFault.UNIQUE_CODE, "not a J11 unique code")
    if len(raw) < HEADER_SIZE:
        raise J11FrameError(FrameFault.TRUNCATED, "shorter than the 12-byte header")
    frame, error = _header(raw)
    if error is not None:
        raise error
    command, length, data_sum = frame
    total = _SUMMED_HEADER + length
    if len(raw) < total:
        raise J11FrameError(FrameFault.TRUNCATED, "data shorter than its length", command=command)
    if len(raw) > total:
        raise J11FrameError(FrameFault.TRAILING, "bytes after the frame", command=command)
    data = bytes(raw[HEADER_SIZE:total])
    if checksum(data) != data_sum:
        raise J11FrameError(FrameFault.DATA_CHECKSUM, "data checksum mismatch", command=command)
    return Frame(found, command, data)


def _header(raw: bytes | bytearray) -> tuple[tuple[int, int, int], J11FrameError | None]:
    """(command, length, data checksum) of a 12-byte header, or the fault it has."""
    command = int.from_bytes(raw[4:6], "big")
    length = int.from_bytes(raw[6:8], "big")
    fields = (command, length, int.from_bytes(raw[10:12], "big"))
    if checksum(raw[:_SUMMED_HEADER]) != int.from_bytes(raw[8:10], "big"):
        return fields, J11FrameError(FrameFault.HEADER_CHECKSUM, "header checksum mismatch")
    if length < MIN_LENGTH:
        return fields, J11FrameError(
            FrameFault.UNDERSIZE, "message length below 4", command=command
        )
    if length > MAX_LENGTH:
        return fields, J11FrameError(
            FrameFault.OVERSIZE, f"message length above {MAX_LENGTH}", command=command
        )
    return fields, None


class FrameReader:
    """Incremental framing of one direction of a J11 stream (``origin``: whose frames to take).

    Buffers at most one frame (``MAX_FRAME`` bytes). Every frame and fault comes out of
    :meth:`feed` in stream order, the same however the bytes are split.
    """

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self._unique = origin.unique_code
        self._buffer = bytearray()
        self._skipped = 0  # dropped outside frames, not yet reported
        self._quiet = 0  # bytes still to come of a rejected frame: dropped without a report
        self.discarded = 0  # bytes dropped so far (outside frames, or of rejected frames)

    @property
    def pending(self) -> bool:
        """True while a started frame waits for more bytes (the IO layer arms DATA_TIMEOUT)."""
        return self._buffer[:4] == self._unique

    @property
    def buffered(self) -> int:
        """Bytes held back."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame | J11FrameError]:
        """Every frame and fault that ``data`` completes, in order."""
        self._buffer += data
        return self._drain()

    def expire(self) -> list[Frame | J11FrameError]:
        """The partial frame waited DATA_TIMEOUT: report it truncated and rescan what follows."""
        if not self.pending:
            return []
        buf = self._buffer
        command: int | None = None
        if len(buf) >= HEADER_SIZE:
            (code, _, _), error = _header(buf)
            command = code if error is None else None
        self._reject(len(self._unique), len(buf) - len(self._unique))
        out: list[Frame | J11FrameError] = [
            J11FrameError(FrameFault.TRUNCATED, "frame cut short", command=command)
        ]
        out += self._drain()
        return out

    def _reject(self, count: int, quiet: int) -> None:
        """Drop ``count`` bytes of a rejected frame; its next ``quiet`` bytes go unreported."""
        del self._buffer[:count]
        self.discarded += count
        self._quiet = quiet

    def _skip(self, count: int) -> None:
        del self._buffer[:count]
        self.discarded += count
        quiet = min(count, self._quiet)
        self._quiet -= quiet
        self._skipped += count - quiet

    def _drain(self) -> list[Frame | J11FrameError]:
        out: list[Frame | J11FrameError] = []
        buf = self._buffer
        unique = self._unique
        while True:
            start = buf.find(unique)
            if start < 0:
                # Keep a tail that may be the start of a unique code; drop the rest.
                keep = next((n for n in (3, 2, 1) if len(buf) >= n and buf[-n:] == unique[:n]), 0)
                self._skip(len(buf) - keep)
                return out
            self._skip(start)
            self._quiet = 0
            if self._skipped:
                out.append(
                    J11FrameError(
                        FrameFault.UNIQUE_CODE, "bytes outside any frame", skipped=self._skipped
                    )
                )
                self._skipped = 0
            if len(buf) < HEADER_SIZE:
                return out
            (command, length, data_sum), error = _header(buf)
            if error is not None:
                out.append(error)
                if error.kind == FrameFault.HEADER_CHECKSUM:
                    # The length cannot be trusted: look for the next unique code right away.
                    self._reject(len(unique), HEADER_SIZE - len(unique))
                else:
                    self._reject(HEADER_SIZE, 0)  # §2.10.1: the data is discarded
                continue
            total = _SUMMED_HEADER + length
            if len(buf) < total:
                return out
            data = bytes(buf[HEADER_SIZE:total])
            if checksum(data) != data_sum:
                out.append(
                    J11FrameError(
                        FrameFault.DATA_CHECKSUM, "data checksum mismatch", command=command
                    )
                )
                # The frame may have been cut short and its "data" hold the next frame: rescan.
                self._reject(HEADER_SIZE, total - HEADER_SIZE)
                continue
            out.append(Frame(self.origin, command, data))
            del buf[:total]
