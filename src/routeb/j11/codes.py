"""The numbers of the J11 protocol: command codes, result codes and the small value tables.

Every enum here tolerates codes it does not know (a newer firmware must not crash us): such a
value becomes a pseudo-member named ``UNKNOWN_0x..`` that compares equal to its number, and
``known`` tells the two apart.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

__all__ = [
    "ALL_CHANNELS",
    "CHANNELS",
    "ECHONET_PORT",
    "MAX_BEACONS",
    "MAX_OPEN_PORTS",
    "MAX_UDP_DATA",
    "PAIRING_ID_SIZE",
    "PASSWORD_LENGTH",
    "RBID_LENGTH",
    "RESERVED_PORTS",
    "SCAN_DWELL_UNIT",
    "Command",
    "GlobalState",
    "LinkState",
    "OperationMode",
    "PanaOutcome",
    "PeerRole",
    "Result",
    "RouteState",
    "RxFailure",
    "SendOutcome",
    "TxPower",
    "channel_from_skstack",
    "channel_to_skstack",
    "is_request_code",
    "rssi_from_ed",
    "scan_dwell",
]


class _Tolerant(IntEnum):
    """An IntEnum that maps an unknown byte to a pseudo-member instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> _Tolerant | None:
        if isinstance(value, int) and 0 <= value <= 0xFFFF:
            member = int.__new__(cls, value)
            member._name_ = f"UNKNOWN_0x{value:02X}"
            member._value_ = value
            return member
        return None

    @property
    def known(self) -> bool:
        """True for a documented code, False for a pseudo-member."""
        return self._name_ in type(self).__members__


class Command(_Tolerant):
    """Command codes (j11.md §4–§5, J11IF 表33). A response is its request | 0x2000."""

    # §4.1 common commands
    GET_STATUS = 0x0001
    OPEN_PORT = 0x0005
    CLOSE_PORT = 0x0006
    GET_OPEN_PORTS = 0x0007
    SEND_DATA = 0x0008
    GET_IP_ADDRESS = 0x0009
    GET_MAC_ADDRESS = 0x000E
    GET_CONNECTION_STATUS = 0x0011
    ACTIVE_SCAN = 0x0051
    INITIAL_SETTINGS = 0x005F
    GET_VERSION = 0x006B
    PING = 0x00D1
    HARDWARE_RESET = 0x00D9
    ED_SCAN = 0x00DB
    GET_TERMINAL_INFO = 0x0100
    SET_NEIGHBOUR_DISCOVERY = 0x0101
    GET_NEIGHBOUR_DISCOVERY = 0x0102
    GET_INITIAL_SETTINGS = 0x0107
    SET_FLOW_CONTROL = 0x010A
    GET_FLOW_CONTROL = 0x010B
    # §4.2 B-route commands
    START_BROUTE = 0x0053
    SET_CREDENTIALS = 0x0054
    START_PANA = 0x0056
    END_PANA = 0x0057
    END_BROUTE = 0x0058
    GET_ENCRYPTION_KEY = 0x0059
    GET_PAN_ID = 0x005E
    REAUTHENTICATE = 0x00D2
    # §2.2 error responses
    HEADER_CHECKSUM_ERROR = 0x2FFF
    INVALID_COMMAND = 0xFFFF
    # §5 notifications
    SCAN_RESULT = 0x4051
    DATA_RECEIVED = 0x6018
    STARTUP_COMPLETE = 0x6019
    CONNECTION_CHANGED = 0x601A
    PANA_RESULT = 0x6028
    RECEPTION_FAILED = 0x6038
    PING_RESULT = 0x60D1

    @property
    def response(self) -> int:
        """The code of this request's response (§2.2: request | 0x2000)."""
        return self | 0x2000


# §2.2: request codes are 0x0001–0x0202.
_FIRST_REQUEST: Final = 0x0001
_LAST_REQUEST: Final = 0x0202


def is_request_code(code: int) -> bool:
    """§2.2: whether ``code`` is in the request range (anything else gets 0xFFFF)."""
    return _FIRST_REQUEST <= code <= _LAST_REQUEST


class Result(_Tolerant):
    """Result codes, the first byte of every response (j11.md §6, J11IF 表34)."""

    SUCCESS = 0x01
    ADDRESS_NOT_LISTED = 0x02
    INVALID_COMMAND = 0x03
    INVALID_PARAMETER = 0x04
    INVALID_DESTINATION = 0x06
    PORT_ALREADY_OPEN = 0x0A
    PORT_NOT_OPEN = 0x0B
    MAC_CONNECTION_FAILED = 0x0E
    HAN_ACTIVE = 0x0F
    NOT_STARTED = 0x10
    PARAMETER_LENGTH = 0x11
    TOO_MANY_PORTS = 0x12
    DATA_TIMEOUT = 0x13
    WRONG_MODE = 0x14
    HAN_ACCEPT_UNCHANGED = 0x20
    HAN_ACCEPT_IMPOSSIBLE = 0x21
    HAN_AUTHENTICATED = 0x33
    BROUTE_ACTIVE = 0x34
    BROUTE_AUTHENTICATED = 0x35
    GLOBAL_NOT_STARTED = 0x37
    PING_PENDING = 0x3C
    BUSY = 0x3D
    PAN_ID_CONFLICT = 0x3E
    SLEEP_FAILED = 0x3F
    POLL_FAILED = 0x46
    PANA_NOT_CONFIGURED = 0x51
    PANA_RUNNING = 0x52
    PANA_NO_ENTRY = 0x53
    PANA_ALREADY_SET = 0x58
    PANA_TOO_MANY = 0x59
    OTA_STATE = 0x61
    HEADER_CHECKSUM = 0xF0
    DATA_CHECKSUM = 0xF1
    LENGTH_TOO_SHORT = 0xF2
    LENGTH_TOO_LONG = 0xF3


