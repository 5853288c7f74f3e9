"""The SKSTACK IP face of the emulated module: the text wire over the shared radio model.

Host bytes are framed and parsed by :mod:`routeb.skstack.module_commands` (which also decides
every FAIL code for a bad argument), the module's lines are built by
:mod:`routeb.skstack.module_output`, and everything that happens on the air (scan, PANA,
lifetime, transmit budget, answers, pushes, faults) is :class:`~routeb.emulator.radio.RadioModel`.
What is left here is what a SKSTACK module itself does (protocol.md §D, §G): echo per SFE,
registers, ROPT/WOPT with CR-only lines and WOPT kept in "flash" across resets, the dialect's
SIDE fields, and how radio events read as EVENT lines and ERXUDPs. The factory defaults of each
dialect, with their sources, are :data:`DIALECT_DEFAULTS`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from routeb._redact import redact_line
from routeb.emulator.face import ModuleFace
from routeb.emulator.radio import (
    ANSWER_DELAY,
    JOIN_FAIL_SECONDS,
    JOIN_OK_SECONDS,
    SEND_DONE,
    ChannelScanned,
    EndedByMeter,
    Joined,
    JoinFailed,
    LifetimeExpired,
    LinkLost,
    MeterFace,
    MeterSite,
    ModuleFaults,
    PanaMessage,
    RadioEvent,
    RadioMeter,
    RadioModel,
    Reauthenticated,
    Received,
    ReceptionFailure,
    ScanFinished,
    SendOutcome,
    TxLimited,
    TxReleased,
)
from routeb.skstack import module_output as out
from routeb.skstack.events import Dialect, UdpReceived
from routeb.skstack.grammar import MAX_CHANNEL, MIN_CHANNEL
from routeb.skstack.module_commands import (
    ER_FAILED,
    ER_RANGE,
    ER_UNSUPPORTED,
    AddNeighbourCommand,
    BadCommand,
    BareCommand,
    CommandFramer,
    CommandLine,
    JoinCommand,
    Ll64Command,
    ParsedCommand,
    RegisterCommand,
    ScanCommand,
    SendToCommand,
    SetPassword,
    SetRouteBId,
    WriteOptCommand,
    WriteUartCommand,
    parse_command,
)

__all__ = [
    "ANSWER_DELAY",
    "DIALECT_DEFAULTS",
    "JOIN_FAIL_SECONDS",
    "JOIN_OK_SECONDS",
    "SCAN_SLOT",
    "SEND_DONE",
    "DialectDefaults",
    "EmulatedModule",
    "MeterFace",
    "ModuleFaults",
    "RadioMeter",
]

# protocol.md §D.4: ECHONET Lite on 0E1A, PANA on 02CC; multicast FF02::1 for the D5 INF (§C).
ECHONET_PORT: Final = 0x0E1A
PANA_PORT: Final = 0x02CC
MULTICAST: Final = "FF02:0000:0000:0000:0000:0000:0000:0001"
# protocol.md §E: scan slot 9.6 ms × (2^N + 1) per channel.
SCAN_SLOT: Final = 0.0096
# §D.1 SKSCAN: channel mask bit 0 = channel 33 (0x21), 28 channels.
_MASK_CHANNELS: Final = MAX_CHANNEL - MIN_CHANNEL + 1
# §D.1 SKSCAN mode 0 = ED scan (EVENT 1F), 2/3 = active scans (EVENT 22).
_ED_SCAN: Final = 0
_ACTIVE_WITH_IE: Final = 2
# §D.1 SKTERM → EVENT 27 shortly after OK; SKSENDTO while the link cannot send → EVENT 21 01.
_TERM_SECONDS: Final = 0.3
_SEND_REFUSED: Final = 0.15
_NA_AFTER: Final = (0.05, 0.2, 0.4)  # §D.5 QIITA-C2: EVENT 21 02, EVENT 02 (NA), EVENT 21 00
_REAUTH_OK_SECONDS: Final = JOIN_OK_SECONDS  # SKREJOIN → EVENT 25


@dataclass(frozen=True, slots=True)
class DialectDefaults:
    """A dialect's factory state, each value with where it comes from (protocol.md §0 keys)."""

    version: str  # EVER
    echo: bool  # SFE
    flow_control: bool  # RUART bit 7
    source: str


