"""The B-route session: bring any Wi-SUN module to a PANA session with the meter, keep it up.

open → configure (the radio's settings and credentials) → join with the cached scan result,
else active scan (6 → 7 → 8) for our pairing ID → resolve → join. The module is reached only
through the :class:`~routeb.radio.base.Radio` interface (SKSTACK text or J11 binary), so this
module knows link events, not EVENT numbers. A manager task reacts to them as the table
``EFFECTS`` of :mod:`routeb.driver.states` says: the meter ended the session → rejoin at once;
lifetime expired → pause sending until re-authenticated; transmit budget → pause/resume; the
module reset → reconfigure; a silent meter climbs the recovery ladder (:mod:`.recovery`). A
confirmed authentication failure is latched (:mod:`.latch`): these credentials are not tried
again. Every state change is a transition of ``TRANSITIONS``.
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
from routeb.driver.latch import AuthEvidence
from routeb.driver.recovery import RecoveryLadder, escalate, parse_step
from routeb.driver.states import Effect, SessionState, Trigger, effects, next_state
from routeb.errors import (
    AuthenticationError,
    CredentialsLatchedError,
    DeviceError,
    MeterNotFoundError,
    PanaFailedOnceError,
    PanaTimeoutError,
    RouteBError,
    RouteBTimeoutError,
    SessionLostError,
)
from routeb.radio.base import (
    Beacon,
    JoinOutcome,
    JoinResult,
    LinkEvent,
    LinkEventKind,
    ModuleChoice,
    Radio,
    Received,
    SendOutcome,
)
from routeb.radio.open import open_radio
from routeb.serialio.port import ByteStream, open_serial
from routeb.skstack.events import Dialect

__all__ = [
    "BRouteSession",
    "ScanProgress",
    "SessionEvent",
    "SessionSettings",
    "SessionStats",
]

_LOG = logging.getLogger(__name__)

# §D.3 S0A / j11.md §4.3: the pairing ID is the last 8 characters of the B-route ID.
PAIRING_ID_LEN: Final = 8
_EVENT_HISTORY: Final = 200
# What a link event means to the session (radio.base documents each kind per family).
_TRIGGERS: Final = {
    LinkEventKind.REAUTHENTICATED: Trigger.JOINED,
    LinkEventKind.REAUTH_FAILED: Trigger.AUTH_FAILED,
    LinkEventKind.SESSION_ENDED_BY_METER: Trigger.SESSION_ENDED,
    LinkEventKind.SESSION_TERMINATED: Trigger.SESSION_ENDED,
    LinkEventKind.LIFETIME_EXPIRED: Trigger.LIFETIME_EXPIRED,
    LinkEventKind.TX_BUDGET_EXHAUSTED: Trigger.TX_BUDGET_EXHAUSTED,
    LinkEventKind.TX_BUDGET_RELEASED: Trigger.TX_BUDGET_RELEASED,
}


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Timing and policy; defaults follow protocol.md §C–§E and j11.md §9."""

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
    # Issue 16 §4: a PANA failure that SKSTACK cannot tell from a lost exchange latches the
    # credentials only when it repeats at least this long after the first one.
    auth_confirm_gap: float = 180.0
    # A dongle shared by several meters must not sit out that gap inside one visit: the join
    # fails this visit instead, and the next visit (with the same AuthEvidence) decides.
    wait_for_auth_evidence: bool = True


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
    beacons: tuple[Beacon, ...]
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
    last_lqi: int | None = None  # SKSTACK modules report LQI (protocol.md §D.1)
    last_rssi_dbm: float | None = None  # every module: RSSI, measured or from the LQI
    connected_since: float | None = None
    recorded: int = 0
    history: deque[SessionEvent] = field(default_factory=lambda: deque(maxlen=_EVENT_HISTORY))


Opener = Callable[[str], Awaitable[ByteStream]]


class _JoinFailed(Exception):
    def __init__(self, result: JoinResult) -> None:
        super().__init__(f"PANA {result.outcome.value} ({result.detail})")
        self.result = result


