"""The meter client: ECHONET Lite requests to a smart meter over any transport.

One request in flight per meter, a minimum gap between requests, responses matched on TID,
sender and EOJs, multi-property Gets with a batch size learned from partial Get_SNA answers,
AIF response timers, INF/INFC notifications (INFC answered with INFC_Res), and history pairs
(E5 → E2/E4, ED → EC, EF → EE) kept atomic. Facts: protocol.md §A.3, §B.1, §C.
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
from routeb.transport.base import Datagram, EchonetTransport, LinkHealth

__all__ = [
    "CONTROLLER",
    "METER",
    "NODE_PROFILE",
    "ClientSettings",
    "ClientStats",
    "GetResult",
    "Notification",
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
    """Pacing and timers; defaults follow the AIF and field practice (§C, §E)."""

    min_gap: float = DEFAULT_MIN_GAP
    timer1: float = AIF_TIMER1
    timer2: float = AIF_TIMER2
    retries: int = 2
    max_batch: int = AIF_MAX_OPC


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
    tid: int
    deoj: EOJ
    epcs: tuple[int, ...]
    destination: str
    future: asyncio.Future[Frame]


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
        self._lock = asyncio.Lock()  # one request in flight per meter
        self._atomic = asyncio.Lock()  # E5→E2/E4, ED→EC and EF→EE pairs are not interleaved
        self._pending: _Pending | None = None
        self._last_done = -1e9
        self._batch = self.settings.max_batch
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
            and frame.tid == pending.tid
            and frame.seoj == pending.deoj
            and frame.deoj.class_id == CONTROLLER.class_id
            and _same_address(datagram.source, pending.destination)
            and tuple(p.epc for p in (*frame.properties, *frame.get_properties)) == pending.epcs
            and not pending.future.done()
        ):
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
            and frame.tid == pending.tid
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

    async def request(
        self,
        esv: ESV,
        properties: Sequence[Property],
        deoj: EOJ = METER,
        get_properties: Sequence[Property] = (),
        *,
        response_wait: float | None = None,
    ) -> Frame:
        """Send one request and wait for its matching response, with retries."""
        loop = asyncio.get_running_loop()
        settings = self.settings
        count = len(properties) + len(get_properties)
        wait = (
            response_wait
            if response_wait is not None
            else (settings.timer1 if count == 1 else settings.timer2)
        )
        async with self._lock:
            gap = self._last_done + settings.min_gap - loop.time()
            if gap > 0:
                await asyncio.sleep(gap)
            tid = self._next_tid()
            frame = Frame(tid, CONTROLLER, deoj, esv, tuple(properties), tuple(get_properties))
            data = encode_frame(frame)
            destination = self.transport.meter_address
            future: asyncio.Future[Frame] = loop.create_future()
            self._pending = _Pending(
                tid,
                deoj,
                tuple(p.epc for p in (*properties, *get_properties)),
                destination,
                future,
            )
            self.stats.requests += 1
            try:
                for attempt in range(settings.retries + 1):
                    if attempt:
                        self.stats.retransmissions += 1
                        _LOG.debug("no answer to TID %04X; retransmitting", tid)
                    await self.transport.send(data)
                    try:
                        # The same TID on every attempt: a late answer to an earlier try counts.
                        answer = await asyncio.wait_for(asyncio.shield(future), wait)
                    except TimeoutError:
                        if self._health is not None:
                            self._health.request_unanswered()
                        continue
                    if self._health is not None:
                        self._health.request_answered()
                    return answer
                self.stats.timeouts += 1
                raise RouteBTimeoutError(
                    f"the meter did not answer {esv.name} TID {tid:04X} "
                    f"({settings.retries + 1} tries, {wait:g} s each)"
                )
            finally:
                self._pending = None
                self._last_done = loop.time()

    async def get(self, epcs: Iterable[int], deoj: EOJ = METER) -> GetResult:
        """Get properties, in as few requests as the meter allows (batch learned from SNAs)."""
        remaining = list(dict.fromkeys(epcs))
        values: dict[int, bytes] = {}
        unavailable: set[int] = set()
        last: Frame | None = None
        while remaining:
            batch = remaining[: self._batch]
            answer = await self.request(ESV.GET, [Property(e) for e in batch], deoj)
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
                probe = await self.request(ESV.GET, [Property(rest[0])], deoj)
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

    async def set(self, epc: int, edt: bytes, deoj: EOJ = METER) -> bool:
        """SetC one property; True when accepted (Set_Res), False when refused (SetC_SNA)."""
        answer = await self.request(ESV.SETC, [Property(epc, edt)], deoj)
        if answer.esv is ESV.SETC_SNA:
            self.stats.sna_answers += 1
        return answer.esv is ESV.SET_RES

    async def set_then_get(
        self, set_epc: int, set_edt: bytes, get_epcs: Sequence[int], deoj: EOJ = METER
    ) -> GetResult:
        """SetC a selector then Get what it selects, with no other pair in between (§C)."""
        async with self._atomic:
            if not await self.set(set_epc, set_edt, deoj):
                raise RequestError(f"the meter refused to set 0x{set_epc:02X}")
            return await self.get(get_epcs, deoj)

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
