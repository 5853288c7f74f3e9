"""In-memory links for tests and the emulator: byte pipes and datagram pairs, with faults.

``byte_pipe()`` gives two connected byte streams (the host's and the module's side) that can
split writes into random pieces, delay them and drop bytes, like a bad UART (architecture.md:
"tests that run a fake device back to back with the host over links that split, delay and drop
bytes"). ``datagram_pair()`` gives two connected ECHONET transports that can delay and drop
whole datagrams, like a lossy radio.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import dataclass

from routeb.errors import DeviceDisconnectedError
from routeb.transport.base import Datagram

__all__ = ["ByteEnd", "DatagramEnd", "LinkFaults", "byte_pipe", "datagram_pair"]


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """How a memory link misbehaves; the default is a perfect link."""

    max_chunk: int = 0  # split writes into pieces of 1..max_chunk bytes (0 = never split)
    delay: float = 0.0  # seconds added before each piece (or datagram) arrives
    drop_probability: float = 0.0  # chance that a piece (or datagram) is lost
    seed: int = 0


class _Pipe:
    """One direction of a byte pipe."""

    def __init__(self, faults: LinkFaults) -> None:
        self.faults = faults
        self.random = random.Random(faults.seed)
        self.chunks: deque[bytes] = deque()
        self.ready = asyncio.Event()
        self.closed = False
        self.pending: set[asyncio.Task[None]] = set()

    def _deliver(self, data: bytes) -> None:
        if self.closed:
            return
        if self.faults.drop_probability and self.random.random() < self.faults.drop_probability:
            return
        self.chunks.append(data)
        self.ready.set()

    def push(self, data: bytes) -> None:
        pieces = [data]
        if self.faults.max_chunk:
            pieces = []
            i = 0
            while i < len(data):
                n = self.random.randint(1, self.faults.max_chunk)
                pieces.append(data[i : i + n])
                i += n
        for piece in pieces:
            if self.faults.delay:
                task = asyncio.get_running_loop().create_task(self._later(piece))
                self.pending.add(task)
                task.add_done_callback(self.pending.discard)
            else:
                self._deliver(piece)

    async def _later(self, piece: bytes) -> None:
        await asyncio.sleep(self.faults.delay)
        self._deliver(piece)

    def close(self) -> None:
        self.closed = True
        self.ready.set()
        for task in list(self.pending):
            task.cancel()


class ByteEnd:
    """One end of a byte pipe (implements ``routeb.serialio.ByteStream``)."""

    def __init__(self, incoming: _Pipe, outgoing: _Pipe, name: str) -> None:
        self._in = incoming
        self._out = outgoing
        self.url = name

    @property
    def is_open(self) -> bool:
        """False once either side closed the pipe."""
        return not (self._in.closed or self._out.closed)

    async def read(self) -> bytes:
        """The next bytes (at least one); DeviceDisconnectedError once the pipe closed."""
        while not self._in.chunks:
            if self._in.closed:
                raise DeviceDisconnectedError(f"{self.url}: the link closed")
            self._in.ready.clear()
            await self._in.ready.wait()
        data = b"".join(self._in.chunks)
        self._in.chunks.clear()
        return data

    def write(self, data: bytes) -> None:
        """Send bytes to the other end."""
        if self._out.closed:
            raise DeviceDisconnectedError(f"{self.url}: the link closed")
        self._out.push(data)

    async def close(self) -> None:
        """Close both directions (the other end sees the device vanish)."""
        self._in.close()
        self._out.close()


def byte_pipe(
    host_faults: LinkFaults | None = None, device_faults: LinkFaults | None = None
) -> tuple[ByteEnd, ByteEnd]:
    """(host end, device end); ``host_faults`` applies to bytes the host receives."""
    to_host = _Pipe(host_faults or LinkFaults())
    to_device = _Pipe(device_faults or LinkFaults())
    return ByteEnd(to_host, to_device, "memory://host"), ByteEnd(
        to_device, to_host, "memory://device"
    )


class DatagramEnd:
    """One end of an in-memory datagram link (implements ``EchonetTransport``)."""

    def __init__(self, address: str, faults: LinkFaults) -> None:
        self.address = address
        self.peer: DatagramEnd | None = None
        self._faults = faults
        self._random = random.Random(faults.seed)
        self._queue: asyncio.Queue[Datagram] = asyncio.Queue()
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def meter_address(self) -> str:
        """The address of the other end."""
        if self.peer is None:  # pragma: no cover - datagram_pair always links both
            raise DeviceDisconnectedError("memory link has no peer")
        return self.peer.address

    async def send(self, data: bytes, destination: str | None = None) -> None:
        """Deliver to the peer (possibly late, possibly never, per the faults)."""
        peer = self.peer
        if peer is None:  # pragma: no cover
            raise DeviceDisconnectedError("memory link has no peer")
        datagram = Datagram(bytes(data), self.address, destination or peer.address)
        if self._faults.drop_probability and self._random.random() < self._faults.drop_probability:
            return
        if self._faults.delay:
            task = asyncio.get_running_loop().create_task(self._later(peer, datagram))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        else:
            peer.deliver(datagram)

    async def _later(self, peer: DatagramEnd, datagram: Datagram) -> None:
        await asyncio.sleep(self._faults.delay)
        peer.deliver(datagram)

    def deliver(self, datagram: Datagram) -> None:
        """Queue a datagram the peer sent to this end."""
        self._queue.put_nowait(datagram)

    async def receive(self) -> Datagram:
        """The next datagram from the peer."""
        return await self._queue.get()

    def close(self) -> None:
        """Cancel datagrams still in flight."""
        for task in list(self._pending):
            task.cancel()


def datagram_pair(
    a: str = "FE80:0000:0000:0000:0000:0000:0000:0001",
    b: str = "FE80:0000:0000:0000:021D:1290:1234:5678",
    faults: LinkFaults | None = None,
) -> tuple[DatagramEnd, DatagramEnd]:
    """Two linked ends; faults apply to what each end sends."""
    end_a = DatagramEnd(a, faults or LinkFaults())
    end_b = DatagramEnd(b, faults or LinkFaults())
    end_a.peer, end_b.peer = end_b, end_a
    return end_a, end_b
