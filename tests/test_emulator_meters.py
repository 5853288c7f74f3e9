"""Several meters around one emulated module (`routeb emulate --meters N`, issue 17 §3): each on
its own channel and PAN with its own credentials, household and history; one PANA session at a
time; EVENT 24 (J11: 0x6028 0x03) on an immediate rejoin after terminating — in both the
SKSTACK and the J11 face."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

from routeb._redact import Secret
from routeb.echonet.frame import decode_frame
from routeb.emulator.app import (
    DEFAULT_ID,
    DEFAULT_PASSWORD,
    Emulator,
    EmulatorOptions,
    meter_credentials,
)
from routeb.emulator.j11_module import J11Module
from routeb.j11 import Rejected, link_local
from routeb.j11 import notifications as n
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.codes import PanaOutcome, channel_from_skstack
from routeb.skstack import commands
from routeb.skstack.events import Dialect, ModuleEvent, OkLine, PanDescriptor, UdpReceived
from routeb.skstack.module_output import ll64_address
from tests.j11_host import J11Host
from tests.test_emulator_wire import Wire, _event

C2 = Dialect.BP35C2
GET_SERIAL = bytes.fromhex("1081000905FF010288016201 8D00".replace(" ", ""))


async def _credentials(wire: Wire, index: int) -> None:
    rbid, password = meter_credentials(DEFAULT_ID, DEFAULT_PASSWORD, index)
    for command in (commands.sksetrbid(Secret(rbid)), commands.sksetpwd(Secret(password))):
        wire.send(command.wire)
        await wire.wait_for(lambda line: isinstance(line, OkLine))


async def _join(wire: Wire, emulator: Emulator, index: int, *, expect: int = 0x25) -> None:
    site = emulator.sites[index - 1]
    for command in (
        commands.sksreg("S2", site.channel),
        commands.sksreg("S3", site.pan_id),
        commands.skjoin(ll64_address(site.mac)),
    ):
        wire.send(command.wire)
        await wire.wait_for(lambda line: isinstance(line, OkLine))
    wire.lines.clear()
    event = await wire.wait_for(lambda x: isinstance(x, ModuleEvent) and x.number in (0x24, 0x25))
    assert isinstance(event, ModuleEvent)
    assert event.number == expect


async def _serial_number(wire: Wire, emulator: Emulator, index: int) -> bytes:
    site = emulator.sites[index - 1]
    wire.lines.clear()
    wire.send(commands.sksendto(1, ll64_address(site.mac), 0x0E1A, 1, GET_SERIAL, dialect=C2).wire)
    rx = await wire.wait_for(lambda x: isinstance(x, UdpReceived) and x.data[2:4] == b"\0\x09")
    assert isinstance(rx, UdpReceived)
    return decode_frame(rx.data).properties[0].edt.rstrip(b"\0")


async def test_three_meters_each_with_its_own_channel_credentials_and_household() -> None:
    emulator = Emulator(EmulatorOptions(dialect=C2, time_scale=0.01, meters=3))
    wire = Wire(emulator)
    try:
        sites = emulator.sites
        assert len({(s.channel, s.pan_id) for s in sites}) == 3
        assert len({s.mac for s in sites}) == 3
        assert all(channel_from_skstack(s.channel) is not None for s in sites)  # J11 reaches them
        # A scan with meter 2's ID finds meter 2 only: the pairing ID is each meter's own.
        await _credentials(wire, 2)
        wire.parser = wire.parser.__class__()
        wire.lines.clear()
        wire.send(commands.skscan(2, 0xFFFFFFFF, 3, dialect=C2).wire)
        await wire.wait_for(_event(0x22), timeout=10)
        beacons = [line for line in wire.lines if isinstance(line, PanDescriptor)]
        assert [(b.address, b.channel) for b in beacons] == [(sites[1].mac, sites[1].channel)]
        # Each meter is its own household: its own production number (0x8D), its own history.
        await _join(wire, emulator, 2)
        assert await _serial_number(wire, emulator, 2) == b"EMU000000002"
        assert emulator.meters[0].household is not emulator.meters[1].household
        assert emulator.meters[1].profile.seed == emulator.meters[0].profile.seed + 1
        # Meter 1's credentials do not open meter 3.
        await _credentials(wire, 1)
        await _join(wire, emulator, 3, expect=0x24)
        await _join(wire, emulator, 1)
        assert await _serial_number(wire, emulator, 1) == b"EMU000000001"
    finally:
        await emulator.close()


async def test_one_session_at_a_time_and_no_immediate_rejoin() -> None:
    emulator = Emulator(EmulatorOptions(dialect=C2, time_scale=0.01, meters=2))
    wire = Wire(emulator)
    try:
        await _credentials(wire, 1)
        await _join(wire, emulator, 1)
        await _credentials(wire, 2)
        await _join(wire, emulator, 2)  # joining meter 2 ends the session with meter 1
        module = emulator.modules[-1]
        assert module.air.session is not None
        assert module.air.session.site is emulator.sites[1]
        # SKTERM, then an immediate rejoin races the meter's clean-up: EVENT 24 (peers.md).
        wire.send(commands.skterm().wire)
        await wire.wait_for(_event(0x27))
        await _join(wire, emulator, 2, expect=0x24)
        assert module.stats.get("rejoin_too_soon") == 1
        await asyncio.sleep(0.06)  # past the 5-s clean-up at this time scale
        await _join(wire, emulator, 2)
    finally:
        await emulator.close()


async def test_two_meters_behind_a_j11_module() -> None:
    emulator = Emulator(EmulatorOptions(dialect="j11", time_scale=0.001, meters=2))
    host = J11Host(emulator.sites, time_scale=0.001)
    host.module.air.faults = emulator._faults
    await host.start()
    try:
        second = emulator.sites[1]
        rbid, password = meter_credentials(DEFAULT_ID, DEFAULT_PASSWORD, 2)
        await host.ask(q.InitialSettings(4))
        await host.ask(q.SetCredentials(Secret(rbid), Secret(password)))
        host.send(q.ActiveScan.for_route_b(4, Secret(rbid)))
        found = []
        while not isinstance(item := await host.next(), r.ScanDone):
            if isinstance(item, n.ScanResult) and item.beacons:
                found.append(item)
        channel = channel_from_skstack(second.channel)
        assert channel is not None
        assert [(x.channel, x.beacons[0].mac) for x in found] == [(channel, second.mac)]
        await host.ask(q.InitialSettings(channel))
        started = await host.ask(q.StartBRoute())
        assert started == r.BRouteStarted(channel, second.pan_id, second.mac, second.radio.rssi)
        assert await host.ask(q.OpenPort(3610)) == r.PortOpened()
        await host.ask(q.StartPana())
        assert (await host.until(n.PanaResult)).outcome is PanaOutcome.SUCCESS
        # End PANA and start it again at once: the meter is still cleaning up → no answer.
        assert await host.ask(q.EndPana()) == r.PanaEnded()
        assert await host.ask(q.StartPana()) == r.PanaStarted()
        assert (await host.until(n.PanaResult)).outcome is PanaOutcome.NO_RESPONSE
        assert not isinstance(await host.ask(q.StartPana()), Rejected)
        assert (await host.until(n.PanaResult)).outcome is PanaOutcome.SUCCESS
        sent = await host.ask(q.SendData(link_local(second.mac), 3610, 3610, GET_SERIAL))
        assert isinstance(sent, r.DataSent)
        answer = await host.until(n.DataReceived)
        assert answer.source == link_local(second.mac)
        assert isinstance(host.module, J11Module)
    finally:
        host.close()
        await emulator.close()


def test_routeb_emulate_meters_lists_them_and_refuses_too_many() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    with subprocess.Popen(
        [sys.executable, "-m", "routeb", "emulate", "--meters", "2", "--dialect", "j11"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            ready = json.loads(process.stdout.readline())
            assert ready["dialect"] == "j11"
            assert [m["channel"] for m in ready["meters"]] == [0x3B, 0x35]
            assert DEFAULT_PASSWORD not in json.dumps(ready)
        finally:
            process.terminate()
            process.wait(10)
    refused = subprocess.run(
        [sys.executable, "-m", "routeb", "emulate", "--meters", "9"],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0  # one clear line, no traceback
    assert "--meters" in refused.stderr
