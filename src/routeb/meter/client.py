"""The meter client: ECHONET Lite requests to a smart meter over any transport.

One request in flight per meter, a minimum gap between requests, responses matched on TID,
sender and EOJs, multi-property Gets with a batch size learned from partial Get_SNA answers,
INF/INFC notifications (INFC answered with INFC_Res), and history pairs (E5 → E2/E4, ED → EC,
EF → EE) kept atomic. Facts: protocol.md §A.3, §B.1, §C.

The request path is built for a lossy link (issue 16 §5, docs/session.md "Requests over a bad
link"): each attempt has its own TID and an adaptive timer (:mod:`routeb.meter.retransmit`);
an answer to any earlier attempt of the same request still counts; a request gives up after
the AIF timer × (retries + 1) unanswered, or at its caller's deadline (a live poll stops when
the next one is due); a batch that keeps failing is split (:mod:`routeb.meter.splitting`);
live polls go before background work (:mod:`routeb.meter.turns`); when the link comes back
(``link_restored``) the outstanding request is resent at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from routeb.echonet import EOJ, ESV, Format2Frame, Frame, Property, decode_frame, encode_frame
from routeb.errors import EchonetDecodeError, RequestError, RouteBTimeoutError
from routeb.meter.retransmit import (
    ADAPTIVE_FLOOR,
    ADAPTIVE_INITIAL,
    DEFAULT_SENDS_PER_HOUR,
    RetransmitTimer,
    SendBudget,
    SilenceMeter,
)
from routeb.meter.splitting import SplitPolicy
from routeb.meter.turns import Priority, Turns
from routeb.transport.base import Datagram, EchonetTransport, LinkHealth

__all__ = [
    "CONTROLLER",
    "METER",
    "NODE_PROFILE",
    "ClientSettings",
    "ClientStats",
    "GetResult",
    "Notification",
    "Priority",
    "SmartMeterClient",
]

_LOG = logging.getLogger(__name__)

# protocol.md §C: controller 05FF01 (AIF §2.1 fixes instance 0x01), meter 028801, node 0EF001.
CONTROLLER: Final = EOJ(0x05, 0xFF, 0x01)
METER: Final = EOJ(0x02, 0x88, 0x01)
NODE_PROFILE: Final = EOJ(0x0E, 0xF0, 0x01)
# protocol.md §C, AIF 2.4.4: the meter must support OPC up to 6.
AIF_MAX_OPC: Final = 6
# protocol.md §C, AIF 2.4.2: Timer 1 ≥ 20 s for OPC = 1, Timer 2 ≥ 60 s for OPC ≥ 2.
AIF_TIMER1: Final = 20.0
AIF_TIMER2: Final = 60.0
# protocol.md §C 3.1.1: wait for the proactive D5 INF (Smdn waits 5 s), then send INF_REQ.
D5_WAIT: Final = 5.0
# protocol.md §E: the meter answers a 1-EPC Get in 0.3–1 s; one request in flight, and a gap
# so that polling stays polite to the meter and the 360 s/h transmit budget.
DEFAULT_MIN_GAP: Final = 1.0
_NOTIFICATION_BACKLOG: Final = 256
_RESPONSE_ESVS: Final = frozenset(
    {
        ESV.SET_RES,
        ESV.GET_RES,
        ESV.INF,  # the answer to INF_REQ (§A.2)
        ESV.SETGET_RES,
        ESV.SETI_SNA,
        ESV.SETC_SNA,
        ESV.GET_SNA,
        ESV.INF_SNA,
        ESV.SETGET_SNA,
    }
)


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """Pacing and timers; defaults follow the AIF and field practice (§C, §E).

    ``timer1`` / ``timer2`` are the AIF response-wait timers; a request gives up after
    ``timer × (retries + 1)`` unanswered. ``strict_aif`` retransmits only when the AIF timer
    has run out (as AIF 2.4.2 reads); otherwise the adaptive timer of
    :mod:`routeb.meter.retransmit` retransmits sooner, inside the same give-up time.
    """

    min_gap: float = DEFAULT_MIN_GAP
    timer1: float = AIF_TIMER1
    timer2: float = AIF_TIMER2
    retries: int = 2
    max_batch: int = AIF_MAX_OPC
    strict_aif: bool = False
    max_sends_per_hour: int = DEFAULT_SENDS_PER_HOUR
    # The adaptive timer's bounds (meter.retransmit); tests on a scaled clock scale them.
    rto_floor: float = ADAPTIVE_FLOOR
    rto_initial: float = ADAPTIVE_INITIAL


@dataclass(slots=True)
class ClientStats:
    """Counters for metrics and the status line."""

    requests: int = 0
    retransmissions: int = 0
    timeouts: int = 0
    sna_answers: int = 0
    malformed: int = 0
    unmatched: int = 0
    notifications: int = 0
    learned_batch: int | None = None
    late_answers: int = 0  # answered by an earlier attempt's TID after a retransmission
    resent_on_rejoin: int = 0
    split_batches: int = 0
    yielded: int = 0  # background requests that stepped aside for a live poll
    srtt: float | None = None  # smoothed round trip (s), RFC 6298
    rto: float | None = None  # the current base retransmission timeout (s)


@dataclass(frozen=True, slots=True)
class Notification:
    """An INF or INFC from the meter (EA/EB pushes, the D5 instance list)."""

    frame: Frame
    source: str
    rssi: int | None = None


@dataclass(frozen=True, slots=True)
class GetResult:
    """EDTs the meter gave, in request order, and the EPCs it refused (SNA)."""

    values: dict[int, bytes] = field(default_factory=dict)
    unavailable: frozenset[int] = frozenset()
    last_frame: Frame | None = None


def _same_address(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.partition("%")[0]) == ipaddress.ip_address(
            b.partition("%")[0]
        )
    except ValueError:
        return a.lower() == b.lower()


@dataclass(slots=True)
class _Pending:
    tids: dict[int, float]  # every attempt's TID → when it was sent (loop time)
    deoj: EOJ
    epcs: tuple[int, ...]
    destination: str
    future: asyncio.Future[Frame]
    answered_tid: int | None = None
    answered_at: float = 0.0


class SmartMeterClient:
    """ECHONET Lite client for one meter; call ``run()`` in a task before requesting."""

    def __init__(
        self,
        transport: EchonetTransport,
        settings: ClientSettings | None = None,
        *,
        first_tid: int = 1,
    ) -> None:
        self.transport = transport
        self.settings = settings or ClientSettings()
        self.stats = ClientStats()
        self._tid = first_tid & 0xFFFF
        self._turns = Turns()  # one request in flight per meter; live polls first
        self._atomic = asyncio.Lock()  # E5→E2/E4, ED→EC and EF→EE pairs are not interleaved
        self._pending: _Pending | None = None
        self._last_done = -1e9
        self._batch = self.settings.max_batch
        self._timer = RetransmitTimer(
            initial=self.settings.rto_initial, floor=self.settings.rto_floor
        )
        self._silence = SilenceMeter()
        self._budget = SendBudget(self.settings.max_sends_per_hour)
        self._split = SplitPolicy()
        self._restored = asyncio.Event()
        self._subscribers: list[asyncio.Queue[Notification]] = []
        self.d5_seen = asyncio.Event()
        self._health = transport if isinstance(transport, LinkHealth) else None

    # ---------------------------------------------------------------- receiving
    async def run(self) -> None:
        """Receive forever: match responses, deliver notifications, answer INFC."""
        while True:
            datagram = await self.transport.receive()
            await self.handle_datagram(datagram)

    async def handle_datagram(self, datagram: Datagram) -> None:
        """Process one received datagram (``run`` calls this; tests may call it directly)."""
        try:
            frame = decode_frame(datagram.data)
        except EchonetDecodeError as exc:
            self.stats.malformed += 1
            _LOG.debug("malformed frame from the meter ignored: %s", exc)
            return
        if isinstance(frame, Format2Frame):
            self.stats.unmatched += 1
            return
        if frame.esv in (ESV.INF, ESV.INFC) and not self._is_inf_answer(frame, datagram):
            await self._notify(frame, datagram)
            return
        pending = self._pending
        if (
            pending is not None
            and frame.esv in _RESPONSE_ESVS
            and frame.tid in pending.tids
            and frame.seoj == pending.deoj
            and frame.deoj.class_id == CONTROLLER.class_id
            and _same_address(datagram.source, pending.destination)
            and tuple(p.epc for p in (*frame.properties, *frame.get_properties)) == pending.epcs
            and not pending.future.done()
        ):
            pending.answered_tid = frame.tid
            pending.answered_at = asyncio.get_running_loop().time()
            pending.future.set_result(frame)
            return
        self.stats.unmatched += 1
        _LOG.debug("unmatched %s TID %04X from the meter ignored", frame.esv.name, frame.tid)

    def _is_inf_answer(self, frame: Frame, datagram: Datagram) -> bool:
        """An INF that answers our pending INF_REQ (same TID, same object)."""
        pending = self._pending
        return (
            pending is not None
            and frame.esv is ESV.INF
            and frame.tid in pending.tids
            and frame.seoj == pending.deoj
            and _same_address(datagram.source, pending.destination)
        )

    async def _notify(self, frame: Frame, datagram: Datagram) -> None:
        self.stats.notifications += 1
        if frame.seoj.class_id == NODE_PROFILE.class_id and frame.first(0xD5) is not None:
            self.d5_seen.set()
        if frame.esv is ESV.INFC:
            # §A.3: INFC_Res carries the same EPCs, each with PDC = 0.
            reply = Frame(
                frame.tid,
                frame.deoj,
                frame.seoj,
                ESV.INFC_RES,
                tuple(Property(p.epc) for p in frame.properties),
            )
            await self.transport.send(encode_frame(reply), datagram.source)
        note = Notification(frame, datagram.source, datagram.rssi)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()  # keep the newest; a slow consumer loses the oldest
            queue.put_nowait(note)

    async def notifications(self) -> AsyncIterator[Notification]:
        """Every INF / INFC from now on, as an async iterator."""
        queue: asyncio.Queue[Notification] = asyncio.Queue(_NOTIFICATION_BACKLOG)
        self._subscribers.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._subscribers.remove(queue)

    # ---------------------------------------------------------------- requesting
    def _next_tid(self) -> int:
        tid = self._tid
        self._tid = (self._tid + 1) & 0xFFFF
        return tid

    def link_restored(self) -> None:
        """The link is (back) up after an outage (a rejoin): resend what is outstanding now.

        Called by the link on every entry into the session's ``ready`` state (issue 16 §4):
        the request in flight when the device vanished is not left to its old timer.
        """
        self._restored.set()

    async def request(
        self,
        esv: ESV,
        properties: Sequence[Property],
        deoj: EOJ = METER,
        get_properties: Sequence[Property] = (),
        *,
        response_wait: float | None = None,
        deadline: float | None = None,
        priority: Priority = Priority.LIVE,
    ) -> Frame:
        """Send one request and wait for its matching response, retransmitting as needed.

        ``response_wait`` overrides the AIF timer; ``deadline`` (loop time) ends a live poll
        when the next one is due (ignored with ``strict_aif``); ``priority`` BACKGROUND steps
        aside between attempts for a waiting live poll.
        """
        settings = self.settings
        count = len(properties) + len(get_properties)
        aif_timer = (
            response_wait
            if response_wait is not None
            else (settings.timer1 if count == 1 else settings.timer2)
        )
        if settings.strict_aif:
            deadline = None
        epcs = tuple(p.epc for p in (*properties, *get_properties))
        pending = _Pending({}, deoj, epcs, "", asyncio.get_running_loop().create_future())
        self.stats.requests += 1
        await self._turns.acquire(priority)
        try:
            return await self._attempts(
                esv, properties, get_properties, pending, aif_timer, deadline, priority
            )
        finally:
            self._pending = None
            self._last_done = asyncio.get_running_loop().time()
            self._turns.release()

    async def _attempts(
        self,
        esv: ESV,
        properties: Sequence[Property],
        get_properties: Sequence[Property],
        pending: _Pending,
        aif_timer: float,
        deadline: float | None,
        priority: Priority,
    ) -> Frame:
        loop = asyncio.get_running_loop()
        settings = self.settings
        give_up_after = aif_timer * (settings.retries + 1)  # as long as the AIF-timer path
        waited = 0.0
        attempt = 0
        sent_any = False
        while True:
            await self._pace(deadline)
            if deadline is not None and sent_any and deadline - loop.time() < self._timer.floor:
                break  # the next live poll is due before an answer could come
            tid = self._next_tid()
            frame = Frame(
                tid, CONTROLLER, pending.deoj, esv, tuple(properties), tuple(get_properties)
            )
            pending.destination = self.transport.meter_address
            self._pending = pending
            if sent_any:
                self.stats.retransmissions += 1
                _LOG.debug("no answer yet; retransmitting as TID %04X", tid)
            self._budget.spend(loop.time())
            pending.tids[tid] = loop.time()
            await self.transport.send(encode_frame(frame))
            self._restored.clear()  # a send that waited for the link went out after it came back
            pending.tids[tid] = loop.time()  # the round trip counts from the send's completion
            sent_any = True
            timeout = aif_timer if settings.strict_aif else self._timer.timeout(attempt, aif_timer)
            timeout = min(timeout, give_up_after - waited)
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - loop.time()))
            outcome = await self._wait(pending.future, timeout)
            if outcome == "answered":
                return self._answered(pending, tid)
            if outcome == "restored":
                self.stats.resent_on_rejoin += 1
                _LOG.info("the link is back: resending the request at once")
                attempt = 0
                continue
            waited += timeout
            attempt += 1
            # One "meter silent" per Timer 2 of silence whatever request sees it (a Timer-1 read
            # must not climb the ladder three times as fast); strict AIF: per attempt, as ever.
            span = aif_timer if settings.strict_aif else max(aif_timer, settings.timer2)
            for _ in range(self._silence.unanswered(pending.tids[tid], loop.time(), span)):
                if self._health is not None:
                    self._health.request_unanswered()
            if waited >= give_up_after - 1e-9:
                break
            if deadline is not None and loop.time() >= deadline:
                break
            if priority is not Priority.LIVE and self._turns.more_urgent_waiting(priority):
                await self._step_aside(pending, priority)
                if pending.future.done():
                    return self._answered(pending, pending.answered_tid or tid)
        self.stats.timeouts += 1
        self._publish_timer()
        raise RouteBTimeoutError(
            f"the meter did not answer {esv.name} ({len(pending.tids)} tries, "
            f"{waited:.3g} s unanswered)"
        )

    async def _wait(self, future: asyncio.Future[Frame], timeout: float) -> str:
        """Wait for the answer, the link coming back, or the timeout."""
        if future.done():
            return "answered"
        restored: asyncio.Future[object] = asyncio.ensure_future(self._restored.wait())
        waiting: set[asyncio.Future[object]] = {future, restored}  # type: ignore[arg-type]
        try:
            done, _ = await asyncio.wait(
                waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            restored.cancel()
        if future in done:
            return "answered"
        if restored in done:
            self._restored.clear()
            return "restored"
        return "timeout"

    def _answered(self, pending: _Pending, last_tid: int) -> Frame:
        tid = pending.answered_tid if pending.answered_tid is not None else last_tid
        sent = pending.tids.get(tid)
        if sent is not None:
            # Each attempt has its own TID, so the round trip is unambiguous (RFC 6298 §3's
            # Karn problem does not arise) — also for a late answer to an earlier attempt.
            self._timer.sample(pending.answered_at - sent)
        if tid != last_tid:
            self.stats.late_answers += 1
        self._silence.answered()
        self._publish_timer()
        if self._health is not None:
            self._health.request_answered()
        return pending.future.result()

    def _publish_timer(self) -> None:
        self.stats.srtt = self._timer.srtt
        self.stats.rto = self._timer.rto

    async def _pace(self, deadline: float | None) -> None:
        """The minimum gap after the previous request, and the hourly send budget."""
        loop = asyncio.get_running_loop()
        if self._pending is None:
            gap = self._last_done + self.settings.min_gap - loop.time()
            if gap > 0:
                await asyncio.sleep(gap)
        wait = self._budget.wait(loop.time())
        if wait > 0:
            if deadline is not None and loop.time() + wait > deadline:
                raise RouteBTimeoutError(
                    f"the hourly send budget ({self._budget.limit} requests) is spent"
                )
            _LOG.info("hourly send budget spent; waiting %.0f s", wait)
            await asyncio.sleep(wait)

    async def _step_aside(self, pending: _Pending, priority: Priority) -> None:
        """Let a waiting live poll go first, then carry on with this request."""
        self.stats.yielded += 1
        self._pending = None
        self._last_done = asyncio.get_running_loop().time()
        self._turns.release()
        await self._turns.acquire(priority)
        self._pending = pending

    async def get(
        self,
        epcs: Iterable[int],
        deoj: EOJ = METER,
        *,
        deadline: float | None = None,
        priority: Priority = Priority.LIVE,
    ) -> GetResult:
        """Get properties, in as few requests as the meter allows (batch learned from SNAs,
        split when it keeps going unanswered)."""
        remaining = list(dict.fromkeys(epcs))
        values: dict[int, bytes] = {}
        unavailable: set[int] = set()
        last: Frame | None = None
        while remaining:
            batch = list(self._split.plan(tuple(remaining[: self._batch]))[0])
            try:
                answer = await self.request(
                    ESV.GET,
                    [Property(e) for e in batch],
                    deoj,
                    deadline=deadline,
                    priority=priority,
                )
            except RouteBTimeoutError:
                if not self._split.failed(tuple(batch)):
                    raise
                self.stats.split_batches += 1
                _LOG.info(
                    "a Get of %d properties keeps going unanswered: asking in halves", len(batch)
                )
                if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                    raise
                continue
            self._split.answered(tuple(batch))
            last = answer
            got = [p for p in answer.properties if p.pdc]
            if answer.esv is ESV.GET_RES:
                values.update((p.epc, p.edt) for p in answer.properties)
                del remaining[: len(batch)]
                continue
            self.stats.sna_answers += 1
            answered = [p.pdc > 0 for p in answer.properties]
            prefix = answered.index(False) if False in answered else len(answered)
            capped = 0 < prefix < len(batch) and not any(answered[prefix:])
            values.update((p.epc, p.edt) for p in got)
            if capped and self._batch > prefix:
                # Answered a prefix and refused the rest: maybe a cap (bridges often limit
                # properties per Get) or maybe the rest is unsupported. Retry the rest; if its
                # first EPC answers, the cap was real and is learned.
                rest = batch[prefix:]
                probe = await self.request(
                    ESV.GET, [Property(rest[0])], deoj, deadline=deadline, priority=priority
                )
                last = probe
                if probe.esv is ESV.GET_RES:
                    self._batch = prefix
                    self.stats.learned_batch = prefix
                    _LOG.info("the meter answers at most %d properties per Get", prefix)
                    values[rest[0]] = probe.properties[0].edt
                    del remaining[: len(batch)]
                    remaining[:0] = rest[1:]
                    continue
                unavailable.add(rest[0])
                del remaining[: len(batch)]
                remaining[:0] = rest[1:]
                continue
            unavailable.update(p.epc for p in answer.properties if not p.pdc)
            del remaining[: len(batch)]
        ordered = {e: values[e] for e in dict.fromkeys(epcs) if e in values}
        return GetResult(ordered, frozenset(unavailable), last)

    async def set(
        self, epc: int, edt: bytes, deoj: EOJ = METER, *, priority: Priority = Priority.LIVE
    ) -> bool:
        """SetC one property; True when accepted (Set_Res), False when refused (SetC_SNA)."""
        answer = await self.request(ESV.SETC, [Property(epc, edt)], deoj, priority=priority)
        if answer.esv is ESV.SETC_SNA:
            self.stats.sna_answers += 1
        return answer.esv is ESV.SET_RES

    async def set_then_get(
        self,
        set_epc: int,
        set_edt: bytes,
        get_epcs: Sequence[int],
        deoj: EOJ = METER,
        *,
        priority: Priority = Priority.LIVE,
    ) -> GetResult:
        """SetC a selector then Get what it selects, with no other pair in between (§C).

        A live Get may come between the two (it writes no selector); another pair may not.
        """
        async with self._atomic:
            if not await self.set(set_epc, set_edt, deoj, priority=priority):
                raise RequestError(f"the meter refused to set 0x{set_epc:02X}")
            return await self.get(get_epcs, deoj, priority=priority)

    async def inf_request(self, epc: int, deoj: EOJ = NODE_PROFILE) -> Frame:
        """INF_REQ one property; the answer is an INF (or INF_SNA) with the same TID."""
        return await self.request(ESV.INF_REQ, [Property(epc)], deoj)

    async def wait_instance_list(self, d5_wait: float = D5_WAIT) -> bool:
        """AIF 3.1.1: wait for the meter's D5 INF, else send INF_REQ D5; True if it answered."""
        try:
            await asyncio.wait_for(self.d5_seen.wait(), d5_wait)
        except TimeoutError:
            pass
        else:
            return True
        try:
            answer = await self.inf_request(0xD5)
        except RouteBTimeoutError:
            return False
        return answer.esv is ESV.INF