# Checked against the real transcripts of protocol.md §D.5 (tests/test_emulator_dialects.py).
DIALECT_DEFAULTS: Final[dict[Dialect, DialectDefaults]] = {
    # §D.1 EVER 1.2.10 (SMDN-SK test); §D.0: echo is on at the factory and AKLOG's real BP35A1
    # trace first turns it off with SKSREG SFE 0; §D.0: no flow control by default (SMDN-SK).
    Dialect.BP35A1: DialectDefaults("1.2.10", True, False, "AKLOG, SMDN-SK"),
    # §D.1 EVER 1.5.2 and §D.5: the real RS-WSUHA-P (BP35C2) trace of QIITA-C2 has echo on and
    # RUART → OK 80 (flow control on).
    Dialect.BP35C2: DialectDefaults("1.5.2", True, True, "QIITA-C2"),
    # §D.1 EVER 1.5.2 (GOEL); GOEL's RL7023 strings show no echo, and a real RL7023 client fails
    # on an echo line (issue 20 §3): echo off.
    Dialect.RL7023: DialectDefaults("1.5.2", False, False, "GOEL"),
}
_APP_VERSION: Final = "rev26e"  # §D.1 SKAPPVER (SMDN-SK test)


def _registers(dialect: Dialect) -> dict[str, str]:
    # §D.3 factory registers: channel 0x21, PAN FFFF, S16 lifetime 0x384 = 900 s, S17 automatic
    # re-authentication on (the S17 default is open, §H), SA2 no RSSI in ERXUDP.
    defaults = DIALECT_DEFAULTS[dialect]
    return {
        "S02": "21",
        "S03": "FFFF",
        "SFE": "1" if defaults.echo else "0",
        "SA2": "0",
        "S16": "384",
        "S17": "1",
    }


