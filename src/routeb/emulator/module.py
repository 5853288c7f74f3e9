"""The emulated Wi-SUN module: SKSTACK IP answered as real modules do, with timing and faults.

Behaviour (protocol.md §D, §E, §G): echo per SFE; ROPT/WOPT with CR-only lines and WOPT kept in
"flash" across resets; SKSCAN → OK, then EVENT 20 + EPANDESC when the scan reaches the meter's
channel and the pairing ID matches, then EVENT 22 after 9.6 ms × (2^N + 1) per channel; SKLL64
from the MAC; SKJOIN → OK, the PANA exchange (ERXUDP on 02CC, EVENT 21/02), EVENT 25 after ~3 s
with the right ID and password (EVENT 24 after ~38 s otherwise), and ~3 s later the meter's D5
INF to FF02::1; SKSENDTO → EVENT 21 → OK → the meter's answer 0.3–1 s later; the PANA lifetime
(S16) with re-authentication (EVENT 29 then 25); the hourly transmit budget (EVENT 32/33,
EVENT 21 01 while exhausted); SKTERM → EVENT 27. Every delay is multiplied by ``time_scale``.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from routeb._redact import redact_line
from routeb.skstack import module_output as out
from routeb.skstack.erxudp import format_erxudp
from routeb.skstack.events import Dialect, UdpReceived
from routeb.skstack.module_commands import CommandFramer, CommandLine

__all__ = ["EmulatedModule", "MeterFace", "ModuleFaults", "RadioMeter"]

# protocol.md §D.4: ECHONET Lite on 0E1A, PANA on 02CC; multicast FF02::1 for the D5 INF (§C).
ECHONET_PORT: Final = 0x0E1A
PANA_PORT: Final = 0x02CC
MULTICAST: Final = "FF02:0000:0000:0000:0000:0000:0000:0001"
# protocol.md §E: scan slot 9.6 ms × (2^N + 1) per channel; join ≈ 3.3 s, failure ≈ 38 s.
SCAN_SLOT: Final = 0.0096
JOIN_OK_SECONDS: Final = 3.3
JOIN_FAIL_SECONDS: Final = 38.0
D5_AFTER_JOIN: Final = 3.0
# protocol.md §E: EVENT 21 after 0.1–0.35 s; the meter's answer 0.3–1.0 s after.
SEND_DONE: Final = (0.1, 0.35)
ANSWER_DELAY: Final = (0.3, 1.0)
# protocol.md §D.3: S16 PANA lifetime default 0x384 = 900 s; channels 0x21..0x3C.
DEFAULT_LIFETIME: Final = 0x384
FIRST_CHANNEL: Final = 0x21
# protocol.md §E: ARIB STD-T108, total TX time ≤ 360 s per hour; 100 kbps PHY.
TX_BUDGET: Final = 360.0
TX_WINDOW: Final = 3600.0
PHY_BPS: Final = 100_000
FRAME_OVERHEAD: Final = 60  # bytes of MAC/6LoWPAN/UDP headers per frame (approximate)
_VERSIONS: Final = {Dialect.BP35A1: "1.2.10", Dialect.BP35C2: "1.5.2", Dialect.RL7023: "1.5.2"}


class MeterFace(Protocol):
    """The ECHONET Lite side of the emulated meter, as the module needs it."""

    def handle(self, data: bytes, source: str) -> list[bytes]:
        """Answers to one frame (empty: silent)."""
        ...

    def startup_notification(self) -> bytes:
        """The D5 INF sent after the PANA session comes up (§C 3.1.1)."""
        ...

    def next_push(self, after: datetime) -> tuple[datetime, list[bytes]]:
        """The next EA/EB INF after meter time ``after``: when (meter time) and the frames."""
        ...


@dataclass(frozen=True, slots=True)
class RadioMeter:
    """The meter as the radio sees it: MAC, channel, PAN ID, credentials, link quality."""

    mac: str
    channel: int
    pan_id: int
    rbid: str
    password: str
    lqi: int = 0xB2

    @property
    def pairing_id(self) -> str:
        """§D.3 S0A: the last 8 characters of the B-route ID."""
        return self.rbid[-8:].upper()


@dataclass(frozen=True, slots=True)
class ModuleFaults:
    """Fault injection (combinable); times are seconds of real time after the scale."""

    drop: float = 0.0  # probability that a meter answer is lost
    slow: float = 0.0  # extra seconds before every meter answer
    garble: float = 0.0  # probability that an output line is corrupted
    reset_every: float | None = None  # spontaneous module reset
    event26_every: float | None = None  # the meter ends the session
    event29_every: float | None = None  # PANA lifetime expiry (overrides S16)
    tx_budget: float = TX_BUDGET  # airtime seconds per window
    channel_change_after: float | None = None  # the meter moves to another channel
    wrong_credentials: bool = False  # every join fails like a wrong password


@dataclass(slots=True)
class _State:
    registers: dict[str, str] = field(default_factory=dict)
    rbid: str | None = None
    password: str | None = None
    joined: bool = False
    reauthenticating: bool = False
    tx_limited: bool = False
    airtime: list[tuple[float, float]] = field(default_factory=list)


def _defaults() -> dict[str, str]:
    # §D.3 factory defaults: echo on (SFE = 1), lifetime 900 s, auto re-auth on.
    return {"S02": "21", "S03": "FFFF", "SFE": "1", "SA2": "0", "S16": "384", "S17": "1"}


def _register(name: str) -> str | None:
    upper = name.upper()
    if not upper.startswith("S") or len(upper) not in (2, 3):
        return None
    digits = upper[1:]
    if not all(c in "0123456789ABCDEF" for c in digits):
        return None
    return "S" + digits.rjust(2, "0")


class EmulatedModule:
    """One module; ``feed`` host bytes in, ``write`` (given) gets the module's bytes."""

    def __init__(
        self,
        *,
        dialect: Dialect,
        meter: MeterFace,
        radio: RadioMeter,
        write: Callable[[bytes], None],
        meter_now: Callable[[], datetime],
        meter_seconds_until: Callable[[datetime], float],
        module_mac: str = "001D129012345678",
        time_scale: float = 1.0,
        faults: ModuleFaults | None = None,
        seed: int = 1,
        flash: dict[str, str] | None = None,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.dialect = dialect
        self.meter = meter
        self.radio = radio
        self._write = write
        self._meter_now = meter_now
        self._meter_until = meter_seconds_until
        self.mac = module_mac
        self.address = out.ll64_address(module_mac)
        self.scale = time_scale
        self.faults = faults or ModuleFaults()
        self._rng = random.Random(seed)
        self.flash = flash if flash is not None else {}
        self._log = log
        self._framer = CommandFramer(dialect)
        self._state = _State(_defaults())
        self._tasks: set[asyncio.Task[None]] = set()
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self.channel = radio.channel
        self.stats: dict[str, int] = {}

    # --- plumbing ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start background faults (reset / channel change intervals)."""
        faults = self.faults
        if faults.reset_every:
            self._spawn(self._every(faults.reset_every, self._spontaneous_reset), session=False)
        if faults.channel_change_after:
            self._spawn(self._channel_change(faults.channel_change_after), session=False)

    def close(self) -> None:
        self._closed = True
        for task in (*self._tasks, *self._session_tasks):
            task.cancel()

    @property
    def meter_address(self) -> str:
        return out.ll64_address(self.radio.mac)

    @property
    def echo(self) -> bool:
        return self._state.registers.get("SFE", "1") != "0"

    @property
    def hex_data(self) -> bool:
        # §D.4: RL7023 always prints hex; others follow WOPT (binary by default).
        return self.dialect is Dialect.RL7023 or self.flash.get("wopt") == "01"

    def _count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def _emit(self, data: bytes) -> None:
        if self._closed:
            return
        if self._log is not None:
            self._log("<", redact_line(data.rstrip(b"\r\n")))
        if self.faults.garble and self._rng.random() < self.faults.garble and len(data) > 4:
            corrupted = bytearray(data)
            corrupted[self._rng.randrange(len(corrupted) - 2)] = self._rng.randrange(256)
            data = bytes(corrupted)
            self._count("garbled")
        self._write(data)

    def _spawn(self, coro: Coroutine[Any, Any, None], *, session: bool) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        bucket = self._session_tasks if session else self._tasks
        bucket.add(task)
        task.add_done_callback(bucket.discard)

    def _delay(self, seconds: float) -> float:
        return max(0.0, seconds * self.scale)

    async def _after(self, seconds: float, action: Callable[[], None]) -> None:
        await asyncio.sleep(self._delay(seconds))
        action()

    def _later(self, seconds: float, action: Callable[[], None], *, session: bool = True) -> None:
        self._spawn(self._after(seconds, action), session=session)

    async def _every(self, seconds: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(self._delay(seconds))
            action()

    def _event(self, number: int, address: str | None = None, param: int | None = None) -> None:
        self._emit(out.event(number, address or self.address, self.dialect, param=param))

    # --- input -------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the host."""
        for command in self._framer.feed(data):
            self._command(command)

    def _command(self, cmd: CommandLine) -> None:
        if self._log is not None:
            self._log(
                ">", redact_line(cmd.text) + (f" <{len(cmd.data)} bytes>" if cmd.data else "")
            )
        if self.echo and cmd.text and not cmd.cr_only:
            self._emit(cmd.text.encode("ascii", "replace") + b"\r\n")
        if cmd.garbled:
            self._emit(out.fail(4 if not cmd.name else 5))
            return
        handler = _HANDLERS.get(cmd.name)
        if handler is None:
            self._emit(out.fail(4, cr_only=cmd.cr_only))
            return
        self._count(cmd.name)
        handler(self, cmd)

    # --- simple commands ---------------------------------------------------------------------

    def _skver(self, cmd: CommandLine) -> None:
        self._emit(f"EVER {_VERSIONS[self.dialect]}\r\n".encode())
        self._emit(out.ok())

    def _skappver(self, cmd: CommandLine) -> None:
        self._emit(b"EAPPVER rev26e\r\n")
        self._emit(out.ok())

    def _skinfo(self, cmd: CommandLine) -> None:
        channel = int(self._state.registers["S02"], 16)
        pan = int(self._state.registers["S03"], 16)
        self._emit(out.einfo(self.address, self.mac, channel, pan, self.dialect))
        self._emit(out.ok())

    def _skreset(self, cmd: CommandLine) -> None:
        self._reset()
        self._emit(out.ok())

    def _reset(self) -> None:
        for task in self._session_tasks:
            task.cancel()
        self._state = _State(_defaults())
        self._framer = CommandFramer(self.dialect)

    def _spontaneous_reset(self) -> None:
        self._count("spontaneous_reset")
        self._reset()

    def _sksreg(self, cmd: CommandLine) -> None:
        if not 1 <= len(cmd.args) <= 2:
            self._emit(out.fail(5))
            return
        name = _register(cmd.args[0])
        if name is None:
            self._emit(out.fail(6))
            return
        if len(cmd.args) == 1:
            value = self._state.registers.get(name)
            if value is None:
                self._emit(out.fail(6))
                return
            self._emit(f"ESREG {value}\r\n".encode())
            self._emit(out.ok())
            return
        value = cmd.args[1].upper()
        if not all(c in "0123456789ABCDEF" for c in value) or len(value) > 8:
            self._emit(out.fail(6))
            return
        if name == "S02" and not FIRST_CHANNEL <= int(value, 16) <= 0x3C:
            self._emit(out.fail(6))
            return
        if name == "S16" and int(value, 16) < 0x3C:
            self._emit(out.fail(6))
            return
        self._state.registers[name] = value
        self._emit(out.ok())

    def _sksetpwd(self, cmd: CommandLine) -> None:
        if len(cmd.args) != 2:
            self._emit(out.fail(5))
            return
        length, password = cmd.args
        try:
            expected = int(length, 16)
        except ValueError:
            self._emit(out.fail(6))
            return
        if not 1 <= expected <= 32 or expected != len(password):
            self._emit(out.fail(6))
            return
        self._state.password = password
        self._emit(out.ok())

    def _sksetrbid(self, cmd: CommandLine) -> None:
        if len(cmd.args) != 1:
            self._emit(out.fail(5))
            return
        if len(cmd.args[0]) != 32:
            self._emit(out.fail(6))
            return
        self._state.rbid = cmd.args[0]
        self._state.registers["S0A"] = cmd.args[0][-8:].upper()
        self._emit(out.ok())

    def _skll64(self, cmd: CommandLine) -> None:
        if len(cmd.args) != 1:
            self._emit(out.fail(5))
            return
        mac = cmd.args[0]
        if len(mac) != 16 or not all(c in "0123456789ABCDEFabcdef" for c in mac):
            self._emit(out.fail(6))
            return
        self._emit(out.ll64_address(mac).encode() + b"\r\n")  # §D.1: no OK line

    def _skaddnbr(self, cmd: CommandLine) -> None:
        self._emit(out.ok() if len(cmd.args) == 2 else out.fail(5))

    def _ropt(self, cmd: CommandLine) -> None:
        if self.dialect is Dialect.RL7023:
            self._emit(out.fail(4, cr_only=True))
            return
        self._emit(out.ok(self.flash.get("wopt", "00"), cr_only=True))

    def _wopt(self, cmd: CommandLine) -> None:
        if self.dialect is Dialect.RL7023:
            self._emit(out.fail(4, cr_only=True))
            return
        if len(cmd.args) != 1 or cmd.args[0] not in ("00", "01"):
            self._emit(out.fail(6, cr_only=True))
            return
        self.flash["wopt"] = cmd.args[0]
        self.flash["wopt_writes"] = str(int(self.flash.get("wopt_writes", "0")) + 1)
        self._emit(out.ok(cr_only=True))

    def _ruart(self, cmd: CommandLine) -> None:
        self._emit(out.ok("00", cr_only=True))

    # --- scan --------------------------------------------------------------------------------

    def _skscan(self, cmd: CommandLine) -> None:
        args = cmd.args
        # §D.1: BP35A1 documents 3 arguments and rejects a 4th (ER05); C0/C2 accept both.
        if len(args) not in ((3,) if not self.dialect.has_side else (3, 4)):
            self._emit(out.fail(5))
            return
        try:
            mode, mask, duration = int(args[0]), int(args[1], 16), int(args[2], 16)
        except ValueError:
            self._emit(out.fail(6))
            return
        if mode not in (0, 2, 3) or not 0 <= duration <= 14 or len(args[1]) != 8:
            self._emit(out.fail(6))
            return
        self._emit(out.ok())
        per_channel = SCAN_SLOT * (2**duration + 1)
        channels = [FIRST_CHANNEL + bit for bit in range(28) if mask >> bit & 1]
        total = per_channel * len(channels)
        radio = self.radio
        pairing = self._state.registers.get("S0A")
        if mode == 2 and self.channel in channels and pairing == radio.pairing_id:
            at = per_channel * (channels.index(self.channel) + 1)
            self._later(at, self._beacon)
        done = 0x1F if mode == 0 else 0x22
        self._later(total, lambda: self._event(done))

    def _beacon(self) -> None:
        radio = self.radio
        self._event(0x20)
        self._emit(
            out.epandesc(
                self.channel,
                radio.pan_id,
                radio.mac.upper(),
                radio.lqi,
                radio.pairing_id,
                self.dialect,
            )
        )

    # --- join and session --------------------------------------------------------------------

    def _skjoin(self, cmd: CommandLine) -> None:
        if len(cmd.args) != 1:
            self._emit(out.fail(5))
            return
        state = self._state
        if state.rbid is None or state.password is None:
            self._emit(out.fail(10))
            return
        self._emit(out.ok())
        self._start_join(cmd.args[0])

    def _start_join(self, address: str) -> None:
        state = self._state
        radio = self.radio
        reachable = (
            address.upper() == self.meter_address
            and int(state.registers["S02"], 16) == self.channel
            and int(state.registers["S03"], 16) == radio.pan_id
        )
        good = (
            not self.faults.wrong_credentials
            and state.rbid == radio.rbid
            and state.password == radio.password
        )
        meter = self.meter_address
        # §D.5 (QIITA-C2): NS, NA, then PANA messages from the meter on 02CC, secured = 0.
        self._later(0.05, lambda: self._event(0x21, meter, 0x02))
        if not reachable:
            self._later(JOIN_FAIL_SECONDS, lambda: self._event(0x24, meter))
            return
        self._later(0.2, lambda: self._event(0x02, meter))
        self._later(0.4, lambda: self._event(0x21, meter, 0x00))
        self._later(0.7, lambda: self._pana(40))
        if not good:
            self._later(JOIN_FAIL_SECONDS, lambda: self._event(0x24, meter))
            return
        self._later(1.2, lambda: self._event(0x21, meter, 0x00))
        self._later(1.6, lambda: self._pana(100))
        self._later(2.2, lambda: self._event(0x21, meter, 0x00))
        self._later(2.8, lambda: self._pana(68))
        self._later(JOIN_OK_SECONDS, self._joined)

    def _pana(self, size: int) -> None:
        payload = bytes(self._rng.randrange(256) for _ in range(size))
        self._rx(payload, port=PANA_PORT, secured=0)

    def _joined(self) -> None:
        state = self._state
        state.joined = True
        state.reauthenticating = False
        self._count("joined")
        self._event(0x25, self.meter_address)
        self._later(D5_AFTER_JOIN, self._startup_inf)
        self._schedule_push()
        lifetime = self.faults.event29_every
        if lifetime is None:
            lifetime = float(int(state.registers.get("S16", "384"), 16))
        self._later(lifetime, self._lifetime_expired)
        if self.faults.event26_every:
            self._later(self.faults.event26_every, self._meter_ends_session)

    def _startup_inf(self) -> None:
        if self._state.joined:
            self._rx(self.meter.startup_notification(), destination=MULTICAST)

    def _lifetime_expired(self) -> None:
        state = self._state
        if not state.joined:
            return
        # §C: EVENT 29, no sending until the automatic re-authentication's EVENT 25.
        state.reauthenticating = True
        self._event(0x29, self.meter_address)
        if state.registers.get("S17", "1") != "0":
            self._later(1.0, self._reauthenticated)
        else:
            state.joined = False

    def _reauthenticated(self) -> None:
        state = self._state
        if not state.reauthenticating:
            return
        state.reauthenticating = False
        self._event(0x25, self.meter_address)
        lifetime = self.faults.event29_every or float(int(state.registers.get("S16", "384"), 16))
        self._later(lifetime, self._lifetime_expired)

    def _meter_ends_session(self) -> None:
        if self._state.joined:
            self._end_session()
            self._count("event26")
            self._event(0x26, self.meter_address)

    def _end_session(self) -> None:
        self._state.joined = False
        self._state.reauthenticating = False
        for task in list(self._session_tasks):
            task.cancel()

    def _skrejoin(self, cmd: CommandLine) -> None:
        if not self._state.joined:
            self._emit(out.fail(10))
            return
        self._emit(out.ok())
        self._later(JOIN_OK_SECONDS, lambda: self._event(0x25, self.meter_address))

    def _skterm(self, cmd: CommandLine) -> None:
        if not self._state.joined:
            self._emit(out.fail(10))
            return
        self._end_session()
        self._emit(out.ok())
        self._later(0.3, lambda: self._event(0x27, self.meter_address), session=False)

    # --- data --------------------------------------------------------------------------------

    def _sksendto(self, cmd: CommandLine) -> None:
        args = cmd.args
        data = cmd.data or b""
        expected = 6 if self.dialect.has_side else 5
        if len(args) != expected or cmd.data is None:
            self._emit(out.fail(5))
            return
        handle, address, port_text, sec_text = args[:4]
        try:
            handle_n, port, sec = int(handle), int(port_text, 16), int(sec_text)
        except ValueError:
            self._emit(out.fail(6))
            return
        if not 1 <= handle_n <= 6 or sec not in (0, 1, 2) or len(port_text) != 4:
            self._emit(out.fail(6))
            return
        if not self.echo:
            self._emit(b"\r\n")  # §D.0: with echo off the answer starts with a bare CRLF
        state = self._state
        if sec == 1 and not state.joined:
            self._emit(out.fail(10))
            return
        if state.reauthenticating or state.tx_limited or not self._airtime(len(data)):
            self._later(0.15, lambda: self._send_done(address, 0x01))
            return
        delay = self._rng.uniform(*SEND_DONE)
        ours = address.upper() in (self.meter_address, MULTICAST) and port == ECHONET_PORT
        self._later(delay, lambda: self._send_done(address, 0x00 if ours else 0x01))
        if ours and state.joined:
            self._later(delay, lambda: self._deliver(data))

    def _send_done(self, address: str, param: int) -> None:
        self._event(0x21, address, param)
        self._emit(out.ok())

    def _airtime(self, size: int) -> bool:
        """Charge the ARIB airtime budget; False (and EVENT 32) when it is exhausted."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        window = TX_WINDOW * self.scale if self.scale else TX_WINDOW
        state = self._state
        state.airtime = [(t, s) for t, s in state.airtime if now - t < window]
        spent = sum(s for _, s in state.airtime)
        cost = (size + FRAME_OVERHEAD) * 8 / PHY_BPS
        if spent + cost > self.faults.tx_budget:
            if not state.tx_limited:
                state.tx_limited = True
                self._count("tx_limited")
                self._event(0x32)
                oldest = min((t for t, _ in state.airtime), default=now)
                release = max(0.0, oldest + window - now)
                self._spawn(self._release_after(release), session=False)
            return False
        state.airtime.append((now, cost))
        return True

    async def _release_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._state.tx_limited = False
        self._state.airtime.clear()
        self._event(0x33)

    def _deliver(self, data: bytes) -> None:
        answers = self.meter.handle(data, self.address)
        for answer in answers:
            if self.faults.drop and self._rng.random() < self.faults.drop:
                self._count("dropped")
                continue
            delay = self._rng.uniform(*ANSWER_DELAY) + self.faults.slow / max(self.scale, 1e-9)
            self._later(delay, functools.partial(self._rx, answer))

    def _rx(
        self,
        data: bytes,
        *,
        port: int = ECHONET_PORT,
        secured: int = 1,
        destination: str | None = None,
    ) -> None:
        if self._closed:
            return
        lqi = self.radio.lqi if self._state.registers.get("SA2") == "1" else None
        side = 0 if self.dialect.has_side else None
        rx = UdpReceived(
            self.meter_address,
            destination or self.address,
            port,
            port,
            self.radio.mac.upper(),
            secured,
            data,
            side if self.dialect.has_side else None,
            lqi if self.dialect.has_side else None,
        )
        self._emit(format_erxudp(rx, hex_data=self.hex_data))

    # --- pushes and meter-side faults --------------------------------------------------------

    def _schedule_push(self) -> None:
        when, frames = self.meter.next_push(self._meter_now())
        wait = self._meter_until(when)

        async def push() -> None:
            await asyncio.sleep(wait)
            if self._state.joined and not self._state.reauthenticating:
                for frame in frames:
                    self._rx(frame)
            self._schedule_push()

        self._spawn(push(), session=True)

    async def _channel_change(self, after: float) -> None:
        await asyncio.sleep(self._delay(after))
        self.channel = FIRST_CHANNEL + (self.channel - FIRST_CHANNEL + 7) % 28
        self._count("channel_change")
        if self._state.joined:
            self._end_session()
            self._event(0x26, self.meter_address)

    # exposed for on-demand fault injection (tests, the --fault interface)
    def inject(self, name: str) -> None:
        """Trigger a fault now: event26, event29, reset."""
        if name == "event26":
            self._meter_ends_session()
        elif name == "event29":
            self._lifetime_expired()
        elif name == "reset":
            self._spontaneous_reset()


_HANDLERS: Final[dict[str, Callable[[EmulatedModule, CommandLine], None]]] = {
    "SKVER": EmulatedModule._skver,
    "SKAPPVER": EmulatedModule._skappver,
    "SKINFO": EmulatedModule._skinfo,
    "SKRESET": EmulatedModule._skreset,
    "SKSREG": EmulatedModule._sksreg,
    "SKSETPWD": EmulatedModule._sksetpwd,
    "SKSETRBID": EmulatedModule._sksetrbid,
    "SKSCAN": EmulatedModule._skscan,
    "SKLL64": EmulatedModule._skll64,
    "SKJOIN": EmulatedModule._skjoin,
    "SKREJOIN": EmulatedModule._skrejoin,
    "SKSENDTO": EmulatedModule._sksendto,
    "SKTERM": EmulatedModule._skterm,
    "SKADDNBR": EmulatedModule._skaddnbr,
    "ROPT": EmulatedModule._ropt,
    "WOPT": EmulatedModule._wopt,
    "RUART": EmulatedModule._ruart,
}
