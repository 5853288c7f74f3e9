"""ROHM J11 binary modules behind the radio interface (j11.md; BP35C0/C1/C2-J11, RS-WSUHA-J11).

Bring-up (j11.md §8.1): hardware reset 0x00D9 → start-up notification 0x6019 → version 0x006B
and MAC 0x000E → initial settings 0x005F (Dual mode, a provisional channel, 20 mW) →
credentials 0x0054. Scan: 0x0051 with the pairing ID, one 0x4051 per channel, then 0x2051.
Join (§8.1–§8.2): 0x005F with the meter's channel → B-route start 0x0053 → UDP 3610 open
0x0005 → PANA start 0x0056 → 0x6028, whose result tells a rejection (0x02) from no response
(0x03). Send: 0x0008, whose send result says sent / no ACK / transmit budget (§4.1, §10).
Unsolicited 0x601A, 0x6028, 0x6038 and 0x6019 become link events (§5, §8.3, §11).

The module is single-tasking (§2.4): one request in flight; 0x3D (busy) is retried. Frames are
logged at DEBUG as their dataclasses, whose reprs hide the credentials and payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Callable
from typing import Final

from routeb._redact import Secret, redact_identifiers
from routeb.errors import (
    DeviceDisconnectedError,
    J11DecodeError,
    J11FrameError,
    J11RefusedError,
    RouteBTimeoutError,
)
from routeb.j11 import Message, MessageReader, Origin, encode, link_local
from routeb.j11 import notifications as n
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.codes import (
    ALL_CHANNELS,
    ECHONET_PORT,
    PAIRING_ID_SIZE,
    LinkState,
    PanaOutcome,
    Result,
    RouteState,
    scan_dwell,
)
from routeb.j11.codes import SendOutcome as WireSendOutcome
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
from routeb.serialio.port import ByteStream

__all__ = ["J11Radio", "format_ipv6"]

_LOG = logging.getLogger(__name__)

# j11.md §9.1: every command not listed answers within 2 s; hosts should wait value + 1 s.
COMMAND_TIMEOUT: Final = 3.0
# §9.1: B-route start without a beacon answers after 2.6 s (+ 1 s).
START_BROUTE_TIMEOUT: Final = 3.6
# §9.2: hosts wait 10 s (ROHMARD) to 15 s (BJ11) for 0x6019 after a reset.
RESET_TIMEOUT: Final = 10.0
# §2.4: while a request or a notification is being processed the module answers 0x3D.
_BUSY_RETRIES: Final = 5
_BUSY_PAUSE: Final = 0.2
# A response lost on the UART (a bad checksum, §2.4) is a timeout: ask again, for requests that
# may be repeated; a data send is the session's to repeat, an active scan too long to.
_TIMEOUT_RETRIES: Final = 2
# §6 results that mean a repeated request already did its work.
_ALREADY_DONE: Final = {
    int(q.OpenPort.code): Result.PORT_ALREADY_OPEN,  # §4.1 0x0005: 0x0A
    int(q.StartPana.code): Result.PANA_RUNNING,  # §4.2 0x0056: 0x52 before 0x6028
}
# Asked again after a lost answer, the first request may have been carried out: §6 0x34
# (B-route already 運用) then means the lost 0x2053 was a success.
_DONE_IF_ASKED_AGAIN: Final = {int(q.StartBRoute.code): Result.BROUTE_ACTIVE}
_NOT_REPEATED: Final = frozenset({int(q.SendData.code), int(q.ActiveScan.code)})
# §2.4: a frame cut short is discarded after 1 s of silence.
_FRAME_EXPIRY: Final = 1.0
# §7.1: before the scan any channel will do; everyone uses 4.
PROVISIONAL_CHANNEL: Final = 0x04
# §4.3: all 14 channels (4..17).
_CHANNEL_COUNT: Final = bin(ALL_CHANNELS).count("1")
# §5 0x6018: destination type 0x01 = multicast (the start-up INF goes to FF02::1, PROTO §C).
_MULTICAST: Final = 0x01
_ALL_NODES: Final = "FF02:0000:0000:0000:0000:0000:0000:0001"
# §4.1 send result low nibble → what the session does (§10: stop on 0x2, resend on 0x5).
_SEND_OUTCOMES: Final = {
    WireSendOutcome.SENT: SendOutcome.SENT,
    WireSendOutcome.TX_LIMIT: SendOutcome.TX_BUDGET,
}
# §6: results that mean there is no session to send on.
_NO_SESSION: Final = frozenset({Result.NOT_STARTED, Result.INVALID_DESTINATION})


def format_ipv6(address: ipaddress.IPv6Address) -> str:
    """The SKSTACK spelling of an address (eight 4-digit upper-case groups, protocol.md §D.4)."""
    return ":".join(address.exploded.upper().split(":"))


class J11Radio(Radio):
    """A J11 module on ``stream``."""

    family = ModuleFamily.J11

    def __init__(self, stream: ByteStream, *, show_identifiers: bool = False) -> None:
        self._stream = stream
        self._reader = MessageReader(Origin.MODULE)
        self._show_identifiers = show_identifiers
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[Message] | None = None
        self._pending_code = 0
        self._startup: asyncio.Future[None] | None = None
        self._pana: asyncio.Future[PanaOutcome] | None = None
        self._scan_sink: Callable[[n.ScanResult], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost: BaseException | None = None
        self._on_event: EventSink | None = None
        self._on_datagram: DatagramSink | None = None
        self._credentials: tuple[Secret, Secret] | None = None
        self._needs_reset = False
        self.frame_errors = 0

    def __repr__(self) -> str:
        return f"<J11Radio firmware={self.version}>"

    @property
    def variant(self) -> str:
        return ModuleFamily.J11.value

    @property
    def lost(self) -> bool:
        return self._lost is not None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, on_event: EventSink, on_datagram: DatagramSink) -> None:
        self._on_event = on_event
        self._on_datagram = on_datagram
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._read_loop(), name="routeb-j11-reader"
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        await self._stream.close()
        self._fail(DeviceDisconnectedError("the module was closed"))

    def _emit(self, kind: LinkEventKind, native: str | None, detail: str) -> None:
        if self._on_event is not None:
            self._on_event(LinkEvent(kind, native, detail))

    def _log(self, direction: str, message: object) -> None:
        if _LOG.isEnabledFor(logging.DEBUG):
            text = repr(message)
            if self._credentials is not None:
                # The 0x0051 pairing ID is the end of the B-route ID (j11.md §4.3): never shown.
                rbid, password = (secret.reveal() for secret in self._credentials)
                for secret in (rbid, password, rbid[-PAIRING_ID_SIZE:]):
                    if secret:
                        text = text.replace(secret, "********")
            _LOG.debug(
                "%s %s", direction, text if self._show_identifiers else redact_identifiers(text)
            )

    async def _read_loop(self) -> None:
        try:
            while True:
                if self._reader.pending:
                    try:
                        async with asyncio.timeout(_FRAME_EXPIRY):
                            data = await self._stream.read()
                    except TimeoutError:
                        self._handle_all(self._reader.expire())
                        continue
                else:
                    data = await self._stream.read()
                if not data:
                    raise DeviceDisconnectedError("the module closed the connection")
                self._handle_all(self._reader.feed(data))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 — any failure of the stream ends the module
            lost = (
                exc
                if isinstance(exc, DeviceDisconnectedError)
                else DeviceDisconnectedError(f"the module stopped answering: {exc}")
            )
            self._fail(lost)
            self._emit(LinkEventKind.DEVICE_LOST, None, str(lost))

    def _fail(self, exc: BaseException) -> None:
        if self._lost is None:
            self._lost = exc
        for future in (self._pending, self._startup, self._pana):
            if future is not None and not future.done():
                future.set_exception(exc)

    def _handle_all(self, items: list[Message | J11FrameError | J11DecodeError]) -> None:
        for item in items:
            if isinstance(item, J11FrameError | J11DecodeError):
                self.frame_errors += 1
                _LOG.debug("< bad J11 frame: %s", item)
                continue
            self._log("<", item)
            self._handle(item)

    def _handle(self, message: Message) -> None:
        match message:
            case n.ScanResult():
                if self._scan_sink is not None:
                    self._scan_sink(message)
            case n.StartupComplete():
                if self._startup is not None and not self._startup.done():
                    self._startup.set_result(None)
                else:
                    # j11.md §2.9: a reset nobody asked for forgets every setting.
                    self._needs_reset = True
                    self._emit(LinkEventKind.MODULE_RESET, "6019", "0x6019: the module reset")
            case n.PanaResult(outcome=outcome):
                if self._pana is not None and not self._pana.done():
                    self._pana.set_result(outcome)
                elif outcome == PanaOutcome.SUCCESS:
                    self._emit(LinkEventKind.REAUTHENTICATED, "6028", "0x6028 01: re-authenticated")
                else:
                    self._emit(
                        LinkEventKind.REAUTH_FAILED,
                        "6028",
                        f"0x6028 {int(outcome):02X}: re-authentication failed",
                    )
            case n.ConnectionChanged(state=state):
                # §5: 0x601A is not sent for changes the host caused: 04 = the meter ended PANA,
                # 03 = the MAC link is lost.
                if state == LinkState.PANA_DISCONNECTED:
                    self._emit(
                        LinkEventKind.SESSION_ENDED_BY_METER,
                        "601A",
                        "0x601A 04: the meter ended it",
                    )
                elif state == LinkState.MAC_DISCONNECTED:
                    self._emit(LinkEventKind.SESSION_TERMINATED, "601A", "0x601A 03: link lost")
                else:
                    self._emit(LinkEventKind.OTHER, "601A", f"0x601A {int(state):02X}")
            case n.ReceptionFailed(reason=reason):
                self._emit(LinkEventKind.RECEPTION_FAILED, "6038", f"0x6038 {int(reason):02X}")
            case n.DataReceived():
                if message.destination_port == ECHONET_PORT and self._on_datagram is not None:
                    sender = format_ipv6(message.source)
                    destination = _ALL_NODES if message.destination_type == _MULTICAST else ""
                    self._on_datagram(
                        Received(message.data, sender, destination, float(message.rssi))
                    )
            case n.PingResult():
                pass
            case _:
                pending = self._pending
                code = getattr(message, "code", None)
                if (
                    pending is not None
                    and not pending.done()
                    and code is not None
                    and (code in (self._pending_code | 0x2000, 0x2FFF, 0xFFFF))
                ):
                    pending.set_result(message)
                else:
                    _LOG.debug("J11 frame with no request waiting: %r", message)

    # --- requests ----------------------------------------------------------------------------

    async def _request(self, request: q.Request, timeout: float = COMMAND_TIMEOUT) -> Message:
        """Send ``request``, wait for its response; a rejection raises J11RefusedError."""
        code = int(request.code)
        timeouts = 0 if code in _NOT_REPEATED else _TIMEOUT_RETRIES
        busy = 0
        asked_again = False
        while True:
            try:
                answer = await self._exchange(request, timeout)
            except RouteBTimeoutError:
                if timeouts == 0:
                    raise
                timeouts -= 1
                asked_again = True
                _LOG.debug("no answer to 0x%04X; asking again", code)
                continue
            if not isinstance(answer, r.Rejected):
                return answer
            if answer.result == Result.BUSY and busy < _BUSY_RETRIES:
                busy += 1
                await asyncio.sleep(_BUSY_PAUSE)
                continue
            if _ALREADY_DONE.get(code) == answer.result:
                return answer
            if asked_again and _DONE_IF_ASKED_AGAIN.get(code) == answer.result:
                _LOG.debug("0x%04X was carried out before; its answer was lost", code)
                return answer
            raise J11RefusedError(code, int(answer.result))

    async def _exchange(self, request: q.Request, timeout: float) -> Message:
        async with self._lock:
            if self._lost is not None:
                raise DeviceDisconnectedError("the module is not connected") from self._lost
            future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            self._pending, self._pending_code = future, int(request.code)
            self._log(">", request)
            try:
                self._stream.write(encode(request))
                async with asyncio.timeout(timeout):
                    return await future
            except TimeoutError:
                raise RouteBTimeoutError(
                    f"the J11 module did not answer 0x{int(request.code):04X} within {timeout:g} s"
                ) from None
            except OSError as exc:
                lost = DeviceDisconnectedError(f"writing to the module failed: {exc}")
                self._fail(lost)
                raise lost from exc
            finally:
                self._pending = None

    async def _hardware_reset(self) -> None:
        for attempt in range(_TIMEOUT_RETRIES, -1, -1):
            try:
                await self._reset_once()
                return
            except RouteBTimeoutError:
                if attempt == 0:
                    raise

    async def _reset_once(self) -> None:
        # §4.1 0x00D9: no response; the start-up notification 0x6019 says it is done.
        loop = asyncio.get_running_loop()
        self._startup = loop.create_future()
        try:
            async with self._lock:
                if self._lost is not None:
                    raise DeviceDisconnectedError("the module is not connected") from self._lost
                request = q.HardwareReset()
                self._log(">", request)
                self._stream.write(encode(request))
            try:
                async with asyncio.timeout(RESET_TIMEOUT):
                    await self._startup
            except TimeoutError:
                raise RouteBTimeoutError(
                    f"the J11 module did not report its start-up within {RESET_TIMEOUT:g} s"
                ) from None
        finally:
            self._startup = None
        self._needs_reset = False

    # --- bring-up ----------------------------------------------------------------------------

    async def configure(self, rbid: Secret, password: Secret) -> None:
        self._credentials = (rbid, password)
        await self._hardware_reset()  # §2.9: settings are volatile; start from a known state
        version = await self._request(q.GetVersion())
        if isinstance(version, r.Version):
            self.version = version.text
        mac = await self._request(q.GetMacAddress())
        if isinstance(mac, r.MacAddress):
            self.mac = mac.mac
        await self._settle(PROVISIONAL_CHANNEL)

    async def _settle(self, channel: int) -> None:
        # §8.1: 0x005F (Dual, sleep off, channel, 20 mW), then the credentials (§4.2 0x0054).
        await self._request(q.InitialSettings(channel))
        assert self._credentials is not None
        rbid, password = self._credentials
        await self._request(q.SetCredentials(rbid, password))

    def expected_scan_seconds(self, duration: int) -> float:
        return scan_dwell(duration) * _CHANNEL_COUNT

    async def scan(
        self,
        duration: int,
        pairing_id: str,
        timeout: float,
        on_beacon: Callable[[Beacon], None],
    ) -> list[Beacon]:
        found: list[Beacon] = []

        def heard(result: n.ScanResult) -> None:
            # §4.3: the meter answers only an EBR with its pairing ID: every beacon is ours.
            for entry in result.beacons:
                beacon = Beacon(
                    result.channel, entry.pan_id, entry.mac, float(entry.rssi), pairing_id
                )
                found.append(beacon)
                on_beacon(beacon)

        self._scan_sink = heard
        try:
            await self._request(
                q.ActiveScan(duration, ALL_CHANNELS, pairing_id.encode("ascii")), timeout=timeout
            )
        except RouteBTimeoutError:
            _LOG.warning("active scan did not finish within %.0f s", timeout)
            self._needs_reset = True  # the scan may still run: §2.4 would answer 0x3D
        finally:
            self._scan_sink = None
        return found

    async def resolve(self, beacon: Beacon) -> MeterAddress:
        # §7.5: the meter's address is FE80::/64 + its MAC with bit 0x02 of byte 0 inverted.
        return MeterAddress(
            beacon.channel, beacon.pan_id, beacon.mac, format_ipv6(link_local(beacon.mac))
        )

    async def _leave_broute(self) -> None:
        # §3: 0x005F only while B-route is 未起動: end PANA (認証) and the B-route (運用) first.
        status = await self._request(q.GetStatus())
        if not isinstance(status, r.Status):
            return
        if status.broute == RouteState.AUTHENTICATED:
            await self._request(q.EndPana())
        if status.broute in (RouteState.AUTHENTICATED, RouteState.CONNECTED):
            await self._request(q.EndBRoute())

    async def join(self, meter: MeterAddress, timeout: float) -> JoinResult:
        if self._needs_reset:
            # §9.1: an unfinished PANA sequence cannot be restarted (0x52): reset instead.
            await self._hardware_reset()
            await self._settle(meter.channel)
        else:
            await self._leave_broute()
            await self._settle(meter.channel)
        try:
            started = await self._request(q.StartBRoute(), timeout=START_BROUTE_TIMEOUT)
        except J11RefusedError as exc:
            if exc.result == Result.MAC_CONNECTION_FAILED:
                # §8.3: 0x0E — no beacon within 2.5 s (wrong channel, the meter busy).
                return JoinResult(JoinOutcome.NO_RESPONSE, 0, "0x2053 0E: no beacon")
            raise
        if isinstance(started, r.BRouteStarted) and started.mac != meter.mac:
            _LOG.info("B-route start reached another MAC than the cached one")
        with contextlib.suppress(J11RefusedError):  # 0x0A: already open (§4.1) is fine
            await self._request(q.OpenPort(ECHONET_PORT))
        loop = asyncio.get_running_loop()
        self._pana = loop.create_future()
        try:
            await self._request(q.StartPana())
            try:
                async with asyncio.timeout(timeout):
                    outcome = await self._pana
            except TimeoutError:
                # The 0x6028 may have been lost on the UART: the state says (§3, 0x2001).
                if await self._authenticated():
                    return JoinResult(JoinOutcome.JOINED, 0, "0x2001: authenticated")
                # §9.1: the module may still be retransmitting for minutes: reset before the
                # next attempt rather than meet 0x52.
                self._needs_reset = True
                return JoinResult(JoinOutcome.NO_RESPONSE, 0, f"no 0x6028 in {timeout:g} s")
        finally:
            self._pana = None
        if outcome == PanaOutcome.SUCCESS:
            return JoinResult(JoinOutcome.JOINED, 0, "0x6028 01")
        if outcome == PanaOutcome.REJECTED:
            return JoinResult(JoinOutcome.REJECTED, 0, "0x6028 02: rejected")
        return JoinResult(JoinOutcome.NO_RESPONSE, 0, f"0x6028 {int(outcome):02X}: no response")

    async def _authenticated(self) -> bool:
        try:
            status = await self._request(q.GetStatus())
        except (J11RefusedError, RouteBTimeoutError):
            return False
        return isinstance(status, r.Status) and status.broute == RouteState.AUTHENTICATED

    # --- running -----------------------------------------------------------------------------

    async def send(self, address: str, data: bytes, timeout: float) -> SendOutcome:
        request = q.SendData(ipaddress.IPv6Address(address), ECHONET_PORT, ECHONET_PORT, data)
        try:
            answer = await self._request(request, timeout=timeout)
        except J11RefusedError as exc:
            if exc.result in _NO_SESSION:
                return SendOutcome.NO_SESSION
            raise
        except RouteBTimeoutError:
            return SendOutcome.RETRY
        if not isinstance(answer, r.DataSent):
            return SendOutcome.RETRY
        # §4.1: the low nibble is the outcome (0 sent, 2 budget, 3 CCA, 5 no ACK, 8 other).
        return _SEND_OUTCOMES.get(WireSendOutcome(answer.send_result & 0x0F), SendOutcome.RETRY)

    async def reset(self) -> None:
        await self._hardware_reset()

    async def terminate(self) -> None:
        # §8.3: 0x0057 (PANA-Termination to the meter), then 0x0058.
        with contextlib.suppress(J11RefusedError):
            await self._request(q.EndPana())
        with contextlib.suppress(J11RefusedError):
            await self._request(q.EndBRoute())
