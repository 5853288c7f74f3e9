"""The smart-meter domain: requests, pacing, batching and history over any transport."""

from routeb.meter.client import (
    CONTROLLER,
    METER,
    NODE_PROFILE,
    ClientSettings,
    ClientStats,
    GetResult,
    Notification,
    Priority,
    SmartMeterClient,
)

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
