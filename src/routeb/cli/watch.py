"""`routeb watch`: a live terminal view that survives link trouble and shows the reconnects."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from routeb.cli._common import (
    CREDENTIALS_HELP,
    Connection,
    add_connection_args,
    connect,
    load_settings,
    run,
)
from routeb.cli._common import setup_logging as _setup_logging
from routeb.cli.progress import stage_line
from routeb.echonet.energy import CumulativeEnergy, usage_between
from routeb.echonet.smartmeter import FixedTimeEnergy, InstantaneousCurrents, decode_property
from routeb.errors import RouteBError
from routeb.meter.client import Notification
from routeb.meter_time import JST
from routeb.skstack.events import lqi_to_rssi

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "watch",
        help="live view: power, currents, energy today, last 30 minutes, link",
        description="A live terminal view of the meter. Ctrl-C to quit. While connecting, "
        "the stage (scanning channel N of 28, joining…) shows on stderr. " + CREDENTIALS_HELP,
    )
    add_connection_args(parser)
    parser.add_argument(
        "--interval",
        type=float,
        default=None,
        help="seconds between power reads (min 5; default [polling] instantaneous_interval)",
    )
    parser.add_argument(
        "--updates", type=int, default=0, help="stop after this many updates (0 = run forever)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per update")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    _setup_logging(args.verbose)
    return run(lambda: _watch(args))


@dataclass(slots=True)
class _View:
    power: int | None = None
    currents: InstantaneousCurrents | None = None
    energy_import: Decimal | None = None
    energy_export: Decimal | None = None
    today: Decimal | None = None
    last_slot: Decimal | None = None
    last_slot_time: datetime | None = None
    midnight_raw: int | None = None
    previous_fixed: FixedTimeEnergy | None = None
    read_at: float | None = None
    error: str | None = None
    errors: int = 0
    updates: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def _fmt(value: object, unit: str) -> str:
    return "unavailable" if value is None else f"{value} {unit}"


def _render(view: _View, conn: Connection) -> Group:
    snapshot = conn.link_snapshot()
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    power = view.power
    direction = "" if power is None else (" (selling)" if power < 0 else " (buying)")
    table.add_row("power", Text(_fmt(power, "W") + direction, style="bold cyan"))
    if view.currents is not None:
        r, t = view.currents.r, view.currents.t
        table.add_row("current R / T", f"{_fmt(r, 'A')} / {_fmt(t, 'A')}")
    table.add_row("energy bought", _fmt(view.energy_import, "kWh"))
    if view.energy_export is not None:
        table.add_row("energy sold", _fmt(view.energy_export, "kWh"))
    table.add_row("today", _fmt(view.today, "kWh"))
    slot = "" if view.last_slot_time is None else f" (to {view.last_slot_time:%H:%M})"
    table.add_row("last 30 min", _fmt(view.last_slot, "kWh") + slot)
    age = "—" if view.read_at is None else f"{time.monotonic() - view.read_at:.0f} s ago"
    table.add_row("last reading", age)
    link = Table.grid(padding=(0, 2))
    link.add_column(style="bold")
    link.add_column()
    lqi = snapshot.lqi
    quality = "—" if lqi is None else f"LQI {lqi} ({lqi_to_rssi(lqi):.0f} dBm)"
    link.add_row("link", f"{snapshot.state}, {quality}")
    rejoins = sum(snapshot.rejoins.values())
    steps = snapshot.recovery_steps
    link.add_row("reconnects", f"{rejoins} rejoin(s), recovery {steps or 'none'}")
    if view.error:
        link.add_row("problem", Text(view.error, style="yellow"))
    return Group(Panel(table, title="routeb watch"), Panel(link, title="B-route link"))


def _usage_kwh(conn: Connection, earlier: int, later: int) -> Decimal | None:
    info = conn.reader.info
    return info.scale.kwh(usage_between(earlier, later, info.digits or 8))


async def _load_today(conn: Connection, view: _View) -> None:
    normal = (await conn.reader.history_day(0)).normal
    view.midnight_raw = normal.raw[0] if normal.raw else None
    filled = [(i, raw) for i, raw in enumerate(normal.raw) if raw is not None]
    if len(filled) >= 2 and filled[-1][0] == filled[-2][0] + 1:
        (_, before), (index, after) = filled[-2], filled[-1]
        view.last_slot = _usage_kwh(conn, before, after)
        minutes = index * 30  # §B.1 E2: slot i is the counter at 00:00 + 30 min × i
        now = datetime.now(JST).replace(tzinfo=None)
        view.last_slot_time = now.replace(
            hour=minutes // 60 % 24, minute=minutes % 60, second=0, microsecond=0
        )


async def _poll(conn: Connection, view: _View, interval: float, energy_every: int) -> None:
    cycle = 0
    while True:
        epcs = [0xE7, 0xE8]
        if cycle % energy_every == 0:
            epcs += [0xE0, 0xE3] if conn.reader.info.reverse_measurement else [0xE0]
        try:
            readings = await conn.reader.read(epcs)
        except RouteBError as exc:
            view.error = f"{exc} — reconnecting"
            view.errors += 1
        else:
            view.error = None
            view.read_at = time.monotonic()
            value = readings[0xE7].value
            view.power = value if isinstance(value, int) else None
            currents = readings[0xE8].value
            view.currents = currents if isinstance(currents, InstantaneousCurrents) else None
            for epc in (0xE0, 0xE3):
                reading = readings.get(epc)
                if reading is None:
                    continue
                energy = reading.value
                kwh = energy.kwh() if isinstance(energy, CumulativeEnergy) else None
                if epc == 0xE0:
                    view.energy_import = kwh
                    if (
                        isinstance(energy, CumulativeEnergy)
                        and energy.raw is not None
                        and view.midnight_raw is not None
                    ):
                        view.today = _usage_kwh(conn, view.midnight_raw, energy.raw)
                else:
                    view.energy_export = kwh
            view.updates += 1
        cycle += 1
        await asyncio.sleep(interval)


async def _listen(conn: Connection, view: _View) -> None:
    note: Notification
    async for note in conn.client.notifications():
        prop = note.frame.first(0xEA)
        if prop is None:
            continue
        try:
            value = decode_property(0xEA, prop.edt, conn.reader.info.scale)
        except RouteBError:
            continue
        if not isinstance(value, FixedTimeEnergy) or value.raw is None:
            continue
        previous = view.previous_fixed
        if previous is not None and previous.raw is not None:
            view.last_slot = _usage_kwh(conn, previous.raw, value.raw)
            view.last_slot_time = value.timestamp
        view.previous_fixed = value


def _json_line(view: _View, conn: Connection) -> str:
    currents = view.currents
    snapshot = conn.link_snapshot()
    return json.dumps(
        {
            "power_w": view.power,
            "current_r_a": None if currents is None or currents.r is None else str(currents.r),
            "current_t_a": None if currents is None or currents.t is None else str(currents.t),
            "energy_import_kwh": None if view.energy_import is None else str(view.energy_import),
            "energy_export_kwh": None if view.energy_export is None else str(view.energy_export),
            "today_kwh": None if view.today is None else str(view.today),
            "last_30min_kwh": None if view.last_slot is None else str(view.last_slot),
            "link": snapshot.state,
            "lqi": snapshot.lqi,
            "rejoins": sum(snapshot.rejoins.values()),
            "error": view.error,
        }
    )


async def _watch(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    interval = max(5.0, args.interval or settings.config.polling.instantaneous_interval)
    energy_every = max(1, round(settings.config.polling.energy_interval / interval))
    console = Console()
    shown = stage_line(quiet=args.quiet, device=settings.device)  # cleared by connect on error
    async with connect(
        settings, retry_auth=args.retry_auth, show_identifiers=args.show_identifiers, progress=shown
    ) as conn:
        shown.stage("reading today's energy")
        view = _View()
        with contextlib.suppress(RouteBError):
            await _load_today(conn, view)
        shown.close()
        tasks = [
            asyncio.create_task(_poll(conn, view, interval, energy_every)),
            asyncio.create_task(_listen(conn, view)),
        ]
        try:
            if args.json or not console.is_terminal:
                seen = 0
                while not args.updates or seen < args.updates:
                    await asyncio.sleep(0.2)
                    if view.updates > seen:
                        seen = view.updates
                        print(_json_line(view, conn), flush=True)
            else:
                with Live(_render(view, conn), console=console, refresh_per_second=2) as live:
                    while not args.updates or view.updates < args.updates:
                        await asyncio.sleep(0.5)
                        live.update(_render(view, conn))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    print("", file=sys.stderr, end="")
    return 0
