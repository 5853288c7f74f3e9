"""The live state below the collector: snapshots, typed updates, the hub, the quantity registry.

Both the collector (which produces states) and every output (export/, web/, the sinks) import
this package; it imports nothing of routeb but itself (docs/architecture.md, layers).
"""

from routeb.live.hub import LiveHub
from routeb.live.quantities import BY_KEY, QUANTITIES, Entity, Metric, Quantity, quantity
from routeb.live.sink import Sink
from routeb.live.state import (
    BackfillProgress,
    Connected,
    EnergyValues,
    InstantValues,
    LinkChanged,
    LinkSnapshot,
    LiveState,
    LiveUpdate,
    MeterHealth,
    Offline,
    SlotValues,
    Stale,
)

__all__ = [
    "BY_KEY",
    "QUANTITIES",
    "BackfillProgress",
    "Connected",
    "EnergyValues",
    "Entity",
    "InstantValues",
    "LinkChanged",
    "LinkSnapshot",
    "LiveHub",
    "LiveState",
    "LiveUpdate",
    "MeterHealth",
    "Metric",
    "Offline",
    "Quantity",
    "Sink",
    "SlotValues",
    "Stale",
    "quantity",
]
