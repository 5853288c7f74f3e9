"""The radio world of one emulated module, shared by every wire front-end (SKSTACK, J11).

:class:`MeterSite` is one meter in range: its radio identity (channel, PAN ID, MAC, credentials,
link quality), its ECHONET Lite face and its clock, and what the meter remembers between
sessions (when it last ended one). :class:`RadioModel` is what one module does on the air with
those meters: active scans, the PANA join (one session at a time, as on real modules), the
session lifetime and re-authentication, the hourly transmit budget, sending a datagram and the
meters' answers, pushes and the meter-side faults. It reports :data:`RadioEvent` values to the
front-end, which prints them in its own protocol; it knows nothing of either wire. Every delay
is multiplied by ``time_scale``; randomness comes from the ``rng`` given (seeded from the OS
by the app unless a seed is given).
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Final, Protocol

__all__ = [
    "ANSWER_DELAY",
    "D5_AFTER_JOIN",
    "JOIN_FAIL_SECONDS",
    "JOIN_OK_SECONDS",
    "REJOIN_GUARD",
    "SEND_DONE",
    "ChannelScanned",
    "EndedByMeter",
    "JoinFailed",
    "JoinOutcome",
    "Joined",
    "LifetimeExpired",
    "LinkLost",
    "MeterFace",
    "MeterSite",
    "ModuleFaults",
    "PanaMessage",
    "RadioEvent",
    "RadioMeter",
    "RadioModel",
    "Reauthenticated",
    "Received",
    "ReceptionFailure",
    "ScanFinished",
    "SendOutcome",
    "SendResult",
    "TxLimited",
    "TxReleased",
]

# protocol.md §E: join ≈ 3.3 s (AKLOG); a failed one ends after ≈ 38 s of PANA retransmissions.
JOIN_OK_SECONDS: Final = 3.3
JOIN_FAIL_SECONDS: Final = 38.0
# protocol.md §G.3: the D5 INF to FF02::1 about 3 s after the join.
D5_AFTER_JOIN: Final = 3.0
# protocol.md §E: SKSENDTO → EVENT 21 after 0.1–0.35 s; the meter's answer ~0.3–1.0 s after
# SKSENDTO (AKLOG), and never before the send is reported done (§D.5: ERXUDP after OK).
SEND_DONE: Final = (0.1, 0.35)
ANSWER_DELAY: Final = (0.3, 1.0)
_ANSWER_AFTER_DONE: Final = 0.05
# protocol.md §E: ARIB STD-T108, total TX time ≤ 360 s per hour; 100 kbps PHY.
TX_BUDGET: Final = 360.0
TX_WINDOW: Final = 3600.0
PHY_BPS: Final = 100_000
FRAME_OVERHEAD: Final = 60  # bytes of MAC/6LoWPAN/UDP headers per frame (approximate)
# peers.md (broute-mqtt 1.1): an immediate rejoin after a terminated session races the meter's
# clean-up and fails (EVENT 24). How long the clean-up lasts is not published: 5 s (?). On by
# default with several meters (ModuleFaults.rejoin_guard), where the field saw it.
REJOIN_GUARD: Final = 5.0
# §C: the automatic re-authentication after a lifetime expiry takes about a second (?).
_REAUTH_SECONDS: Final = 1.0
# §D.3 S02: channels 0x21..0x3C (28). The channel-change fault moves a meter 8 channels on, an
# even step, so a meter on an odd (J11-reachable, j11.md §7.3) channel stays on one.
_FIRST_CHANNEL: Final = 0x21
_CHANNEL_COUNT: Final = 28
_CHANNEL_STEP: Final = 8
# protocol.md §D.1 EPANDESC: RSSI dBm = 0.275 × LQI − 104.27.
_LQI_SLOPE: Final = 0.275
_LQI_OFFSET: Final = 104.27


class MeterFace(Protocol):
    """The ECHONET Lite side of an emulated meter, as the radio needs it."""

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
    rbid: str = field(repr=False)
    password: str = field(repr=False)
    lqi: int = 0xB2

    @property
    def pairing_id(self) -> str:
        """§D.3 S0A / j11.md §4.3: the last 8 characters of the B-route ID."""
        return self.rbid[-8:].upper()

    @property
    def rssi(self) -> int:
        """The link's RSSI in dBm (§D.1: 0.275 × LQI − 104.27), as J11 modules report it."""
        return round(_LQI_SLOPE * self.lqi - _LQI_OFFSET)


