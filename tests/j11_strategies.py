"""Hypothesis strategies for every J11 message (both directions), shared by the round-trip and
fuzz tests."""

from __future__ import annotations

import dataclasses
import ipaddress

from hypothesis import strategies as st

from routeb._redact import Secret
from routeb.j11 import Command, Rejected, Result, UnknownFrame
from routeb.j11 import notifications as n
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.codes import (
    CHANNELS,
    MAX_UDP_DATA,
    GlobalState,
    LinkState,
    OperationMode,
    PanaOutcome,
    PeerRole,
    RouteState,
    RxFailure,
    TxPower,
)
from routeb.j11.frame import Origin
from routeb.j11.notifications import NOTIFICATIONS
from routeb.j11.requests import REQUESTS
from routeb.j11.responses import RESPONSES

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
s8 = st.integers(-128, 127)
ports = st.integers(1, 0xFFFF)
macs = st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper())
addresses = st.binary(min_size=16, max_size=16).map(ipaddress.IPv6Address)
udp_data = st.binary(min_size=1, max_size=MAX_UDP_DATA)
masks = st.integers(0, 0x3FFFF).map(lambda m: m & 0x0003FFF0)
HEX = "0123456789ABCDEF"
ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
rbids = st.text(HEX, min_size=32, max_size=32).map(Secret)
passwords = st.text(ALNUM, min_size=12, max_size=12).map(Secret)


def _known(enum: type[OperationMode] | type[TxPower]) -> st.SearchStrategy[int]:
    return st.sampled_from([m for m in enum if m is not OperationMode.UNDECIDED])


def _tolerant(enum: type) -> st.SearchStrategy:  # type: ignore[type-arg]
    return u8.map(enum)


BARE_REQUESTS = [cls for cls in REQUESTS.values() if not dataclasses.fields(cls)]

requests = st.one_of(
    st.sampled_from(BARE_REQUESTS).map(lambda cls: cls()),
    st.builds(
        q.InitialSettings,
        st.sampled_from(list(CHANNELS)),
        _known(OperationMode),
        st.booleans(),
        _known(TxPower),
    ),
    st.builds(q.OpenPort, ports),
    st.builds(q.ClosePort, ports),
    st.builds(q.SendData, addresses, u16, u16, udp_data),
    st.builds(q.SetNeighbourDiscovery, st.booleans()),
    st.builds(q.SetFlowControl, st.booleans()),
    st.builds(q.ActiveScan, st.integers(1, 14), masks, st.binary(min_size=8, max_size=8)),
    st.builds(q.ActiveScan, st.integers(1, 14), masks, st.none(), st.sampled_from([b"", bytes(8)])),
    st.builds(q.EdScan, masks),
    st.builds(q.Ping, addresses, st.integers(0, 64), st.sampled_from([1, 2])),
    st.integers(0, 64).flatmap(
        lambda size: st.builds(
            q.Ping, addresses, st.just(size), st.just(0), st.binary(min_size=size, max_size=size)
        )
    ),
    st.builds(q.SetCredentials, rbids, passwords),
)

peers = st.builds(r.ConnectedPeer, macs, u16, u8, _tolerant(PeerRole), u8)
RESULT_ONLY = [cls for cls in RESPONSES.values() if not dataclasses.fields(cls)]
responses = st.one_of(
    st.sampled_from(RESULT_ONLY).map(lambda cls: cls()),
    st.builds(r.Version, u16, u8, u8, st.integers(0, 0xFFFFFFFF)),
    st.builds(r.Status, _tolerant(GlobalState), _tolerant(RouteState), _tolerant(RouteState)),
    st.builds(r.MacAddress, macs),
    st.builds(r.IpAddress, addresses),
    st.builds(r.CurrentSettings, _tolerant(OperationMode), u8, u8, _tolerant(TxPower)),
    st.just(r.ConnectionStatus(False)),
    st.builds(r.ConnectionStatus, st.just(True), st.lists(peers, max_size=17).map(tuple)),
    st.builds(
        r.TerminalInfo,
        u8,
        st.lists(st.builds(r.Terminal, addresses, _tolerant(PeerRole), u8), max_size=8).map(tuple),
    ),
    st.builds(r.OpenPorts, st.lists(u16, max_size=10).map(tuple)),
    st.builds(r.DataSent, u8, st.binary(max_size=5)),
    st.builds(r.NeighbourDiscoverySetting, st.booleans()),
    st.builds(r.FlowControlSetting, st.booleans()),
    st.builds(r.EdScanResult, st.lists(st.builds(r.EdLevel, u8, u8), max_size=14).map(tuple)),
    st.builds(r.BRouteStarted, u8, u16, macs, s8),
    st.builds(r.PanId, u16),
    st.builds(r.EncryptionKey, st.binary(min_size=16, max_size=16)),
    st.builds(
        Rejected,
        st.sampled_from(sorted(RESPONSES)),
        u8.filter(lambda v: v != 1).map(Result),
        st.binary(max_size=8),
    ),
    st.builds(
        Rejected,
        st.sampled_from([Command.HEADER_CHECKSUM_ERROR, Command.INVALID_COMMAND]),
        u8.map(Result),
        st.binary(max_size=4),
    ),
)

beacons = st.builds(n.Beacon, macs, u16, s8)
notifications = st.one_of(
    st.just(n.StartupComplete()),
    st.builds(n.DataReceived, addresses, u16, u16, u16, u8, u8, s8, udp_data),
    st.builds(n.ConnectionChanged, _tolerant(LinkState), macs, s8),
    st.builds(n.PanaResult, _tolerant(PanaOutcome), macs),
    st.builds(
        n.ReceptionFailed,
        _tolerant(RxFailure),
        addresses,
        u8,
        st.booleans(),
        u16,
        st.binary(max_size=5),
    ),
    st.builds(n.PingResult, st.booleans(), addresses, u8, s8, st.binary(max_size=64)),
    st.builds(n.ScanResult, u8, st.lists(beacons, max_size=20).map(tuple)),
)

_unknown_request_codes = u16.filter(lambda c: c not in REQUESTS)
_unknown_module_codes = u16.filter(
    lambda c: c not in NOTIFICATIONS and c & 0xF000 != 0x2000 and c != 0xFFFF
)
unknown = st.one_of(
    st.builds(UnknownFrame, st.just(Origin.HOST), _unknown_request_codes, st.binary(max_size=40)),
    st.builds(UnknownFrame, st.just(Origin.MODULE), _unknown_module_codes, st.binary(max_size=40)),
)
host_messages = st.one_of(requests, unknown.filter(lambda m: m.origin is Origin.HOST))
module_messages = st.one_of(
    responses, notifications, unknown.filter(lambda m: m.origin is Origin.MODULE)
)
messages = st.one_of(requests, responses, notifications, unknown)

__all__ = [
    "host_messages",
    "messages",
    "module_messages",
    "notifications",
    "requests",
    "responses",
]
