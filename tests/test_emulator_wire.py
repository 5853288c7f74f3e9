"""The emulator on the wire as real hardware is (issue 20 §3): output in bursts as through a
USB-serial adapter, clients that split and merge reads, each dialect's factory defaults against
the real transcripts, delays that differ from run to run and a Get round trip of 0.3–1 s, the
--link symlink while the device is gone, one EVENT 29 per lifetime after a re-SKJOIN, and the
IP bridge answering a whole Get-map read."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from routeb._redact import Secret
from routeb.echonet.frame import ESV, decode_frame
from routeb.echonet.propmap import decode_property_map
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.emulator.lan import bridge_answers
from routeb.emulator.meter import EmulatedMeter
from routeb.emulator.radio import ModuleFaults
from routeb.skstack import commands
from routeb.skstack.events import Dialect, ModuleEvent, OkLine, UdpReceived
from routeb.skstack.module_output import ll64_address
from routeb.skstack.parser import OutputParser

METER = ll64_address("0011223344556677")
GET_E7 = bytes.fromhex("1081000105FF010288016201E700")


class Wire:
    """A client attached to an emulator in-process: every write the module makes is recorded."""

    def __init__(self, emulator: Emulator) -> None:
        self.writes: list[bytes] = []
        self.parser = OutputParser()
        self.lines: list[object] = []
        self._feed: Callable[[bytes], None] = emulator._attach(self._got)

    def _got(self, data: bytes) -> None:
        self.writes.append(data)
        self.lines += self.parser.feed(data)

    def send(self, data: bytes) -> None:
        self._feed(data)

    async def wait_for(self, predicate: Callable[[object], bool], timeout: float = 5.0) -> object:
        async with asyncio.timeout(timeout):
            while True:
                for line in self.lines:
                    if predicate(line):
                        self.lines.remove(line)
                        return line
                await asyncio.sleep(0.002)


def _event(number: int) -> Callable[[object], bool]:
    return lambda line: isinstance(line, ModuleEvent) and line.number == number


async def _join(wire: Wire, dialect: Dialect = Dialect.BP35C2) -> None:
    for command in (
        commands.sksreg("SFE", 0),
        commands.sksetpwd(Secret(DEFAULT_PASSWORD)),
        commands.sksetrbid(Secret(DEFAULT_ID)),
        commands.sksreg("S2", 0x3B),
        commands.sksreg("S3", 0x6677),
        commands.skjoin(METER),
    ):
        wire.send(command.wire)
        await wire.wait_for(lambda line: isinstance(line, OkLine))
    await wire.wait_for(_event(0x25))


def _get_res(line: object) -> bool:
    # The meter's answer to GET_E7 (TID 0001, Get_Res), not a push or the D5 INF.
    return isinstance(line, UdpReceived) and line.data[2:4] == b"\x00\x01" and line.data[10] == 0x72


def _sendto(dialect: Dialect) -> bytes:
    return commands.sksendto(1, METER, 0x0E1A, 1, GET_E7, dialect=dialect).wire


# --- bursts -------------------------------------------------------------------------------------


async def test_lines_emitted_together_arrive_in_one_write() -> None:
    # issue 20 §3: EVENT 21 + OK, and EVENT 20 + its EPANDESC block, are one burst — a client
    # that parses per read (the Node client of the issue) sees them whole.
    emulator = Emulator(EmulatorOptions(dialect=Dialect.BP35C2, time_scale=0.01))
    wire = Wire(emulator)
    try:
        wire.send(commands.sksetrbid(Secret(DEFAULT_ID)).wire)
        wire.send(commands.skscan(2, 0xFFFFFFFF, 4, dialect=Dialect.BP35C2).wire)
        await wire.wait_for(_event(0x22), timeout=10)
        beacon = next(w for w in wire.writes if b"EVENT 20" in w)
        assert b"EPANDESC" in beacon
        assert b"  PairID:CCDDEEFF\r\n" in beacon
        await _join(wire)
        for _ in range(10):
            wire.writes.clear()
            wire.lines.clear()
            wire.send(_sendto(Dialect.BP35C2))
            await wire.wait_for(_get_res)
            done = [w for w in wire.writes if b"EVENT 21" in w]
            assert len(done) == 1
            assert b" 00\r\nOK\r\n" in done[0]
    finally:
        await emulator.close()


async def test_a_burst_holds_every_write_of_the_latency_window() -> None:
    emulator = Emulator(EmulatorOptions(dialect=Dialect.BP35A1, uart_latency=0.05))
    wire = Wire(emulator)
    try:
        started = time.monotonic()
        wire.send(b"SKVER\r\nSKAPPVER\r\nSKINFO\r\n")
        await wire.wait_for(lambda line: isinstance(line, OkLine))
        assert time.monotonic() - started >= 0.045  # the adapter's latency timer
        assert len(wire.writes) == 1  # echo, EVER, OK, EAPPVER, OK, EINFO, OK: one USB burst
    finally:
        await emulator.close()


@pytest.mark.parametrize("dialect", [Dialect.BP35A1, Dialect.BP35C2])
async def test_clients_that_split_and_merge_reads_over_a_pty(dialect: Dialect) -> None:
    # Two clients of the real pty: one reads whatever is there and parses each read as whole
    # lines (a per-read parser), one reads 3 bytes at a time and reassembles lines.
    emulator = Emulator(EmulatorOptions(dialect=dialect, time_scale=0.01))
    ready = await emulator.start()
    try:
        merged = await asyncio.to_thread(_per_read_client, str(ready["serial"]), dialect)
        assert merged == 8  # every answer came as whole lines within its own reads
        split = await asyncio.to_thread(_small_read_client, str(ready["serial"]), dialect)
        assert split.count(b"EVER ") == 5
    finally:
        await emulator.close()


def _per_read_client(path: str, dialect: Dialect) -> int:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    complete = 0
    try:
        for command in [b"SKVER\r\n", b"SKINFO\r\n"] * 4:
            os.write(fd, command)
            chunk = _read_until(fd, b"OK\r\n", read=4096)
            # A per-read parser: the answer must be whole lines in this one read.
            assert chunk.endswith(b"\r\n")
            assert chunk.split(b"\r\n")[-2] == b"OK"
            complete += 1
    finally:
        os.close(fd)
    return complete


def _small_read_client(path: str, dialect: Dialect) -> bytes:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    got = b""
    try:
        for _ in range(5):
            os.write(fd, b"SKVER\r\n")
            got += _read_until(fd, b"OK\r\n", read=3)
    finally:
        os.close(fd)
    return got


def _read_until(fd: int, end: bytes, *, read: int) -> bytes:
    import select  # noqa: PLC0415 - only these helper threads block on the pty

    data = b""
    deadline = time.monotonic() + 5
    while not data.endswith(end):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise TimeoutError(data)
        data += os.read(fd, read)
    return data


# --- dialect defaults against the real transcripts ----------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "answer"),
    [
        # protocol.md §D.0/§D.5: echo on at the factory (AKLOG's BP35A1 turns it off first;
        # QIITA-C2's RS-WSUHA-P echoes), EVER 1.2.10 / 1.5.2 (§D.1).
        (Dialect.BP35A1, b"SKVER\r\nEVER 1.2.10\r\nOK\r\n"),
        (Dialect.BP35C2, b"SKVER\r\nEVER 1.5.2\r\nOK\r\n"),
        # GOEL's RL7023 strings: no echo (issue 20 §3: a real RL7023 client fails on one).
        (Dialect.RL7023, b"EVER 1.5.2\r\nOK\r\n"),
    ],
)
async def test_each_dialect_answers_skver_as_its_real_module(
    dialect: Dialect, answer: bytes
) -> None:
    emulator = Emulator(EmulatorOptions(dialect=dialect, uart_latency=0.0))
    wire = Wire(emulator)
    try:
        wire.send(b"SKVER\r\n")
        await wire.wait_for(lambda line: isinstance(line, OkLine))
        assert b"".join(wire.writes) == answer
    finally:
        await emulator.close()


async def test_the_qiita_c2_scan_transcript() -> None:
    # protocol.md §D.5 (QIITA-C2, echo on): "SKSCAN 2 FFFFFFFF 6 0 \r\nOK\r\n" … EVENT 20 +
    # EPANDESC with Side … EVENT 22; RUART → "OK 80\r" (flow control on, §D.0).
    emulator = Emulator(EmulatorOptions(dialect=Dialect.BP35C2, time_scale=0.01))
    wire = Wire(emulator)
    try:
        wire.send(b"RUART\r")
        await wire.wait_for(lambda line: isinstance(line, OkLine))
        assert wire.writes[0] == b"OK 80\r"
        wire.send(commands.sksetrbid(Secret(DEFAULT_ID)).wire)
        await wire.wait_for(lambda line: isinstance(line, OkLine))
        wire.writes.clear()
        wire.send(b"SKSCAN 2 FFFFFFFF 6 0 \r\n")
        await wire.wait_for(_event(0x22), timeout=10)
        text = b"".join(wire.writes)
        assert text.startswith(b"SKSCAN 2 FFFFFFFF 6 0 \r\nOK\r\n")
        assert b"\r\n  Side:0\r\n  PairID:CCDDEEFF\r\n" in text
    finally:
        await emulator.close()


# --- delays ---------------------------------------------------------------------------------


def _delays(emulator: Emulator) -> list[float]:
    Wire(emulator)  # a client attaches: the module draws its delays from here on
    return [emulator.modules[-1].air.rng.uniform(0.1, 0.35) for _ in range(5)]


async def test_delays_are_drawn_anew_each_run_unless_seeded() -> None:
    runs = []
    for seed in (None, None, 7, 7):
        emulator = Emulator(EmulatorOptions(radio_seed=seed))
        runs.append(_delays(emulator))
        await emulator.close()
    assert runs[0] != runs[1]  # seeded from the OS: repeated rounds are different samples
    assert runs[2] == runs[3]  # a seed reproduces a run


async def test_the_get_round_trip_is_0_3_to_1_s_after_sksendto() -> None:
    # protocol.md §E: SKSENDTO → EVENT 21 after 0.1–0.35 s, → the answer after 0.3–1.0 s.
    scale = 0.3
    emulator = Emulator(EmulatorOptions(dialect=Dialect.BP35C2, time_scale=scale, uart_latency=0.0))
    wire = Wire(emulator)
    try:
        await _join(wire)
        for _ in range(20):
            wire.lines.clear()
            started = time.monotonic()
            wire.send(_sendto(Dialect.BP35C2))
            await wire.wait_for(_event(0x21))
            done = time.monotonic() - started
            await wire.wait_for(_get_res)
            answer = time.monotonic() - started
            assert 0.1 * scale <= done <= 0.35 * scale + 0.02
            assert 0.3 * scale <= answer <= 1.0 * scale + 0.02
    finally:
        await emulator.close()


# --- vanish, re-SKJOIN, the IP bridge -----------------------------------------------------------


async def test_vanish_removes_the_link_and_repoints_it_on_return(tmp_path: Path) -> None:
    link = tmp_path / "tty"
    emulator = Emulator(
        EmulatorOptions(vanish_after=0.3, vanish_for=0.5, link=link, time_scale=0.01)
    )
    await emulator.start()
    try:
        first = os.readlink(link)
        await asyncio.sleep(0.45)
        assert not os.path.lexists(link)  # gone with the device: no client reopens a freed pty
        await asyncio.sleep(0.5)
        assert os.path.lexists(link)
        assert os.readlink(link) == emulator.pty.path  # type: ignore[union-attr]
        assert os.path.exists(os.readlink(link))
        assert first != os.readlink(link) or os.path.exists(first)
    finally:
        await emulator.close()
    assert not os.path.lexists(link)  # and none is left behind when the emulator stops


async def test_a_re_skjoin_does_not_double_event_29() -> None:
    # issue 20 §3: SKJOIN again while joined must not leave the first session's lifetime timer.
    emulator = Emulator(
        EmulatorOptions(
            dialect=Dialect.BP35C2, time_scale=0.01, faults=ModuleFaults(event29_every=60.0)
        )
    )
    wire = Wire(emulator)
    try:
        await _join(wire)
        await asyncio.sleep(0.2)
        wire.send(commands.skjoin(METER).wire)  # a re-join 0.2 s into a 0.6-s lifetime
        await wire.wait_for(_event(0x25))
        await asyncio.sleep(0.9)  # past the first session's expiry, before the second's end + 1
        expiries = [w for w in wire.writes if w.startswith(b"EVENT 29")]
        assert len(expiries) == 1
    finally:
        await emulator.close()


async def test_the_ip_bridge_answers_a_whole_get_map_read() -> None:
    # issue 20 §3: a LAN controller reads every EPC of the Get map in one Get; the meter takes
    # 6 per request on Wi-SUN, the bridge relays in batches and answers all of them.
    meter = EmulatedMeter()
    map_reply = decode_frame(meter.handle(bytes.fromhex("1081000105FF010288016201 9F00"), "")[0])
    epcs = sorted(decode_property_map(map_reply.properties[0].edt))
    assert len(epcs) == 25
    request = bytes.fromhex("1081000205FF01028801 62") + bytes([len(epcs)])
    request += b"".join(bytes((epc, 0)) for epc in epcs)
    direct = decode_frame(meter.handle(request, "")[0])
    assert direct.esv is ESV.GET_SNA  # the meter alone: 6 values, the rest PDC 0
    answer = decode_frame(bridge_answers(meter.handle, request, "", batch=6)[0])
    assert answer.esv is ESV.GET_RES
    assert answer.tid == 2
    assert [p.epc for p in answer.properties] == epcs
    assert all(p.edt for p in answer.properties)
