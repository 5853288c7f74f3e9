"""SKSTACK IP text modules behind the radio interface (protocol.md §D).

Bring-up: echo off, SKVER, SKINFO (variant from its SIDE field), ROPT/WOPT once, SKSETRBID,
SKSETPWD, SA2 (LQI in ERXUDP on C0/C2). Scan: SKSCAN 2 with the pairing-ID IE, EPANDESC per
beacon until EVENT 22. Join: S2/S3, SKJOIN, EVENT 25 or 24. Send: SKSENDTO, EVENT 21. The
module's EVENTs become :class:`~routeb.radio.base.LinkEvent` values (§D.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final, Protocol

from routeb._redact import Secret
from routeb.errors import (
    DeviceDisconnectedError,
    ModuleCommandError,
    RouteBTimeoutError,
)
from routeb.radio.base import (
    Beacon,
    DatagramSink,
    EventSink,
    JoinOutcome,
    JoinResult,
    LinkEvent,
    LinkEventKind,
    MeterAddress,
    ModuleFamily,
    Radio,
    Received,
    SendOutcome,
)
from routeb.radio.skstack_module import Receiver, WiSunModule
from routeb.serialio.port import ByteStream
from routeb.skstack import commands
from routeb.skstack.events import (
    Dialect,
    EchoLine,
    EventNumber,
    InfoLine,
    LinkLocalAddress,
    ModuleEvent,
    OkLine,
    PanDescriptor,
    UdpReceived,
    VersionLine,
    lqi_to_rssi,
)

__all__ = ["SkstackRadio", "WoptMemory", "expected_scan_seconds"]

_LOG = logging.getLogger(__name__)

# protocol.md §A.1: ECHONET Lite on UDP 3610 (0x0E1A); §D.1: SKSENDTO handle 1 = UDP 3610.
ECHONET_PORT: Final = 0x0E1A
UDP_HANDLE: Final = 1
# §D.1 SKSENDTO SEC: 1 = encrypt or do not send (B-route traffic is always PANA-secured).
SEC_ENCRYPTED: Final = 1
# §D.4: PANA runs on UDP 716 (0x02CC).
PANA_PORT: Final = 0x02CC
# §D.1 SKSCAN: mode 2 = active scan with the pairing-ID IE (the B-route mode).
ACTIVE_SCAN_WITH_IE: Final = 2
# §D.3 S02 channel register holds 0x21..0x3C; the mask's bit 0 is channel 33.
_MASK_CHANNELS: Final = 0x0FFFFFFF  # 28 channels, 33..60
# §E: per-channel active-scan time = 9.6 ms × (2^N + 1).
_SCAN_SLOT: Final = 0.0096
# §D.0: the module answers ROPT with OK 00 (binary ERXUDP data) or OK 01 (hex ASCII).
_ROPT_BINARY: Final = "00"
# §D.2: EVENT 27/28 follow SKTERM within a few seconds.
_TERMINATE_WAIT: Final = 5.0

# §D.2: what each EVENT means on a live session.
_LIVE_EVENTS: Final[dict[int, tuple[LinkEventKind, str]]] = {
    EventNumber.SESSION_END_REQUESTED: (
        LinkEventKind.SESSION_ENDED_BY_METER,
        "the meter ended the session",
    ),
    EventNumber.SESSION_ENDED: (LinkEventKind.SESSION_TERMINATED, "session terminated"),
    EventNumber.SESSION_END_TIMEOUT: (LinkEventKind.SESSION_TERMINATED, "session terminated"),
    EventNumber.SESSION_EXPIRED: (LinkEventKind.LIFETIME_EXPIRED, "PANA lifetime expired"),
    EventNumber.PANA_CONNECTED: (LinkEventKind.REAUTHENTICATED, "re-authenticated"),
    EventNumber.PANA_FAILED: (LinkEventKind.REAUTH_FAILED, "re-authentication failed"),
    EventNumber.TX_LIMIT_ACTIVE: (LinkEventKind.TX_BUDGET_EXHAUSTED, "transmit budget exhausted"),
    EventNumber.TX_LIMIT_RELEASED: (LinkEventKind.TX_BUDGET_RELEASED, "transmit budget released"),
}


def expected_scan_seconds(duration: int, channel_mask: int = 0xFFFFFFFF) -> float:
    """How long an active scan takes (§E: 9.6 ms × (2^N + 1) per channel in the mask)."""
    channels = bin(channel_mask & _MASK_CHANNELS).count("1")
    return _SCAN_SLOT * ((1 << duration) + 1) * channels


class WoptMemory(Protocol):
    """Where the fact "WOPT was written to this module" is kept (WOPT wears flash, §D.1)."""

    def wopt_done(self, module_mac: str) -> bool: ...

    def remember_wopt(self, module_mac: str) -> None: ...


class SkstackRadio(Radio):
    """A SKSTACK IP module (BP35A1, BP35C0/C2, RS-WSUHA-P, RL7023) on ``stream``."""

    family = ModuleFamily.SKSTACK

    def __init__(
        self,
        stream: ByteStream,
        *,
        variant: Dialect | None = None,
        channel_mask: int = 0xFFFFFFFF,
        write_wopt: bool = True,
        memory: WoptMemory | None = None,
        show_identifiers: bool = False,
    ) -> None:
        self.module = WiSunModule(stream, show_identifiers=show_identifiers, on_echo=self._on_echo)
        self._forced = variant
        self.dialect: Dialect | None = variant
        self._channel_mask = channel_mask
        self._write_wopt = write_wopt
        self._memory = memory
        self._echo_off = False
        self._configuring = False
        self._on_event: EventSink | None = None
        self._on_datagram: DatagramSink | None = None
        self._dispatcher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<SkstackRadio {self.variant} firmware={self.version}>"

    @property
    def variant(self) -> str:
        return self._dialect().value

    @property
    def lost(self) -> bool:
        return self.module.lost

    def _dialect(self) -> Dialect:
        return self.dialect or Dialect.BP35A1

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, on_event: EventSink, on_datagram: DatagramSink) -> None:
        self._on_event = on_event
        self._on_datagram = on_datagram
        self.module.start()
        self._dispatcher = asyncio.get_running_loop().create_task(
            self._dispatch(), name="routeb-skstack-dispatch"
        )

    async def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._dispatcher
            self._dispatcher = None
        await self.module.close()

    def _emit(self, kind: LinkEventKind, native: str | None, detail: str) -> None:
        if self._on_event is not None:
            self._on_event(LinkEvent(kind, native, detail))

    def _on_echo(self, line: EchoLine) -> None:
        # Echo comes back after we turned it off: the module reset itself (defaults: echo on,
        # no session).
        if self._echo_off and not self._configuring:
            self._echo_off = False
            self._emit(LinkEventKind.MODULE_RESET, None, "the module echoes again: it reset")

    async def _dispatch(self) -> None:
        with self.module.subscribe() as rx:
            while True:
                try:
                    item = await rx.get()
                except DeviceDisconnectedError as exc:
                    self._emit(LinkEventKind.DEVICE_LOST, None, str(exc))
                    return
                if isinstance(item, UdpReceived):
                    if item.local_port == ECHONET_PORT and self._on_datagram is not None:
                        rssi = None if item.lqi is None else lqi_to_rssi(item.lqi)
                        self._on_datagram(
                            Received(item.data, item.sender, item.destination, rssi, item.lqi)
                        )
                    continue
                if not isinstance(item, ModuleEvent):
                    continue
                native = f"{item.number:02X}"
                kind, text = _LIVE_EVENTS.get(item.number, (LinkEventKind.OTHER, "counted"))
                self._emit(kind, native, f"EVENT {native}: {text}")

    # --- bring-up ----------------------------------------------------------------------------

    async def configure(self, rbid: Secret, password: Secret) -> None:
        module = self.module
        self._configuring = True
        try:
            # §D.0: most libraries turn echo off first; the echo of this very command may come.
            await module.execute(commands.sksreg("SFE", "0"))
            self._echo_off = True
            version = (await module.execute(commands.skver())).first(VersionLine)
            self.version = version.version if version else None
            info = (await module.execute(commands.skinfo())).first(InfoLine)
            if info is not None:
                self.mac = info.mac
            if self._forced is not None:
                self.dialect = self._forced
            elif info is not None:
                # §D.1 SKINFO: BP35C0/C2 end EINFO with SIDE, BP35A1 with ADDR16.
                self.dialect = Dialect.BP35C2 if info.side is not None else Dialect.BP35A1
            await self._configure_data_format()
            await module.execute(commands.sksetrbid(rbid))
            await module.execute(commands.sksetpwd(password))
            if self._dialect() is Dialect.BP35C2:
                # §D.3 SA2 = 1: LQI in every ERXUDP, for link quality (C0/C2 firmware only).
                with contextlib.suppress(ModuleCommandError):
                    await module.execute(commands.sksreg("SA2", "1"))
        finally:
            self._configuring = False

    async def _configure_data_format(self) -> None:
        # §D.1 ROPT/WOPT: hex ERXUDP data resynchronises after line noise; binary works too
        # (the parser reads by DATALEN), so WOPT — which wears flash — is written at most once.
        module = self.module
        try:
            result = await module.execute(commands.ropt())
        except ModuleCommandError:
            # FAIL ER04: no product settings — a Tessera RL7023 (it always prints hex, §D.4).
            if self._forced is None and self.dialect is Dialect.BP35A1:
                self.dialect = Dialect.RL7023
            return
        status = result.status
        mode = status.text.strip() if isinstance(status, OkLine) else ""
        if mode != _ROPT_BINARY or not self._write_wopt or self.mac is None:
            return
        if self._memory is not None and self._memory.wopt_done(self.mac):
            return  # written once already: never again, even if the module forgot
        await module.execute(commands.wopt(1))
        if self._memory is not None:
            self._memory.remember_wopt(self.mac)

    # --- scan and join -----------------------------------------------------------------------

    def expected_scan_seconds(self, duration: int) -> float:
        return expected_scan_seconds(duration, self._channel_mask)

    async def scan(
        self,
        duration: int,
        pairing_id: str,
        timeout: float,
        on_beacon: Callable[[Beacon], None],
    ) -> list[Beacon]:
        # The pairing ID went to the module with SKSETRBID (§D.3 S0A); SKSCAN 2 uses it.
        module = self.module
        side = 0 if self._dialect().has_side else None
        found: list[Beacon] = []
        with module.subscribe() as rx:
            await module.execute(
                commands.skscan(ACTIVE_SCAN_WITH_IE, self._channel_mask, duration, side=side)
            )
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    item = await rx.get(timeout=max(0.0, remaining))
                except RouteBTimeoutError:
                    _LOG.warning("active scan did not finish within %.0f s", timeout)
                    break
                if isinstance(item, PanDescriptor):
                    beacon = _beacon(item)
                    found.append(beacon)
                    on_beacon(beacon)
                elif isinstance(item, ModuleEvent) and item.number == EventNumber.ACTIVE_SCAN_DONE:
                    break
        return found

    async def resolve(self, beacon: Beacon) -> MeterAddress:
        result = await self.module.execute(commands.skll64(beacon.mac), wants_address=True)
        status = result.status
        assert isinstance(status, LinkLocalAddress)
        return MeterAddress(beacon.channel, beacon.pan_id, beacon.mac, status.address)

    async def join(self, meter: MeterAddress, timeout: float) -> JoinResult:
        module = self.module
        # §D.5: S2 channel and S3 PAN ID before SKJOIN.
        await module.execute(commands.sksreg("S2", f"{meter.channel:02X}"))
        await module.execute(commands.sksreg("S3", f"{meter.pan_id:04X}"))
        pana = 0
        with module.subscribe() as rx:
            await module.execute(commands.skjoin(meter.ipv6))
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    item = await rx.get(timeout=max(0.0, remaining))
                except RouteBTimeoutError:
                    return JoinResult(
                        JoinOutcome.NO_RESPONSE, pana, f"no EVENT 25 in {timeout:g} s"
                    )
                if isinstance(item, UdpReceived) and item.remote_port == PANA_PORT:
                    pana += 1
                elif isinstance(item, ModuleEvent):
                    if item.number == EventNumber.PANA_CONNECTED:
                        return JoinResult(JoinOutcome.JOINED, pana, "EVENT 25")
                    if item.number == EventNumber.PANA_FAILED:
                        # §D.2 EVENT 24 "PANA failed": a refusal or a lost exchange — SKSTACK
                        # does not say which; the meter's PANA messages say it was there.
                        outcome = JoinOutcome.FAILED if pana else JoinOutcome.NO_RESPONSE
                        return JoinResult(outcome, pana, "EVENT 24")

    # --- running -----------------------------------------------------------------------------

    async def send(self, address: str, data: bytes, timeout: float) -> SendOutcome:
        module = self.module
        side = 0 if self._dialect().has_side else None
        command = commands.sksendto(
            UDP_HANDLE, address, ECHONET_PORT, SEC_ENCRYPTED, data, side=side
        )
        with module.subscribe() as rx:
            try:
                await module.execute(command)
            except ModuleCommandError:
                # ER10 on SKSENDTO: no PANA session any more (a module reset, …).
                return SendOutcome.NO_SESSION
            result = await _send_result(rx, timeout)
        return SendOutcome.SENT if result == 0x00 else SendOutcome.RETRY

    async def reset(self) -> None:
        with contextlib.suppress(RouteBTimeoutError):
            await self.module.execute(commands.skreset())

    async def terminate(self) -> None:
        module = self.module
        with module.subscribe() as rx:
            await module.execute(commands.skterm())
            with contextlib.suppress(RouteBTimeoutError):
                await _wait_event(rx, {0x27, 0x28}, _TERMINATE_WAIT)


def _beacon(item: PanDescriptor) -> Beacon:
    return Beacon(
        item.channel,
        item.pan_id,
        item.address,
        lqi_to_rssi(item.lqi),
        item.pair_id,
        lqi=item.lqi,
        side=item.side,
    )


async def _send_result(rx: Receiver, timeout: float) -> int:
    # §D.2 EVENT 21: 00 sent, 01 failed, 02 neighbour solicitation sent (another 21 follows).
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            item = await rx.get(timeout=max(0.0, remaining))
        except RouteBTimeoutError:
            return 0x01
        if isinstance(item, ModuleEvent) and item.number == EventNumber.UDP_SENT:
            if item.param == 0x02:
                continue
            return item.param if item.param is not None else 0x00


async def _wait_event(rx: Receiver, numbers: set[int], timeout: float) -> ModuleEvent:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        item = await rx.get(timeout=max(0.0, remaining))
        if isinstance(item, ModuleEvent) and item.number in numbers:
            return item
