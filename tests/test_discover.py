"""Discovery: identity from 0x83 (or the address), meters, gateways without a meter."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from routeb.bridge.discovery import DiscoveredNode, discover, parse_instance_list
from routeb.bridge.udp import NodeSocket, serve
from routeb.cli.discover import describe
from routeb.echonet import EOJ, Frame, decode_frame, encode_frame
from routeb.echonet.node import Node, StaticObject, node_profile_object
from routeb.errors import EchonetDecodeError

CONTROLLER = EOJ(0x05, 0xFF, 0x01)
METER = EOJ(0x02, 0x88, 0x01)


def handler(node: Node) -> object:
    def handle(data: bytes, source: str) -> list[bytes]:
        del source
        try:
            frame = decode_frame(data)
        except EchonetDecodeError:
            return []
        if not isinstance(frame, Frame):
            return []
        return [encode_frame(f) for f in node.handle(frame)]

    return handle


@contextlib.asynccontextmanager
async def lan_node(address: str, node: Node) -> AsyncIterator[NodeSocket]:
    sock = NodeSocket(address)
    await sock.start()
    task = asyncio.create_task(serve(sock, handler(node)))  # type: ignore[arg-type]
    try:
        yield sock
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        sock.close()


def test_parse_instance_list_is_tolerant() -> None:
    assert parse_instance_list(b"") == ()
    assert parse_instance_list(b"\x02\x02\x88\x01\x05") == (METER,)
    assert parse_instance_list(b"\x01\x02\x88\x01") == (METER,)


async def test_meters_gateways_and_identity_fallback() -> None:
    meter_node = Node(
        [
            node_profile_object(b"\xfe\x00\x00\x16" + bytes(range(13)), b"\x00\x00\x16", [METER]),
            StaticObject(METER, {0x80: b"\x30", 0x8A: b"\x00\x00\x16", 0x8D: b"SN123\x00\x00"}),
        ]
    )
    # A hobby gateway: empty 0x83, only a controller object (peers.md).
    gateway_profile = node_profile_object(b"", b"\x00\x00\x0b", [CONTROLLER])
    gateway = Node([gateway_profile, StaticObject(CONTROLLER, {0x80: b"\x30"})])
    async with lan_node("127.0.0.101", meter_node), lan_node("127.0.0.102", gateway):
        nodes = await discover(bind="127.0.0.103", timeout=0.3)
    by_address = {n.address: n for n in nodes}
    meter = by_address["127.0.0.101"]
    assert meter.identity == (b"\xfe\x00\x00\x16" + bytes(range(13))).hex()
    assert meter.maker == b"\x00\x00\x16"
    assert [m.eoj for m in meter.meters] == [METER]
    assert meter.meters[0].serial == "SN123"
    assert meter.meters[0].operating is True
    assert not meter.gateway_without_meter
    other = by_address["127.0.0.102"]
    assert other.identity == "127.0.0.102"  # 0x83 empty: known by its address
    assert other.gateway_without_meter
    assert any("does not expose the meter" in line for line in describe(other))
    assert other.to_json()["gateway_without_meter"] is True


async def test_unicast_targets_and_silence() -> None:
    node = Node([node_profile_object(b"\xfe" + bytes(16), b"\x00\x00\x16", [METER])])
    async with lan_node("127.0.0.104", node):
        nodes = await discover(bind="127.0.0.105", timeout=0.2, targets=["127.0.0.104"])
    assert [n.address for n in nodes] == ["127.0.0.104"]
    assert isinstance(nodes[0], DiscoveredNode)
    assert await discover(bind="127.0.0.106", timeout=0.1) == []
