"""The meter on the LAN: ``routeb bridge`` (a node in front of the meter) and discovery.

docs/bridge.md is the guide; protocol.md §A has the facts.
"""

from __future__ import annotations

from routeb.bridge.cache import Freshness, PropertyCache
from routeb.bridge.core import (
    BRIDGE_MAKER,
    Bridge,
    BridgeSettings,
    BridgeStats,
    bridge_identification,
    parse_networks,
)
from routeb.bridge.udp import NodeSocket, serve

__all__ = [
    "BRIDGE_MAKER",
    "Bridge",
    "BridgeSettings",
    "BridgeStats",
    "Freshness",
    "NodeSocket",
    "PropertyCache",
    "bridge_identification",
    "parse_networks",
    "serve",
]
