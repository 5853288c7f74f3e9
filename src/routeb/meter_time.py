"""The smart meter's clock: Japan Standard Time and the 30-minute slot (one definition of each).

The meter keeps naive local time (protocol.md §B general rules: its date-time fields carry no
zone), which in Japan is UTC+9 all year (no daylight saving since 1951). Its cumulative
readings fall on the half-hour: §B.1 E2/E4 slot i is the reading at 00:00 + 30 min × i, EA/EB
hold the latest :00/:30 boundary, EC pairs go back 30 minutes each, and §C 3.2.1 pushes follow
each :00 and :30. Because JST has no daylight saving, every day has 48 slots and a :00/:30
boundary in JST is one in UTC too.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Final

__all__ = ["JST", "JST_OFFSET", "SLOT", "SLOTS_PER_DAY", "SLOT_SECONDS"]

JST: Final = timezone(timedelta(hours=9), "JST")
JST_OFFSET: Final = 9 * 3600  # seconds east of UTC
SLOT: Final = timedelta(minutes=30)
SLOT_SECONDS: Final = 1800
SLOTS_PER_DAY: Final = 48
