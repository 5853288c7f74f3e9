"""The systemd unit and udev rule that docs/service.md explains (``routeb service unit|udev``).

``Type=notify``: ``routeb run`` says READY once it listens and its database is open, and feeds
the watchdog only while healthy (routeb.service.watchdog), so systemd restarts a wedged
daemon. Exit statuses 2 (configuration) and 3 (credentials rejected) are not restarted: a
restart cannot fix them. The hardening keeps the serial port reachable: ``PrivateDevices``
stays off and ``DeviceAllow`` opens only USB serial devices.
"""

from __future__ import annotations

from typing import Final

__all__ = ["UDEV_RULE", "unit_text"]

_UNIT: Final = """\
# routeb — written by `routeb service unit`; docs/service.md explains every line.
# Install: sudo cp routeb.service /etc/systemd/system/ && sudo systemctl daemon-reload
#          sudo systemctl enable --now routeb
[Unit]
Description=routeb: record the smart electricity meter over the B-route
Documentation=man:systemd.service(5)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_start} run --config /etc/routeb/config.toml
ExecReload=/bin/kill -HUP $MAINPID
# Fed only while the event loop turns and the database takes writes.
WatchdogSec={watchdog}
Restart=on-failure
RestartSec=10
# 2 = configuration error, 3 = credentials rejected: restarting cannot fix these.
RestartPreventExitStatus=2 3
TimeoutStopSec=30

User={user}
Group={user}
# The Wi-SUN dongle's /dev/ttyUSB* belongs to the group dialout.
SupplementaryGroups=dialout
# /var/lib/routeb (the database, the scan cache, the credentials latch) and /etc/routeb.
StateDirectory=routeb
StateDirectoryMode=0700
ConfigurationDirectory=routeb
Environment=ROUTEB_STATE_DIR=%S/routeb
Environment=ROUTEB_DB=%S/routeb/routeb.sqlite3
Environment=HOME=%S/routeb
UMask=0077

# Hardening that still lets routeb open the serial port.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=no
DevicePolicy=closed
DeviceAllow=char-ttyUSB rw
DeviceAllow=char-ttyACM rw
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=

[Install]
WantedBy=multi-user.target
"""

# j11.md (products table): the RATOC RS-WSUHA-P enumerates as an FTDI FT230X, 0403:6015. Other
# dongles: read yours with `udevadm info -a -n /dev/ttyUSB0 | grep -E 'idVendor|idProduct|serial'`.
UDEV_RULE: Final = """\
# /etc/udev/rules.d/99-routeb.rules — a stable name for the Wi-SUN dongle: /dev/wisun
# (docs/service.md). Replace the IDs with yours (udevadm info -a -n /dev/ttyUSB0); add
# ATTRS{serial}=="…" when several FTDI adapters are plugged in.
SUBSYSTEM=="tty", ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6015", \\
  SYMLINK+="wisun", GROUP="dialout", MODE="0660"
"""


def unit_text(exec_start: str, *, user: str = "routeb", watchdog: int = 60) -> str:
    """The unit file for ``routeb run`` started by ``exec_start`` (the routeb executable)."""
    return _UNIT.format(exec_start=exec_start, user=user, watchdog=f"{watchdog}s")