class BRouteSession:
    """A PANA session with one meter through one module; use ``async with`` or connect/close."""

    def __init__(
        self,
        device: str,
        rbid: Secret,
        password: Secret,
        *,
        dialect: ModuleChoice | Dialect | None = None,
        state_dir: Path | None = None,
        settings: SessionSettings | None = None,
        opener: Opener | None = None,
        on_scan_progress: Callable[[ScanProgress], None] | None = None,
        on_state: Callable[[SessionState], None] | None = None,
        evidence: AuthEvidence | None = None,
    ) -> None:
        self.device = device
        self._rbid = rbid
        self._password = password
        self._choice = ModuleChoice.of(dialect)
        self.settings = settings or SessionSettings()
        self._cache = ScanCache(state_dir) if state_dir is not None else None
        self._key = meter_key(rbid)
        self._opener: Opener = opener or _open_default
        self._on_scan_progress = on_scan_progress
        self._on_state = on_state  # every state entered (the CLI's stage line on stderr)
        self.state = SessionState.CLOSED
        self.stats = SessionStats()
        self.meter: CachedMeter | None = None
        self.radio: Radio | None = None
        self._ready = asyncio.Event()
        self._triggers: asyncio.Queue[tuple[Trigger, str, int]] = asyncio.Queue()
        self._generation = 0  # bumped by every successful join: older triggers are stale
        self._received: asyncio.Queue[Received] = asyncio.Queue(1024)
        self._manager: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._latched: str | None = None
        # One meter's failed joins, shared by every session of it (reconnects, visits).
        self._evidence = evidence or AuthEvidence(self.settings.auth_confirm_gap)
        self._closing = False
        self._send_lock = asyncio.Lock()
        self._ladder = RecoveryLadder(
            self.settings.ladder,
            Backoff(base=self.settings.backoff_base, cap=self.settings.backoff_cap),
        )

    def __repr__(self) -> str:
        return f"<BRouteSession device={self.device!r} state={self.state.value}>"

    @property
    def pairing_id(self) -> str:
        """The last 8 characters of the B-route ID (never logged unredacted)."""
        return self._rbid.reveal()[-PAIRING_ID_LEN:].upper()

    @property
    def ready(self) -> bool:
        """True while requests may be sent."""
        return self._ready.is_set()

    @property
    def dialect(self) -> str | None:
        """The module's dialect (``bp35a1``, ``bp35c2``, ``rl7023``, ``j11``) once known."""
        if self.radio is not None:
            return self.radio.variant
        return self._choice.value if self._choice is not None else None

    @property
    def module_version(self) -> str | None:
        """The module's firmware version, once configured."""
        return self.radio.version if self.radio is not None else None

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

    def _settle_closed(self) -> None:
        # Leave through the table: CLOSE (READY → TERMINATING → TERMINATED), latched stays.
        if self.state in (SessionState.CLOSED, SessionState.LATCHED):
            return
        self._move(Trigger.CLOSE)
        if self.state is SessionState.TERMINATING:
            self._move(Trigger.TERMINATED)

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
            await self._join_best_known()
        except BaseException:
            await self._teardown()
            self._settle_closed()
            raise
        self._manager = asyncio.get_running_loop().create_task(
            self._manage(), name="routeb-session-manager"
        )

    async def close(self) -> None:
        """End the PANA session (so the meter frees it for the next start), close the port."""
        self._closing = True
        if self._manager is not None:
            self._manager.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._manager
            self._manager = None
        radio = self.radio
        if self.state is SessionState.READY and radio is not None and not radio.lost:
            self._move(Trigger.CLOSE)
            with contextlib.suppress(RouteBError):
                await radio.terminate()
            self._move(Trigger.TERMINATED)
        self._settle_closed()
        self._ready.clear()
        await self._teardown()

    async def scan(self, durations: Sequence[int] | None = None) -> list[Beacon]:
        """Open and configure the module, and scan; every beacon, ours or not (routeb scan)."""
        self._move(Trigger.OPEN)
        try:
            await self._open()
            await self._configure()
            self._move(Trigger.CONFIGURED)
            found: list[Beacon] = []
            for duration in durations or self.settings.scan_durations:
                found = await self._active_scan(duration)
                if any(b.matches(self.pairing_id) for b in found):
                    break
            return found
        finally:
            self._settle_closed()
            await self._teardown()

    # --- transport side (used by transport.wisun) --------------------------------------------

    async def send(self, data: bytes, destination: str | None = None) -> None:
        """One ECHONET Lite frame to the meter; waits while the link is paused (§C, §D.2)."""
        async with self._send_lock:
            attempt = 0
            backoff = Backoff(base=0.5, cap=5.0)
            while True:
                await self._wait_ready()
                radio, meter = self.radio, self.meter
                assert radio is not None
                assert meter is not None
                self.stats.sends += 1
                outcome = await radio.send(
                    destination or meter.ipv6, data, self.settings.send_done_timeout
                )
                if outcome is SendOutcome.SENT:
                    return
                self.stats.send_failures += 1
                if outcome is SendOutcome.NO_SESSION:
                    self._trigger(Trigger.SESSION_ENDED, "the module has no session to send on")
                    raise SessionLostError("the module has no session with the meter")
                if outcome is SendOutcome.TX_BUDGET:
                    # j11.md §10: stop sending (do not retry) and resume later.
                    self._trigger(Trigger.TX_BUDGET_EXHAUSTED, "the send hit the transmit budget")
                    continue
                attempt += 1
                if attempt > self.settings.send_retries:
                    raise RouteBTimeoutError(
                        f"the module could not transmit ({attempt} tries, no MAC ACK)"
                    )
                await asyncio.sleep(backoff.next_delay())

    async def receive(self) -> Received:
        """The next datagram from the meter on the ECHONET Lite port."""
        return await self._received.get()

    def request_answered(self) -> None:
        """The meter answered: the ladder starts again from the bottom."""
        self._ladder.answered()

    def request_unanswered(self) -> None:
        """One request attempt got no answer: climb the ladder (retry first)."""
        if self.state is not SessionState.READY:
            return  # paused or already recovering: nothing was really sent
        step = self._ladder.climb()
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
        radio = await open_radio(
            stream,
            self._choice,
            channel_mask=self.settings.channel_mask,
            write_wopt=self.settings.write_wopt,
            memory=self._cache,
            show_identifiers=self.settings.show_identifiers,
        )
        self.radio = radio
        radio.start(self._on_link_event, self._on_datagram)
        self._move(Trigger.PORT_OPENED)

    async def _teardown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._timer
            self._timer = None
        if self.radio is not None:
            with contextlib.suppress(Exception):
                await self.radio.close()
            self.radio = None

    async def _configure(self) -> None:
        radio = self.radio
        assert radio is not None
        await radio.configure(self._rbid, self._password)
        self._record("module", f"{radio.variant} firmware {radio.version}")

    async def _join_best_known(self) -> None:
        radio = self.radio
        assert radio is not None
        cached = self._cache.load_meter(self._key) if self._cache is not None else None
        if cached is not None and cached.dialect == radio.variant:
            self._move(Trigger.CONFIGURED_WITH_CACHE)
            try:
                await self._join_cached(cached)
                return
            except (_JoinFailed, PanaTimeoutError) as exc:
                # The cache may be stale (the meter changed channel): forget it and scan.
                _LOG.info("join with the cached scan result failed (%s); scanning", exc)
                if isinstance(exc, _JoinFailed):
                    self._evidence.judge(exc.result, time.monotonic())  # counted, not latched
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
        except (_JoinFailed, PanaTimeoutError):
            # The meter still cleaning up either fails PANA (EVENT 24) or does not answer it.
            delay = self.settings.rejoin_retry_after
            if delay <= 0:
                raise
            self._record("rejoin", f"join with the cached result failed; again in {delay:g} s")
            await asyncio.sleep(delay)
            await self._join(cached)

    async def _scan_and_join(self) -> None:
        meter = await self._find_meter()
        while True:
            try:
                await self._join(meter)
                return
            except _JoinFailed as exc:
                verdict = self._evidence.judge(exc.result, time.monotonic())
                if verdict.latch:
                    self._latch(exc.result)
                # One ambiguous PANA failure (issue 16 §4): not proof. Try again later.
                self._record(
                    "auth",
                    f"PANA failed ({exc.result.detail}) although the meter answered; "
                    f"trying again in {verdict.retry_in:.0f} s before concluding anything",
                )
                _LOG.warning(
                    "PANA failed (%s); not a proof of wrong credentials, retrying in %.0f s",
                    exc.result.detail,
                    verdict.retry_in,
                )
                self._move(Trigger.JOIN_TIMED_OUT, "PANA failed once")
                if not self.settings.wait_for_auth_evidence:
                    raise PanaFailedOnceError(
                        f"the meter rejected the PANA join ({exc.result.detail}): the B-route ID "
                        "or password is probably wrong, or an exchange was lost; not latched "
                        "until it repeats minutes later"
                    ) from None
                await asyncio.sleep(verdict.retry_in)
                self._move(Trigger.RECOVER_RESCAN)
                meter = await self._find_meter()

    def _latch(self, result: JoinResult) -> NoReturn:
        # A beacon with our pairing ID from this very scan, then a rejection the latch policy
        # believes (.latch): the meter is there and refused us. Stop here rather than hammer it.
        reason = (
            f"PANA authentication failed ({result.detail}) right after a scan found the meter"
            + (
                f"; it answered {result.pana_messages} PANA messages"
                if result.pana_messages
                else ""
            )
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
        radio = self.radio
        assert radio is not None
        seen: list[Beacon] = []
        for duration in self.settings.scan_durations:
            found = await self._active_scan(duration)
            seen.extend(found)
            ours = [b for b in found if b.matches(self.pairing_id)]
            if ours:
                best = max(ours, key=lambda b: b.rssi_dbm)
                meter = CachedMeter.found(await radio.resolve(best), radio.variant)
                self.stats.last_lqi = best.lqi
                self.stats.last_rssi_dbm = best.rssi_dbm
                self._move(Trigger.METER_FOUND)
                self._record(
                    "scan", f"meter found on channel {best.channel} ({best.rssi_dbm:.0f} dBm)"
                )
                return meter
        others = len(seen)
        self._record("scan", f"no beacon with our pairing ID ({others} other beacons)")
        raise MeterNotFoundError(
            "no meter answered with our pairing ID"
            + (f" ({others} other beacons heard)" if others else "")
            + ": check the distance and antenna, and that the B-route service is active"
        )

    async def _active_scan(self, duration: int) -> list[Beacon]:
        radio = self.radio
        assert radio is not None
        self.stats.recovery.scans += 1
        expected = radio.expected_scan_seconds(duration)
        timeout = expected * self.settings.scan_slack + self.settings.scan_margin
        found: list[Beacon] = []

        def heard(beacon: Beacon) -> None:
            found.append(beacon)
            self._progress(duration, expected, found, done=False)

        self._progress(duration, expected, found, done=False)
        await radio.scan(duration, self.pairing_id, timeout, heard)
        self._progress(duration, expected, found, done=True)
        return found

    def _progress(self, duration: int, expected: float, found: list[Beacon], *, done: bool) -> None:
        if self._on_scan_progress is not None:
            self._on_scan_progress(ScanProgress(duration, expected, tuple(found), done))

    async def _join(self, meter: CachedMeter) -> None:
        radio = self.radio
        assert radio is not None
        self.stats.recovery.joins += 1
        result = await radio.join(meter.address, self.settings.join_timeout)
        self.stats.pana_messages += result.pana_messages
        if result.outcome is JoinOutcome.NO_RESPONSE and not result.pana_messages:
            raise PanaTimeoutError(
                "the meter was found but the PANA join got no answer in "
                f"{self.settings.join_timeout:g} s (weak radio link?)"
            )
        if result.outcome is not JoinOutcome.JOINED:
            raise _JoinFailed(result)
        self.meter = meter
        self._evidence.joined()
        if self._cache is not None:
            self._cache.store_meter(self._key, meter)
        self._ladder.unanswered = 0
        self._generation += 1
        self.stats.connected_since = time.time()
        self._move(Trigger.JOINED)
        self._record("join", f"joined on channel {meter.channel}")

    # --- running -----------------------------------------------------------------------------

    def _trigger(self, trigger: Trigger, detail: str) -> None:
        self._triggers.put_nowait((trigger, detail, self._generation))

    def _on_datagram(self, received: Received) -> None:
        if received.lqi is not None:
            self.stats.last_lqi = received.lqi
        if received.rssi_dbm is not None:
            self.stats.last_rssi_dbm = received.rssi_dbm
        if self._received.full():
            self._received.get_nowait()
        self._received.put_nowait(received)

    def _on_link_event(self, event: LinkEvent) -> None:
        if event.native is not None:
            self.stats.module_events[event.native] += 1
        if event.kind is LinkEventKind.DEVICE_LOST:
            if not self._closing:
                self._trigger(Trigger.DEVICE_LOST, event.detail)
            return
        if event.kind is LinkEventKind.MODULE_RESET:
            if self.state is not SessionState.CONFIGURING:
                self._trigger(Trigger.METER_SILENT, RecoveryStep.RESET_MODULE.value)
            return
        live = self.state in (
            SessionState.READY,
            SessionState.REAUTHENTICATING,
            SessionState.TX_LIMITED,
        )
        trigger = _TRIGGERS.get(event.kind)
        if live and trigger is not None:  # bring-up and recovery read their own results
            self._trigger(trigger, event.detail)

    async def _manage(self) -> None:
        while True:
            trigger, detail, generation = await self._triggers.get()
            radio = self.radio
            if generation != self._generation and trigger is not Trigger.DEVICE_LOST:
                _LOG.debug("stale trigger %s (%s) ignored", trigger.value, detail)
                continue
            if (
                trigger is Trigger.DEVICE_LOST
                and radio is not None
                and not radio.lost
                and generation != self._generation
            ):
                continue
            try:
                await self._handle(trigger, detail)
            except asyncio.CancelledError:
                raise
            except AuthenticationError:  # latched (CredentialsLatchedError included)
                return
            except Exception as exc:
                _LOG.warning("recovery step failed: %s", exc)
                self._record("recovery", f"failed: {exc}")
                await asyncio.sleep(self._ladder.delay())
                self._trigger(Trigger.METER_SILENT, self._ladder.climb().value)

    async def _handle(self, trigger: Trigger, detail: str) -> None:
        state = self.state
        _LOG.debug("session trigger %s in %s: %s", trigger.value, state.value, detail)
        for effect in effects(state, trigger):
            if effect is Effect.MOVE:
                self._move(trigger, detail)
            elif effect is Effect.CANCEL_TIMER:
                self._cancel_timer()
            elif effect is Effect.REAUTH_TIMER:
                self._start_timer(
                    self.settings.reauth_timeout, Trigger.SESSION_ENDED, "not re-authenticated"
                )
            elif effect is Effect.TX_LIMIT_TIMER:
                self._start_timer(
                    self.settings.tx_limit_timeout, Trigger.TX_BUDGET_RELEASED, "no release"
                )
            elif effect is Effect.REJOIN:
                await self._rejoin(detail)
            elif effect is Effect.RECOVER:
                step = (
                    RecoveryStep.REOPEN_PORT
                    if trigger is Trigger.DEVICE_LOST
                    else parse_step(detail)
                )
                await self._recover(step)

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
        except (_JoinFailed, PanaTimeoutError, SessionLostError) as exc:
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
                await self._take(step)
                self._ladder.answered()
                return
            except AuthenticationError:
                raise
            except (RouteBError, _JoinFailed, OSError) as exc:
                delay = self._ladder.delay()
                _LOG.warning("recovery (%s) failed: %s; next try in %.1f s", step.value, exc, delay)
                self._record("recovery", f"{step.value} failed: {exc}")
                if self.state is not SessionState.RECOVERING:
                    self._move(self._failure_trigger(exc), str(exc))
                await asyncio.sleep(delay)
                step = escalate(step, exc)

    async def _take(self, step: RecoveryStep) -> None:
        radio = self.radio
        if step is RecoveryStep.REOPEN_PORT or radio is None or radio.lost:
            await self._teardown()
            self._move(Trigger.RECOVER_REOPEN)
            await self._open()
            await self._configure()
            await self._join_best_known()
        elif step is RecoveryStep.RESET_MODULE:
            self._move(Trigger.RECOVER_RESET)
            await radio.reset()
            await self._configure()
            await self._join_best_known()
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

    def _failure_trigger(self, exc: BaseException) -> Trigger:
        # From where the failed rung left the session back to RECOVERING, through the table.
        if isinstance(exc, DeviceError):
            trigger = Trigger.DEVICE_LOST
        elif self.state is SessionState.JOINING:
            trigger = Trigger.JOIN_TIMED_OUT
        elif self.state is SessionState.SCANNING:
            trigger = Trigger.METER_NOT_FOUND
        else:
            trigger = Trigger.DEVICE_LOST
        if next_state(self.state, trigger) is None:
            trigger = Trigger.DEVICE_LOST
        return trigger

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


async def _open_default(url: str) -> ByteStream:
    return await open_serial(url)