@dataclass(slots=True, eq=False)
class MeterSite:
    """One meter in range: its radio identity, its ECHONET face and clock, its memory."""

    radio: RadioMeter
    meter: MeterFace
    meter_now: Callable[[], datetime]
    meter_seconds_until: Callable[[datetime], float]
    channel: int = 0  # the current channel (the channel-change fault moves it)
    ended_at: float | None = None  # loop time the meter last terminated a session
    moved: bool = False  # the channel-change fault has been scheduled for this meter

    def __post_init__(self) -> None:
        if not self.channel:
            self.channel = self.radio.channel

    @property
    def mac(self) -> str:
        return self.radio.mac.upper()

    @property
    def pan_id(self) -> int:
        return self.radio.pan_id


@dataclass(frozen=True, slots=True)
class ModuleFaults:
    """Fault injection (combinable); times are seconds of real time before the scale."""

    drop: float = 0.0  # probability that a meter answer is lost
    slow: float = 0.0  # extra seconds before every meter answer
    garble: float = 0.0  # probability that an output line / frame is corrupted
    reset_every: float | None = None  # spontaneous module reset
    event26_every: float | None = None  # the meter ends the session
    event29_every: float | None = None  # PANA lifetime expiry (overrides S16)
    tx_budget: float = TX_BUDGET  # airtime seconds per window
    channel_change_after: float | None = None  # the meter moves to another channel
    wrong_credentials: bool = False  # every join fails like a wrong password
    no_ack: float = 0.0  # probability that a send gets no MAC ACK
    rx_failure_every: float | None = None  # a frame from the meter fails to decrypt
    rejoin_guard: float = 0.0  # a join this soon after the meter ended a session gets no answer
    # The first N joins with the right credentials lose the meter's last PANA message: the
    # module gives up as after a lost exchange (SKSTACK EVENT 24 in place of 25, J11 0x6028 03).
    lost_pana: int = 0


# --- what the radio reports --------------------------------------------------------------------


class JoinOutcome(Enum):
    """Why a PANA join failed (j11.md §5 0x6028 tells these apart; SKSTACK says EVENT 24)."""

    REJECTED = "rejected"  # the meter answered PANA and refused the credentials
    NO_RESPONSE = "no-response"  # nobody answered PANA (wrong address, channel, clean-up)


@dataclass(frozen=True, slots=True)
class ChannelScanned:
    """One channel of an active scan is done; ``beacons`` answered with our pairing ID."""

    channel: int
    beacons: tuple[MeterSite, ...]


@dataclass(frozen=True, slots=True)
class ScanFinished:
    """The active scan is over."""


@dataclass(frozen=True, slots=True)
class PanaMessage:
    """A PANA message from the meter during the join (SKSTACK prints it as ERXUDP on 02CC)."""

    site: MeterSite
    data: bytes


@dataclass(frozen=True, slots=True)
class Joined:
    """PANA succeeded: the session is up."""

    site: MeterSite


@dataclass(frozen=True, slots=True)
class JoinFailed:
    """PANA failed (``site`` None: nobody was there)."""

    site: MeterSite | None
    outcome: JoinOutcome


@dataclass(frozen=True, slots=True)
class LifetimeExpired:
    """The PANA lifetime ran out; re-authentication follows if it is automatic."""

    site: MeterSite


@dataclass(frozen=True, slots=True)
class Reauthenticated:
    """Re-authentication succeeded."""

    site: MeterSite


@dataclass(frozen=True, slots=True)
class EndedByMeter:
    """The meter ended the PANA session (SKSTACK EVENT 26, J11 0x601A 0x04)."""

    site: MeterSite


