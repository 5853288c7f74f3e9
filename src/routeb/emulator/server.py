"""Serving the emulated module: a pseudo-terminal (a serial port for any client) and TCP.

The pty is put in raw mode so bytes pass untouched (binary ERXUDP data, CR-only lines). The
emulator keeps the slave side open itself so the master never sees EIO between clients. For
the "device vanishes" fault the pty is closed and, after a pause, a new one is made; a stable
symlink (``link``) points at the current one, as /dev/serial/by-id does for a real dongle, and
is removed while the device is gone (udev removes the by-id link of an unplugged dongle), so a
client never reopens a freed pty number that another program may have been given.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import tty
from collections.abc import Callable
from pathlib import Path

__all__ = ["PtyEndpoint", "TcpEndpoint"]

_LOG = logging.getLogger(__name__)
_READ_SIZE = 4096

Attach = Callable[[Callable[[bytes], None]], Callable[[bytes], None]]
"""Given a writer (bytes → the client), return a feeder (bytes from the client → module)."""


class PtyEndpoint:
    """A pty whose slave path clients open like a serial port."""

    def __init__(self, attach: Attach, *, link: Path | None = None) -> None:
        self._attach = attach
        self._link = link
        self._master = -1
        self._slave = -1
        self._pending = bytearray()
        self._feed: Callable[[bytes], None] | None = None
        self.path = ""

    @property
    def client_path(self) -> str:
        """What clients should open: the stable link if any, else the pty itself."""
        return str(self._link) if self._link is not None else self.path

    def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        tty.setraw(master)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)
        if self._link is not None:
            tmp = self._link.with_name(self._link.name + ".tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(self.path)
            tmp.replace(self._link)
        self._feed = self._attach(self._write)
        loop = asyncio.get_running_loop()
        loop.add_reader(master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._master, _READ_SIZE)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return
            _LOG.debug("pty read failed: %s", exc)
            return
        if data and self._feed is not None:
            self._feed(data)

    def _write(self, data: bytes) -> None:
        if self._master < 0:
            return
        self._pending += data
        self._flush()

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending and self._master >= 0:
            try:
                sent = os.write(self._master, self._pending)
            except BlockingIOError:
                loop.add_writer(self._master, self._writable)
                return
            except OSError as exc:
                _LOG.debug("pty write failed: %s", exc)
                self._pending.clear()
                return
            del self._pending[:sent]

    def _writable(self) -> None:
        asyncio.get_running_loop().remove_writer(self._master)
        self._flush()

    def close(self) -> None:
        """Close the pty: the client sees the device disappear, and the link goes with it."""
        if self._link is not None and self.path:
            with contextlib.suppress(OSError):
                if os.readlink(self._link) == self.path:
                    self._link.unlink()
        if self._master >= 0:
            loop = asyncio.get_running_loop()
            loop.remove_reader(self._master)
            loop.remove_writer(self._master)
            os.close(self._master)
            os.close(self._slave)
        self._master = self._slave = -1
        self._pending.clear()
        self._feed = None


class TcpEndpoint:
    """socket:// clients: one emulated module per connection."""

    def __init__(self, attach: Attach, host: str = "127.0.0.1", port: int = 0) -> None:
        self._attach = attach
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._client, self._host, self._port)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"socket://{host}:{port}"

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def write(data: bytes) -> None:
            if not writer.is_closing():
                writer.write(data)

        feed = self._attach(write)
        try:
            while data := await reader.read(_READ_SIZE):
                feed(data)
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
