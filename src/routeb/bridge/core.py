"""The bridge: a B-route meter (over Wi-SUN) exposed on the LAN as an ECHONET Lite node.

Each LAN request takes one of two paths:

* fast: everything it reads is fresh in the cache (or local: maps, per-client selectors), so
  :class:`~routeb.echonet.node.Node` answers it at once from the cache;
* slow: what is stale or missing is fetched over the radio first. A fetch is shared by every
  LAN request that needs the same property meanwhile (one radio request, however many LAN
  clients ask), goes through the meter client's pacing and batching, and is awaited at most
  ``deadline`` seconds, shorter than a LAN client's response timer, so an unreachable meter
  gives a Get_SNA (PDC = 0 for what is missing) instead of no answer. The fetch goes on in the
  background and fills the cache for the next request.

History (E2/E4 by E5, EC by ED, EE by EF, protocol.md §B.1): each LAN client has its own
selectors; a Get of E2 runs ``client.set_then_get(E5, selector, [E2])`` under the client's
atomic lock, so no two pairs (LAN clients' or the bridge's own) interleave on the meter.
Writes are refused (SetC_SNA / SetI_SNA) unless the EPC is allowed; allowed selectors stay in
the bridge, other allowed EPCs are written to the meter. The meter's INF (EA/EB) updates the
cache and is sent on to the LAN multicast group. Facts: protocol.md §A.3-§A.6, §B.1, §C.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from routeb.bridge.cache import (
    HISTORY_SELECTORS,
    SELECTOR_OF,
    Freshness,
    Key,
    PropertyCache,
)
from routeb.echonet import EOJ, ESV, Frame, Property, decode_frame, encode_frame
from routeb.echonet.node import (
    EPC_ANNO_MAP,
    EPC_GET_MAP,
    EPC_SET_MAP,
    NODE_PROFILE_EOJ,
    Node,
    node_profile_object,
)
from routeb.echonet.propmap import encode_property_map
from routeb.errors import EchonetDecodeError, RouteBError
from routeb.meter.client import METER, GetResult, SmartMeterClient
from routeb.meter.reader import MeterInfo

__all__ = [
    "BRIDGE_MAKER",
    "Bridge",
    "BridgeSettings",
    "BridgeStats",
    "bridge_identification",
    "parse_networks",
]

_LOG = logging.getLogger(__name__)

# routeb has no ECHONET maker code of its own: 0xFFFFFF says "none" (the meter object keeps
# the meter's own 0x8A, read from the meter).
BRIDGE_MAKER: Final = b"\xff\xff\xff"
# protocol.md §A.2: the requests a node answers (responses and INF addressed to it need none).
_REQUESTS: Final = frozenset({ESV.GET, ESV.SETC, ESV.SETI, ESV.INF_REQ, ESV.SETGET, ESV.INFC})
_MAPS: Final = frozenset({EPC_ANNO_MAP, EPC_SET_MAP, EPC_GET_MAP})
# When the meter gave no Get map (0x9F), the AIF's Get-mandatory set (protocol.md §C 2.3).
_DEFAULT_GET_MAP: Final = frozenset(
    {0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0xD3, 0xD7, 0xE0, 0xE1, 0xE2, 0xE5}
    | {0xE7, 0xE8, 0xEA}
)
_MAX_SOURCES: Final = 1024  # per-client selector state kept for this many LAN clients


def bridge_identification(seed: str | bytes, maker: bytes = BRIDGE_MAKER) -> bytes:
    """0x83 of the bridge's node profile: 0xFE + maker code + 13 bytes from ``seed``.

    ``seed`` identifies the meter (its MAC, else its serial), so the number is stable across
    restarts and different for every bridged meter (protocol.md §A.6).
    """
    raw = seed.encode() if isinstance(seed, str) else seed
    return b"\xfe" + maker + hashlib.sha256(b"routeb-bridge\x00" + raw).digest()[:13]


def parse_networks(
    specs: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``192.168.1.0/24``, ``fd00::/8``, ``10.0.0.5`` → networks (ValueError when malformed)."""
    return tuple(ipaddress.ip_network(s.strip(), strict=False) for s in specs if s.strip())


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    """How the bridge answers the LAN."""

    writable: frozenset[int] = frozenset()  # EPCs the LAN may Set (default: read-only)
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()  # empty: everyone
    freshness: Freshness = field(default_factory=Freshness)
    deadline: float = 5.0  # seconds a LAN request waits for the radio before Get_SNA
    max_properties: int = 255


@dataclass(slots=True)
class BridgeStats:
    """Counters for the status line."""

    lan_requests: int = 0
    refused_sources: int = 0
    malformed: int = 0
    ignored: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    radio_fetches: int = 0
    coalesced: int = 0
    late: int = 0  # LAN requests answered before their radio fetch finished
    fetch_failures: int = 0
    writes: int = 0
    relayed: int = 0