@dataclass(frozen=True, slots=True)
class LinkLost:
    """The meter is gone from its channel (SKSTACK EVENT 26 on the next send, J11 0x601A 0x03)."""

    site: MeterSite


@dataclass(frozen=True, slots=True)
class Received:
    """A datagram from a meter: ECHONET Lite on 3610 (or PANA), unicast or to FF02::1."""

    site: MeterSite
    data: bytes
    multicast: bool = False


@dataclass(frozen=True, slots=True)
class ReceptionFailure:
    """A frame from the meter failed to decrypt (J11 0x6038 0x01; SKSTACK prints nothing)."""

    site: MeterSite
    head: bytes


@dataclass(frozen=True, slots=True)
class TxLimited:
    """The hourly transmit budget is spent: sends fail until released (EVENT 32)."""


@dataclass(frozen=True, slots=True)
class TxReleased:
    """The transmit budget is back (EVENT 33)."""


RadioEvent = (
    ChannelScanned
    | ScanFinished
    | PanaMessage
    | Joined
    | JoinFailed
    | LifetimeExpired
    | Reauthenticated
    | EndedByMeter
    | LinkLost
    | Received
    | ReceptionFailure
    | TxLimited
    | TxReleased
)


class SendOutcome(Enum):
    """What became of a datagram handed to the radio."""

    SENT = "sent"
    NOT_JOINED = "not-joined"  # no PANA session: nothing secured goes out
    REAUTHENTICATING = "reauthenticating"  # the session is being renewed (§C)
    TX_LIMITED = "tx-limited"  # the hourly budget is spent (§E)
    NO_ACK = "no-ack"  # the fault: the MAC ACK never came


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome, and after how many (scaled) seconds the module reports the send done."""

    outcome: SendOutcome
    done_after: float


@dataclass(slots=True)
class _Session:
    site: MeterSite
    lifetime: float | None
    auto_reauth: bool
    reauthenticating: bool = False


class RadioModel:
    """What one module does on the air (see the module docstring); ``emit`` gets the events."""

    def __init__(
        self,
        sites: Sequence[MeterSite],
        emit: Callable[[RadioEvent], None],
        *,
        time_scale: float = 1.0,
        faults: ModuleFaults | None = None,
        rng: random.Random | None = None,
        stats: dict[str, int] | None = None,
    ) -> None:
        self.sites = list(sites)
        self._emit = emit
        self.scale = time_scale
        self.faults = faults or ModuleFaults()
        self.rng = rng if rng is not None else random.Random()
        self.stats = stats if stats is not None else {}
        self.session: _Session | None = None
        self._joining: MeterSite | None = None
        self._tx_limited = False
        self._pana_losses = self.faults.lost_pana
        self._airtime: list[tuple[float, float]] = []
        self._tasks: set[asyncio.Task[None]] = set()  # module-lifetime (faults, TX release)
        self._session_tasks: set[asyncio.Task[None]] = set()  # die with the session
        self._scan_tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- plumbing ------------------------------------------------------------------------------

    def count(self, key: str) -> None:
        self.stats[key] = self.stats.get(key, 0) + 1

    def delay(self, seconds: float) -> float:
        """Real seconds of a documented delay, after the time scale."""
        return max(0.0, seconds * self.scale)

    def spawn(self, coro: Coroutine[Any, Any, None], bucket: set[asyncio.Task[None]]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        bucket.add(task)
        task.add_done_callback(bucket.discard)

    def later(
        self,
        seconds: float,
        action: Callable[[], None],
        bucket: set[asyncio.Task[None]] | None = None,
    ) -> None:
        """Run ``action`` after ``seconds`` (documented seconds, scaled); default: module-wide."""

        async def run() -> None:
            await asyncio.sleep(self.delay(seconds))
            if not self._closed:
                action()

        self.spawn(run(), self._tasks if bucket is None else bucket)

    def _report(self, event: RadioEvent) -> None:
        if not self._closed:
            self._emit(event)

    def start(self) -> None:
        """Start the meter-side background faults (channel change, decryption failures)."""
        faults = self.faults
        if faults.channel_change_after:
            for site in self.sites:
                if not site.moved:
                    site.moved = True
                    self.later(faults.channel_change_after, functools.partial(self._move, site))
        if faults.rx_failure_every:
            self.every(faults.rx_failure_every, self._rx_failure)

    def every(self, seconds: float, action: Callable[[], None]) -> None:
        """Run ``action`` every ``seconds`` (documented seconds, scaled) while the module lives."""
        self.spawn(self._every(seconds, action), self._tasks)

    async def _every(self, seconds: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(self.delay(seconds))
            action()

    def close(self) -> None:
        self._closed = True
        for task in (*self._tasks, *self._session_tasks, *self._scan_tasks):
            task.cancel()

    def reset(self) -> None:
        """The module restarted: its scan and session vanish without a word on the air."""
        for task in (*self._session_tasks, *self._scan_tasks):
            task.cancel()
        self.session = None
        self._joining = None

    # --- lookups -------------------------------------------------------------------------------

    def site_on(
        self, channel: int, *, pan_id: int | None = None, mac: str | None = None
    ) -> MeterSite | None:
        """The meter on ``channel`` (and PAN ID / MAC when given), if one is in range."""
        for site in self.sites:
            if site.channel != channel:
                continue
            if pan_id is not None and site.pan_id != pan_id:
                continue
            if mac is not None and site.mac != mac.upper():
                continue
            return site
        return None

    def site_with_pairing(self, channel: int, pairing_id: str | None) -> MeterSite | None:
        """The meter on ``channel`` that answers a beacon request carrying ``pairing_id``."""
        for site in self.sites:
            if site.channel == channel and pairing_id and site.radio.pairing_id == pairing_id:
                return site
        return None

    @property
    def joined(self) -> bool:
        return self.session is not None and not self.session.reauthenticating

    @property
    def busy_joining(self) -> bool:
        return self._joining is not None

    # --- scan ----------------------------------------------------------------------------------

    def scan(self, channels: Sequence[int], dwell: float, pairing_id: str | None) -> None:
        """An active scan: ``dwell`` seconds per channel, one ChannelScanned each, then done."""

        async def run() -> None:
            # Deadlines from the start, so that per-channel overheads do not add up.
            loop = asyncio.get_running_loop()
            start = loop.time()
            for index, channel in enumerate(channels, 1):
                await asyncio.sleep(max(0.0, start + self.delay(dwell) * index - loop.time()))
                beacons = tuple(
                    s
                    for s in self.sites
                    if s.channel == channel and s.radio.pairing_id == pairing_id
                )
                self._report(ChannelScanned(channel, beacons))
            self._report(ScanFinished())

        self.spawn(run(), self._scan_tasks)

    # --- join and session ----------------------------------------------------------------------

    def join(
        self,
        site: MeterSite | None,
        rbid: str | None,
        password: str | None,
        *,
        lifetime: float | None,
        auto_reauth: bool = True,
        give_up_after: float = JOIN_FAIL_SECONDS,
        pana_messages: bool = True,
    ) -> None:
        """Start PANA with ``site`` (None: nobody at the address); the outcome comes as events.

        With the right credentials: PANA messages, then Joined after JOIN_OK_SECONDS. Wrong
        credentials: JoinFailed(REJECTED) after JOIN_FAIL_SECONDS. Nobody there, or the meter
        still cleaning up a session it ended less than ``faults.rejoin_guard`` ago:
        JoinFailed(NO_RESPONSE) after ``give_up_after`` (the module's retransmission schedule).
        """
        self._joining = site
        loop = asyncio.get_running_loop()
        guard = self.delay(self.faults.rejoin_guard)
        cleaning = (
            site is not None and site.ended_at is not None and loop.time() - site.ended_at < guard
        )
        if site is None or cleaning:
            if cleaning:
                self.count("rejoin_too_soon")
            self.later(give_up_after, lambda: self._join_failed(site, JoinOutcome.NO_RESPONSE))
            return
        good = (
            not self.faults.wrong_credentials
            and rbid == site.radio.rbid
            and password is not None
            and password.upper() == site.radio.password.upper()
        )
        if pana_messages:
            # §D.5 (QIITA-C2): PANA messages from the meter on 02CC while the join runs.
            sizes = (40, 100, 68) if good else (40,)
            for at, size in zip((0.7, 1.6, 2.8), sizes, strict=False):
                self.later(at, functools.partial(self._pana, site, size), self._session_tasks)
        if not good:
            self.later(
                JOIN_FAIL_SECONDS,
                lambda: self._join_failed(site, JoinOutcome.REJECTED),
                self._session_tasks,
            )
            return
        if self._pana_losses > 0:
            self._pana_losses -= 1
            self.count("pana_lost")
            self.later(
                JOIN_FAIL_SECONDS,
                lambda: self._join_failed(site, JoinOutcome.NO_RESPONSE),
                self._session_tasks,
            )
            return
        self.later(
            JOIN_OK_SECONDS,
            lambda: self._joined(site, lifetime, auto_reauth),
            self._session_tasks,
        )

    def _pana(self, site: MeterSite, size: int) -> None:
        self._report(PanaMessage(site, self.rng.randbytes(size)))

    def _join_failed(self, site: MeterSite | None, outcome: JoinOutcome) -> None:
        self._joining = None
        self.count("join_failed")
        self._report(JoinFailed(site, outcome))

    def _joined(self, site: MeterSite, lifetime: float | None, auto_reauth: bool) -> None:
        self._joining = None
        self.session = _Session(site, lifetime, auto_reauth)
        self.count("joined")
        self._report(Joined(site))
        self.later(D5_AFTER_JOIN, functools.partial(self._startup_inf, site), self._session_tasks)
        self._schedule_push(site)
        if lifetime is not None:
            self.later(lifetime, self.expire_lifetime, self._session_tasks)
        if self.faults.event26_every:
            self.later(self.faults.event26_every, self.meter_ends_session, self._session_tasks)

    def _startup_inf(self, site: MeterSite) -> None:
        if self.joined:
            self._report(Received(site, site.meter.startup_notification(), multicast=True))

    def expire_lifetime(self) -> None:
        """The PANA lifetime ran out (its timer, or the event29 fault now)."""
        session = self.session
        if session is None:
            return
        session.reauthenticating = True
        self._report(LifetimeExpired(session.site))
        if session.auto_reauth:
            self.later(_REAUTH_SECONDS, self._reauthenticated, self._session_tasks)
        else:
            self._end_session()

    def reauthenticate(self) -> None:
        """Renew the session now (J11 0x00D2); Reauthenticated follows."""
        if self.session is not None:
            self.session.reauthenticating = True
            self.later(_REAUTH_SECONDS, self._reauthenticated, self._session_tasks)

    def _reauthenticated(self) -> None:
        session = self.session
        if session is None or not session.reauthenticating:
            return
        session.reauthenticating = False
        self._report(Reauthenticated(session.site))
        if session.lifetime is not None:
            self.later(session.lifetime, self.expire_lifetime, self._session_tasks)

    def meter_ends_session(self) -> None:
        """The meter ends the session (the event26 fault)."""
        session = self.session
        if session is not None:
            self._end_session()
            session.site.ended_at = asyncio.get_running_loop().time()
            self.count("event26")
            self._report(EndedByMeter(session.site))

    def _end_session(self) -> None:
        self.session = None
        self._joining = None
        for task in list(self._session_tasks):
            task.cancel()

    def terminate(self) -> MeterSite | None:
        """End the session from our side (SKTERM / 0x0057); the meter starts its clean-up."""
        session = self.session
        self._end_session()
        if session is None:
            return None
        session.site.ended_at = asyncio.get_running_loop().time()
        return session.site

    def abandon_session(self) -> None:
        """Drop the session or join in progress without a word on the air (a new join, the
        host ending the B-route before PANA finished)."""
        self._end_session()

    # --- data ----------------------------------------------------------------------------------

    def send(
        self, address_mac: str | None, to_meter_port: bool, data: bytes, source: str = ""
    ) -> SendResult:
        """Send ``data`` (ECHONET Lite when ``to_meter_port``) to the meter with that MAC.

        ``address_mac`` None is a destination that is not a meter (multicast or unknown):
        sent, and nobody answers.
        """
        done = self.rng.uniform(*SEND_DONE)
        session = self.session
        if session is None:
            return SendResult(SendOutcome.NOT_JOINED, done)
        if session.reauthenticating:
            return SendResult(SendOutcome.REAUTHENTICATING, done)
        if self._tx_limited or not self._charge_airtime(len(data)):
            return SendResult(SendOutcome.TX_LIMITED, done)
        if self.faults.no_ack and self.rng.random() < self.faults.no_ack:
            self.count("no_ack")
            return SendResult(SendOutcome.NO_ACK, done)
        site = session.site
        if to_meter_port and address_mac is not None and address_mac.upper() == site.mac:
            self._deliver(site, data, done, source)
        return SendResult(SendOutcome.SENT, done)

    def _charge_airtime(self, size: int) -> bool:
        """Charge the ARIB airtime budget; False (and TxLimited) when it is exhausted."""
        now = asyncio.get_running_loop().time()
        window = TX_WINDOW * self.scale if self.scale else TX_WINDOW
        self._airtime = [(t, s) for t, s in self._airtime if now - t < window]
        spent = sum(s for _, s in self._airtime)
        cost = (size + FRAME_OVERHEAD) * 8 / PHY_BPS
        if spent + cost > self.faults.tx_budget:
            if not self._tx_limited:
                self._tx_limited = True
                self.count("tx_limited")
                self._report(TxLimited())
                oldest = min((t for t, _ in self._airtime), default=now)
                release = max(0.0, oldest + window - now)
                self.spawn(self._release_after(release), self._tasks)
            return False
        self._airtime.append((now, cost))
        return True

    async def _release_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._tx_limited = False
        self._airtime.clear()
        self._report(TxReleased())

    def _deliver(self, site: MeterSite, data: bytes, done: float, source: str) -> None:
        answers = site.meter.handle(data, source)
        for answer in answers:
            if self.faults.drop and self.rng.random() < self.faults.drop:
                self.count("dropped")
                continue
            # §E: 0.3–1.0 s after the send request, and after the send is reported done.
            at = max(self.rng.uniform(*ANSWER_DELAY), done + _ANSWER_AFTER_DONE)
            at += self.faults.slow / max(self.scale, 1e-9)
            self.later(at, functools.partial(self._answer, site, answer), self._session_tasks)

    def _answer(self, site: MeterSite, answer: bytes) -> None:
        if self.session is not None and self.session.site is site:
            self._report(Received(site, answer))

    # --- pushes and meter-side faults ----------------------------------------------------------

    def _schedule_push(self, site: MeterSite) -> None:
        when, frames = site.meter.next_push(site.meter_now())
        wait = site.meter_seconds_until(when)

        async def push() -> None:
            await asyncio.sleep(wait)
            if self.joined:
                for frame in frames:
                    self._report(Received(site, frame))
            self._schedule_push(site)

        self.spawn(push(), self._session_tasks)

    def _move(self, site: MeterSite) -> None:
        site.channel = _FIRST_CHANNEL + (site.channel - _FIRST_CHANNEL + _CHANNEL_STEP) % (
            _CHANNEL_COUNT
        )
        self.count("channel_change")
        if self.session is not None and self.session.site is site:
            self._end_session()
            self._report(LinkLost(site))

    def _rx_failure(self) -> None:
        if self.session is not None:
            self.count("rx_failure")
            self._report(ReceptionFailure(self.session.site, self.rng.randbytes(5)))
