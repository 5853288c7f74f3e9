"""The whole emulator: the meters (one, or ``meters`` of them), and a module in front of them
on a pty (and on TCP), speaking SKSTACK text or J11 binary over the same radio model.

``Emulator`` is what ``routeb emulate`` runs and what tests start in-process. Faults are
given as ``NAME[=VALUE]`` strings (docs/emulator.md lists them). The module's output reaches
the client in bursts, as through a USB-serial adapter (:mod:`routeb.emulator.uart`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Final, Literal

from routeb.emulator.clock import EmulatorClock, jst_now
from routeb.emulator.j11_module import J11Module
from routeb.emulator.lan import WISUN_BATCH, bridge_answers
from routeb.emulator.meter import EmulatedMeter
from routeb.emulator.module import EmulatedModule
from routeb.emulator.profile import MeterProfile
from routeb.emulator.radio import REJOIN_GUARD, MeterSite, ModuleFaults, RadioMeter
from routeb.emulator.server import PtyEndpoint, TcpEndpoint
from routeb.emulator.uart import CDC_LATENCY, FTDI_LATENCY, BurstWriter
from routeb.errors import ConfigError
from routeb.skstack.events import Dialect
from routeb.transport.lan import (
    ECHONET_PORT,
    GroupProtocol,
    LanEndpoint,
    group_socket,
)

__all__ = [
    "DEFAULT_ID",
    "DEFAULT_PASSWORD",
    "DIALECTS",
    "FAULTS",
    "J11",
    "MAX_METERS",
    "Emulator",
    "EmulatorOptions",
    "meter_credentials",
    "meter_profile",
    "parse_faults",
]

_LOG = logging.getLogger(__name__)
# The documented default credentials of the emulated meter (docs/emulator.md).
DEFAULT_ID: Final = "00112233445566778899AABBCCDDEEFF"
DEFAULT_PASSWORD: Final = "0123456789AB"  # noqa: S105 - documented emulator default
FAULTS: Final = {
    "drop": "probability (0..1) that a meter answer is lost",
    "slow": "seconds the meter takes on top of its normal 0.3–1 s",
    "garble": "probability (0..1) that a line from the module is corrupted",
    "reset": "the module resets itself every N seconds (echo on, no session)",
    "event26": "the meter ends the session every N seconds (EVENT 26)",
    "event29": "the PANA lifetime is N seconds (EVENT 29, then re-authentication)",
    "tx-budget": "airtime seconds per hour before EVENT 32 (ARIB: 360)",
    "channel-change": "the meter moves to another channel after N seconds",
    "wrong-credentials": "every join fails as with a wrong password (EVENT 24, J11 0x6028 02)",
    "vanish": "the device disappears after N seconds (VALUE = N[:M], back after M)",
    "no-ack": "probability (0..1) that a send gets no MAC ACK (EVENT 21 01, J11 result 0x05)",
    "rx-failure": "a frame from the meter fails to decrypt every N seconds (J11 0x6038)",
    "rejoin-guard": "a join within N seconds of the meter ending a session gets no answer",
    "lost-pana": "the first N good joins lose the meter's last PANA message (EVENT 24, J11 "
    "0x6028 03)",
    "max-properties": "the meter answers at most N properties per request",
    "no-d3": "the meter lacks the coefficient 0xD3",
    "no-e1": "the meter lacks the unit 0xE1",
}


# The J11 binary protocol (j11.md), beside the SKSTACK text dialects.
J11: Final = "j11"
DIALECTS: Final = (*(d.value for d in Dialect), J11)
# Several meters around one module (issue 17 §3): each on its own channel.
MAX_METERS: Final = 8
# Meter i ≥ 2 sits 6 channels below meter i-1: an even step keeps it on an odd SKSTACK channel,
# one a J11 module reaches too (j11.md §7.3).
_CHANNEL_STEP: Final = 6
_FIRST_CHANNEL: Final = 0x21
_CHANNELS: Final = 28


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """Everything `routeb emulate` takes."""

    dialect: Dialect | Literal["j11"] = Dialect.BP35A1
    rbid: str = DEFAULT_ID
    password: str = DEFAULT_PASSWORD
    time_scale: float = 1.0
    clock_speed: float = 1.0
    # The meter's (true) JST time at start-up; None: now.
    clock_start: datetime | None = None
    tcp: int | None = None
    seed: int = 1
    profile: MeterProfile = field(default_factory=MeterProfile)
    faults: ModuleFaults = field(default_factory=ModuleFaults)
    max_properties: int = 6
    vanish_after: float | None = None
    vanish_for: float = 5.0
    link: Path | None = None
    log: bool = False
    udp: str | None = None  # also serve the meter as an ECHONET Lite node on ADDRESS:3610
    meters: int = 1  # meters around the module (each its own channel, PAN, credentials)
    profiles: tuple[MeterProfile, ...] = ()  # one per meter (missing ones derived from the first)
    radio_seed: int | None = None  # the module's delays and losses; None: from the OS
    uart_latency: float | None = None  # None: 16 ms (FTDI) for SKSTACK, 1 ms (CDC) for J11
    uart_chunk: int | None = None  # cut every burst into pieces of this many bytes
    lan_batch: int = WISUN_BATCH  # the IP bridge relays a Get in requests of this many EPCs
    rejoin_guard: float | None = None  # None: REJOIN_GUARD with several meters, else 0


def _number(name: str, value: str | None) -> float:
    if value is None:
        raise ConfigError(f"--fault {name}", "needs a value: NAME=VALUE")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"--fault {name}", f"{value!r} is not a number") from None
    if number < 0:
        raise ConfigError(f"--fault {name}", "must be >= 0")
    return number


def _probability(name: str, value: str | None) -> float:
    number = _number(name, value)
    if number > 1:
        raise ConfigError(f"--fault {name}", f"{value} is not a probability (0..1, e.g. 0.2)")
    return number


def parse_faults(specs: Sequence[str], options: EmulatorOptions) -> EmulatorOptions:
    """Apply ``NAME[=VALUE]`` fault specs to ``options``."""
    faults = options.faults
    profile = options.profile
    for spec in specs:
        name, _, raw = spec.partition("=")
        value = raw or None
        if name == "drop":
            faults = replace(faults, drop=_probability(name, value))
        elif name == "slow":
            faults = replace(faults, slow=_number(name, value))
        elif name == "garble":
            faults = replace(faults, garble=_probability(name, value))
        elif name == "reset":
            faults = replace(faults, reset_every=_number(name, value))
        elif name == "event26":
            faults = replace(faults, event26_every=_number(name, value))
        elif name == "event29":
            faults = replace(faults, event29_every=_number(name, value))
        elif name == "tx-budget":
            faults = replace(faults, tx_budget=_number(name, value))
        elif name == "channel-change":
            faults = replace(faults, channel_change_after=_number(name, value))
        elif name == "wrong-credentials":
            faults = replace(faults, wrong_credentials=True)
        elif name == "lost-pana":
            faults = replace(faults, lost_pana=int(_number(name, value or "1")))
        elif name == "vanish":
            first, _, second = (value or "").partition(":")
            options = replace(
                options,
                vanish_after=_number(name, first or None),
                vanish_for=_number(name, second) if second else options.vanish_for,
            )
        elif name == "max-properties":
            count = int(_number(name, value))
            if count < 1:
                raise ConfigError("--fault max-properties", "must be at least 1")
            options = replace(options, max_properties=count)
        elif name == "no-ack":
            faults = replace(faults, no_ack=min(1.0, _number(name, value)))
        elif name == "rx-failure":
            faults = replace(faults, rx_failure_every=_number(name, value))
        elif name == "rejoin-guard":
            options = replace(options, rejoin_guard=_number(name, value))
        elif name == "no-d3":
            profile = replace(profile, coefficient=None)
        elif name == "no-e1":
            profile = replace(profile, unit_code=None)
        else:
            known = ", ".join(sorted(FAULTS))
            raise ConfigError(f"--fault {name}", f"unknown fault (known: {known})")
    return replace(options, faults=faults, profile=profile)


def meter_credentials(rbid: str, password: str, index: int) -> tuple[str, str]:
    """Meter ``index``'s credentials (1-based): the first meter's own, then the ID's last two
    digits and the password's last two characters replaced by the index (docs/emulator.md)."""
    if index == 1:
        return rbid, password
    return rbid[:-2] + f"{index:02X}", password[:-2] + f"{index:02d}"