class _BridgedMeter:
    """The 028801 object the LAN sees: reads from the cache, selectors per LAN client."""

    def __init__(self, bridge: Bridge) -> None:
        self._bridge = bridge
        self.source = ""
        self.selectors: dict[int, bytes] = {}
        self.write_results: dict[tuple[int, bytes], bool] = {}

    @property
    def eoj(self) -> EOJ:
        return METER

    def get_epcs(self) -> frozenset[int]:
        return self._bridge.get_map

    def set_epcs(self) -> frozenset[int]:
        return self._bridge.set_map

    def anno_epcs(self) -> frozenset[int]:
        return self._bridge.anno_map

    def read(self, epc: int) -> bytes | None:
        if epc == EPC_GET_MAP:
            return encode_property_map(self._bridge.get_map)
        if epc == EPC_SET_MAP:
            return encode_property_map(self._bridge.set_map)
        if epc == EPC_ANNO_MAP:
            return encode_property_map(self._bridge.anno_map)
        if epc in HISTORY_SELECTORS and epc in self.selectors:
            return self.selectors[epc]
        key = self._bridge.key(epc, self.selectors)
        if key is None:
            return None
        return self._bridge.cache.value(key, self._bridge.now())

    def write(self, epc: int, edt: bytes) -> bool:
        if epc in HISTORY_SELECTORS:
            if not _valid_selector(epc, edt):
                return False
            self.selectors[epc] = edt
            return True
        return self.write_results.get((epc, edt), False)


def _valid_selector(epc: int, edt: bytes) -> bool:
    """protocol.md §B.2: E5 0..99; ED YYYY MM DD hh mm(0/30) n(1..12); EF … n(1..10)."""
    if epc == 0xE5:
        return len(edt) == 1 and edt[0] <= 99
    if len(edt) != 7:
        return False
    month, day, hour, minute, count = edt[2], edt[3], edt[4], edt[5], edt[6]
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23):
        return False
    if epc == 0xED:
        return minute in (0, 30) and 1 <= count <= 12
    return minute <= 59 and 1 <= count <= 10


