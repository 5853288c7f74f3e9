"""The J11 face of the emulated module: ROHM's binary UART protocol over the shared radio model.

What a BP35C0-J11 / RS-WSUHA-J11 does on its UART (j11.md §16 checklist): frames parsed with
unique-code resync by :class:`routeb.j11.MessageReader`; a bad header sum answered 0x2FFF, a bad
data sum 0xF1, a frame cut short 0x13 after 1 s, a wrong length 0xF2 / 0xF3, an unknown code
0xFFFF; one request at a time (0x3D while one is running); the state table of j11.md §3 with its
error results; 0x6019 at start and after 0x00D9, which also drops every setting. The radio part
— scan timing (9.64 ms × 2^d per channel, channels 4–17), B-route start, PANA with its three
outcomes, lifetime, transmit budget (send result nibble 0x2), the meter's answers and every
fault — is :class:`~routeb.emulator.radio.RadioModel`, the same as under the SKSTACK face.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from enum import Enum
from typing import Final

from routeb._redact import Secret
from routeb.emulator.face import ModuleFace
from routeb.emulator.radio import (
    ChannelScanned,
    EndedByMeter,
    Joined,
    JoinFailed,
    JoinOutcome,
    LifetimeExpired,
    LinkLost,
    MeterSite,
    ModuleFaults,
    PanaMessage,
    RadioEvent,
    RadioModel,
    Reauthenticated,
    Received,
    ReceptionFailure,
    ScanFinished,
    SendOutcome,
    TxLimited,
    TxReleased,
)
from routeb.errors import J11DecodeError, J11FrameError
from routeb.j11 import (
    Command,
    FrameFault,
    MessageReader,
    Origin,
    Rejected,
    Result,
    UnknownFrame,
    encode,
    link_local,
    mac_of,
)
from routeb.j11 import notifications as n
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.codes import (
    ECHONET_PORT,
    MAX_OPEN_PORTS,
    PAIRING_ID_SIZE,
    RESERVED_PORTS,
    GlobalState,
    LinkState,
    OperationMode,
    PanaOutcome,
    PeerRole,
    RouteState,
    RxFailure,
    TxPower,
    channel_from_skstack,
    channel_to_skstack,
    is_request_code,
    scan_dwell,
)
from routeb.j11.frame import DATA_TIMEOUT
from routeb.j11.messages import Message

__all__ = ["J11_VERSION", "STATE_TABLE", "J11Module", "Phase"]

# j11.md §12.2 (TOSA's 0x206B vector): firmware 0x0400, version 1.3, revision 0x158A.
J11_VERSION: Final = r.Version(0x0400, 1, 3, 0x158A)
# j11.md §1: after a reset the module announces itself with 0x6019; the boot time itself is
# not documented (hosts wait 2 s after a pin reset, M5BP35C): 0.3 s (?).
BOOT_SECONDS: Final = 0.3
# j11.md §4.2: 0x0053 waits 2.5 s for the beacon (J11IF 表35: 2.6 s to the 0x0E answer); a
# beacon that is there answers at once (?: 0.2 s).
BEACON_WAIT: Final = 2.6
ASSOCIATE_SECONDS: Final = 0.2
# j11.md §9.1 (J11IF 表35 F3): PANA start with nobody answering → 0x6028 0x03 after 491.9 s.
PANA_GIVE_UP: Final = 491.9
# j11.md §4.1 0x00DB: ≈ 320 ms per channel; 0x00D1: a ping's notification after ≈ 10.4 s.
ED_SCAN_PER_CHANNEL: Final = 0.32
PING_SECONDS: Final = 10.4
# j11.md §5 0x6018: security byte 0x02 = encrypted, and the multicast destination type.
_PEER_BROUTE: Final = 0x01  # 0x2011 peer kind: B-route
_PEER_CONNECTED: Final = 0x01  # 0x2011 state 運用
_PEER_AUTHENTICATED: Final = 0x02  # 0x2011 state 認証
_NOISE_ED: Final = 0x00


class Phase(Enum):
    """The four columns of the state table (j11.md §3, Dual mode)."""

    BOOTED = "global 未起動"
    STARTED = "起動"
    CONNECTED = "運用"
    AUTHENTICATED = "認証"


_ALL: Final = frozenset(Phase)
_NOT_BOOTED: Final = frozenset({Phase.STARTED, Phase.CONNECTED, Phase.AUTHENTICATED})
_LINKED: Final = frozenset({Phase.CONNECTED, Phase.AUTHENTICATED})
# j11.md §3 (J11IF 表18/19): where each request is allowed ("〇").
STATE_TABLE: Final[dict[int, frozenset[Phase]]] = {
    **dict.fromkeys(
        (
            Command.GET_STATUS,
            Command.GET_IP_ADDRESS,
            Command.GET_MAC_ADDRESS,
            Command.GET_CONNECTION_STATUS,
            Command.GET_TERMINAL_INFO,
            Command.GET_NEIGHBOUR_DISCOVERY,
            Command.GET_INITIAL_SETTINGS,
            Command.GET_FLOW_CONTROL,
            Command.GET_VERSION,
            Command.HARDWARE_RESET,
        ),
        _ALL,
    ),
    **dict.fromkeys(
        (Command.INITIAL_SETTINGS, Command.SET_NEIGHBOUR_DISCOVERY, Command.SET_FLOW_CONTROL),
        frozenset({Phase.BOOTED, Phase.STARTED}),
    ),
    Command.ACTIVE_SCAN: _NOT_BOOTED,
    Command.ED_SCAN: _NOT_BOOTED,
    **dict.fromkeys(
        (
            Command.OPEN_PORT,
            Command.CLOSE_PORT,
            Command.GET_OPEN_PORTS,
            Command.SEND_DATA,
            Command.PING,
            Command.GET_PAN_ID,
        ),
        _LINKED,
    ),
    Command.SET_CREDENTIALS: frozenset({Phase.STARTED, Phase.CONNECTED}),
    Command.START_BROUTE: frozenset({Phase.STARTED}),
    Command.START_PANA: frozenset({Phase.CONNECTED}),
    Command.END_BROUTE: frozenset({Phase.CONNECTED}),
    Command.END_PANA: frozenset({Phase.AUTHENTICATED}),
    Command.REAUTHENTICATE: frozenset({Phase.AUTHENTICATED}),
    Command.GET_ENCRYPTION_KEY: frozenset({Phase.AUTHENTICATED}),
}
# j11.md §3 / §6: the result a request gets in a state where it is not allowed.
_REFUSAL: Final[dict[Phase, Result]] = {
    Phase.BOOTED: Result.GLOBAL_NOT_STARTED,  # 0x37: send 0x005F first
    Phase.STARTED: Result.NOT_STARTED,  # 0x10: B-route 未起動
    Phase.CONNECTED: Result.BROUTE_ACTIVE,  # 0x34
    Phase.AUTHENTICATED: Result.BROUTE_AUTHENTICATED,  # 0x35
}
# j11.md §2.4 / §6: what a framing fault is answered with.
_FRAME_RESULTS: Final[dict[str, Result]] = {
    FrameFault.DATA_CHECKSUM: Result.DATA_CHECKSUM,
    FrameFault.UNDERSIZE: Result.LENGTH_TOO_SHORT,
    FrameFault.OVERSIZE: Result.LENGTH_TOO_LONG,
    FrameFault.TRUNCATED: Result.DATA_TIMEOUT,
}
_BROUTE_COMMANDS: Final = frozenset(
    {
        Command.SET_CREDENTIALS,
        Command.START_BROUTE,
        Command.START_PANA,
        Command.END_PANA,
        Command.END_BROUTE,
        Command.REAUTHENTICATE,
    }
)


class J11Module(ModuleFace):
    """One J11 module; ``feed`` host bytes in, ``write`` (given) gets the module's bytes."""

    def __init__(
        self,
        *,
        sites: list[MeterSite],
        write: Callable[[bytes], None],
        module_mac: str = "001D129012345678",
        time_scale: float = 1.0,
        faults: ModuleFaults | None = None,
        seed: int | None = None,
        log: Callable[[str, str], None] | None = None,
    ) -> None:
        self.sites = sites
        self._write = write
        self.mac = module_mac
        self.address = link_local(module_mac)
        self.scale = time_scale
        self._rng = random.Random(seed)
        self._log = log
        self.stats: dict[str, int] = {}
        self.air = RadioModel(
            sites,
            self._on_radio,
            time_scale=time_scale,
            faults=faults,
            rng=self._rng,
            stats=self.stats,
        )
        self._closed = False
        self._booting = True
        self._expiry: asyncio.TimerHandle | None = None
        self._defaults()

    def _defaults(self) -> None:
        """j11.md §1, §7.1: every setting back to its initial value (power-on or reset)."""
        self._reader = MessageReader(Origin.HOST)
        self._phase = Phase.BOOTED
        self._mode = OperationMode.UNDECIDED
        self._channel = 0xFF
        self._tx_power = TxPower.MW20
        self._han_sleep = 0
        self._neighbour_discovery = False
        self._flow_control = False
        self._rbid: Secret | None = None
        self._password: Secret | None = None
        self._ports: set[int] = set()
        self._busy = False  # a request is running (single-tasking, §2.4)
        self._pana_running = False
        self._pinging = False
        self._site: MeterSite | None = None  # the meter of the B-route (after 0x0053)
        self._key = b""

    # --- plumbing ------------------------------------------------------------------------------

    def start(self) -> None:
        """Boot (0x6019 after BOOT_SECONDS) and start the background faults."""
        self.air.later(BOOT_SECONDS, self._booted)
        super().start()

    def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        super().close()

    def _send(self, message: Message) -> None:
        if self._closed:
            return
        if self._log is not None:
            self._log("<", repr(message))
        data = encode(message)
        garble = self.faults.garble
        if garble and self._rng.random() < garble:
            corrupted = bytearray(data)
            corrupted[self._rng.randrange(len(corrupted))] ^= 1 << self._rng.randrange(8)
            data = bytes(corrupted)
            self.air.count("garbled")
        self._write(data)

    def _respond(self, message: Message) -> None:
        """The response that ends the running request."""
        self._busy = False
        self._send(message)

    def _reset(self) -> None:
        """Hardware reset (0x00D9, the reset fault): settings gone, 0x6019 after the boot."""
        self.air.reset()
        self._defaults()
        self._booting = True
        self.air.later(BOOT_SECONDS, self._booted)

    def _booted(self) -> None:
        self._booting = False
        self._send(n.StartupComplete())

    # --- input ---------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Bytes from the host."""
        if self._booting:
            return  # nobody listens on the UART while the module boots
        self._handle(self._reader.feed(data))
        self._arm_expiry()

    def _arm_expiry(self) -> None:
        # §2.4: a frame cut short is given up 1 s after its last byte (result 0x13).
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._reader.pending and not self._closed:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(DATA_TIMEOUT, self._expire)  # a UART timer: real time

    def _expire(self) -> None:
        self._expiry = None
        self._handle(self._reader.expire())
        self._arm_expiry()

    def _handle(self, items: list[Message | J11FrameError | J11DecodeError]) -> None:
        for item in items:
            if self._log is not None:
                self._log(">", repr(item))
            match item:
                case J11FrameError(kind=FrameFault.UNIQUE_CODE):
                    pass  # §2.10.6: no answer at all
                case J11FrameError(kind=FrameFault.HEADER_CHECKSUM):
                    self._send(Rejected(Command.HEADER_CHECKSUM_ERROR, Result.HEADER_CHECKSUM))
                case J11FrameError(kind=kind, command=command):
                    result = _FRAME_RESULTS.get(kind, Result.DATA_TIMEOUT)
                    self._send(self._reject(command, result))
                case J11DecodeError(command=command, result=result):
                    self._send(self._reject(command, Result(result)))
                case UnknownFrame(code=code):
                    self._send(self._reject(code, Result.INVALID_COMMAND))
                case _:
                    self._request(item)  # type: ignore[arg-type]

    @staticmethod
    def _reject(command: int | None, result: Result) -> Rejected:
        # §2.2: 0xFFFF answers a code that is no request; 0x2FFF one that cannot be known.
        if command is None:
            return Rejected(Command.HEADER_CHECKSUM_ERROR, result)
        if not is_request_code(command):
            return Rejected(Command.INVALID_COMMAND, Result.INVALID_COMMAND)
        return Rejected.to(command, result)

    def _request(self, request: q.Request) -> None:
        code = request.code
        self.air.count(f"0x{code:04X}")
        if isinstance(request, q.HardwareReset):
            self._reset()  # §4.1: accepted even while another command runs; no response
            return
        if self._busy:
            self._send(Rejected.to(code, Result.BUSY))  # §2.4 single-tasking
            return
        allowed = STATE_TABLE.get(code, _ALL)
        if self._phase not in allowed:
            self._send(Rejected.to(code, _REFUSAL[self._phase]))
            return
        if code in _BROUTE_COMMANDS and self._mode is not OperationMode.DUAL:
            self._send(Rejected.to(code, Result.WRONG_MODE))  # the B-route needs Dual mode
            return
        self._busy = True
        self._dispatch(request)

    def _dispatch(self, request: q.Request) -> None:
        match request:
            case q.GetVersion():
                self._respond(J11_VERSION)
            case q.GetStatus():
                self._respond(self._status())
            case q.GetMacAddress():
                self._respond(r.MacAddress(self.mac))
            case q.GetIpAddress():
                self._respond(r.IpAddress(self.address))
            case q.GetInitialSettings():
                self._respond(
                    r.CurrentSettings(self._mode, self._han_sleep, self._channel, self._tx_power)
                )
            case q.GetConnectionStatus():
                self._respond(self._connection_status())
            case q.GetTerminalInfo():
                self._respond(self._terminal_info())
            case q.GetOpenPorts():
                self._respond(r.OpenPorts(tuple(sorted(self._ports))))
            case q.GetNeighbourDiscovery():
                self._respond(r.NeighbourDiscoverySetting(self._neighbour_discovery))
            case q.GetFlowControl():
                self._respond(r.FlowControlSetting(self._flow_control))
            case q.InitialSettings():
                self._mode, self._channel = request.mode, request.channel
                self._han_sleep, self._tx_power = int(request.han_sleep), request.tx_power
                self._phase = Phase.STARTED
                self._respond(r.InitialSettingsDone())
            case q.SetNeighbourDiscovery(enabled=enabled):
                self._neighbour_discovery = enabled
                self._respond(r.NeighbourDiscoverySet())
            case q.SetFlowControl(enabled=enabled):
                self._flow_control = enabled
                self._respond(r.FlowControlSet())
            case q.OpenPort(port=port):
                self._respond(self._open(port))
            case q.ClosePort(port=port):
                self._respond(self._close(port))
            case q.SendData():
                self._send_data(request)
            case q.ActiveScan():
                self._scan(request)
            case q.EdScan():
                self._ed_scan(request)
            case q.Ping():
                self._ping(request)
            case q.SetCredentials():
                self._rbid, self._password = request.rbid, request.stored_password
                self._respond(r.CredentialsSet())
            case q.StartBRoute():
                self._start_broute()
            case q.StartPana():
                self._start_pana()
            case q.EndPana():
                self.air.terminate()
                self._phase = Phase.CONNECTED  # §5: no 0x601A for what the host did itself
                self._respond(r.PanaEnded())
            case q.EndBRoute():
                self._end_broute()
            case q.Reauthenticate():
                self.air.reauthenticate()
                self._respond(r.ReauthenticationStarted())
            case q.GetPanId():
                assert self._site is not None  # the state table guarantees it
                self._respond(r.PanId(self._site.pan_id))
            case q.GetEncryptionKey():
                self._respond(r.EncryptionKey(self._key))
            case _:
                self._respond(Rejected.to(request.code, Result.INVALID_COMMAND))

    # --- state answers -------------------------------------------------------------------------

    def _status(self) -> r.Status:
        broute = {
            Phase.CONNECTED: RouteState.CONNECTED,
            Phase.AUTHENTICATED: RouteState.AUTHENTICATED,
        }.get(self._phase, RouteState.NOT_STARTED)
        started = GlobalState.NOT_STARTED if self._phase is Phase.BOOTED else GlobalState.STARTED
        return r.Status(started, broute, RouteState.NOT_STARTED)

    def _connection_status(self) -> r.ConnectionStatus:
        site = self._site
        if site is None or self._phase not in _LINKED:
            return r.ConnectionStatus(False)
        state = _PEER_AUTHENTICATED if self._phase is Phase.AUTHENTICATED else _PEER_CONNECTED
        peer = r.ConnectedPeer(
            site.mac, site.pan_id, _PEER_BROUTE, PeerRole.BROUTE_PAN_COORDINATOR, state
        )
        return r.ConnectionStatus(True, (peer,))

    def _terminal_info(self) -> r.TerminalInfo:
        site = self._site
        if site is None or self._phase not in _LINKED:
            return r.TerminalInfo(self._mode)
        state = _PEER_AUTHENTICATED if self._phase is Phase.AUTHENTICATED else _PEER_CONNECTED
        terminal = r.Terminal(link_local(site.mac), PeerRole.BROUTE_PAN_COORDINATOR, state)
        return r.TerminalInfo(self._mode, (terminal,))

    def _open(self, port: int) -> r.PortOpened | Rejected:
        code = Command.OPEN_PORT
        if port in RESERVED_PORTS:
            return Rejected.to(code, Result.INVALID_PARAMETER)
        if port in self._ports:
            return Rejected.to(code, Result.PORT_ALREADY_OPEN)
        if len(self._ports) >= MAX_OPEN_PORTS:
            return Rejected.to(code, Result.TOO_MANY_PORTS)
        self._ports.add(port)
        return r.PortOpened()

    def _close(self, port: int) -> r.PortClosed | Rejected:
        if port in RESERVED_PORTS:
            return Rejected.to(Command.CLOSE_PORT, Result.INVALID_PARAMETER)
        if port not in self._ports:
            return Rejected.to(Command.CLOSE_PORT, Result.PORT_NOT_OPEN)
        self._ports.discard(port)
        return r.PortClosed()

    # --- scan and B-route ----------------------------------------------------------------------

    def _scan(self, scan: q.ActiveScan) -> None:
        channels = [ch for ch in range(32) if scan.channel_mask >> ch & 1]
        pairing = None
        if scan.pairing_id is not None and scan.pairing_id.isascii():
            pairing = scan.pairing_id.decode("ascii")
        self.air.scan(
            [channel_to_skstack(ch) for ch in channels], scan_dwell(scan.duration), pairing
        )

    def _ed_scan(self, scan: q.EdScan) -> None:
        channels = [ch for ch in range(32) if scan.channel_mask >> ch & 1]

        def done() -> None:
            levels = []
            for channel in channels:
                site = self.air.site_on(channel_to_skstack(channel))
                # §4.1 0x00DB: RSSI dBm = (275 × ED − 104270) / 1000, inverted.
                ed = (
                    max(0, min(0xFF, round((site.radio.rssi * 1000 + 104270) / 275)))
                    if site is not None
                    else _NOISE_ED
                )
                levels.append(r.EdLevel(channel, ed))
            self._respond(r.EdScanResult(tuple(levels)))

        self.air.later(ED_SCAN_PER_CHANNEL * len(channels), done)

    def _start_broute(self) -> None:
        # §4.2: an Enhanced Beacon Request with the B-route ID on the channel of 0x005F; the
        # meter answers when the ID is its own.
        pairing = self._rbid.reveal()[-PAIRING_ID_SIZE:] if self._rbid is not None else None
        site = self.air.site_with_pairing(channel_to_skstack(self._channel), pairing)
        if site is None:
            self.air.later(
                BEACON_WAIT,
                lambda: self._respond(
                    Rejected.to(Command.START_BROUTE, Result.MAC_CONNECTION_FAILED)
                ),
            )
            return

        def connected() -> None:
            self._site = site
            self._phase = Phase.CONNECTED
            j11_channel = channel_from_skstack(site.channel) or self._channel
            self._respond(r.BRouteStarted(j11_channel, site.pan_id, site.mac, site.radio.rssi))

        self.air.later(ASSOCIATE_SECONDS, connected)

    def _start_pana(self) -> None:
        if self._pana_running:
            self._respond(Rejected.to(Command.START_PANA, Result.PANA_RUNNING))
            return
        if self._rbid is None or self._password is None:
            self._respond(Rejected.to(Command.START_PANA, Result.PANA_NOT_CONFIGURED))
            return
        self._pana_running = True
        self._respond(r.PanaStarted())
        self.air.join(
            self._site,
            self._rbid.reveal(),
            self._password.reveal(),
            lifetime=self.faults.event29_every,
            give_up_after=PANA_GIVE_UP,
            pana_messages=False,  # §5: the module answers PANA itself and reports none of it
        )

    def _end_broute(self) -> None:
        self.air.abandon_session()
        self._pana_running = False
        self._site = None
        self._ports.clear()  # §4.2 0x0058: ports opened with 0x0005 are invalidated
        self._phase = Phase.STARTED
        self._respond(r.BRouteEnded())

    # --- data ----------------------------------------------------------------------------------

    def _send_data(self, send: q.SendData) -> None:
        site = self._site
        mac = mac_of(send.destination)
        if site is None or mac != site.mac:
            self._respond(Rejected.to(Command.SEND_DATA, Result.INVALID_DESTINATION))
            return
        result = self.air.send(
            mac, send.destination_port == ECHONET_PORT, send.data, str(self.address)
        )
        nibble = {
            SendOutcome.SENT: 0x00,
            SendOutcome.NOT_JOINED: 0x00,  # sent in the clear; the meter ignores it
            SendOutcome.TX_LIMITED: 0x02,  # j11.md §10: the only sign of the hourly cap
            SendOutcome.NO_ACK: 0x05,
            SendOutcome.REAUTHENTICATING: 0x08,  # "other reason" (?)
        }[result.outcome]
        head = send.data[: r.MAX_SENT_HEAD]
        self.air.later(result.done_after, lambda: self._respond(r.DataSent(nibble, head)))

    def _ping(self, ping: q.Ping) -> None:
        if self._pinging:
            self._respond(Rejected.to(Command.PING, Result.PING_PENDING))
            return
        self._pinging = True
        self._respond(r.PingAccepted())
        site = self._site
        replied = site is not None and mac_of(ping.destination) == site.mac

        def result() -> None:
            self._pinging = False
            rssi = site.radio.rssi if site is not None and replied else 0
            self._send(n.PingResult(replied, ping.destination, n.ENCRYPTED, rssi, ping.data))

        self.air.later(PING_SECONDS, result)

    # --- radio events --------------------------------------------------------------------------

    def _on_radio(self, event: RadioEvent) -> None:
        match event:
            case ChannelScanned(channel=channel, beacons=beacons):
                j11_channel = channel_from_skstack(channel)
                if j11_channel is not None:
                    found = tuple(n.Beacon(s.mac, s.pan_id, s.radio.rssi) for s in beacons)
                    self._send(n.ScanResult(j11_channel, found))
            case ScanFinished():
                self._respond(r.ScanDone())
            case PanaMessage():
                pass
            case Joined(site=site):
                self._pana_running = False
                self._phase = Phase.AUTHENTICATED
                self._key = self._rng.randbytes(16)
                self._send(n.PanaResult(PanaOutcome.SUCCESS, site.mac))
            case JoinFailed(site=site, outcome=outcome):
                self._pana_running = False
                mac = site.mac if site is not None else (self._site.mac if self._site else "0" * 16)
                result = (
                    PanaOutcome.REJECTED
                    if outcome is JoinOutcome.REJECTED
                    else PanaOutcome.NO_RESPONSE
                )
                self._send(n.PanaResult(result, mac))
            case LifetimeExpired():
                pass  # j11.md §11: no lifetime notification; sends fail until the re-auth
            case Reauthenticated(site=site):
                self._send(n.PanaResult(PanaOutcome.SUCCESS, site.mac))
            case EndedByMeter(site=site):
                self._phase = Phase.CONNECTED  # §5.17: PANA gone, the MAC link stays
                self._send(
                    n.ConnectionChanged(LinkState.PANA_DISCONNECTED, site.mac, site.radio.rssi)
                )
            case LinkLost(site=site):
                self._phase = Phase.STARTED
                self._site = None
                self._ports.clear()
                self._send(
                    n.ConnectionChanged(LinkState.MAC_DISCONNECTED, site.mac, site.radio.rssi)
                )
            case Received(site=site, data=data, multicast=multicast):
                if ECHONET_PORT in self._ports:  # a datagram to a closed port is dropped
                    self._send(
                        n.DataReceived(
                            link_local(site.mac),
                            ECHONET_PORT,
                            ECHONET_PORT,
                            site.pan_id,
                            n.MULTICAST if multicast else n.UNICAST,
                            n.ENCRYPTED,
                            site.radio.rssi,
                            data,
                        )
                    )
            case ReceptionFailure(site=site, head=head):
                self._send(
                    n.ReceptionFailed(RxFailure.DECRYPTION, link_local(site.mac), 0, False, 0, head)
                )
            case TxLimited() | TxReleased():
                pass  # j11.md §10: no notification; the send result says it
