"""Find ECHONET Lite nodes and their smart meters on the LAN (``routeb discover``).

A multicast Get of the node profile's 0x83 (identification) and 0xD6 (instance list), while
listening for D5 INF announcements (protocol.md §A.6); then, per node, a unicast Get of the
maker code 0x8A and, per smart meter (0x0288) instance, its 0x8A / 0x8D. A node is known by
its 0x83, or by its address when 0x83 is missing or empty (some gateways answer it empty). A
node that lists a controller object but no 0x0288 is a gateway that does not expose the meter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from routeb.bridge.udp import NodeSocket
from routeb.echonet import EOJ, ESV, Frame, Property, decode_frame, encode_frame
from routeb.echonet.objects import (
    CONTROLLER_CLASS,
    CONTROLLER_EOJ,
    NODE_PROFILE_CLASS,
    NODE_PROFILE_EOJ,
    SMART_METER_CLASS,
)
from routeb.errors import EchonetDecodeError

__all__ = ["DiscoveredMeter", "DiscoveredNode", "discover", "parse_instance_list"]

_LOG = logging.getLogger(__name__)


def parse_instance_list(edt: bytes) -> tuple[EOJ, ...]:
    """D5/D6: count, then 3-byte EOJs (tolerant: a short list keeps the complete EOJs)."""
    if not edt:
        return ()
    count = edt[0]
    body = edt[1:]
    out: list[EOJ] = []
    for i in range(min(count, len(body) // 3)):
        chunk = body[3 * i : 3 * i + 3]
        with contextlib.suppress(ValueError):
            out.append(EOJ.from_bytes(chunk))
    return tuple(out)


@dataclass(slots=True)
class DiscoveredMeter:
    """A 0x0288 object of a node."""

    eoj: EOJ
    maker: bytes | None = None
    serial: str | None = None
    operating: bool | None = None


@dataclass(slots=True)
class DiscoveredNode:
    """One node: where it is, who it says it is, what it holds."""

    address: str
    identification: bytes | None = None
    maker: bytes | None = None
    instances: tuple[EOJ, ...] = ()
    meters: list[DiscoveredMeter] = field(default_factory=list)
    announced: bool = False  # a D5 INF was heard
    answered: bool = False  # the node profile answered a Get

    @property
    def identity(self) -> str:
        """0x83 in hex, or the address when 0x83 is missing or empty."""
        if self.identification:
            return self.identification.hex()
        return self.address

    @property
    def has_meter(self) -> bool:
        return any(e.class_id == SMART_METER_CLASS for e in self.instances)

    @property
    def gateway_without_meter(self) -> bool:
        """Lists a controller object and no smart meter: the meter is not exposed."""
        return not self.has_meter and any(e.class_id == CONTROLLER_CLASS for e in self.instances)

    def to_json(self) -> dict[str, object]:
        return {
            "address": self.address,
            "identity": self.identity,
            "identification": None if self.identification is None else self.identification.hex(),
            "maker": None if self.maker is None else self.maker.hex(),
            "instances": [e.to_bytes().hex() for e in self.instances],
            "meters": [
                {
                    "eoj": m.eoj.to_bytes().hex(),
                    "maker": None if m.maker is None else m.maker.hex(),
                    "serial": m.serial,
                    "operating": m.operating,
                }
                for m in self.meters
            ],
            "gateway_without_meter": self.gateway_without_meter,
        }


class _Discovery:
    def __init__(self, sock: NodeSocket) -> None:
        self.sock = sock
        self.nodes: dict[str, DiscoveredNode] = {}
        self._tid = 0
        self._waiting: dict[int, tuple[str, EOJ]] = {}
        self._done = asyncio.Event()
        self.malformed = 0

    def send(self, address: str, deoj: EOJ, epcs: Sequence[int], multicast: bool = False) -> None:
        self._tid = (self._tid + 1) & 0xFFFF
        frame = Frame(self._tid, CONTROLLER_EOJ, deoj, ESV.GET, tuple(Property(e) for e in epcs))
        data = encode_frame(frame)
        if multicast:
            self.sock.multicast(data)
        else:
            self._waiting[self._tid] = (address, deoj)
            self.sock.send(data, address)

    def _node(self, address: str) -> DiscoveredNode:
        node = self.nodes.get(address)
        if node is None:
            node = self.nodes[address] = DiscoveredNode(address)
        return node

    async def listen(self) -> None:
        while True:
            datagram = await self.sock.receive()
            try:
                frame = decode_frame(datagram.data)
            except EchonetDecodeError as exc:
                self.malformed += 1
                _LOG.debug("malformed datagram from %s: %s", datagram.source, exc)
                continue
            if isinstance(frame, Frame):
                self._take(frame, datagram.source)

    def _take(self, frame: Frame, source: str) -> None:
        if frame.esv not in (ESV.GET_RES, ESV.GET_SNA, ESV.INF, ESV.INFC):
            return
        values = {p.epc: p.edt for p in frame.properties if p.pdc}
        node = self._node(source)
        if frame.seoj.class_id == NODE_PROFILE_CLASS:
            if frame.esv in (ESV.INF, ESV.INFC):
                node.announced = True
            else:
                node.answered = True
            if 0x83 in values:
                node.identification = values[0x83]
            if 0x8A in values:
                node.maker = values[0x8A]
            for epc in (0xD6, 0xD5):
                if epc in values:
                    node.instances = parse_instance_list(values[epc])
                    node.meters = [
                        DiscoveredMeter(e)
                        for e in node.instances
                        if e.class_id == SMART_METER_CLASS
                    ]
        elif frame.seoj.class_id == SMART_METER_CLASS:
            for meter in node.meters:
                if meter.eoj == frame.seoj:
                    if 0x8A in values:
                        meter.maker = values[0x8A]
                    if 0x8D in values:
                        meter.serial = values[0x8D].rstrip(b"\x00").decode("ascii", "replace")
                    if 0x80 in values:
                        meter.operating = values[0x80] == b"\x30"
        if frame.esv in (ESV.GET_RES, ESV.GET_SNA):
            self._waiting.pop(frame.tid, None)
            if not self._waiting:
                self._done.set()

    async def follow_up(self, timeout: float) -> None:
        self._done.clear()
        for node in list(self.nodes.values()):
            epcs = [0x8A] + ([0x83, 0xD6] if not node.answered else [])
            self.send(node.address, NODE_PROFILE_EOJ, epcs)
            for meter in node.meters:
                self.send(node.address, meter.eoj, [0x80, 0x8A, 0x8D])
        if not self._waiting:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._done.wait(), timeout)


async def discover(
    *,
    bind: str = "",
    family: socket.AddressFamily | None = None,
    interface: str | None = None,
    timeout: float = 2.0,
    targets: Sequence[str] = (),
) -> list[DiscoveredNode]:
    """Nodes that answered or announced themselves within ``timeout`` seconds (+ follow-up)."""
    if family is None:
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = NodeSocket(bind, family=family, interface=interface)
    await sock.start()
    discovery = _Discovery(sock)
    listener = asyncio.get_running_loop().create_task(discovery.listen())
    try:
        discovery.send("", NODE_PROFILE_EOJ, [0x83, 0xD6], multicast=True)
        for target in targets:
            discovery.send(target, NODE_PROFILE_EOJ, [0x83, 0xD6])
        await asyncio.sleep(timeout)
        await discovery.follow_up(timeout)
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        sock.close()
    return sorted(discovery.nodes.values(), key=lambda n: n.address)