class EmulatedModule(ModuleFace):
    """One SKSTACK module; ``feed`` host bytes in, ``write`` (given) gets the module's bytes.

    ``radio`` + ``meter`` describe a single meter in range; ``sites`` (instead) puts several
    meters around the module (``routeb emulate --meters N``).
    """

    def __init__(
        self,
        *,
        dialect: Dialect,
        write: Callable[[bytes], None],
        meter: MeterFace | None = None,
        radio: RadioMeter | None = None,
        meter_now: Callable[[], datetime] | None = None,
        meter_seconds_until: Callable[[datetime], float] | None = None,
        sites: list[MeterSite] | None = None,
        module_mac: str = "001D129012345678",
        time_scale: float = 1.0,
        faults: ModuleFaults | None = None,
        seed: int | None = None,
        flash: dict[str, str] | None = None,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.dialect = dialect
        self._write = write
        if sites is None:
            if meter is None or radio is None or meter_now is None or meter_seconds_until is None:
                raise TypeError("give sites, or meter, radio, meter_now and meter_seconds_until")
            sites = [MeterSite(radio, meter, meter_now, meter_seconds_until)]
        self.sites = sites
        self.mac = module_mac
        self.address = out.ll64_address(module_mac)
        self.scale = time_scale
        self._rng = random.Random(seed)
        self.flash = flash if flash is not None else {}
        self._log = log
        self._framer = CommandFramer(dialect)
        self._registers = _registers(dialect)
        self._rbid: str | None = None
        self._password: str | None = None
        self._join_address = self.address
        self._closed = False
        self.stats: dict[str, int] = {}
        self.air = RadioModel(
            sites,
            self._on_radio,
            time_scale=time_scale,
            faults=faults,
            rng=self._rng,
            stats=self.stats,
        )

    # --- plumbing ----------------------------------------------------------------------------

    def meter_address(self, site: MeterSite | None = None) -> str:
        return out.ll64_address((site or self.sites[0]).mac)

    @property
    def echo(self) -> bool:
        return self._registers.get("SFE", "1") != "0"

    @property
    def hex_data(self) -> bool:
        # §D.4: RL7023 always prints hex; others follow WOPT (binary by default).
        return self.dialect is Dialect.RL7023 or self.flash.get("wopt") == "01"

    def _emit(self, data: bytes) -> None:
        if self._closed:
            return
        if self._log is not None:
            self._log("<", redact_line(data.rstrip(b"\r\n")))
        garble = self.faults.garble
        if garble and self._rng.random() < garble and len(data) > 4:
            corrupted = bytearray(data)
            corrupted[self._rng.randrange(len(corrupted) - 2)] = self._rng.randrange(256)
            data = bytes(corrupted)
            self.air.count("garbled")
        self._write(data)

    def _event(
        self,
        number: int,
        address: str | None = None,
        param: int | None = None,
        *,
        then: bytes = b"",
    ) -> None:
        # A line emitted together with what follows it goes out in the same write (one burst).
        self._emit(out.event(number, address or self.address, self.dialect, param=param) + then)

    # --- input -------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the host."""
        for line in self._framer.feed(data):
            self._command(line, parse_command(line, self.dialect))

    def _command(self, line: CommandLine, cmd: ParsedCommand | BadCommand) -> None:
        if self._log is not None:
            size = f" <{len(line.data)} bytes>" if line.data else ""
            self._log(">", redact_line(line.text) + size)
        if self.echo and line.text and not line.cr_only:
            self._emit(out.echo(line))
        if isinstance(cmd, BadCommand):
            self._emit(out.fail(cmd.code, cr_only=line.cr_only or cmd.cr_only))
            return
        self.air.count(cmd.name)
        match cmd:
            case BareCommand():
                self._bare(cmd)
            case RegisterCommand():
                self._sksreg(cmd)
            case SetPassword(password=password):
                self._password = password.reveal()
                self._emit(out.ok())
            case SetRouteBId(rbid=rbid):
                self._rbid = rbid.reveal()
                self._registers["S0A"] = self._rbid[-8:].upper()
                self._emit(out.ok())
            case ScanCommand():
                self._skscan(cmd)
            case Ll64Command(mac=mac):
                self._emit(out.ll64_line(mac))  # §D.1: no OK line
            case JoinCommand(address=address):
                self._skjoin(address)
            case AddNeighbourCommand():
                self._emit(out.ok())
            case SendToCommand():
                self._sksendto(cmd)
            case WriteOptCommand(mode=mode):
                self._wopt(mode)
            case WriteUartCommand():
                self._emit(self._product_setting() or out.ok(cr_only=True))

    def _product_setting(self) -> bytes | None:
        """§D.1: the RL7023 has no ROPT/WOPT/RUART/WUART (FAIL ER04, CR only)."""
        if self.dialect is Dialect.RL7023:
            return out.fail(ER_UNSUPPORTED, cr_only=True)
        return None

    def _bare(self, cmd: BareCommand) -> None:
        name = cmd.name
        if name == "SKVER":
            self._emit(out.ever(DIALECT_DEFAULTS[self.dialect].version) + out.ok())
        elif name == "SKAPPVER":
            self._emit(out.eappver(_APP_VERSION) + out.ok())
        elif name == "SKINFO":
            channel = int(self._registers["S02"], 16)
            pan = int(self._registers["S03"], 16)
            info = out.einfo(self.address, self.mac, channel, pan, self.dialect)
            self._emit(info + out.ok())
        elif name == "SKRESET":
            self._reset()
            self._emit(out.ok())
        elif name in ("SKSAVE", "SKLOAD"):
            self._emit(out.ok())
        elif name == "SKTERM":
            self._skterm()
        elif name == "SKREJOIN":
            self._skrejoin()
        elif name == "ROPT":
            self._emit(
                self._product_setting() or out.ok(self.flash.get("wopt", "00"), cr_only=True)
            )
        elif name == "RUART":
            flow = DIALECT_DEFAULTS[self.dialect].flow_control
            self._emit(self._product_setting() or out.ok("80" if flow else "00", cr_only=True))

    def _reset(self) -> None:
        self.air.reset()
        self._registers = _registers(self.dialect)
        self._rbid = self._password = None
        self._framer = CommandFramer(self.dialect)

    def _sksreg(self, cmd: RegisterCommand) -> None:
        if cmd.value is None:
            value = self._registers.get(cmd.register)
            self._emit(out.fail(ER_RANGE) if value is None else out.esreg(value) + out.ok())
            return
        self._registers[cmd.register] = cmd.value  # range checked by the parser (§D.3)
        self._emit(out.ok())

    def _wopt(self, mode: int) -> None:
        refused = self._product_setting()
        if refused is not None:
            self._emit(refused)
            return
        self.flash["wopt"] = f"{mode:02X}"
        self.flash["wopt_writes"] = str(int(self.flash.get("wopt_writes", "0")) + 1)
        self._emit(out.ok(cr_only=True))

    # --- scan --------------------------------------------------------------------------------

    def _skscan(self, cmd: ScanCommand) -> None:
        self._emit(out.ok())
        channels = [MIN_CHANNEL + bit for bit in range(_MASK_CHANNELS) if cmd.mask >> bit & 1]
        per_channel = SCAN_SLOT * (2**cmd.duration + 1)
        if cmd.mode == _ED_SCAN:
            self.air.later(per_channel * len(channels), lambda: self._event(0x1F))
            return
        pairing = self._registers.get("S0A") if cmd.mode == _ACTIVE_WITH_IE else None
        self.air.scan(channels, per_channel, pairing)

    def _beacon(self, site: MeterSite) -> None:
        radio = site.radio
        block = out.epandesc(
            site.channel, radio.pan_id, site.mac, radio.lqi, radio.pairing_id, self.dialect
        )
        self._event(0x20, then=block)

    # --- join and session --------------------------------------------------------------------

    def _skjoin(self, address: str) -> None:
        if self._rbid is None or self._password is None or self.air.busy_joining:
            self._emit(out.fail(ER_FAILED))  # §D.1: one join at a time; credentials first
            return
        self._emit(out.ok())
        # One PANA session at a time: a new join drops the old session (no PTR on the air).
        self.air.abandon_session()
        self._join_address = address
        channel = int(self._registers["S02"], 16)
        pan = int(self._registers["S03"], 16)
        site = next(
            (
                s
                for s in self.sites
                if self.meter_address(s) == address and s.channel == channel and s.pan_id == pan
            ),
            None,
        )
        # §D.5 (QIITA-C2): NS → EVENT 21 02, NA → EVENT 02, then the PANA messages.
        self.air.later(_NA_AFTER[0], lambda: self._event(0x21, address, 0x02))
        if site is not None:
            self.air.later(_NA_AFTER[1], lambda: self._event(0x02, address))
            self.air.later(_NA_AFTER[2], lambda: self._event(0x21, address, 0x00))
        lifetime = self.faults.event29_every
        if lifetime is None:
            lifetime = float(int(self._registers.get("S16", "384"), 16))
        self.air.join(
            site,
            self._rbid,
            self._password,
            lifetime=lifetime,
            auto_reauth=self._registers.get("S17", "1") != "0",
        )

    def _skrejoin(self) -> None:
        session = self.air.session
        if session is None:
            self._emit(out.fail(ER_FAILED))
            return
        self._emit(out.ok())
        address = self.meter_address(session.site)
        self.air.later(_REAUTH_OK_SECONDS, lambda: self._event(0x25, address))

    def _skterm(self) -> None:
        site = self.air.terminate()
        if site is None:
            self._emit(out.fail(ER_FAILED))
            return
        self._emit(out.ok())
        address = self.meter_address(site)
        self.air.later(_TERM_SECONDS, lambda: self._event(0x27, address))

    # --- data --------------------------------------------------------------------------------

    def _sksendto(self, cmd: SendToCommand) -> None:
        if not self.echo:
            self._emit(b"\r\n")  # §D.0: with echo off the answer starts with a bare CRLF
        session = self.air.session
        if cmd.sec == 1 and session is None:
            self._emit(out.fail(ER_FAILED))
            return
        address = cmd.address
        mac = next((s.mac for s in self.sites if self.meter_address(s) == address), None)
        result = self.air.send(mac, cmd.port == ECHONET_PORT, cmd.data, self.address)
        # SEC 0/2 without a session still goes out in plaintext (§D.1); nobody answers it.
        plain = result.outcome is SendOutcome.NOT_JOINED and cmd.sec != 1
        if result.outcome is SendOutcome.SENT or plain:
            ok = mac is not None or address == MULTICAST
            done = 0x00 if ok else 0x01
            self.air.later(result.done_after, lambda: self._send_done(address, done))
        else:
            self.air.later(_SEND_REFUSED, lambda: self._send_done(address, 0x01))

    def _send_done(self, address: str, param: int) -> None:
        self._event(0x21, address, param, then=out.ok())

    # --- radio events ------------------------------------------------------------------------

    def _on_radio(self, event: RadioEvent) -> None:
        match event:
            case ChannelScanned(beacons=beacons):
                for site in beacons:
                    self._beacon(site)
            case ScanFinished():
                self._event(0x22)
            case PanaMessage(site=site, data=data):
                self._rx(site, data, port=PANA_PORT, secured=0)
            case Joined(site=site):
                self._event(0x25, self.meter_address(site))
            case JoinFailed(site=site):
                address = self.meter_address(site) if site is not None else self._join_address
                self._event(0x24, address)
            case LifetimeExpired(site=site):
                # §C: EVENT 29, no sending until the automatic re-authentication's EVENT 25.
                self._event(0x29, self.meter_address(site))
            case Reauthenticated(site=site):
                self._event(0x25, self.meter_address(site))
            case EndedByMeter(site=site) | LinkLost(site=site):
                self._event(0x26, self.meter_address(site))
            case Received(site=site, data=data, multicast=multicast):
                self._rx(site, data, destination=MULTICAST if multicast else None)
            case ReceptionFailure():
                pass  # SKSTACK reports no decryption failures (§D.2)
            case TxLimited():
                self._event(0x32)
            case TxReleased():
                self._event(0x33)

    def _rx(
        self,
        site: MeterSite,
        data: bytes,
        *,
        port: int = ECHONET_PORT,
        secured: int = 1,
        destination: str | None = None,
    ) -> None:
        side = 0 if self.dialect.has_side else None
        lqi = site.radio.lqi if self._registers.get("SA2") == "1" and side is not None else None
        rx = UdpReceived(
            self.meter_address(site),
            destination or self.address,
            port,
            port,
            site.mac,
            secured,
            data,
            side,
            lqi,
        )
        self._emit(out.erxudp(rx, hex_data=self.hex_data))
