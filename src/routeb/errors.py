"""The one exception tree of routeb.

::

    RouteBError
    ├── ProtocolError                 the peer (meter, module, LAN node) sent something invalid
    │   ├── EchonetDecodeError        ECHONET Lite frame or EDT that does not decode (offset, EPC)
    │   ├── SkstackProtocolError      module output that breaks the SKSTACK IP grammar
    │   ├── J11FrameError             a J11 frame that does not check (kind, command)
    │   └── J11DecodeError            a checked J11 frame whose data does not fit its command
    ├── UsageError (ValueError)       routeb was asked for something the protocol forbids
    ├── ModuleRefusedError            the module refused a command (any module family)
    │   ├── ModuleCommandError        a SKSTACK module answered FAIL ERxx (code)
    │   └── J11RefusedError           a J11 module answered a result other than success
    ├── DeviceError                   the serial device or its URL
    │   ├── DeviceNotFoundError
    │   ├── DevicePermissionError
    │   ├── DeviceBusyError
    │   └── DeviceDisconnectedError
    ├── SessionError                  the B-route session (scan / PANA join)
    │   ├── MeterNotFoundError        no beacon carried our pairing ID
    │   ├── AuthenticationError       PANA said no (EVENT 24 after a beacon matched)
    │   ├── CredentialsLatchedError   a confirmed authentication failure stops further attempts
    │   └── SessionLostError          the session ended (EVENT 26/27/28) while in use
    ├── RequestError                  a meter request could not be completed
    │   └── PropertyNotAvailableError the meter answered SNA for a property
    ├── ConfigError                   a configuration key is missing or invalid (names the key)
    ├── ListenError                   a server cannot listen on its address (in use, not ours)
    └── RouteBTimeoutError (TimeoutError)  anything that waited too long

Errors carry data (offsets, EPCs, FAIL codes) as attributes, and their messages never contain the
B-route ID or password (see ``routeb._redact``).
"""

from __future__ import annotations

import errno

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "CredentialsLatchedError",
    "DeviceBusyError",
    "DeviceDisconnectedError",
    "DeviceError",
    "DeviceNotFoundError",
    "DevicePermissionError",
    "EchonetDecodeError",
    "J11DecodeError",
    "J11FrameError",
    "J11RefusedError",
    "ListenError",
    "MeterNotFoundError",
    "ModuleCommandError",
    "ModuleRefusedError",
    "PanaTimeoutError",
    "PropertyNotAvailableError",
    "ProtocolError",
    "RequestError",
    "RouteBError",
    "RouteBTimeoutError",
    "SessionError",
    "SessionLostError",
    "SkstackProtocolError",
    "UsageError",
]


class RouteBError(Exception):
    """Base of every error routeb raises on purpose."""


class ProtocolError(RouteBError):
    """The peer sent bytes that break the protocol."""


