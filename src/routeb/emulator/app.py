"""The whole emulator: one meter, and a module on a pty (and on TCP) in front of it.

``Emulator`` is what ``routeb emulate`` runs and what tests start in-process. Faults are
given as ``NAME[=VALUE]`` strings (docs/emulator.md lists them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from routeb.emulator.clock import EmulatorClock
from routeb.emulator.meter import EmulatedMeter
from routeb.emulator.module import EmulatedModule, ModuleFaults, RadioMeter
from routeb.emulator.profile import MeterProfile
from routeb.emulator.server import PtyEndpoint, TcpEndpoint
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
    "FAULTS",
    "Emulator",
    "EmulatorOptions",
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
    "wrong-credentials": "every join fails as with a wrong password (EVENT 24)",
    "vanish": "the device disappears after N seconds (VALUE = N[:M], back after M)",
    "max-properties": "the meter answers at most N properties per request",
    "no-d3": "the meter lacks the coefficient 0xD3",
    "no-e1": "the meter lacks the unit 0xE1",
}


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """Everything `routeb emulate` takes."""

    dialect: Dialect = Dialect.BP35A1
    rbid: str = DEFAULT_ID
    password: str = DEFAULT_PASSWORD
    time_scale: float = 1.0
    clock_speed: float = 1.0
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
        elif name == "no-d3":
            profile = replace(profile, coefficient=None)
        elif name == "no-e1":
            profile = replace(profile, unit_code=None)
        else:
            known = ", ".join(sorted(FAULTS))
            raise ConfigError(f"--fault {name}", f"unknown fault (known: {known})")
    return replace(options, faults=faults, profile=profile)


class Emulator:
    """Start with ``await start()``; ``ready`` is the JSON-able ready line."""

    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        profile = options.profile
        self.clock = EmulatorClock(speed=options.clock_speed, offset=profile.clock_offset)
        self.meter = EmulatedMeter(profile, self.clock, max_properties=options.max_properties)
        self.radio = RadioMeter(
            profile.mac, profile.channel, profile.effective_pan_id, options.rbid, options.password
        )
        self.flash: dict[str, str] = {}
        self.modules: list[EmulatedModule] = []
        self.pty: PtyEndpoint | None = None
        self.tcp: TcpEndpoint | None = None
        self.udp: LanEndpoint | None = None
        self._udp_group: asyncio.DatagramTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seed = options.seed

    def _attach(self, write: Callable[[bytes], None]) -> Callable[[bytes], None]:
        options = self.options
        self._seed += 1
        module = EmulatedModule(
            dialect=options.dialect,
            meter=self.meter,
            radio=self.radio,
            write=write,
            meter_now=self.clock.now,
            meter_seconds_until=self.clock.seconds_until,
            time_scale=options.time_scale,
            faults=options.faults,
            seed=self._seed,
            flash=self.flash,
            log=_log_line if options.log else None,
        )
        module.start()
        self.modules.append(module)
        return module.feed

    async def start(self) -> dict[str, str]:
        """Open the pty (and TCP); returns the ready line's fields."""
        self.pty = PtyEndpoint(self._attach, link=self.options.link)
        self.pty.open()
        ready = {"serial": self.pty.client_path, "dialect": self.options.dialect.value}
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
                    lambda: GroupProtocol(udp._deliver), sock=sock
                )
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._udp_serve(udp)))
        self._tasks.append(loop.create_task(self._udp_pushes(udp)))
        udp.send(self.meter.startup_notification(), udp.multicast_address())  # §C 3.1.1

    async def _udp_serve(self, udp: LanEndpoint) -> None:
        while True:
            datagram = await udp.receive()
            # EmulatedMeter.handle is total: malformed input is counted there, never raised.
            for answer in self.meter.handle(datagram.data, datagram.source):
                udp.send(answer, datagram.source)

    async def _udp_pushes(self, udp: LanEndpoint) -> None:
        # protocol.md §C 3.2.1: EA (+EB) within 5 minutes after :00/:30; on the LAN, to the group.
        while True:
            when, frames = self.meter.next_push(self.clock.now())
            await asyncio.sleep(max(0.0, self.clock.seconds_until(when)))
            for frame in frames:
                udp.send(frame, udp.multicast_address())

    @property
    def module(self) -> EmulatedModule:
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
            self.pty.close()
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