def meter_profile(base: MeterProfile, index: int) -> MeterProfile:
    """Meter ``index``'s profile derived from ``base``: its own seed, MAC (so PAN ID), serial
    number and channel, so each has its own household, history and place on the air."""
    if index == 1:
        return base
    mac = f"{(int(base.mac, 16) + index - 1) % (1 << 64):016X}"
    channel = _FIRST_CHANNEL + (base.channel - _FIRST_CHANNEL - _CHANNEL_STEP * (index - 1)) % (
        _CHANNELS
    )
    serial = f"{base.serial_number[:-3]}{index:03d}"[-12:]
    return replace(base, seed=base.seed + index - 1, mac=mac, channel=channel, serial_number=serial)


class Emulator:
    """Start with ``await start()``; ``ready`` is the JSON-able ready line."""

    def __init__(self, options: EmulatorOptions) -> None:
        if not 1 <= options.meters <= MAX_METERS:
            raise ConfigError("--meters", f"must be 1..{MAX_METERS}, got {options.meters}")
        if len(options.profiles) > options.meters:
            raise ConfigError("--profile", "more profiles than --meters")
        self.options = options
        self.meters: list[EmulatedMeter] = []
        self.clocks: list[EmulatorClock] = []
        self.sites: list[MeterSite] = []
        first = options.profiles[0] if options.profiles else options.profile
        start = options.clock_start or jst_now()  # one calendar for every meter
        for index in range(1, options.meters + 1):
            given = options.profiles[index - 1] if index <= len(options.profiles) else None
            profile = given or meter_profile(first, index)
            clock = EmulatorClock(
                start=start, speed=options.clock_speed, offset=profile.clock_offset
            )
            meter = EmulatedMeter(profile, clock, max_properties=options.max_properties)
            rbid, password = meter_credentials(options.rbid, options.password, index)
            radio = RadioMeter(
                profile.mac, profile.channel, profile.effective_pan_id, rbid, password
            )
            self.meters.append(meter)
            self.clocks.append(clock)
            self.sites.append(MeterSite(radio, meter, clock.now, clock.seconds_until))
        self._check_distinct()
        self.meter = self.meters[0]
        self.clock = self.clocks[0]
        self.radio = self.sites[0].radio
        guard = options.rejoin_guard
        if guard is None:
            guard = REJOIN_GUARD if options.meters > 1 else 0.0
        self._faults = replace(options.faults, rejoin_guard=guard)
        self.flash: dict[str, str] = {}
        self.modules: list[EmulatedModule | J11Module] = []
        self._writers: list[BurstWriter] = []
        self.pty: PtyEndpoint | None = None
        self.tcp: TcpEndpoint | None = None
        self.udp: LanEndpoint | None = None
        self._udp_group: asyncio.DatagramTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Delays and losses: reproducible with a seed, a new sequence every run without one.
        self._rng = random.Random(options.radio_seed)

    def _check_distinct(self) -> None:
        seen: set[tuple[int, int]] = set()
        macs: set[str] = set()
        for site in self.sites:
            key = (site.channel, site.pan_id)
            if key in seen or site.mac in macs:
                raise ConfigError("--profile", "two meters share a channel and PAN ID, or a MAC")
            seen.add(key)
            macs.add(site.mac)

    @property
    def j11(self) -> bool:
        return self.options.dialect == J11

    def _attach(self, write: Callable[[bytes], None]) -> Callable[[bytes], None]:
        options = self.options
        latency = options.uart_latency
        if latency is None:
            latency = CDC_LATENCY if self.j11 else FTDI_LATENCY
        burst = BurstWriter(write, latency=latency, chunk=options.uart_chunk)
        self._writers.append(burst)
        seed = self._rng.getrandbits(64)
        log = _log_line if options.log else None
        module: EmulatedModule | J11Module
        if self.j11:
            module = J11Module(
                sites=self.sites,
                write=burst.write,
                time_scale=options.time_scale,
                faults=self._faults,
                seed=seed,
                log=log,
            )
        else:
            dialect = options.dialect
            assert isinstance(dialect, Dialect)  # not J11 (checked above)
            module = EmulatedModule(
                dialect=dialect,
                sites=self.sites,
                write=burst.write,
                time_scale=options.time_scale,
                faults=self._faults,
                seed=seed,
                flash=self.flash,
                log=log,
            )
        module.start()
        self.modules.append(module)
        return module.feed

    async def start(self) -> dict[str, object]:
        """Open the pty (and TCP); returns the ready line's fields."""
        self.pty = PtyEndpoint(self._attach, link=self.options.link)
        self.pty.open()
        ready: dict[str, object] = {
            "serial": self.pty.client_path,
            "dialect": str(self.options.dialect),
        }
        if self.options.meters > 1:
            ready["meters"] = [
                {"mac": s.mac, "channel": s.channel, "pan_id": s.pan_id} for s in self.sites
            ]
        if self.options.tcp is not None:
            self.tcp = TcpEndpoint(self._attach, port=self.options.tcp)
            await self.tcp.open()
            ready["tcp"] = self.tcp.url
        if self.options.udp is not None:
            await self._start_udp(self.options.udp)
            ready["udp"] = self.options.udp
        if self.options.vanish_after is not None:
            self._tasks.append(asyncio.get_running_loop().create_task(self._vanish()))
        return ready

    async def _start_udp(self, address: str) -> None:
        """The meter as a LAN node on ADDRESS:3610 (docs/bridge.md): requests, D5 INF, pushes.

        The address given is bound, never the wildcard (protocol.md §A.1: every node uses port
        3610, so nodes sharing a host need distinct addresses). Such a socket does not see the
        multicast group, so a second, receive-only socket bound to the group feeds it.
        """
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.udp = udp = LanEndpoint(address, ECHONET_PORT, family)
        await udp.start(multicast=True)
        try:
            # A wildcard socket joined the group itself (and would see each datagram twice).
            sock = None if address in ("", "0.0.0.0", "::") else group_socket(family, address)  # noqa: S104
        except OSError as exc:
            _LOG.info("no multicast listener on %s (%s): unicast only", address, exc)
        else:
            if sock is not None:
                self._udp_group, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                    lambda: GroupProtocol(udp.deliver), sock=sock
                )
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._udp_serve(udp)))
        self._tasks.append(loop.create_task(self._udp_pushes(udp)))
        udp.send(self.meter.startup_notification(), udp.multicast_address())  # §C 3.1.1

    async def _udp_serve(self, udp: LanEndpoint) -> None:
        batch = self.options.lan_batch
        while True:
            datagram = await udp.receive()
            # EmulatedMeter.handle is total: malformed input is counted there, never raised. A
            # long Get is relayed in Wi-SUN-sized requests, as a bridge must (emulator/lan.py).
            for answer in bridge_answers(
                self.meter.handle, datagram.data, datagram.source, batch=batch
            ):
                udp.send(answer, datagram.source)

    async def _udp_pushes(self, udp: LanEndpoint) -> None:
        # protocol.md §C 3.2.1: EA (+EB) within 5 minutes after :00/:30; on the LAN, to the group.
        while True:
            when, frames = self.meter.next_push(self.clock.now())
            await asyncio.sleep(max(0.0, self.clock.seconds_until(when)))
            for frame in frames:
                udp.send(frame, udp.multicast_address())

    @property
    def module(self) -> EmulatedModule | J11Module:
        """The module behind the pty (the latest one after a vanish)."""
        return self.modules[-1]

    async def _vanish(self) -> None:
        options = self.options
        assert options.vanish_after is not None
        while True:
            await asyncio.sleep(options.vanish_after)
            if self.pty is None:
                return
            for module in self.modules:
                module.close()
            for writer in self._writers:
                writer.close()
            self.pty.close()  # the --link symlink goes with it, as udev removes by-id links
            _LOG.info("device vanished")
            await asyncio.sleep(options.vanish_for)
            self.pty.open()
            _LOG.info("device back at %s", self.pty.client_path)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for module in self.modules:
            module.close()
        if self.pty is not None:
            self.pty.close()
        if self.tcp is not None:
            await self.tcp.close()
        if self._udp_group is not None:
            self._udp_group.close()
        if self.udp is not None:
            self.udp.close()


def _log_line(direction: str, text: str) -> None:
    print(f"{direction} {text}", file=sys.stderr, flush=True)
