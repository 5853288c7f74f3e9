"""`routeb service unit|udev`: the systemd unit for `routeb run`, a udev rule (docs/service.md)."""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from routeb.errors import ConfigError
from routeb.service.unit import UDEV_RULE, unit_text

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "service",
        help="print the systemd unit for `routeb run` (Type=notify + watchdog) or a udev rule",
        description="Print files for running routeb as a service; docs/service.md walks "
        "through the installation (user, state directory, udev, log rotation, backups).",
    )
    what = parser.add_subparsers(dest="what", metavar="FILE", required=True)
    unit = what.add_parser("unit", help="the systemd unit file routeb.service")
    unit.add_argument(
        "--exec",
        dest="exec_start",
        metavar="PATH",
        help="the routeb executable (default: this one, e.g. /opt/routeb/bin/routeb)",
    )
    unit.add_argument("--user", default="routeb", help="the system user it runs as (routeb)")
    unit.add_argument(
        "--watchdog",
        type=int,
        default=60,
        metavar="SECONDS",
        help="WatchdogSec: restart when unhealthy this long (default 60)",
    )
    unit.set_defaults(handler=_unit)
    udev = what.add_parser("udev", help="a udev rule giving the dongle a stable name")
    udev.set_defaults(handler=_udev)


def _this_routeb() -> str:
    found = shutil.which("routeb")
    script = Path(sys.argv[0])
    if script.name == "routeb" and script.exists():
        return str(script.resolve())
    if found:
        return str(Path(found).resolve())
    return f"{shlex.quote(sys.executable)} -m routeb"


def _unit(args: argparse.Namespace) -> int:
    if args.watchdog < 2:
        print("routeb: --watchdog: must be at least 2 seconds", file=sys.stderr)
        return 2
    if not args.user or not args.user.replace("-", "").replace("_", "").isalnum():
        print(f"routeb: {ConfigError('--user', 'must be a user name')}", file=sys.stderr)
        return 2
    print(unit_text(args.exec_start or _this_routeb(), user=args.user, watchdog=args.watchdog))
    return 0


def _udev(args: argparse.Namespace) -> int:  # noqa: ARG001 - every handler takes the arguments
    print(UDEV_RULE, end="")
    return 0
