"""The systemd notify protocol (sd_notify(3)), without libsystemd.

A service started with ``Type=notify`` gets ``NOTIFY_SOCKET`` — the path of a datagram socket
(``@name`` for Linux's abstract namespace) — and, with ``WatchdogSec=``, ``WATCHDOG_USEC``
(and ``WATCHDOG_PID``). Each message is one datagram of ``KEY=VALUE`` lines: ``READY=1`` once
started, ``STATUS=…`` for ``systemctl status``, ``WATCHDOG=1`` at least every
``WATCHDOG_USEC`` (sd_watchdog_enabled(3) advises half of it), ``RELOADING=1`` /
``STOPPING=1``. Without ``NOTIFY_SOCKET`` every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import Final

__all__ = ["Notifier"]

_LOG = logging.getLogger(__name__)
# sd_notify(3): a datagram, at most a few kB; STATUS text is cut to keep well inside that.
_MAX_STATUS: Final = 400


class Notifier:
    """Sends notifications to the service manager (a no-op outside systemd)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # the abstract namespace
        self._address = address or None
        self._socket: socket.socket | None = None
        self.watchdog_seconds = _watchdog_seconds(env)

    @property
    def enabled(self) -> bool:
        """True when a service manager listens."""
        return self._address is not None

    def send(self, **fields: str | int) -> bool:
        """One datagram of KEY=VALUE lines (``send(READY=1, STATUS="…")``); False if lost."""
        if self._address is None:
            return False
        lines = []
        for name, value in fields.items():
            text = str(value).replace("\n", " ")
            if name == "STATUS":
                text = text[:_MAX_STATUS]
            lines.append(f"{name}={text}")
        try:
            if self._socket is None:
                self._socket = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
            self._socket.sendto("\n".join(lines).encode(), self._address)
        except OSError as exc:
            _LOG.debug("sd_notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str) -> bool:
        """Started: systemd considers the unit active from now on."""
        return self.send(READY=1, STATUS=status, MAINPID=os.getpid())

    def status(self, status: str) -> bool:
        """The one-line status of ``systemctl status``."""
        return self.send(STATUS=status)

    def watchdog(self) -> bool:
        """Still healthy (only call it when the daemon really is)."""
        return self.send(WATCHDOG=1)

    def stopping(self) -> bool:
        """Shutting down."""
        return self.send(STOPPING=1)

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """sd_watchdog_enabled(3): WATCHDOG_USEC, for this process when WATCHDOG_PID says so."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000
