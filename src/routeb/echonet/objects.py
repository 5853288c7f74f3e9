"""The ECHONET objects of a B-route conversation, and their classes (one definition of each).

protocol.md §C (AIF §2.1): the controller is 05FF01 (instance fixed at 0x01), the meter object
028801, the meter's node profile 0EF001; §A.6: the node profile class 0x0EF0 (instance 01 a
general node); §B: the low-voltage smart electric energy meter class 0x0288.
"""

from __future__ import annotations

from typing import Final

from routeb.echonet.frame import EOJ

__all__ = [
    "CONTROLLER_CLASS",
    "CONTROLLER_EOJ",
    "NODE_PROFILE_CLASS",
    "NODE_PROFILE_EOJ",
    "SMART_METER_CLASS",
    "SMART_METER_EOJ",
]

CONTROLLER_EOJ: Final = EOJ(0x05, 0xFF, 0x01)
SMART_METER_EOJ: Final = EOJ(0x02, 0x88, 0x01)
NODE_PROFILE_EOJ: Final = EOJ(0x0E, 0xF0, 0x01)
CONTROLLER_CLASS: Final = CONTROLLER_EOJ.class_id  # 0x05FF
SMART_METER_CLASS: Final = SMART_METER_EOJ.class_id  # 0x0288
NODE_PROFILE_CLASS: Final = NODE_PROFILE_EOJ.class_id  # 0x0EF0
