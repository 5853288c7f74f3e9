"""The bridge's request handling: cache, coalescing, deadline, writes, selectors, relay, ACL.

The meter side is a fake client (exact control over timing and answers); the LAN side calls
``Bridge.handle`` with encoded frames, as the UDP loop does. One test runs over real UDP.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from routeb.bridge.cache import Freshness
from routeb.bridge.core import Bridge, BridgeSettings, bridge_identification, parse_networks
from routeb.bridge.service import BridgeService
from routeb.cli import build_parser
from routeb.cli.bridge import bridge_settings
from routeb.config import load_config
from routeb.echonet import EOJ, ESV, Frame, Property, decode_frame, encode_frame
from routeb.echonet.propmap import decode_property_map
from routeb.errors import ConfigError, RequestError, RouteBTimeoutError
from routeb.meter.client import (
    ClientSettings,
    ClientStats,
    GetResult,
    Notification,
    SmartMeterClient,
)
from routeb.meter.reader import MeterInfo
from routeb.transport.lan import open_lan

CONTROLLER = EOJ(0x05, 0xFF, 0x01)
METER = EOJ(0x02, 0x88, 0x01)
PROFILE = EOJ(0x0E, 0xF0, 0x01)
GET_MAP = (0x80, 0x81, 0x82, 0x88, 0x8A, 0x9D, 0x9E, 0x9F, 0xD3, 0xD7, 0xE0, 0xE1, 0xE2)
GET_MAP += (0xE3, 0xE4, 0xE5, 0xE7, 0xE8, 0xEA, 0xEB, 0xEC, 0xED)
INFO = MeterInfo(get_map=GET_MAP, set_map=(0x81, 0xE5, 0xED), inf_map=(0x80, 0x81, 0x88))


@dataclass
class FakeClient:
    """Answers Gets from ``values`` after ``delay``; records every radio request."""

    values: dict[int, bytes] = field(default_factory=dict)
    delay: float = 0.0
    hang: bool = False
    gets: list[tuple[int, ...]] = field(default_factory=list)
    pairs: list[tuple[int, bytes, tuple[int, ...]]] = field(default_factory=list)
    sets: list[tuple[int, bytes]] = field(default_factory=list)
    stats: ClientStats = field(default_factory=ClientStats)
    queue: asyncio.Queue[Notification] = field(default_factory=asyncio.Queue)

    async def _radio(self) -> None:
        self.stats.requests += 1
        if self.hang:
            await asyncio.sleep(3600)
            raise RouteBTimeoutError("no answer")
        await asyncio.sleep(self.delay)

    async def get(self, epcs: Iterable[int], deoj: EOJ = METER) -> GetResult:
        wanted = tuple(epcs)
        self.gets.append(wanted)
        await self._radio()
        got = {e: self.values[e] for e in wanted if e in self.values}
        return GetResult(got, frozenset(e for e in wanted if e not in self.values))

    async def set(self, epc: int, edt: bytes, deoj: EOJ = METER) -> bool:
        self.sets.append((epc, edt))
        await self._radio()
        return epc == 0x81

    async def set_then_get(
        self, set_epc: int, set_edt: bytes, get_epcs: Sequence[int], deoj: EOJ = METER
    ) -> GetResult:
        self.pairs.append((set_epc, set_edt, tuple(get_epcs)))
        await self._radio()
        if set_edt[0] > 99:
            raise RequestError(f"the meter refused to set 0x{set_epc:02X}")
        return GetResult({e: set_edt + bytes(193) for e in get_epcs})

    async def notifications(self) -> AsyncIterator[Notification]:
        while True:
            yield await self.queue.get()


def make(
    client: FakeClient | None = None, **settings: object
) -> tuple[Bridge, FakeClient, list[float]]:
    fake = client or FakeClient(
        {
            0xE7: (500).to_bytes(4, "big"),
            0xD3: b"\x00\x00\x00\x01",
            0xE1: b"\x02",
            0x8A: b"\x00\x00\x16",
        }
    )
    now = [1000.0]
    bridge = Bridge(
        fake,  # type: ignore[arg-type]
        INFO,
        bridge_identification("001D129012345678"),
        BridgeSettings(**settings),  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    return bridge, fake, now


def request(esv: ESV, *props: Property, deoj: EOJ = METER, tid: int = 7, **kw: object) -> bytes:
    return encode_frame(Frame(tid, CONTROLLER, deoj, esv, tuple(props), **kw))  # type: ignore[arg-type]


async def answer(bridge: Bridge, data: bytes, source: str = "192.0.2.50") -> list[Frame]:
    result = bridge.handle(data, source)
    if inspect.isawaitable(result):
        assert isinstance(result, Awaitable)
        result = await result
    assert isinstance(result, list)
    frames = [decode_frame(d) for d in result]
    assert all(isinstance(f, Frame) for f in frames)
    return frames  # type: ignore[return-value]


async def test_a_miss_is_fetched_then_served_from_the_cache() -> None:
    bridge, fake, now = make()
    [reply] = await answer(bridge, request(ESV.GET, Property(0xE7), Property(0xD3)))
    assert reply.esv is ESV.GET_RES
    assert reply.seoj == METER
    assert reply.deoj == CONTROLLER
    assert reply.tid == 7
    assert reply.first(0xE7) == Property(0xE7, (500).to_bytes(4, "big"))
    assert fake.gets == [(0xE7, 0xD3)]
    # Fresh now: answered synchronously (no awaitable), no radio request.
    result = bridge.handle(request(ESV.GET, Property(0xE7)), "192.0.2.50")
    assert isinstance(result, list)
    assert len(fake.gets) == 1
    # E7 goes stale after a few seconds; D3 (configuration) stays fresh for hours.
    now[0] += 10
    await answer(bridge, request(ESV.GET, Property(0xE7), Property(0xD3)))
    assert fake.gets[-1] == (0xE7,)
    assert bridge.stats.cache_hits >= 2


async def test_concurrent_lan_requests_share_one_radio_request() -> None:
    bridge, fake, _ = make()
    fake.delay = 0.05
    replies = await asyncio.gather(
        *(answer(bridge, request(ESV.GET, Property(0xE7)), f"192.0.2.{i}") for i in range(10))
    )
    assert fake.gets == [(0xE7,)]
    assert bridge.stats.coalesced == 9
    assert all(r[0].esv is ESV.GET_RES for r in replies)


async def test_unreachable_meter_gives_get_sna_before_the_deadline() -> None:
    bridge, fake, now = make(deadline=0.1)
    fake.hang = True
    loop = asyncio.get_running_loop()
    start = loop.time()
    [reply] = await answer(bridge, request(ESV.GET, Property(0xE7), Property(0x9F)))
    assert loop.time() - start < 1.0
    assert reply.esv is ESV.GET_SNA
    assert reply.properties[0] == Property(0xE7)  # PDC = 0
    assert set(decode_property_map(reply.properties[1].edt)) == set(GET_MAP)
    assert bridge.stats.late == 1
    # The fetch stays in flight: a second request shares it instead of queueing another.
    await answer(bridge, request(ESV.GET, Property(0xE7)))
    assert len(fake.gets) == 1
    await bridge.aclose()  # the hanging fetch is cancelled, not left behind
    del now


async def test_stale_measurements_are_refused_but_configuration_is_served() -> None:
    bridge, fake, now = make(deadline=0.05)
    await answer(bridge, request(ESV.GET, Property(0xE7), Property(0xD3)))
    fake.hang = True
    now[0] += 4 * 3600  # far beyond E7's servable age, within D3's
    [reply] = await answer(bridge, request(ESV.GET, Property(0xE7), Property(0xD3)))
    assert reply.esv is ESV.GET_SNA
    assert reply.first(0xE7) == Property(0xE7)
    assert reply.first(0xD3) == Property(0xD3, b"\x00\x00\x00\x01")
    await bridge.aclose()


async def test_read_only_by_default() -> None:
    bridge, fake, _ = make()
    [reply] = await answer(bridge, request(ESV.SETC, Property(0xE5, b"\x01")))
    assert reply.esv is ESV.SETC_SNA
    assert reply.properties == (Property(0xE5, b"\x01"),)  # the rejected EDT echoed
    [reply] = await answer(bridge, request(ESV.SETI, Property(0x81, b"\x08")))
    assert reply.esv is ESV.SETI_SNA
    [reply] = await answer(bridge, request(ESV.GET, Property(0x9E)))
    assert not decode_property_map(reply.properties[0].edt)
    assert fake.sets == []


async def test_allowed_writes_selectors_per_client_and_atomic_history() -> None:
    bridge, fake, _ = make(writable=frozenset({0xE5, 0x81}))
    a, b = "192.0.2.1", "192.0.2.2"
    [reply] = await answer(bridge, request(ESV.SETC, Property(0xE5, b"\x02")), a)
    assert reply.esv is ESV.SET_RES
    assert reply.properties == (Property(0xE5),)  # accepted: PDC = 0
    assert fake.pairs == []  # a selector stays in the bridge
    # SetI that succeeds: no answer at all.
    assert await answer(bridge, request(ESV.SETI, Property(0xE5, b"\x05")), b) == []
    [ra] = await answer(bridge, request(ESV.GET, Property(0xE2)), a)
    [rb] = await answer(bridge, request(ESV.GET, Property(0xE2)), b)
    assert ra.properties[0].edt[0] == 2
    assert rb.properties[0].edt[0] == 5
    assert fake.pairs == [(0xE5, b"\x02", (0xE2,)), (0xE5, b"\x05", (0xE2,))]
    [reply] = await answer(bridge, request(ESV.GET, Property(0xE5)), a)
    assert reply.properties[0].edt == b"\x02"
    # An invalid selector is refused with its EDT echoed.
    [reply] = await answer(bridge, request(ESV.SETC, Property(0xE5, b"\xc8")), a)
    assert reply.esv is ESV.SETC_SNA
    assert reply.properties[0].edt == b"\xc8"
    # SetGet: the set part selects the day the get part reads, in one request.
    [reply] = await answer(
        bridge,
        request(ESV.SETGET, Property(0xE5, b"\x03"), get_properties=(Property(0xE2),)),
        a,
    )
    assert reply.esv is ESV.SETGET_RES
    assert reply.get_properties[0].edt[0] == 3
    # A non-selector allowed EPC is written to the meter.
    [reply] = await answer(bridge, request(ESV.SETC, Property(0x81, b"\x08")), a)
    assert reply.esv is ESV.SET_RES
    assert fake.sets == [(0x81, b"\x08")]


async def test_node_rules_maps_and_identification() -> None:
    bridge, _, _ = make()
    # No answer for an object the node does not have (§A.3).
    assert await answer(bridge, request(ESV.GET, Property(0x80), deoj=EOJ(0x01, 0x30, 0x01))) == []
    [reply] = await answer(bridge, request(ESV.INFC, Property(0xEA, bytes(11))))
    assert reply.esv is ESV.INFC_RES
    assert reply.properties == (Property(0xEA),)
    [reply] = await answer(
        bridge,
        request(
            ESV.GET,
            *(Property(e) for e in (0x80, 0x82, 0x83, 0x8A, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7)),
            deoj=PROFILE,
        ),
    )
    assert reply.esv is ESV.GET_RES
    ident = reply.first(0x83)
    assert ident is not None
    assert len(ident.edt) == 17
    assert ident.edt[0] == 0xFE
    assert reply.first(0xD6) == Property(0xD6, b"\x01\x02\x88\x01")
    assert reply.first(0xD3) == Property(0xD3, b"\x00\x00\x01")
    [reply] = await answer(bridge, request(ESV.GET, Property(0x9D)))
    assert set(decode_property_map(reply.properties[0].edt)) == {0x80, 0x81, 0x88, 0xEA, 0xEB}
    [reply] = await answer(bridge, request(ESV.INF_REQ, Property(0xD5), deoj=PROFILE))
    assert reply.esv is ESV.INF
    # Stable per meter, different between meters.
    assert bridge_identification("001D129012345678") == ident.edt
    assert bridge_identification("001D129012345679") != ident.edt
    # Garbage is counted, never raised.
    assert bridge.handle(b"\x10\x81\x00", "192.0.2.9") == []
    assert bridge.stats.malformed == 1


async def test_allowed_sources_only() -> None:
    bridge, _, _ = make(allow=parse_networks(["192.168.1.0/24", "fd00::/8"]))
    assert await answer(bridge, request(ESV.GET, Property(0x80), deoj=PROFILE), "10.0.0.1") == []
    assert bridge.stats.refused_sources == 1
    assert await answer(bridge, request(ESV.GET, Property(0x80), deoj=PROFILE), "192.168.1.7")
    assert await answer(bridge, request(ESV.GET, Property(0x80), deoj=PROFILE), "fd00::7%eth0")


async def test_meter_inf_is_cached_and_relayed() -> None:
    bridge, fake, _ = make()
    ea = bytes.fromhex("07EA0B17093000") + (123456).to_bytes(4, "big")
    inf = Frame(1, METER, CONTROLLER, ESV.INF, (Property(0xEA, ea),))
    data = bridge.relay(inf)
    assert data is not None
    out = decode_frame(data)
    assert isinstance(out, Frame)
    assert out.esv is ESV.INF
    assert out.seoj == METER
    assert out.properties == (Property(0xEA, ea),)
    [reply] = await answer(bridge, request(ESV.GET, Property(0xEA)))
    assert reply.properties[0].edt == ea
    assert fake.gets == []  # served from the relayed value
    assert (
        bridge.relay(Frame(2, PROFILE, PROFILE, ESV.INF, (Property(0xD5, b"\x01\x02\x88\x01"),)))
        is None
    )


async def test_service_over_udp_with_malformed_datagrams() -> None:
    fake = FakeClient({0xE7: (42).to_bytes(4, "big"), 0x80: b"\x30"})
    lines: list[str] = []
    service = BridgeService(
        fake,  # type: ignore[arg-type]
        INFO,
        bridge_identification("x"),
        BridgeSettings(freshness=Freshness({0xE7: 60})),
        listen="127.0.0.41",
        status_interval=0.05,
        status=lines.append,
    )
    await service.start()
    transport = await open_lan("127.0.0.41", bind="127.0.0.42")
    client = SmartMeterClient(transport, ClientSettings(min_gap=0, timer1=1, timer2=1))
    receiver = asyncio.create_task(client.run())
    try:
        transport.endpoint.send(b"\x10\x81garbage", "127.0.0.41")
        transport.endpoint.send(b"", "127.0.0.41")
        result = await client.get([0xE7, 0x80])
        assert result.values == {0xE7: (42).to_bytes(4, "big"), 0x80: b"\x30"}
        await fake.queue.put(
            Notification(Frame(9, METER, CONTROLLER, ESV.INF, (Property(0xE7, bytes(4)),)), "x")
        )
        await asyncio.sleep(0.15)
        assert service.bridge.stats.malformed >= 1  # counted; the loop went on serving
        assert service.bridge.stats.relayed == 1
        assert lines
        assert "LAN requests" in lines[0]
        assert "meter link ready" in lines[0]
    finally:
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)
        transport.endpoint.close()
        await service.close()


async def test_closing_the_service_cancels_a_fetch_still_in_flight() -> None:
    # A late request leaves its radio fetch running (to be shared); closing must end it, or
    # `routeb bridge` would leave a task behind at exit (tests fail on lingering tasks).
    fake = FakeClient({0xE7: (42).to_bytes(4, "big")})
    fake.hang = True
    service = BridgeService(
        fake,  # type: ignore[arg-type]
        INFO,
        bridge_identification("x"),
        BridgeSettings(deadline=0.05),
        listen="127.0.0.43",
        status_interval=0,
    )
    await service.start(warm=False)
    [reply] = await answer(service.bridge, request(ESV.GET, Property(0xE7)))
    assert reply.esv is ESV.GET_SNA
    assert service.bridge.stats.late == 1
    await service.close()


@pytest.mark.parametrize("spec", ["E7=x", "E7", "ZZ=1"])
def test_bad_fresh_flag(spec: str) -> None:
    args = build_parser("bridge").parse_args(["bridge", "--fresh", spec])
    with pytest.raises(ConfigError):
        bridge_settings(args)


def test_bridge_section_of_the_config_and_flags_over_it(tmp_path: Path) -> None:
    config = tmp_path / "routeb.toml"
    config.write_text(
        '[bridge]\nlisten = "127.0.0.5"\nallow_from = ["192.168.1.0/24"]\nallow_set = "E5, ED"\n'
        "deadline = 2.5\nstatus_interval = 0\n[bridge.fresh]\nE7 = 2\nD3 = 600\n",
        encoding="utf-8",
    )
    loaded = load_config(config, env={}).bridge
    assert (loaded.listen, loaded.allow_from, loaded.allow_set) == (
        "127.0.0.5",
        ("192.168.1.0/24",),
        ("E5", "ED"),
    )
    args = build_parser("bridge").parse_args(["bridge"])
    settings = bridge_settings(args, loaded)
    assert settings.writable == frozenset({0xE5, 0xED})
    assert settings.deadline == 2.5
    assert settings.freshness.max_age(0xE7) == 2
    flags = build_parser("bridge").parse_args(
        ["bridge", "--allow-set", "EF", "--deadline", "1", "--fresh", "E7=5"]
    )
    settings = bridge_settings(flags, loaded)
    assert (settings.writable, settings.deadline) == (frozenset({0xEF}), 1.0)
    assert settings.freshness.max_age(0xE7) == 5
    config.write_text("[bridge]\nallow_set = [229]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bridge\.allow_set"):
        load_config(config, env={})