class EchonetDecodeError(ProtocolError):
    """An ECHONET Lite frame or property value that does not decode.

    ``offset`` is the byte offset in the frame (or in the EDT when ``epc`` is set and the error
    was raised by a property decoder); ``epc`` names the property when one is involved.
    """

    def __init__(self, reason: str, *, offset: int = 0, epc: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.epc = epc
        where = f"offset {offset}" if epc is None else f"EPC 0x{epc:02X}, offset {offset}"
        super().__init__(f"{reason} ({where})")


class SkstackProtocolError(ProtocolError):
    """Module output that breaks the SKSTACK IP grammar (only raised where a caller asks to).

    ``offset`` is the byte offset in the line where the problem was found.
    """

    def __init__(self, reason: str, *, offset: int = 0) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(f"{reason} (offset {offset})")


class J11FrameError(ProtocolError):
    """Bytes that do not make a J11 frame (j11.md §2): a checksum, the unique code or the length.

    ``kind`` names the fault (``routeb.j11.frame.FrameFault``), ``command`` is the command code
    when the header checked, ``skipped`` the bytes discarded. The message never holds frame data.
    """

    def __init__(
        self, kind: str, reason: str, *, command: int | None = None, skipped: int = 0
    ) -> None:
        self.kind = kind
        self.reason = reason
        self.command = command
        self.skipped = skipped
        where = f" (command 0x{command:04X})" if command is not None else ""
        super().__init__(f"{reason}{where}")


class J11DecodeError(ProtocolError):
    """A J11 frame that checks but whose data does not fit its command (j11.md §4–§5).

    ``result`` is the result code a module answers to such a request (j11.md §6: 0x04 a value
    out of range, 0x11 a wrong length); the message never holds frame data.
    """

    def __init__(self, command: int, reason: str, *, result: int = 0x04) -> None:
        self.command = command
        self.reason = reason
        self.result = result
        super().__init__(f"J11 0x{command:04X}: {reason}")


class UsageError(RouteBError, ValueError):
    """routeb was asked to build something the protocol forbids (out-of-range argument, …)."""


class ModuleRefusedError(RouteBError):
    """The Wi-SUN module refused a command (SKSTACK ``FAIL ERxx``, a J11 result code)."""


class ModuleCommandError(ModuleRefusedError):
    """A SKSTACK module answered ``FAIL ERxx``."""

    def __init__(self, command: str, code: int, meaning: str) -> None:
        self.command = command
        self.code = code
        self.meaning = meaning
        super().__init__(f"{command} failed: ER{code:02d} ({meaning})")


class J11RefusedError(ModuleRefusedError):
    """A J11 module answered a request with a result code other than 0x01 (j11.md §6)."""

    def __init__(self, command: int, result: int) -> None:
        self.command = command
        self.result = result
        super().__init__(f"the J11 module refused 0x{command:04X}: result 0x{result:02X}")


class DeviceError(RouteBError):
    """The serial device (or its URL) cannot be used."""


class DeviceNotFoundError(DeviceError):
    """The device path or URL does not exist or cannot be reached."""


class DevicePermissionError(DeviceError):
    """The device exists but this user may not open it."""


class DeviceBusyError(DeviceError):
    """Another program holds the device."""


class DeviceDisconnectedError(DeviceError):
    """The device vanished while in use."""


class SessionError(RouteBError):
    """The B-route session could not be set up or was lost."""


class MeterNotFoundError(SessionError):
    """An active scan found no beacon carrying our pairing ID."""


class AuthenticationError(SessionError):
    """The meter rejected our B-route ID / password (PANA failed, EVENT 24)."""


class PanaFailedOnceError(AuthenticationError):
    """PANA failed although the meter answered, once: probably wrong credentials, not yet proof.

    SKSTACK's EVENT 24 cannot tell a rejection from a lost exchange (issue 16 §4); the
    credentials are latched only when the failure repeats minutes later (driver/latch.py).
    """


class PanaTimeoutError(SessionError):
    """The meter was found but the PANA join neither succeeded nor failed in time."""


class CredentialsLatchedError(AuthenticationError):
    """Authentication failed before with these credentials; routeb will not retry them."""


class SessionLostError(SessionError):
    """The PANA session ended while a request was in flight."""


class RequestError(RouteBError):
    """A request to the meter could not be completed."""


class PropertyNotAvailableError(RequestError):
    """The meter answered SNA (PDC = 0) for a property."""

    def __init__(self, epc: int) -> None:
        self.epc = epc
        super().__init__(f"the meter does not provide property 0x{epc:02X}")


class ConfigError(RouteBError):
    """A configuration key is missing or invalid; ``where`` is ``FILE:LINE`` when known."""

    def __init__(self, key: str, message: str, *, where: str | None = None) -> None:
        self.key = key
        self.where = where
        super().__init__(f"{where}: {key}: {message}" if where else f"{key}: {message}")


class ListenError(RouteBError):
    """A server (dashboard, emulator, bridge) cannot listen on its address."""

    def __init__(self, what: str, address: str, reason: str) -> None:
        self.what = what
        self.address = address
        self.reason = reason
        super().__init__(f"{what}: cannot listen on {address}: {reason}")

    @classmethod
    def from_os_error(cls, what: str, address: str, exc: OSError) -> ListenError:
        """The error for ``bind()``'s ``exc``, saying what to do about it."""
        reason = {
            errno.EADDRINUSE: "the address is already in use (another routeb? choose another "
            "port, or stop the program that has it: `ss -ltnup`)",
            errno.EADDRNOTAVAIL: "this computer has no such address (check the IP)",
            errno.EACCES: "permission denied (ports below 1024 need privileges)",
        }.get(exc.errno or 0)
        if reason is None:
            reason = exc.strerror or str(exc)
        return cls(what, address, reason)


class RouteBTimeoutError(RouteBError, TimeoutError):
    """Something routeb waited for did not happen in time."""
