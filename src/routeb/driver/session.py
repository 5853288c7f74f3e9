"""The B-route session: bring a Wi-SUN module to a PANA session with the meter, keep it up.

open → configure (echo off, dialect, ROPT/WOPT once, credentials) → join with the cached scan
result, else active scan (6 → 7 → 8) for our pairing ID → SKLL64 → S2/S3 → SKJOIN → EVENT 25.
Then a manager task reacts to what the module reports (protocol.md §D.2): EVENT 26/27/28 →
rejoin at once; 29 → pause sending until 25; 32/33 → pause/resume; an echo after echo-off →
the module reset itself; a silent meter climbs the recovery ladder (retry → rejoin → rescan →
SKRESET → reopen the port) with bounded, jittered backoff. A confirmed authentication failure
is latched: these credentials are not tried again (issue: driver §2). Every state change goes
through the table in :mod:`routeb.driver.states`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn

from routeb._redact import Secret
from routeb.driver.backoff import Backoff, RecoveryStats, RecoveryStep
from routeb.driver.cache import CachedMeter, ScanCache, meter_key
from routeb.driver.module import Receiver, WiSunModule
from routeb.driver.states import SessionState, Trigger, next_state
from routeb.errors import (
    AuthenticationError,
    CredentialsLatchedError,
    DeviceDisconnectedError,
    DeviceError,
    MeterNotFoundError,
    ModuleCommandError,
    PanaTimeoutError,
    RouteBError,
    RouteBTimeoutError,
    SessionError,
    SessionLostError,
)
from routeb.serialio.port import ByteStream, open_serial
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
)

__all__ = [
    "BRouteSession",
    "ScanProgress",
    "SessionEvent",
    "SessionSettings",
    "SessionStats",
    "expected_scan_seconds",
]

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
# §D.3 S0A: the pairing ID is believed to be the last 8 characters of the B-route ID (?).
PAIRING_ID_LEN: Final = 8
# §D.0: the module answers ROPT with OK 00 (binary ERXUDP data) or OK 01 (hex ASCII).
_ROPT_BINARY: Final = "00"
_EVENT_HISTORY: Final = 200


def expected_scan_seconds(duration: int, channel_mask: int = 0xFFFFFFFF) -> float:
    """How long an active scan takes (§E: 9.6 ms × (2^N + 1) per channel in the mask)."""
    channels = bin(channel_mask & _MASK_CHANNELS).count("1")
    return _SCAN_SLOT * ((1 << duration) + 1) * channels


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Timing and policy; defaults follow protocol.md §C–§E."""

    scan_durations: tuple[int, ...] = (6, 7, 8)  # §E: N = 6, retried with N + 1 (MOMONGA)
    channel_mask: int = 0xFFFFFFFF
    # §E: a failed PANA join reports EVENT 24 after ~38 s; beyond this the join timed out.
    join_timeout: float = 60.0
    # §E: EVENT 21 follows SKSENDTO within 0.1–0.35 s; NS/NA (param 02) can add a little.
    send_done_timeout: float = 10.0
    send_retries: int = 3  # EVENT 21 param 01 (CCA busy, no ACK): resend with backoff
    # §C: after EVENT 29 the module re-authenticates; wait this long for EVENT 25, then rejoin.
    reauth_timeout: float = 60.0
    # §E: the transmit budget is per hour (Skyley: 1 h + 3 min window): EVENT 33 within that.
    tx_limit_timeout: float = 3780.0
    # How long a send waits for the link to come (back) up before giving up.
    ready_timeout: float = 180.0
    # Multiplies scan waits beyond their computed length (a slow module, a loaded host).
    scan_slack: float = 1.5
    scan_margin: float = 5.0
    # Consecutive unanswered requests before each rung of the recovery ladder.
    ladder: tuple[RecoveryStep, ...] = (
        RecoveryStep.RETRY,
        RecoveryStep.REJOIN,
        RecoveryStep.RESCAN,
        RecoveryStep.RESET_MODULE,
        RecoveryStep.REOPEN_PORT,
    )
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    write_wopt: bool = True  # WOPT 01 once per module for hex ERXUDP (resyncs after noise)
    # Several meters on one dongle (docs/meters.md): after EVENT 24 on the cached join, wait
    # this long and join once more before rescanning (0: rescan at once, as for one meter).
    rejoin_retry_after: float = 0.0
    show_identifiers: bool = False  # log MAC / IPv6 / pairing ID unredacted


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """One entry of the session's history (joins, rejoins and why, scans, module events)."""

    at: float  # wall-clock time.time()
    kind: str
    detail: str
    seq: int = 0  # increasing: consumers remember the last one they saw


