"""UDP transport on loopback: distinct addresses per node, unicast both ways, bad input."""

from __future__ import annotations

import asyncio
import socket

import pytest

from routeb.echonet import ESV, Frame, Property, decode_frame, encode_frame
from routeb.echonet.frame import EOJ
from routeb.echonet.node import Node, StaticObject, node_profile_object
from routeb.errors import DeviceError, UsageError
from routeb.meter.client import ClientSettings, SmartMeterClient
from routeb.transport.lan import LanEndpoint, open_lan, parse_udp_url

METER_EOJ = EOJ(0x02, 0x88, 0x01)


def test_parse_udp_url() -> None:
    assert parse_udp_url("udp://192.0.2.10") == ("192.0.2.10", 3610)
    assert parse_udp_url("udp://[fe80::1%eth0]:3611") == ("fe80::1%eth0", 3611)
    with pytest.raises(UsageError):
        parse_udp_url("tcp://x")


async def serve(endpoint: LanEndpoint, node: Node) -> None:
    while True:
        datagram = await endpoint.receive()
        try:
            frame = decode_frame(datagram.data)
        except Exception:
            continue
        if isinstance(frame, Frame):
            for answer in node.handle(frame):
                endpoint.send(encode_frame(answer), datagram.source)


async def test_client_reads_a_node_on_another_loopback_address() -> None:
    meter = StaticObject(METER_EOJ, {0xE7: (632).to_bytes(4, "big"), 0x80: b"\x30"})
    profile = node_profile_object(b"\x00" * 13, 0x000016, [METER_EOJ])
    node = Node([profile, meter])
    server = LanEndpoint("127.0.0.2", 3610, socket.AF_INET)
    await server.start()
    task = asyncio.create_task(serve(server, node))
    transport = await open_lan("127.0.0.2", bind="127.0.0.3")
    client = SmartMeterClient(transport, ClientSettings(min_gap=0, timer1=2, timer2=2))
    receiver = asyncio.create_task(client.run())
    try:
        server.send(b"\x10\x81garbage", "127.0.0.3")  # a malformed datagram is only counted
        result = await client.get([0xE7, 0x80, 0xE0])
        assert result.values[0xE7] == (632).to_bytes(4, "big")
        assert result.unavailable == frozenset({0xE0})
        assert client.stats.malformed >= 1
    finally:
        receiver.cancel()
        task.cancel()
        await asyncio.gather(receiver, task, return_exceptions=True)
        transport.endpoint.close()
        server.close()


async def test_binding_a_taken_address_is_a_clear_error() -> None:
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.4", 3610))
    try:
        endpoint = LanEndpoint("127.0.0.4", 3610, socket.AF_INET)
        with pytest.raises(DeviceError, match="cannot bind"):
            await endpoint.start()
    finally:
        blocker.close()


def test_frames_roundtrip_for_the_test_helper() -> None:
    frame = Frame(1, EOJ(5, 0xFF, 1), METER_EOJ, ESV.GET, (Property(0xE7),))
    assert decode_frame(encode_frame(frame)) == frame