class Bridge:
    """The LAN node in front of one meter; ``handle`` answers datagrams (see the module doc)."""

    def __init__(
        self,
        client: SmartMeterClient,
        info: MeterInfo,
        identification: bytes,
        settings: BridgeSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        link_state: Callable[[], str] = lambda: "ready",
    ) -> None:
        self.client = client
        self.settings = settings or BridgeSettings()
        self.stats = BridgeStats()
        self.cache = PropertyCache(self.settings.freshness)
        self.now = clock
        self.link_state = link_state
        meter_get = frozenset(info.get_map) or _DEFAULT_GET_MAP
        self.get_map: frozenset[int] = meter_get | _MAPS
        meter_set = frozenset(info.set_map) or self.settings.writable
        self.set_map: frozenset[int] = meter_set & self.settings.writable
        # 0x9D is truthful: what the bridge announces is what it relays from the meter, i.e.
        # the meter's own announcements plus the EA/EB pushes (protocol.md §C 3.2.1).
        pushes = {0xEA} | ({0xEB} if 0xEB in meter_get else set())
        self.anno_map: frozenset[int] = (frozenset(info.inf_map) | pushes) & self.get_map
        self.meter = _BridgedMeter(self)
        self.profile = node_profile_object(identification, BRIDGE_MAKER, [METER])
        self.node = Node([self.profile, self.meter], max_properties=self.settings.max_properties)
        self.identification = identification
        self._selectors: OrderedDict[str, dict[int, bytes]] = OrderedDict()
        self._inflight: dict[Key, asyncio.Task[None]] = {}
        self._tid = 0

    # ------------------------------------------------------------------ keys and plans
    def key(self, epc: int, selectors: dict[int, bytes]) -> Key | None:
        """The cache key of ``epc`` for a client with ``selectors`` (None: cannot be read)."""
        selector_epc = SELECTOR_OF.get(epc)
        if selector_epc is None:
            return (epc, b"")
        selector = selectors.get(selector_epc)
        if selector is None:
            if selector_epc != 0xE5:
                return None  # EC/EE need the client's ED/EF first (their defaults are empty)
            selector = b"\x00"  # E2/E4 without a selector: today
        return (epc, selector)

    def _selectors_of(self, source: str) -> dict[int, bytes]:
        state = self._selectors.get(source)
        if state is None:
            state = {}
            self._selectors[source] = state
            if len(self._selectors) > _MAX_SOURCES:
                self._selectors.popitem(last=False)
        else:
            self._selectors.move_to_end(source)
        return state

    def _allowed(self, source: str) -> bool:
        allow = self.settings.allow
        if not allow:
            return True
        try:
            address = ipaddress.ip_address(source.partition("%")[0])
        except ValueError:
            return False
        return any(address in network for network in allow)

    def _plan(self, frame: Frame, source: str) -> tuple[list[Key], list[Property]]:
        """Keys to fetch over the radio and writes to forward before answering ``frame``."""
        deoj = frame.deoj
        if deoj.class_id != METER.class_id or deoj.instance not in (0, METER.instance):
            return [], []
        esv = frame.esv
        if esv in (ESV.GET, ESV.INF_REQ):
            reads: Sequence[Property] = frame.properties
            sets: Sequence[Property] = ()
        elif esv is ESV.SETGET:
            reads, sets = frame.get_properties, frame.properties
        elif esv in (ESV.SETC, ESV.SETI):
            reads, sets = (), frame.properties
        else:
            return [], []
        selectors = self._selectors.get(source, {})
        if sets and any(p.epc in HISTORY_SELECTORS for p in sets):
            selectors = dict(selectors)
            for prop in sets:
                epc = prop.epc
                if (
                    epc in self.set_map
                    and epc in HISTORY_SELECTORS
                    and _valid_selector(epc, prop.edt)
                ):
                    selectors[epc] = prop.edt
        writes = [p for p in sets if p.epc in self.set_map and p.epc not in HISTORY_SELECTORS]
        needed: list[Key] = []
        now = self.now()
        cache = self.cache
        for prop in reads[: self.settings.max_properties]:
            epc = prop.epc
            if epc not in self.get_map or epc in _MAPS:
                continue
            if epc in HISTORY_SELECTORS and epc in selectors:
                continue
            key = self.key(epc, selectors)
            if key is None:
                continue
            if cache.fresh(key, now):
                self.stats.cache_hits += 1
            else:
                self.stats.cache_misses += 1
                needed.append(key)
        return needed, writes

    # ------------------------------------------------------------------ answering
    def handle(self, data: bytes, source: str) -> list[bytes] | Awaitable[list[bytes]]:
        """Answer one datagram from ``source``: at once when the cache allows, else later."""
        if self.settings.allow and not self._allowed(source):
            self.stats.refused_sources += 1
            return []
        try:
            frame = decode_frame(data)
        except EchonetDecodeError as exc:
            self.stats.malformed += 1
            _LOG.debug("malformed datagram from %s ignored: %s", source, exc)
            return []
        if not isinstance(frame, Frame) or frame.esv not in _REQUESTS:
            self.stats.ignored += 1
            return []
        self.stats.lan_requests += 1
        needed, writes = self._plan(frame, source)
        if not needed and not writes:
            return self._answer(frame, source, {})
        return self._answer_later(frame, source, needed, writes)

    def _answer(
        self, frame: Frame, source: str, write_results: dict[tuple[int, bytes], bool]
    ) -> list[bytes]:
        meter = self.meter
        meter.source = source
        meter.selectors = self._selectors_of(source)
        meter.write_results = write_results
        try:
            replies = self.node.handle(frame)
        finally:
            meter.write_results = {}
        return [encode_frame(reply) for reply in replies]

    async def _answer_later(
        self, frame: Frame, source: str, needed: list[Key], writes: list[Property]
    ) -> list[bytes]:
        results: dict[tuple[int, bytes], bool] = {}
        if writes:
            results = await self._write(writes)
        if needed:
            await self.ensure(needed)
        return self._answer(frame, source, results)

    async def _write(self, writes: list[Property]) -> dict[tuple[int, bytes], bool]:
        results: dict[tuple[int, bytes], bool] = {}
        for prop in writes:
            self.stats.writes += 1
            try:
                ok = await asyncio.wait_for(
                    self.client.set(prop.epc, prop.edt), self.settings.deadline
                )
            except (RouteBError, TimeoutError) as exc:
                _LOG.info("write of 0x%02X to the meter failed: %s", prop.epc, exc)
                ok = False
            if ok:
                self.cache.forget(prop.epc)
            results[(prop.epc, prop.edt)] = ok
        return results

    # ------------------------------------------------------------------ fetching
    async def ensure(self, keys: Iterable[Key]) -> None:
        """Fetch ``keys`` over the radio (sharing fetches in flight), waiting up to the deadline."""
        waits: set[asyncio.Task[None]] = set()
        plain: list[Key] = []
        loop = asyncio.get_running_loop()
        for key in dict.fromkeys(keys):
            task = self._inflight.get(key)
            if task is not None:
                self.stats.coalesced += 1
                waits.add(task)
            elif key[0] in SELECTOR_OF:
                task = loop.create_task(self._fetch_history(key))
                self._inflight[key] = task
                waits.add(task)
            else:
                plain.append(key)
        if plain:
            task = loop.create_task(self._fetch(plain))
            for key in plain:
                self._inflight[key] = task
            waits.add(task)
        if not waits:
            return
        _, pending = await asyncio.wait(waits, timeout=self.settings.deadline)
        if pending:
            self.stats.late += 1

    async def aclose(self) -> None:
        """Cancel the radio fetches still in flight (a fetch outlives a late request's
        deadline so that the next request can share it) and wait for them to end."""
        tasks = set(self._inflight.values())
        self._inflight.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self, keys: Iterable[Key]) -> None:
        current = asyncio.current_task()
        for key in keys:
            if self._inflight.get(key) is current:
                del self._inflight[key]

    def _store(self, result: GetResult, selector: bytes = b"") -> None:
        now = self.now()
        for epc, edt in result.values.items():
            self.cache.put((epc, selector), edt, now)
        for epc in result.unavailable:
            self.cache.put((epc, selector), None, now)

    async def _fetch(self, keys: list[Key]) -> None:
        self.stats.radio_fetches += 1
        try:
            result = await self.client.get([k[0] for k in keys])
            self._store(result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a background fetch counts and logs any failure
            self.stats.fetch_failures += 1
            _LOG.info("radio Get of %s failed: %s", _epcs(keys), exc)
        finally:
            self._done(keys)

    async def _fetch_history(self, key: Key) -> None:
        epc, selector = key
        self.stats.radio_fetches += 1
        try:
            # Under the client's atomic lock: no other selector write between the two.
            result = await self.client.set_then_get(SELECTOR_OF[epc], selector, [epc])
            self._store(result, selector)
        except asyncio.CancelledError:
            raise
        except RouteBError as exc:
            self.stats.fetch_failures += 1
            _LOG.info("history 0x%02X for %s failed: %s", epc, selector.hex(), exc)
            if "refused" in str(exc):
                self.cache.put(key, None, self.now())
        except Exception as exc:  # noqa: BLE001 - a background fetch counts and logs any failure
            self.stats.fetch_failures += 1
            _LOG.info("history 0x%02X for %s failed: %s", epc, selector.hex(), exc)
        finally:
            self._done([key])

    # ------------------------------------------------------------------ announcements
    def _next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    def instance_list_notification(self) -> bytes:
        """The D5 INF the bridge multicasts when it starts (protocol.md §A.6, §C 3.1.1)."""
        frame = self.node.notification(NODE_PROFILE_EOJ, [0xD5], self._next_tid(), NODE_PROFILE_EOJ)
        assert frame is not None  # the node profile always has D5
        return encode_frame(frame)

    def relay(self, frame: Frame) -> bytes | None:
        """Cache a meter INF/INFC and build the INF the LAN gets (None: nothing to relay)."""
        if frame.seoj.class_id != METER.class_id:
            return None
        now = self.now()
        props = [p for p in frame.properties if p.pdc and p.epc in self.get_map]
        for prop in props:
            self.cache.put((prop.epc, b""), prop.edt, now)
        if not props:
            return None
        self.stats.relayed += 1
        out = Frame(self._next_tid(), METER, NODE_PROFILE_EOJ, ESV.INF, tuple(props))
        return encode_frame(out)

    async def relay_notifications(self, send: Callable[[bytes], None]) -> None:
        """Forever: every INF from the meter, cached and multicast on the LAN."""
        async for note in self.client.notifications():
            data = self.relay(note.frame)
            if data is not None:
                send(data)

    async def warm(self, epcs: Iterable[int]) -> None:
        """Fill the cache with ``epcs`` (at start, so the first LAN clients are served fast)."""
        keys: list[Key] = [(e, b"") for e in epcs if e in self.get_map and e not in _MAPS]
        with contextlib.suppress(RouteBError):
            await self.ensure(keys)

    def status_line(self) -> str:
        """One line for the log: LAN requests, radio requests, cache hits, link state."""
        s = self.stats
        total = s.cache_hits + s.cache_misses
        ratio = f"{100 * s.cache_hits / total:.0f}%" if total else "—"
        return (
            f"LAN requests {s.lan_requests}, radio requests {self.client.stats.requests} "
            f"(fetches {s.radio_fetches}, shared {s.coalesced}, late {s.late}, "
            f"failed {s.fetch_failures}), cache hits {s.cache_hits} ({ratio}), "
            f"relayed INF {s.relayed}, malformed {s.malformed}, refused {s.refused_sources}, "
            f"meter link {self.link_state()}"
        )


def _epcs(keys: Iterable[Key]) -> str:
    return " ".join(f"{k[0]:02X}" for k in keys)