@dataclass(frozen=True, slots=True)
class ScanProgress:
    """Reported while scanning: which duration, the expected time, beacons so far."""

    duration: int
    expected_seconds: float
    beacons: tuple[PanDescriptor, ...]
    done: bool


@dataclass(slots=True)
class SessionStats:
    """Counters for metrics and the UIs."""

    recovery: RecoveryStats = field(default_factory=RecoveryStats)
    module_events: Counter[str] = field(default_factory=Counter)
    rejoins: Counter[str] = field(default_factory=Counter)
    sends: int = 0
    send_failures: int = 0
    pana_messages: int = 0
    last_lqi: int | None = None
    connected_since: float | None = None
    recorded: int = 0
    history: deque[SessionEvent] = field(default_factory=lambda: deque(maxlen=_EVENT_HISTORY))


Opener = Callable[[str], Awaitable[ByteStream]]


class _JoinRejected(Exception):
    def __init__(self, pana_messages: int) -> None:
        super().__init__("EVENT 24")
        self.pana_messages = pana_messages


class BRouteSession:
    """A PANA session with one meter through one module; use ``async with`` or connect/close."""

    def __init__(
        self,
        device: str,
        rbid: Secret,
        password: Secret,
        *,
        dialect: Dialect | None = None,
        state_dir: Path | None = None,
        settings: SessionSettings | None = None,
        opener: Opener | None = None,
        on_scan_progress: Callable[[ScanProgress], None] | None = None,
        on_state: Callable[[SessionState], None] | None = None,
    ) -> None:
        self.device = device
        self._rbid = rbid
        self._password = password
        self._forced_dialect = dialect
        self.dialect: Dialect | None = dialect
        self.settings = settings or SessionSettings()
        self._cache = ScanCache(state_dir) if state_dir is not None else None
        self._key = meter_key(rbid)
        self._opener: Opener = opener or _open_default
        self._on_scan_progress = on_scan_progress
        self._on_state = on_state  # every state entered (the CLI's stage line on stderr)
        self.state = SessionState.CLOSED
        self.stats = SessionStats()
        self.meter: CachedMeter | None = None
        self.module: WiSunModule | None = None
        self.module_version: str | None = None
        self.module_mac: str | None = None
        self._echo_off = False
        self._ready = asyncio.Event()
        self._triggers: asyncio.Queue[tuple[Trigger, str, int]] = asyncio.Queue()
        self._generation = 0  # bumped by every successful join: older triggers are stale
        self._received: asyncio.Queue[UdpReceived] = asyncio.Queue(1024)
        self._dispatcher: asyncio.Task[None] | None = None
        self._manager: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._unanswered = 0
        self._latched: str | None = None
        self._closing = False
        self._send_lock = asyncio.Lock()
        self._backoff = Backoff(base=self.settings.backoff_base, cap=self.settings.backoff_cap)

    def __repr__(self) -> str:
        return f"<BRouteSession device={self.device!r} state={self.state.value}>"

    @property
    def pairing_id(self) -> str:
        """§D.3 S0A: the last 8 characters of the B-route ID (never logged unredacted)."""
        return self._rbid.reveal()[-PAIRING_ID_LEN:].upper()

    @property
    def ready(self) -> bool:
        """True while requests may be sent."""
        return self._ready.is_set()

    # --- state -------------------------------------------------------------------------------

    def _move(self, trigger: Trigger, detail: str = "") -> None:
        target = next_state(self.state, trigger)
        if target is None:
            raise RuntimeError(f"session: {trigger.value} is not allowed in {self.state.value}")
        changed = target is not self.state
        if changed:
            _LOG.debug("session %s → %s (%s)", self.state.value, target.value, trigger.value)
        self.state = target
        if changed and self._on_state is not None:
            self._on_state(target)
        if target is SessionState.READY:
            self._ready.set()
        else:
            self._ready.clear()
        self._record("state", f"{target.value} ({trigger.value}{': ' + detail if detail else ''})")

    def _record(self, kind: str, detail: str) -> None:
        self.stats.recorded += 1
        self.stats.history.append(SessionEvent(time.time(), kind, detail, self.stats.recorded))

    # --- public API --------------------------------------------------------------------------

    async def __aenter__(self) -> BRouteSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open, configure, join (cache first, else scan); raises a typed RouteBError."""
        self._check_latch()
        self._closing = False
        while not self._triggers.empty():
            self._triggers.get_nowait()
        self._move(Trigger.OPEN)
        try:
            await self._open()
            await self._configure()
            await self._join_best_known(initial=True)
        except BaseException:
            await self._teardown()
            self.state = SessionState.LATCHED if self._latched else SessionState.CLOSED
            raise
        self._manager = asyncio.get_running_loop().create_task(
            self._manage(), name="routeb-session-manager"
        )

    async def close(self) -> None:
        """SKTERM (so the meter frees the session for the next start), then close the port."""
        self._closing = True
        if self._manager is not None:
            self._manager.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._manager
            self._manager = None
        if self.state is SessionState.READY and self.module is not None and not self.module.lost:
            self._move(Trigger.CLOSE)
            with contextlib.suppress(RouteBError), self.module.subscribe() as rx:
                await self.module.execute(commands.skterm())
                with contextlib.suppress(RouteBError):
                    await self._wait_event(rx, {0x27, 0x28}, timeout=5.0)
            self.state = SessionState.CLOSED
        elif self.state is not SessionState.LATCHED:
            self.state = SessionState.CLOSED
        self._ready.clear()
        await self._teardown()

    async def scan(self, durations: Sequence[int] | None = None) -> list[PanDescriptor]:
        """Open and configure the module, and scan; every beacon, ours or not (routeb scan)."""
        self._move(Trigger.OPEN)
        try:
            await self._open()
            await self._configure()
            self._move(Trigger.CONFIGURED)
            found: list[PanDescriptor] = []
            for duration in durations or self.settings.scan_durations:
                found = await self._active_scan(duration)
                if any(self._is_ours(p) for p in found):
                    break
            return found
        finally:
            self.state = SessionState.CLOSED
            await self._teardown()

    # --- transport side (used by transport.wisun) --------------------------------------------

    async def send(self, data: bytes, destination: str | None = None) -> None:
        """SKSENDTO one ECHONET Lite frame; waits while the link is paused (§C, §D.2)."""
        async with self._send_lock:
            attempt = 0
            backoff = Backoff(base=0.5, cap=5.0)
            while True:
                await self._wait_ready()
                module, meter = self.module, self.meter
                assert module is not None
                assert meter is not None
                address = destination or meter.ipv6
                side = 0 if self._dialect().has_side else None
                command = commands.sksendto(
                    UDP_HANDLE, address, ECHONET_PORT, SEC_ENCRYPTED, data, side=side
                )
                self.stats.sends += 1
                with module.subscribe() as rx:
                    try:
                        await module.execute(command)
                    except ModuleCommandError as exc:
                        # ER10 on SKSENDTO: no PANA session any more (a module reset, …).
                        self.stats.send_failures += 1
                        self._trigger(Trigger.SESSION_ENDED, f"SKSENDTO failed: ER{exc.code:02d}")
                        raise SessionLostError("the module has no session with the meter") from exc
                    result = await self._send_result(rx)
                if result == 0x00:
                    return
                self.stats.send_failures += 1
                attempt += 1
                if attempt > self.settings.send_retries:
                    raise RouteBTimeoutError(
                        f"the module could not transmit (EVENT 21 {result:02X}, {attempt} tries)"
                    )
                await asyncio.sleep(backoff.next_delay())

    async def _send_result(self, rx: Receiver) -> int:
        # §D.2 EVENT 21: 00 sent, 01 failed, 02 neighbour solicitation sent (another 21 follows).
        deadline = asyncio.get_running_loop().time() + self.settings.send_done_timeout
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

    async def receive(self) -> UdpReceived:
        """The next ERXUDP on the ECHONET Lite port."""
        return await self._received.get()

    def request_answered(self) -> None:
        """The meter answered: the ladder starts again from the bottom."""
        self._unanswered = 0
        self._backoff.reset()

    def request_unanswered(self) -> None:
        """One request attempt got no answer: climb the ladder (retry first)."""
        if self.state is not SessionState.READY:
            return  # paused or already recovering: nothing was really sent
        self._unanswered += 1
        ladder = self.settings.ladder
        step = ladder[min(self._unanswered, len(ladder)) - 1]
        if step is RecoveryStep.RETRY:
            self.stats.recovery.record(step, "meter silent")
            return
        self._trigger(Trigger.METER_SILENT, step.value)

    # --- bring-up ----------------------------------------------------------------------------

    def _check_latch(self) -> None:
        if self._cache is None:
            return
        reason = self._cache.latched_reason(self._key, self._rbid, self._password)
        if reason is not None:
            self._latched = reason
            raise CredentialsLatchedError(
                "the meter rejected this B-route ID and password before "
                f"({reason}); routeb will not try them again. Check both with your utility, "
                "then use new ones or run again with --retry-auth"
            )

    def clear_latch(self) -> None:
        """Allow the current credentials to be tried again (--retry-auth)."""
        self._latched = None
        if self._cache is not None:
            self._cache.clear_latch(self._key)

    async def _open(self) -> None:
        stream = await self._opener(self.device)
        module = WiSunModule(
            stream, show_identifiers=self.settings.show_identifiers, on_echo=self._on_echo
        )
        module.start()
        self.module = module
        self._echo_off = False
        self._dispatcher = asyncio.get_running_loop().create_task(
            self._dispatch(module), name="routeb-session-dispatch"
        )
        self._move(Trigger.PORT_OPENED)

    async def _teardown(self) -> None:
        for task in (self._timer, self._dispatcher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._timer = self._dispatcher = None
        if self.module is not None:
            with contextlib.suppress(Exception):
                await self.module.close()
            self.module = None

    def _dialect(self) -> Dialect:
        return self.dialect or Dialect.BP35A1

    async def _configure(self) -> None:
        module = self.module
        assert module is not None
        # §D.0: most libraries turn echo off first; the echo of this very command may come.
        await module.execute(commands.sksreg("SFE", "0"))
        self._echo_off = True
        version = (await module.execute(commands.skver())).first(VersionLine)
        self.module_version = version.version if version else None
        info = (await module.execute(commands.skinfo())).first(InfoLine)
        if info is not None:
            self.module_mac = info.mac
        if self._forced_dialect is not None:
            self.dialect = self._forced_dialect
        elif info is not None:
            # §D.1 SKINFO: BP35C0/C2 end EINFO with SIDE, BP35A1 with ADDR16.
            self.dialect = Dialect.BP35C2 if info.side is not None else Dialect.BP35A1
        await self._configure_data_format(module)
        await module.execute(commands.sksetrbid(self._rbid))
        await module.execute(commands.sksetpwd(self._password))
        if self._dialect() is Dialect.BP35C2:
            # §D.3 SA2 = 1: LQI in every ERXUDP, for link quality (C0/C2 firmware only).
            with contextlib.suppress(ModuleCommandError):
                await module.execute(commands.sksreg("SA2", "1"))
        self._record("module", f"{self._dialect().value} firmware {self.module_version}")

    async def _configure_data_format(self, module: WiSunModule) -> None:
        # §D.1 ROPT/WOPT: hex ERXUDP data resynchronises after line noise; binary works too
        # (the parser reads by DATALEN), so WOPT — which wears flash — is written at most once.
        try:
            result = await module.execute(commands.ropt())
        except ModuleCommandError:
            # FAIL ER04: no product settings — a Tessera RL7023 (it always prints hex, §D.4).
            if self._forced_dialect is None and self.dialect is Dialect.BP35A1:
                self.dialect = Dialect.RL7023
            return
        status = result.status
        mode = status.text.strip() if isinstance(status, OkLine) else ""
        if mode != _ROPT_BINARY or not self.settings.write_wopt or self.module_mac is None:
            return
        if self._cache is not None and self._cache.wopt_done(self.module_mac):
            return  # written once already: never again, even if the module forgot
        await module.execute(commands.wopt(1))
        if self._cache is not None:
            self._cache.remember_wopt(self.module_mac)

    async def _join_best_known(self, *, initial: bool) -> None:
        cached = self._cache.load_meter(self._key) if self._cache is not None else None
        if cached is not None and cached.dialect == self._dialect().value:
            self._move(Trigger.CONFIGURED_WITH_CACHE)
            try:
                await self._join_cached(cached)
                return
            except (_JoinRejected, PanaTimeoutError) as exc:
                # The cache may be stale (the meter changed channel): forget it and scan.
                _LOG.info("join with the cached scan result failed (%s); scanning", exc)
                self._record("cache", "join with the cached result failed; rescanning")
                if self._cache is not None:
                    self._cache.forget_meter(self._key)
                self._move(Trigger.JOIN_FAILED_WITH_CACHE)
        else:
            self._move(Trigger.CONFIGURED)
        await self._scan_and_join()

    async def _join_cached(self, cached: CachedMeter) -> None:
        # peers.md (broute-mqtt 1.1): a join right after another session ended (several meters
        # on one dongle) can fail with EVENT 24 while the meter cleans up; with
        # ``rejoin_retry_after`` the same join is tried once more after that pause, before the
        # cache is doubted and the channels rescanned (a rescan could end in a false latch).
        try:
            await self._join(cached)
        except _JoinRejected:
            delay = self.settings.rejoin_retry_after
            if delay <= 0:
                raise
            self._record("rejoin", f"EVENT 24 with the cached result; again in {delay:g} s")
            await asyncio.sleep(delay)
            await self._join(cached)

    async def _scan_and_join(self) -> None:
        meter = await self._find_meter()
        try:
            await self._join(meter)
        except _JoinRejected as exc:
            self._latch(exc.pana_messages)

    def _latch(self, pana_messages: int) -> NoReturn:
        # A beacon with our pairing ID from this very scan, then EVENT 24: the meter is there
        # and refused us. Stop here rather than hammer it (issue: driver §2).
        reason = "PANA authentication failed (EVENT 24) right after a scan found the meter" + (
            f"; it answered {pana_messages} PANA messages" if pana_messages else ""
        )
        self._latched = reason
        if self._cache is not None:
            self._cache.latch_credentials(self._key, self._rbid, self._password, reason)
        self._move(Trigger.AUTH_FAILED)
        self._record("latched", reason)
        raise AuthenticationError(
            "the meter rejected the B-route ID or password (PANA authentication failed). "
            "routeb will not retry these credentials; check both with your utility"
        )

    async def _find_meter(self) -> CachedMeter:
        module = self.module
        assert module is not None
        seen: list[PanDescriptor] = []
        for duration in self.settings.scan_durations:
            found = await self._active_scan(duration)
            seen.extend(found)
            ours = [p for p in found if self._is_ours(p)]
            if ours:
                best = max(ours, key=lambda p: p.lqi)
                result = await module.execute(commands.skll64(best.address), wants_address=True)
                status = result.status
                assert isinstance(status, LinkLocalAddress)
                meter = CachedMeter(
                    best.channel, best.pan_id, best.address, status.address, self._dialect().value
                )
                self.stats.last_lqi = best.lqi
                self._move(Trigger.METER_FOUND)
                self._record("scan", f"meter found on channel {best.channel} (LQI {best.lqi})")
                return meter
        others = len(seen)
        self._record("scan", f"no beacon with our pairing ID ({others} other beacons)")
        raise MeterNotFoundError(
            "no meter answered with our pairing ID"
            + (f" ({others} other beacons heard)" if others else "")
            + ": check the distance and antenna, and that the B-route service is active"
        )

    def _is_ours(self, beacon: PanDescriptor) -> bool:
        return beacon.pair_id.upper() == self.pairing_id

    async def _active_scan(self, duration: int) -> list[PanDescriptor]:
        module = self.module
        assert module is not None
        self.stats.recovery.scans += 1
        expected = expected_scan_seconds(duration, self.settings.channel_mask)
        timeout = expected * self.settings.scan_slack + self.settings.scan_margin
        side = 0 if self._dialect().has_side else None
        found: list[PanDescriptor] = []
        self._progress(duration, expected, found, done=False)
        with module.subscribe() as rx:
            await module.execute(
                commands.skscan(
                    ACTIVE_SCAN_WITH_IE, self.settings.channel_mask, duration, side=side
                )
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
                    found.append(item)
                    self._progress(duration, expected, found, done=False)
                elif isinstance(item, ModuleEvent) and item.number == EventNumber.ACTIVE_SCAN_DONE:
                    break
        self._progress(duration, expected, found, done=True)
        return found

    def _progress(
        self, duration: int, expected: float, found: list[PanDescriptor], *, done: bool
    ) -> None:
        if self._on_scan_progress is not None:
            self._on_scan_progress(ScanProgress(duration, expected, tuple(found), done))

    async def _join(self, meter: CachedMeter) -> None:
        module = self.module
        assert module is not None
        self.stats.recovery.joins += 1
        # §D.5: S2 channel and S3 PAN ID before SKJOIN.
        await module.execute(commands.sksreg("S2", f"{meter.channel:02X}"))
        await module.execute(commands.sksreg("S3", f"{meter.pan_id:04X}"))
        pana = 0
        with module.subscribe() as rx:
            await module.execute(commands.skjoin(meter.ipv6))
            deadline = asyncio.get_running_loop().time() + self.settings.join_timeout
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    item = await rx.get(timeout=max(0.0, remaining))
                except RouteBTimeoutError:
                    raise PanaTimeoutError(
                        "the meter was found but the PANA join got no answer in "
                        f"{self.settings.join_timeout:g} s (weak radio link?)"
                    ) from None
                if isinstance(item, UdpReceived) and item.remote_port == PANA_PORT:
                    pana += 1
                    self.stats.pana_messages += 1
                elif isinstance(item, ModuleEvent):
                    if item.number == EventNumber.PANA_CONNECTED:
                        break
                    if item.number == EventNumber.PANA_FAILED:
                        raise _JoinRejected(pana)
        self.meter = meter
        if self._cache is not None:
            self._cache.store_meter(self._key, meter)
        self._unanswered = 0
        self._generation += 1
        self.stats.connected_since = time.time()
        self._move(Trigger.JOINED)
        self._record("join", f"joined on channel {meter.channel}")

    # --- running -----------------------------------------------------------------------------

    def _trigger(self, trigger: Trigger, detail: str) -> None:
        self._triggers.put_nowait((trigger, detail, self._generation))

    def _on_echo(self, line: EchoLine) -> None:
        # Echo comes back after we turned it off: the module reset itself (defaults: echo on,
        # no session). Reconfigure and rejoin.
        if self._echo_off and self.state is not SessionState.CONFIGURING:
            self._echo_off = False
            self._trigger(Trigger.METER_SILENT, RecoveryStep.RESET_MODULE.value)

    async def _dispatch(self, module: WiSunModule) -> None:
        with module.subscribe() as rx:
            while True:
                try:
                    item = await rx.get()
                except DeviceDisconnectedError as exc:
                    if not self._closing:
                        self._trigger(Trigger.DEVICE_LOST, str(exc))
                    return
                if isinstance(item, UdpReceived):
                    if item.lqi is not None:
                        self.stats.last_lqi = item.lqi
                    if item.local_port == ECHONET_PORT:
                        if self._received.full():
                            self._received.get_nowait()
                        self._received.put_nowait(item)
                    continue
                if not isinstance(item, ModuleEvent):
                    continue
                self.stats.module_events[f"{item.number:02X}"] += 1
                self._on_module_event(item)

    def _on_module_event(self, event: ModuleEvent) -> None:
        number = event.number
        live = self.state in (
            SessionState.READY,
            SessionState.REAUTHENTICATING,
            SessionState.TX_LIMITED,
        )
        if not live:
            return  # bring-up and recovery read their own events
        if number == EventNumber.SESSION_END_REQUESTED:
            self._trigger(Trigger.SESSION_ENDED, "EVENT 26: the meter ended the session")
        elif number in (EventNumber.SESSION_ENDED, EventNumber.SESSION_END_TIMEOUT):
            self._trigger(Trigger.SESSION_ENDED, f"EVENT {number:02X}: session terminated")
        elif number == EventNumber.SESSION_EXPIRED:
            self._trigger(Trigger.LIFETIME_EXPIRED, "EVENT 29: PANA lifetime expired")
        elif number == EventNumber.PANA_CONNECTED:
            self._trigger(Trigger.JOINED, "EVENT 25: re-authenticated")
        elif number == EventNumber.PANA_FAILED:
            self._trigger(Trigger.AUTH_FAILED, "EVENT 24: re-authentication failed")
        elif number == EventNumber.TX_LIMIT_ACTIVE:
            self._trigger(Trigger.TX_BUDGET_EXHAUSTED, "EVENT 32: transmit budget exhausted")
        elif number == EventNumber.TX_LIMIT_RELEASED:
            self._trigger(Trigger.TX_BUDGET_RELEASED, "EVENT 33: transmit budget released")

    async def _manage(self) -> None:
        while True:
            trigger, detail, generation = await self._triggers.get()
            if generation != self._generation and trigger is not Trigger.DEVICE_LOST:
                _LOG.debug("stale trigger %s (%s) ignored", trigger.value, detail)
                continue
            if (
                trigger is Trigger.DEVICE_LOST
                and self.module is not None
                and not self.module.lost
                and generation != self._generation
            ):
                continue
            try:
                await self._handle(trigger, detail)
            except asyncio.CancelledError:
                raise
            except CredentialsLatchedError:
                return
            except AuthenticationError:
                return
            except Exception as exc:
                _LOG.warning("recovery step failed: %s", exc)
                self._record("recovery", f"failed: {exc}")
                await asyncio.sleep(self._backoff.next_delay())
                self._trigger(Trigger.METER_SILENT, self._next_rung().value)

    def _next_rung(self) -> RecoveryStep:
        ladder = self.settings.ladder
        self._unanswered += 1
        return ladder[min(self._unanswered, len(ladder)) - 1]

    async def _handle(self, trigger: Trigger, detail: str) -> None:
        state = self.state
        _LOG.debug("session trigger %s in %s: %s", trigger.value, state.value, detail)
        if trigger is Trigger.JOINED:
            if state is SessionState.READY:
                return  # the join's own EVENT 25, or an automatic re-authentication (§C)
            if state is SessionState.REAUTHENTICATING:
                self._cancel_timer()
                self._move(Trigger.JOINED, detail)
            elif state is SessionState.TX_LIMITED:
                self._move(Trigger.JOINED, detail)
            return
        if trigger is Trigger.LIFETIME_EXPIRED and state in (
            SessionState.READY,
            SessionState.TX_LIMITED,
        ):
            self._move(trigger, detail)
            if state is SessionState.READY:
                self._start_timer(
                    self.settings.reauth_timeout, Trigger.SESSION_ENDED, "no EVENT 25 after 29"
                )
            return
        if trigger is Trigger.TX_BUDGET_EXHAUSTED and state is SessionState.READY:
            self._move(trigger, detail)
            self._start_timer(
                self.settings.tx_limit_timeout, Trigger.TX_BUDGET_RELEASED, "no EVENT 33"
            )
            return
        if trigger is Trigger.TX_BUDGET_RELEASED:
            if state is SessionState.TX_LIMITED:
                self._cancel_timer()
                self._move(trigger, detail)
            return
        if trigger is Trigger.AUTH_FAILED:
            if state is SessionState.REAUTHENTICATING:
                self._move(trigger, detail)  # → JOINING
                await self._rejoin("re-authentication failed")
            elif state is SessionState.READY:
                self._move(Trigger.SESSION_ENDED, detail)
                await self._rejoin("re-authentication failed")
            return
        if trigger is Trigger.SESSION_ENDED:
            if state in (
                SessionState.READY,
                SessionState.REAUTHENTICATING,
                SessionState.TX_LIMITED,
            ):
                self._cancel_timer()
                self._move(trigger, detail)  # → JOINING: rejoin at once (§D.2 EVENT 26)
                await self._rejoin(detail)
            return
        if trigger is Trigger.METER_SILENT:
            step = RecoveryStep(detail) if detail in _STEPS else RecoveryStep.REJOIN
            await self._recover(step)
            return
        if trigger is Trigger.DEVICE_LOST:
            await self._recover(RecoveryStep.REOPEN_PORT)

    def _start_timer(self, delay: float, trigger: Trigger, detail: str) -> None:
        self._cancel_timer()

        async def fire() -> None:
            await asyncio.sleep(delay)
            self._trigger(trigger, detail)

        self._timer = asyncio.get_running_loop().create_task(fire())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def _rejoin(self, reason: str) -> None:
        self.stats.rejoins[reason] += 1
        self._record("rejoin", reason)
        meter = self.meter
        try:
            if meter is None:
                raise SessionLostError("no meter to rejoin")
            await self._join(meter)
        except (_JoinRejected, PanaTimeoutError, SessionError) as exc:
            _LOG.info("rejoin failed (%s); rescanning", exc)
            self._move(Trigger.JOIN_TIMED_OUT, "rejoin failed")
            await self._recover(RecoveryStep.RESCAN)

    async def _recover(self, step: RecoveryStep) -> None:
        """One rung of the ladder, then whatever it takes to get back to READY."""
        if self._closing:
            return
        reason = "device lost" if step is RecoveryStep.REOPEN_PORT else "meter silent"
        self.stats.recovery.record(step, reason)
        self._record("recovery", step.value)
        if self.state is not SessionState.RECOVERING:
            self._move(
                Trigger.DEVICE_LOST if step is RecoveryStep.REOPEN_PORT else Trigger.METER_SILENT,
                step.value,
            )
        while not self._closing:
            try:
                if step is RecoveryStep.REOPEN_PORT or self.module is None or self.module.lost:
                    await self._teardown()
                    self._move(Trigger.RECOVER_REOPEN)
                    await self._open()
                    await self._configure()
                    await self._join_best_known(initial=False)
                elif step is RecoveryStep.RESET_MODULE:
                    self._move(Trigger.RECOVER_RESET)
                    with contextlib.suppress(RouteBTimeoutError):
                        await self.module.execute(commands.skreset())
                    await self._configure()
                    await self._join_best_known(initial=False)
                elif step is RecoveryStep.RESCAN:
                    if self._cache is not None:
                        self._cache.forget_meter(self._key)
                    self._move(Trigger.RECOVER_RESCAN)
                    await self._scan_and_join()
                else:
                    self._move(Trigger.RECOVER_REJOIN)
                    if self.meter is None:
                        raise SessionLostError("no meter to rejoin")
                    await self._join(self.meter)
                self._backoff.reset()
                return
            except AuthenticationError:
                raise
            except (RouteBError, _JoinRejected, OSError) as exc:
                delay = self._backoff.next_delay()
                _LOG.warning("recovery (%s) failed: %s; next try in %.1f s", step.value, exc, delay)
                self._record("recovery", f"{step.value} failed: {exc}")
                if self.state is not SessionState.RECOVERING:
                    trigger = (
                        Trigger.DEVICE_LOST
                        if isinstance(exc, DeviceError)
                        else Trigger.JOIN_TIMED_OUT
                        if self.state is SessionState.JOINING
                        else Trigger.METER_NOT_FOUND
                        if self.state is SessionState.SCANNING
                        else Trigger.DEVICE_LOST
                    )
                    if next_state(self.state, trigger) is None:
                        trigger = Trigger.DEVICE_LOST
                    self._move(trigger, str(exc))
                await asyncio.sleep(delay)
                step = _escalate(step, exc)

    async def _wait_ready(self) -> None:
        if self._latched is not None:
            raise CredentialsLatchedError(self._latched)
        if self._ready.is_set():
            return
        try:
            async with asyncio.timeout(self.settings.ready_timeout):
                await self._ready.wait()
        except TimeoutError:
            raise SessionLostError(
                f"the B-route link is not up ({self.state.value}) after "
                f"{self.settings.ready_timeout:g} s"
            ) from None

    async def _wait_event(self, rx: Receiver, numbers: set[int], timeout: float) -> ModuleEvent:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            item = await rx.get(timeout=max(0.0, remaining))
            if isinstance(item, ModuleEvent) and item.number in numbers:
                return item


_STEPS: Final = {step.value for step in RecoveryStep}


def _escalate(step: RecoveryStep, exc: BaseException) -> RecoveryStep:
    if isinstance(exc, DeviceError):
        return RecoveryStep.REOPEN_PORT
    order = list(RecoveryStep)
    index = order.index(step)
    return order[min(index + 1, len(order) - 1)]


async def _open_default(url: str) -> ByteStream:
    return await open_serial(url)
