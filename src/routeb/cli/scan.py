"""`routeb scan`: find meters around the Wi-SUN module (active scan, protocol.md §D.1)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from routeb.cli._common import (
    EXIT_NOT_FOUND,
    add_connection_args,
    load_settings,
    run,
    setup_logging,
)
from routeb.driver.session import BRouteSession, ScanProgress, SessionSettings
from routeb.skstack.events import PanDescriptor

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "scan",
        help="find meters: channel, PAN ID, MAC, LQI/RSSI, pairing ID",
        description="Active scan for B-route meters (a few seconds to two minutes).",
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


def _masked_pair(beacon: PanDescriptor, ours: str) -> str:
    if beacon.pair_id.upper() == ours:
        return "yours"
    # Someone else's pairing ID comes from their B-route ID: show only enough to tell apart.
    return f"other ({beacon.pair_id[:2]}******)"


async def _scan(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    console = Console(stderr=True)
    status = console.status("scanning…") if console.is_terminal else None

    def progress(p: ScanProgress) -> None:
        text = (
            f"scan duration {p.duration}: up to {p.expected_seconds:.0f} s, "
            f"{len(p.beacons)} beacon(s)"
        )
        if status is not None:
            status.update(text)
        elif p.done or not p.beacons:
            print(text, file=sys.stderr)

    session = BRouteSession(
        settings.device,
        settings.rbid,
        settings.password,
        dialect=settings.dialect,
        state_dir=settings.state_dir,
        settings=SessionSettings(show_identifiers=args.show_identifiers),
        on_scan_progress=progress,
    )
    durations = args.duration or list(settings.config.meter.scan_durations)
    if status is not None:
        status.start()
    try:
        beacons = await session.scan(durations)
    finally:
        if status is not None:
            status.stop()
    ours = session.pairing_id
    if args.json:
        for b in beacons:
            print(
                json.dumps(
                    {
                        "channel": b.channel,
                        "pan_id": f"{b.pan_id:04X}",
                        "mac": b.address,
                        "lqi": b.lqi,
                        "rssi": round(b.rssi, 1),
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
                b.address,
                f"{b.lqi}",
                f"{b.rssi:.1f} dBm",
                _masked_pair(b, ours),
            )
        Console().print(table)
    if not any(b.pair_id.upper() == ours for b in beacons):
        print(
            "routeb: no meter answered with your pairing ID: check the distance and antenna, "
            "and that the B-route service is active",
            file=sys.stderr,
        )
        return EXIT_NOT_FOUND
    return 0
