"""Connected meters: a Wi-SUN session (or, later, a LAN node) with its client and reader.

``open_wisun`` connects (cache first), runs the client's receive loop, does the AIF start-up,
and on exit sends SKTERM so the meter frees the session. The result implements
:class:`~routeb.collector.daemon.MeterLink` for the collector and the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from routeb._redact import Secret
from routeb.driver.latch import AuthEvidence
from routeb.driver.session import BRouteSession, Opener, ScanProgress, SessionSettings
from routeb.driver.states import SessionState
from routeb.live import LinkSnapshot
from routeb.meter.client import ClientSettings, SmartMeterClient
from routeb.meter.reader import MeterReader
from routeb.radio.base import ModuleChoice
from routeb.transport.lan import LanTransport, open_lan, parse_udp_url
from routeb.transport.wisun import WiSunTransport

__all__ = [
    "Endpoint",
    "LanLink",
    "WiSunLink",
    "is_lan_device",
    "open_lan_link",
    "open_link",
    "open_wisun",
]


def is_lan_device(device: str | None) -> bool:
    """True for ``udp://ADDRESS``: a meter (or bridge) on the LAN, not a Wi-SUN module."""
    return device is not None and device.startswith("udp://")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """How to reach one meter: its device (or ``udp://``), credentials and settings.

    ``repr`` never shows the credentials (they are :class:`~routeb._redact.Secret`).
    """

    device: str
    rbid: Secret
    password: Secret
    dialect: ModuleChoice | None = None
    state_dir: Path | None = None
    session_settings: SessionSettings | None = None
    client_settings: ClientSettings | None = None
    # The meter's failed joins across its sessions (issue 16 §4: a latch needs a repeat).
    auth_evidence: AuthEvidence | None = None

    @property
    def lan(self) -> bool:
        """A meter on the LAN: no Wi-SUN session, no credentials."""
        return is_lan_device(self.device)


@dataclass(slots=True)
class WiSunLink:
    """Session + client + reader of one meter behind a Wi-SUN module."""

    session: BRouteSession
    client: SmartMeterClient
    reader: MeterReader
    _history_seen: int = field(default=0)

    def link_snapshot(self) -> LinkSnapshot:
        """The session's and client's counters now."""
        stats = self.session.stats
        client = self.client.stats
        lqi = stats.last_lqi
        rssi = stats.last_rssi_dbm
        since = stats.connected_since
        return LinkSnapshot(
            state=self.session.state.value,
            lqi=lqi,
            rssi_dbm=None if rssi is None else round(rssi, 1),
            joins=stats.recovery.joins,
            scans=stats.recovery.scans,
            rejoins=dict(stats.rejoins),
            recovery_steps=dict(stats.recovery.steps),
            module_events=dict(stats.module_events),
            requests=client.requests,
            timeouts=client.timeouts,
            retransmissions=client.retransmissions,
            sna_answers=client.sna_answers,
            malformed=client.malformed,
            notifications=client.notifications,
            connected_since=None if since is None else datetime.fromtimestamp(since, UTC),
        )

    def session_events(self) -> list[tuple[datetime, str, str]]:
        """Session history entries not returned before."""
        new = [e for e in self.session.stats.history if e.seq > self._history_seen]
        if new:
            self._history_seen = new[-1].seq
        return [(datetime.fromtimestamp(e.at, UTC), e.kind, e.detail) for e in new]


@contextlib.asynccontextmanager
async def open_wisun(
    device: str,
    rbid: Secret,
    password: Secret,
    *,
    dialect: ModuleChoice | None = None,
    state_dir: Path | None = None,
    session_settings: SessionSettings | None = None,
    client_settings: ClientSettings | None = None,
    on_scan_progress: Callable[[ScanProgress], None] | None = None,
    on_state: Callable[[SessionState], None] | None = None,
    retry_auth: bool = False,
    start_reader: bool = True,
    opener: Opener | None = None,
    evidence: AuthEvidence | None = None,
) -> AsyncIterator[WiSunLink]:
    """Connect and yield a ready link; SKTERM and close on exit."""
    clients: list[SmartMeterClient] = []

    def state_changed(state: SessionState) -> None:
        # The session's contract: on_state(READY) on every entry into ready (join, rejoin,
        # re-authentication). Then the client resends what is outstanding at once (issue 16 §4).
        if on_state is not None:
            on_state(state)
        if state is SessionState.READY:
            for client in clients:
                client.link_restored()

    session = BRouteSession(
        device,
        rbid,
        password,
        dialect=dialect,
        state_dir=state_dir,
        settings=session_settings,
        on_scan_progress=on_scan_progress,
        on_state=state_changed,
        opener=opener,
        evidence=evidence,
    )
    if retry_auth:
        session.clear_latch()
    await session.connect()
    client = SmartMeterClient(WiSunTransport(session), client_settings)
    clients.append(client)
    receiver = asyncio.get_running_loop().create_task(client.run(), name="routeb-client")
    try:
        reader = MeterReader(client)
        if start_reader:
            await reader.start()
        yield WiSunLink(session, client, reader)
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        await session.close()


@dataclass(slots=True)
class LanLink:
    """A meter reached over ECHONET Lite/IP (a bridge such as the SA-M0, or routeb bridge)."""

    transport: LanTransport
    client: SmartMeterClient
    reader: MeterReader

    def link_snapshot(self) -> LinkSnapshot:
        client = self.client.stats
        return LinkSnapshot(
            state="ready",
            requests=client.requests,
            timeouts=client.timeouts,
            retransmissions=client.retransmissions,
            sna_answers=client.sna_answers,
            malformed=client.malformed,
            notifications=client.notifications,
        )

    def session_events(self) -> list[tuple[datetime, str, str]]:
        return []


@contextlib.asynccontextmanager
async def open_lan_link(
    url: str,
    *,
    client_settings: ClientSettings | None = None,
    bind: str = "",
    start_reader: bool = True,
) -> AsyncIterator[LanLink]:
    """A meter at ``udp://ADDRESS[:PORT]``: the same client and reader as over Wi-SUN."""
    address, port = parse_udp_url(url)
    transport = await open_lan(address, port=port, bind=bind)
    client = SmartMeterClient(transport, client_settings)
    receiver = asyncio.get_running_loop().create_task(client.run(), name="routeb-lan-client")
    try:
        reader = MeterReader(client)
        if start_reader:
            await reader.start(d5_wait=0.5)
        yield LanLink(transport, client, reader)
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        transport.endpoint.close()


def open_link(
    endpoint: Endpoint,
    *,
    retry_auth: bool = False,
    on_scan_progress: Callable[[ScanProgress], None] | None = None,
    on_state: Callable[[SessionState], None] | None = None,
    start_reader: bool = True,
) -> AbstractAsyncContextManager[WiSunLink | LanLink]:
    """The one connector: a Wi-SUN session or a LAN node, by the endpoint's device."""
    if endpoint.lan:
        return open_lan_link(
            endpoint.device, client_settings=endpoint.client_settings, start_reader=start_reader
        )
    return open_wisun(
        endpoint.device,
        endpoint.rbid,
        endpoint.password,
        dialect=endpoint.dialect,
        state_dir=endpoint.state_dir,
        session_settings=endpoint.session_settings,
        client_settings=endpoint.client_settings,
        on_scan_progress=on_scan_progress,
        on_state=on_state,
        retry_auth=retry_auth,
        start_reader=start_reader,
        evidence=endpoint.auth_evidence,
    )
