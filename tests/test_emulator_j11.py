"""The J11 emulator (`routeb emulate --dialect j11`): byte-exact with the application-note frames
of j11.md §12.1, the error frames and state table of §2.4 / §3, single-tasking, scan timing,
PANA outcomes, the transmit budget and every fault, driven frame by frame with routeb's codec."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from routeb._redact import Secret
from routeb.echonet.frame import ESV, decode_frame
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.j11_module import J11Module
from routeb.emulator.radio import ModuleFaults
from routeb.errors import J11FrameError
from routeb.j11 import Frame, Origin, Rejected, Result, encode_frame, link_local
from routeb.j11 import notifications as n
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.codes import GlobalState, LinkState, PanaOutcome, RouteState, SendOutcome
from routeb.j11.frame import checksum
from tests.j11_host import AN_MAC, J11Host, make_site
from tests.test_j11_golden import AN

METER = link_local(AN_MAC)
GET_EA_EB = bytes.fromhex("1081000605FF0102880162 02 EA00 EB00".replace(" ", ""))


def _hex(name: str) -> bytes:
    return bytes.fromhex(AN[name].replace(" ", ""))


@pytest.fixture
async def host() -> AsyncIterator[J11Host]:
    h = J11Host()
    await h.start()
    yield h
    h.close()


async def _authenticated(h: J11Host) -> None:
    for request in (
        q.InitialSettings(12),
        q.SetCredentials(Secret(DEFAULT_ID), Secret(DEFAULT_PASSWORD)),
        q.StartBRoute(),
        q.OpenPort(3610),
    ):
        assert not isinstance(await h.ask(request), Rejected | J11FrameError)
    assert await h.ask(q.StartPana()) == r.PanaStarted()
    assert await h.until(n.PanaResult) == n.PanaResult(PanaOutcome.SUCCESS, AN_MAC)


async def test_the_application_note_flow_byte_for_byte() -> None:
    # j11.md §8.1 / §12.1: the host frames F1, F3, F5, F7, F10, F12, F14, F16, F20 get F2, F4,
    # F6, F8a…F8b, F9, F13, F15, F17, F18, F21 back exactly, from a meter with the AN's MAC,
    # PAN ID, channel and RSSI.
    h = J11Host()
    h.module.start()
    assert bytes(await asyncio.wait_for(_raw(h), 3)) == _hex("F2")  # 0x6019 at start
    h.raw.clear()
    h.send(_hex("F1"))  # hardware reset: no response, then 0x6019 again
    await h.until(n.StartupComplete)
    assert bytes(h.raw) == _hex("F2")
    for ask, answer in (("F3", "F4"), ("F5", "F6")):
        h.raw.clear()
        await h.ask(_hex(ask))
        assert bytes(h.raw) == _hex(answer)
    h.raw.clear()
    h.send(_hex("F7"))
    await h.until(r.ScanDone)
    frames = bytes(h.raw)
    assert frames.startswith(_hex("F8a"))  # channel 4 first: no beacon
    assert _hex("F8b") in frames  # channel 12: the meter
    assert frames.endswith(_hex("F9"))
    assert frames.count(bytes.fromhex("D0F9EE5D4051")) == 14  # one per channel 4..17
    for ask, answer in (("F10", "F4"), ("F12", "F13"), ("F14", "F15"), ("F16", "F17")):
        h.raw.clear()
        await h.ask(_hex(ask))
        assert bytes(h.raw) == _hex(answer), ask
    h.raw.clear()
    await h.until(n.PanaResult)
    assert bytes(h.raw) == _hex("F18")
    await h.until(n.DataReceived)  # the meter's D5 INF to FF02::1
    h.raw.clear()
    h.send(_hex("F20"))  # Get EA, EB
    assert await h.until(r.DataSent) == r.DataSent(0x00, bytes.fromhex("1081000605"))
    assert _hex("F21") in bytes(h.raw)  # (a 30-minute push may come in between)
    answer = await h.until(n.DataReceived)
    # F22's layout: from the meter, 3610 → 3610, its PAN, unicast, encrypted, its RSSI.
    assert (answer.source, answer.source_pan, answer.destination_type) == (METER, 0xBCDE, 0)
    assert (answer.security, answer.rssi) == (n.ENCRYPTED, -34)
    frame = decode_frame(answer.data)
    assert frame.esv is ESV.GET_RES
    assert frame.tid == 0x0006
    assert [p.epc for p in frame.properties] == [0xEA, 0xEB]
    h.close()


async def _raw(h: J11Host) -> bytes:
    await h.next()
    return bytes(h.raw)


async def test_the_startup_inf_arrives_multicast_after_pana(host: J11Host) -> None:
    await _authenticated(host)
    inf = await host.until(n.DataReceived)
    assert inf.multicast
    assert decode_frame(inf.data).esv is ESV.INF  # §5: the D5 instance list (§C 3.1.1)


async def test_error_frames(host: J11Host) -> None:
    status = bytearray(encode_frame(Frame(Origin.HOST, 0x0001)))
    status[9] ^= 1  # header checksum
    assert await host.ask(bytes(status)) == Rejected(0x2FFF, Result.HEADER_CHECKSUM)
    settings = bytearray(encode_frame(Frame(Origin.HOST, 0x005F, bytes((5, 0, 4, 0)))))
    settings[-1] ^= 1  # data checksum
    assert await host.ask(bytes(settings)) == Rejected(0x205F, Result.DATA_CHECKSUM)
    # A code that is not a request → 0xFFFF; one in the request range we do not know → 0x03.
    assert await host.ask(encode_frame(Frame(Origin.HOST, 0x0300))) == Rejected(
        0xFFFF, Result.INVALID_COMMAND
    )
    assert await host.ask(encode_frame(Frame(Origin.HOST, 0x002C))) == Rejected(
        0x202C, Result.INVALID_COMMAND
    )
    # A value out of range → 0x04; a wrong length → 0x11 (§2.10.5).
    bad = encode_frame(Frame(Origin.HOST, 0x005F, bytes((5, 0, 0x30, 0))))
    assert await host.ask(bad) == Rejected(0x205F, Result.INVALID_PARAMETER)
    short = encode_frame(Frame(Origin.HOST, 0x005F, bytes((5, 0, 4))))
    assert await host.ask(short) == Rejected(0x205F, Result.PARAMETER_LENGTH)
    # Text (an SKSTACK probe) is ignored without a word (§2.10.6, §13).
    host.send(b"SKVER\r\n")
    assert await host.ask(q.GetStatus()) == r.Status(
        GlobalState.NOT_STARTED, RouteState.NOT_STARTED, RouteState.NOT_STARTED
    )


async def test_a_frame_cut_short_is_answered_0x13_after_one_second(host: J11Host) -> None:
    frame = encode_frame(Frame(Origin.HOST, 0x0005, bytes.fromhex("0E1A")))
    started = time.monotonic()
    assert await host.ask(frame[:-1], timeout=3) == Rejected(0x2005, Result.DATA_TIMEOUT)
    assert 0.9 <= time.monotonic() - started <= 2.0  # §2.4: 1 s, a UART timer (not scaled)
    # A length field out of range → 0xF2 / 0xF3.
    head = bytes.fromhex("D0EA83FC 0008 0003".replace(" ", ""))
    assert await host.ask(head + checksum(head).to_bytes(2, "big") + b"\0\0") == Rejected(
        0x2008, Result.LENGTH_TOO_SHORT
    )


async def test_the_state_table(host: J11Host) -> None:
    # j11.md §3: before 0x005F → 0x37; B-route 未起動 → 0x10; 運用 → 0x34; 認証 → 0x35.
    assert await host.ask(q.StartBRoute()) == Rejected(0x2053, Result.GLOBAL_NOT_STARTED)
    assert await host.ask(q.InitialSettings(12)) == r.InitialSettingsDone()
    assert await host.ask(q.OpenPort(3610)) == Rejected(0x2005, Result.NOT_STARTED)
    assert await host.ask(q.StartPana()) == Rejected(0x2056, Result.NOT_STARTED)
    creds = q.SetCredentials(Secret(DEFAULT_ID), Secret(DEFAULT_PASSWORD))
    assert await host.ask(creds) == r.CredentialsSet()
    assert isinstance(await host.ask(q.StartBRoute()), r.BRouteStarted)
    assert await host.ask(q.InitialSettings(4)) == Rejected(0x205F, Result.BROUTE_ACTIVE)
    assert await host.ask(q.StartBRoute()) == Rejected(0x2053, Result.BROUTE_ACTIVE)
    assert await host.ask(q.OpenPort(3610)) == r.PortOpened()
    assert await host.ask(q.OpenPort(3610)) == Rejected(0x2005, Result.PORT_ALREADY_OPEN)
    assert await host.ask(q.OpenPort(716)) == Rejected(0x2005, Result.INVALID_PARAMETER)
    assert await host.ask(q.StartPana()) == r.PanaStarted()
    assert await host.ask(q.StartPana()) == Rejected(0x2056, Result.PANA_RUNNING)
    await host.until(n.PanaResult)
    assert await host.ask(creds) == Rejected(0x2054, Result.BROUTE_AUTHENTICATED)
    assert await host.ask(q.EndBRoute()) == Rejected(0x2058, Result.BROUTE_AUTHENTICATED)
    assert await host.ask(q.GetOpenPorts()) == r.OpenPorts((3610,))
    assert await host.ask(q.EndPana()) == r.PanaEnded()
    assert await host.ask(q.EndBRoute()) == r.BRouteEnded()
    assert await host.ask(q.GetStatus()) == r.Status(
        GlobalState.STARTED, RouteState.NOT_STARTED, RouteState.NOT_STARTED
    )
    assert await host.ask(q.GetOpenPorts()) == Rejected(0x2007, Result.NOT_STARTED)


async def test_one_request_at_a_time(host: J11Host) -> None:
    # §2.4: a request while another runs (here the scan) → 0x3D; the reset is always taken.
    await host.ask(q.InitialSettings(4))
    host.send(q.ActiveScan(6, 0x0003FFF0, b"CCDDEEFF"))
    assert await host.ask(q.GetStatus()) == Rejected(0x2001, Result.BUSY)
    await host.until(r.ScanDone)
    assert isinstance(await host.ask(q.GetStatus()), r.Status)
    host.send(q.ActiveScan(6, 0x0003FFF0, b"CCDDEEFF"))
    host.send(q.HardwareReset())
    assert await host.until(n.StartupComplete) == n.StartupComplete()
    status = await host.ask(q.GetInitialSettings())
    assert isinstance(status, r.CurrentSettings)
    assert status.channel == 0xFF  # every setting dropped (j11.md §1)


async def test_scan_takes_9_64_ms_times_2_to_the_d_per_channel() -> None:
    h = J11Host(time_scale=1.0)
    await h.start()
    try:
        await h.ask(q.InitialSettings(4))
        started = time.monotonic()
        h.send(q.ActiveScan(2, 0x0003FFF0, b"CCDDEEFF"))
        await h.until(r.ScanDone)
        elapsed = time.monotonic() - started
        assert 14 * 0.00964 * 4 <= elapsed <= 14 * 0.00964 * 4 + 0.4  # §4.3: 0.54 s
    finally:
        h.close()


async def test_a_scan_only_finds_the_meter_with_our_pairing_id(host: J11Host) -> None:
    await host.ask(q.InitialSettings(4))
    host.send(q.ActiveScan(2, 0x0003FFF0, b"00000000"))
    results = []
    while not isinstance(item := await host.next(), r.ScanDone):
        results.append(item)
    assert all(isinstance(x, n.ScanResult) and not x.beacons for x in results)


async def test_wrong_password_is_rejected_not_silent() -> None:
    # j11.md §5: 0x6028 0x02 = rejected, told apart from 0x03 = no response.
    h = J11Host([make_site(password="WRONGPASS123")], time_scale=0.001)
    await h.start()
    try:
        await _authenticated_or(h, PanaOutcome.REJECTED)
    finally:
        h.close()


async def test_a_meter_that_does_not_answer_pana_gives_0x03() -> None:
    h = J11Host(time_scale=0.001, faults=ModuleFaults(rejoin_guard=600.0))
    await h.start()
    try:
        h.module.sites[0].ended_at = asyncio.get_running_loop().time()  # it just ended one
        await _authenticated_or(h, PanaOutcome.NO_RESPONSE)
    finally:
        h.close()


async def _authenticated_or(h: J11Host, outcome: PanaOutcome) -> None:
    for request in (
        q.InitialSettings(12),
        q.SetCredentials(Secret(DEFAULT_ID), Secret(DEFAULT_PASSWORD)),
        q.StartBRoute(),
        q.OpenPort(3610),
        q.StartPana(),
    ):
        assert not isinstance(await h.ask(request), Rejected)
    result = await h.until(n.PanaResult, timeout=5)
    assert result.outcome is outcome
    assert await h.ask(q.GetStatus()) != Rejected(0x2001, Result.BUSY)


async def test_b_route_start_without_a_beacon_fails_with_0x0e(host: J11Host) -> None:
    await host.ask(q.InitialSettings(5))  # not the meter's channel
    await host.ask(q.SetCredentials(Secret(DEFAULT_ID), Secret(DEFAULT_PASSWORD)))
    assert await host.ask(q.StartBRoute()) == Rejected(0x2053, Result.MAC_CONNECTION_FAILED)


async def test_send_results_transmit_budget_and_missing_acks() -> None:
    h = J11Host(faults=ModuleFaults(tx_budget=0.0))
    await h.start()
    try:
        await _authenticated(h)
        sent = await h.ask(q.SendData(METER, 3610, 3610, GET_EA_EB))
        assert isinstance(sent, r.DataSent)
        assert sent.outcome is SendOutcome.TX_LIMIT  # j11.md §10: nibble 0x2, no notification
        wrong = q.SendData(link_local("0011223344556677"), 3610, 3610, GET_EA_EB)
        assert await h.ask(wrong) == Rejected(0x2008, Result.INVALID_DESTINATION)
    finally:
        h.close()
    h = J11Host(faults=ModuleFaults(no_ack=1.0))
    await h.start()
    try:
        await _authenticated(h)
        sent = await h.ask(q.SendData(METER, 3610, 3610, GET_EA_EB))
        assert isinstance(sent, r.DataSent)
        assert sent.outcome is SendOutcome.NO_ACK  # j11.md §4.1: nibble 0x5
    finally:
        h.close()


@pytest.mark.parametrize(
    ("faults", "inject", "expected"),
    [
        (ModuleFaults(), "event26", n.ConnectionChanged(LinkState.PANA_DISCONNECTED, AN_MAC, -34)),
        (ModuleFaults(), "event29", n.PanaResult(PanaOutcome.SUCCESS, AN_MAC)),
        (
            ModuleFaults(channel_change_after=60.0),
            None,
            n.ConnectionChanged(LinkState.MAC_DISCONNECTED, AN_MAC, -34),
        ),
        (ModuleFaults(rx_failure_every=1.0), None, n.ReceptionFailed),
        (ModuleFaults(reset_every=60.0), None, n.StartupComplete()),
    ],
)
async def test_faults_reach_the_host_as_j11_notifications(
    faults: ModuleFaults, inject: str | None, expected: object
) -> None:
    h = J11Host(faults=faults)
    await h.start()
    try:
        await _authenticated(h)
        if inject is not None:
            h.module.inject(inject)
        kind = expected if isinstance(expected, type) else type(expected)
        got = await h.until(kind, timeout=5)
        if not isinstance(expected, type):
            assert got == expected
    finally:
        h.close()


async def test_garbled_frames_fail_their_checksum_and_the_host_resyncs() -> None:
    h = J11Host(faults=ModuleFaults(garble=0.5))
    h.module.start()
    try:
        for _ in range(20):
            h.send(q.GetVersion())
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        items = [h.queue.get_nowait() for _ in range(h.queue.qsize())]
        assert any(isinstance(i, J11FrameError) for i in items)
        assert any(isinstance(i, r.Version) for i in items)
        assert h.module.stats.get("garbled", 0) >= 1
    finally:
        h.close()


async def test_routeb_emulate_dialect_j11_serves_a_pty() -> None:
    emulator = Emulator(EmulatorOptions(dialect="j11", time_scale=0.01))
    ready = await emulator.start()
    try:
        assert ready["dialect"] == "j11"
        assert isinstance(emulator.module, J11Module)
    finally:
        await emulator.close()