class GlobalState(_Tolerant):
    """0x2001 global state (j11.md §3): booted, or initial settings done."""

    NOT_STARTED = 0x02
    STARTED = 0x03


class RouteState(_Tolerant):
    """0x2001 B-route / HAN state (j11.md §3)."""

    NOT_STARTED = 0x01
    CONNECTED = 0x02  # 運用: MAC-level connected
    AUTHENTICATED = 0x03  # 認証: PANA authenticated


class OperationMode(_Tolerant):
    """0x005F operation mode (j11.md §7.1, J11IF 表20); the B-route needs DUAL."""

    HAN_PAN_COORDINATOR = 0x01
    HAN_COORDINATOR = 0x02
    HAN_END_DEVICE = 0x03
    DUAL = 0x05
    UNDECIDED = 0xFF  # the value before 0x005F (0x2107 only)


class TxPower(_Tolerant):
    """0x005F transmission power (j11.md §7.1)."""

    MW20 = 0x00
    MW10 = 0x01
    MW1 = 0x02


class PeerRole(_Tolerant):
    """0x2011 / 0x2100 peer role (j11.md §4.1)."""

    HAN_PAN_COORDINATOR = 0x01
    HAN_COORDINATOR = 0x02
    HAN_END_DEVICE = 0x03
    HAN_HOP_DEVICE = 0x06
    BROUTE_PAN_COORDINATOR = 0x07


class SendOutcome(_Tolerant):
    """Low nibble of the 0x2008 send result (j11.md §4.1, J11IF §3.2.3.3.2)."""

    SENT = 0x0
    TX_LIMIT = 0x2  # the hourly transmit-time cap (j11.md §10)
    CCA_FAILED = 0x3
    NO_ACK = 0x5
    OTHER = 0x8
    QUEUED_ONLY = 0xF


class LinkState(_Tolerant):
    """0x601A connection state (j11.md §5)."""

    MAC_CONNECTED = 0x01
    PANA_AUTHENTICATED = 0x02
    MAC_DISCONNECTED = 0x03
    PANA_DISCONNECTED = 0x04  # after PANA: the meter ended the session (§5.17)


class PanaOutcome(_Tolerant):
    """0x6028 PANA result (j11.md §5): rejected and no response are told apart."""

    SUCCESS = 0x01
    REJECTED = 0x02  # wrong ID or password (§12.5.2)
    NO_RESPONSE = 0x03  # the meter did not answer


class RxFailure(_Tolerant):
    """0x6038 reason (j11.md §5)."""

    DECRYPTION = 0x01
    MAC_LAYER = 0x02
    SIXLOWPAN = 0x20
    IP = 0x30
    UDP = 0x40


# j11.md §1, §7.3: 14 channels 4..17; all of them as a 0x0051 channel mask is 0x0003FFF0.
CHANNELS: Final = range(0x04, 0x12)
ALL_CHANNELS: Final = 0x0003FFF0
# j11.md §4.3: the pairing ID is the last 8 characters of the B-route ID, as ASCII.
PAIRING_ID_SIZE: Final = 8
# j11.md §7.2: a 32-character B-route ID (upper-case hex) and a 12-character password.
RBID_LENGTH: Final = 32
PASSWORD_LENGTH: Final = 12
# j11.md §4.1 0x0008 / §5 0x6018: UDP data of 0x0001–0x04D0 bytes.
MAX_UDP_DATA: Final = 0x04D0
# j11.md §4.1 0x0005: at most 10 ports; PANA 716, MLE 19788 and OTA 31941 are the module's own.
MAX_OPEN_PORTS: Final = 10
RESERVED_PORTS: Final = frozenset({716, 19788, 31941})
# PROTO §D.4: ECHONET Lite on UDP 3610 (0x0E1A).
ECHONET_PORT: Final = 0x0E1A
# j11.md §4.3: at most 20 beacons per 0x4051.
MAX_BEACONS: Final = 20
# j11.md §4.3: dwell per channel = 9.64 ms × 2^duration, duration 1..14.
SCAN_DWELL_UNIT: Final = 0.00964
# j11.md §7.3: SKSTACK channel = 2 × J11 channel + 25 (odd SKSTACK channels 33..59 only).
_SKSTACK_OFFSET: Final = 25


def scan_dwell(duration: int) -> float:
    """Seconds one channel of an active scan takes (§4.3)."""
    return SCAN_DWELL_UNIT * (1 << duration)


def rssi_from_ed(ed: int) -> float:
    """§4.1 0x00DB: RSSI in dBm from an energy-detection level."""
    return (275 * ed - 104270) / 1000


def channel_to_skstack(channel: int) -> int:
    """The SKSTACK S02 channel of J11 channel ``channel`` (§7.3)."""
    return 2 * channel + _SKSTACK_OFFSET


def channel_from_skstack(channel: int) -> int | None:
    """The J11 channel of SKSTACK channel ``channel``; None for an even one (§7.3)."""
    j11, odd = divmod(channel - _SKSTACK_OFFSET, 2)
    return j11 if not odd and j11 in CHANNELS else None
