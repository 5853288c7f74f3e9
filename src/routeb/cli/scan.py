"""`routeb scan`: find meters around the Wi-SUN module (active scan, protocol.md §D.1)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from routeb.cli._common import (
    CREDENTIALS_HELP,
    EXIT_NOT_FOUND,
    add_connection_args,
    load_settings,
    run,
    setup_logging,
)
from routeb.cli.progress import progress
from routeb.driver.session import BRouteSession, SessionSettings
from routeb.errors import ConfigError
from routeb.radio.base import Beacon

__all__ = ["register"]

_MAX_DURATION = 14  # protocol.md §D.1 SKSCAN: DURATION 0..14


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "scan",
        help="find meters: channel, PAN ID, MAC, LQI/RSSI, pairing ID",
        description="Active scan for B-route meters (a few seconds to two minutes). Your meter "
        "is the one whose pairing ID matches the last 8 characters of your B-route ID. "
        + CREDENTIALS_HELP,
    )
    add_connection_args(parser)
    parser.add_argument(
        "--duration",
        type=int,
        action="append",
        help="scan duration exponent 0..14 (repeatable; default from config: 6, 7, 8)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per meter")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    return run(lambda: _scan(args))


def _masked_pair(beacon: Beacon, ours: str) -> str:
    if beacon.matches(ours):
        return "yours"
    # Someone else's pairing ID comes from their B-route ID: show only enough to tell apart.
    return f"other ({beacon.pair_id[:2]}******)"


async def _scan(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    durations = args.duration or list(settings.config.meter.scan_durations)
    for duration in durations:
        if not 0 <= duration <= _MAX_DURATION:
            raise ConfigError("--duration", f"{duration} is not a scan duration (0..14)")
    with progress(quiet=args.quiet, device=settings.device) as shown:
        session = BRouteSession(
            settings.device,
            settings.rbid,
            settings.password,
            dialect=settings.dialect,
            state_dir=settings.state_dir,
            settings=SessionSettings(show_identifiers=args.show_identifiers),
            on_scan_progress=shown.on_scan,
            on_state=shown.on_state,
        )
        beacons = await session.scan(durations)
    ours = session.pairing_id
    if args.json:
        for b in beacons:
            print(
                json.dumps(
                    {
                        "channel": b.channel,
                        "pan_id": f"{b.pan_id:04X}",
                        "mac": b.mac,
                        "lqi": b.lqi,
                        "rssi": round(b.rssi_dbm, 1),
                        "side": b.side,
                        "pairing_id": _masked_pair(b, ours),
                    }
                )
            )
    else:
        table = Table(title=f"{len(beacons)} meter(s) found")
        for column in ("channel", "PAN ID", "MAC", "LQI", "RSSI", "pairing ID"):
            table.add_column(column)
        for b in beacons:
            table.add_row(
                f"{b.channel} (0x{b.channel:02X})",
                f"{b.pan_id:04X}",
                b.mac,
                "—" if b.lqi is None else f"{b.lqi}",
                f"{b.rssi_dbm:.1f} dBm",
                _masked_pair(b, ours),
            )
        Console().print(table)
    if not any(b.matches(ours) for b in beacons):
        others = f" ({len(beacons)} other meter(s) heard)" if beacons else ""
        print(
            f"routeb: no meter answered with your pairing ID{others}: check the distance and "
            "antenna, that the B-route service is active, and the B-route ID — the pairing ID "
            "is its last 8 characters, so a wrong ID finds no meter",
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND
    return 0
