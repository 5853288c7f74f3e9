"""An asyncio byte stream to a Wi-SUN module: a tty, a pty, ``socket://`` or ``rfc2217://``.

serialx does the OS work; this module turns its errors into routeb's typed ``DeviceError``s
with a message a user can act on, and hands bytes to the caller as they arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections import deque
from typing import Final, Protocol

import serialx

from routeb.errors import (
    DeviceBusyError,
    DeviceDisconnectedError,
    DeviceError,
    DeviceNotFoundError,
    DevicePermissionError,
)

__all__ = ["DEFAULT_BAUDRATE", "ByteStream", "SerialPort", "open_serial"]

_LOG = logging.getLogger(__name__)
_CLOSE_TIMEOUT = 2.0
# serialx logs every byte it moves at DEBUG, split at arbitrary chunk boundaries, so a
# SKSETRBID / SKSETPWD line cannot be reliably masked there. Our driver logs each line itself,
# masked; the library's byte traces stay off even when the root logger is at DEBUG.
logging.getLogger("serialx").setLevel(logging.INFO)

# protocol.md §D.0: the modules speak 115200 8N1.
DEFAULT_BAUDRATE: Final = 115200
# A module never has more than a few KiB in flight (§A.1: SKSENDTO ≤ 1232 bytes); a reader that
# stops reading must not let memory grow without bound.
_MAX_BUFFERED: Final = 1 << 20


def _describe(url: str, exc: OSError) -> DeviceError:
    """Translate an OS error on open into the routeb error a user can act on."""
    code = exc.errno
    if isinstance(exc, FileNotFoundError) or code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return DeviceNotFoundError(
            f"{url}: no such device — is the dongle plugged in? "
            "Prefer a stable path under /dev/serial/by-id/."
        )
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        return DevicePermissionError(
            f"{url}: permission denied — add your user to the 'dialout' group "
            "(sudo usermod -aG dialout $USER, then log in again)."
        )
    if code in (errno.EBUSY, errno.EAGAIN):
        return DeviceBusyError(
            f"{url}: the device is busy — another program (ModemManager, another routeb, "
            "a terminal) has it open."
        )
    if isinstance(exc, ConnectionRefusedError | TimeoutError) or code in (
        errno.ECONNREFUSED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
    ):
        return DeviceNotFoundError(f"{url}: cannot connect ({exc.strerror or exc}).")
    return DeviceError(f"{url}: cannot open the device ({exc.strerror or exc}).")


class ByteStream(Protocol):
    """A byte stream to a module: a real serial port, or a memory link in tests."""

    @property
    def is_open(self) -> bool:
        """False once the stream ended."""
        ...

    async def read(self) -> bytes:
        """The next bytes (at least one); DeviceDisconnectedError once the stream ended."""
        ...

    def write(self, data: bytes) -> None:
        """Queue bytes; DeviceDisconnectedError once the stream ended."""
        ...

    async def close(self) -> None:
        """Close the stream; idempotent."""
        ...


class _StreamProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.chunks: deque[bytes] = deque()
        self.size = 0
        self.ready = asyncio.Event()
        self.lost: Exception | None = None
        self.closed = False
        self.gone = asyncio.Event()  # set by connection_lost: the descriptor is really closed

    def data_received(self, data: bytes) -> None:
        if self.size + len(data) > _MAX_BUFFERED:
            # The reader is not keeping up; drop the oldest bytes rather than grow forever.
            while self.chunks and self.size + len(data) > _MAX_BUFFERED:
                self.size -= len(self.chunks.popleft())
        self.chunks.append(data)
        self.size += len(data)
        self.ready.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc
        self.ready.set()
        self.gone.set()


class SerialPort:
    """An open byte stream to the module; ``read`` raises DeviceDisconnectedError when it ends."""

    def __init__(
        self, url: str, transport: asyncio.BaseTransport, protocol: _StreamProtocol
    ) -> None:
        self.url = url
        self._transport = transport
        self._protocol = protocol

    @property
    def is_open(self) -> bool:
        """False once the device went away or ``close`` was called."""
        return not self._protocol.closed

    async def read(self) -> bytes:
        """The next bytes from the module (at least one)."""
        proto = self._protocol
        while not proto.chunks:
            if proto.closed:
                raise DeviceDisconnectedError(f"{self.url}: the device went away")
            proto.ready.clear()
            await proto.ready.wait()
        data = b"".join(proto.chunks)
        proto.chunks.clear()
        proto.size = 0
        return data

    def write(self, data: bytes) -> None:
        """Queue bytes for the module."""
        if self._protocol.closed:
            raise DeviceDisconnectedError(f"{self.url}: the device went away")
        if not isinstance(self._transport, asyncio.WriteTransport):  # pragma: no cover
            raise DeviceError(f"{self.url}: transport cannot write")
        try:
            self._transport.write(data)
        except OSError as exc:
            raise DeviceDisconnectedError(f"{self.url}: write failed ({exc})") from exc

    async def close(self) -> None:
        """Close the device; idempotent."""
        if not self._protocol.closed:
            self._transport.close()
            # serialx closes in the background: wait until the descriptor (and its exclusive
            # lock) is released, or the next open — maybe in another event loop — finds the
            # device busy.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._protocol.gone.wait(), _CLOSE_TIMEOUT)
        self._protocol.closed = True
        self._protocol.ready.set()


async def open_serial(url: str, *, baudrate: int = DEFAULT_BAUDRATE) -> SerialPort:
    """Open a device path or URL (``/dev/ttyUSB0``, a pty, ``socket://h:p``, ``rfc2217://h:p``)."""
    loop = asyncio.get_running_loop()
    protocol = _StreamProtocol()
    try:
        transport, _ = await serialx.create_serial_connection(loop, lambda: protocol, url, baudrate)
    except OSError as exc:
        raise _describe(url, exc) from exc
    except serialx.SerialException as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError):
            raise _describe(url, cause) from exc
        raise DeviceError(f"{url}: cannot open the device ({exc})") from exc
    except ValueError as exc:
        raise DeviceNotFoundError(f"{url}: not a device path or supported URL ({exc})") from exc
    _LOG.debug("opened %s at %d baud", url, baudrate)
    return SerialPort(url, transport, protocol)
