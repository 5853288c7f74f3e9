"""Serial I/O over a real pseudo-terminal and TCP: bytes both ways and typed device errors."""

from __future__ import annotations

import asyncio
import os
import pty
import socket

import pytest

from routeb.errors import DeviceBusyError, DeviceDisconnectedError, DeviceNotFoundError
from routeb.serialio import open_serial


async def _read_until(port_read: object, want: bytes) -> bytes:
    got = b""
    while want not in got:
        got += await asyncio.wait_for(port_read(), 2)  # type: ignore[operator]
    return got


async def test_pty_round_trip_and_busy_and_vanish() -> None:
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    port = await open_serial(path)
    try:
        os.write(master, b"EVER 1.2.10\r\nOK\r\n")
        assert await _read_until(port.read, b"OK\r\n") == b"EVER 1.2.10\r\nOK\r\n"
        port.write(b"SKVER\r\n")
        await asyncio.sleep(0.05)
        assert os.read(master, 100) == b"SKVER\r\n"
        with pytest.raises(DeviceBusyError, match="another program"):
            await open_serial(path)
        os.close(master)

        async def drain_until_gone() -> None:
            for _ in range(50):
                await asyncio.wait_for(port.read(), 2)

        with pytest.raises(DeviceDisconnectedError):
            await drain_until_gone()
        assert not port.is_open
    finally:
        await port.close()
        os.close(slave)


async def test_missing_device_is_typed() -> None:
    with pytest.raises(DeviceNotFoundError, match="by-id"):
        await open_serial("/dev/ttyUSB-routeb-missing")


async def test_socket_url_round_trip_and_refused() -> None:
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"OK\r\n")
        await writer.drain()
        received.append(await reader.readline())
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port_number = server.sockets[0].getsockname()[1]
    async with server:
        port = await open_serial(f"socket://127.0.0.1:{port_number}")
        assert await _read_until(port.read, b"OK\r\n") == b"OK\r\n"
        port.write(b"SKINFO\r\n")
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.01)
        assert received == [b"SKINFO\r\n"]
        await port.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    with pytest.raises(DeviceNotFoundError, match="cannot connect"):
        await open_serial(f"socket://127.0.0.1:{free}")
