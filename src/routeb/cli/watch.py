"""`routeb watch`: a live terminal view worth leaving open.

It shows the connection stages from the first second (never a blank screen while the module
scans and joins), then power with its direction, the currents against the contract amperage
(yellow from 80 %, red at 100 %), energy bought and sold today and in the last 30 minutes, a
sparkline of the last hour, the link and its reconnects in words. A value that is no longer
current is marked at once (greyed, "stale"), never shown as live. It draws on the terminal's
alternate screen, whole frames only, so resizing leaves nothing behind; log lines go into the
view instead of between frames. `q` (or Ctrl-C) quits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from rich.console import Console, Group, RenderableType
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
from routeb.cli.progress import Progress, stage_line
from routeb.collector.links import LanLink
from routeb.echonet.energy import CumulativeEnergy, usage_between
from routeb.echonet.smartmeter import FixedTimeEnergy, InstantaneousCurrents, decode_property
from routeb.errors import RouteBError
from routeb.live import LinkSnapshot
from routeb.meter.client import Notification
from routeb.meter_time import JST

__all__ = ["register"]

SPARK_SECONDS: Final = 3600.0  # the sparkline: the last hour of power readings
SPARK_BLOCKS: Final = "▁▂▃▄▅▆▇█"
NEAR_LIMIT: Final = 0.8  # yellow from 80 % of the contract amperage, red from 100 %
# A value older than this many polling intervals is stale even without an error.
STALE_INTERVALS: Final = 2.5
# protocol.md §C AIF 3.1.1: the meter announces its instance list (D5) within a few seconds
# of the join; over a LAN bridge it has been announced long before.
D5_WAIT_WISUN: Final = 5.0
D5_WAIT_LAN: Final = 0.5


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "watch",
        help="live view: power, currents, energy today, last 30 minutes, link",
        description="A live terminal view of the meter. q or Ctrl-C to quit. While connecting, "
        "the view shows the stage (opening the port, scanning channel N of 28, joining …); "
        "with --json the stage shows on stderr. " + CREDENTIALS_HELP,
    )
    add_connection_args(parser)
    parser.add_argument(
        "--interval", type=float, default=None, help="seconds between power reads (min 5)"
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
    """What the screen shows; the loops below fill it in."""

    started: float = field(default_factory=time.monotonic)
    stage: str = "starting"  # the connection stage until the first reading
    stage_since: float = field(default_factory=time.monotonic)
    interval: float = 10.0
    contract_amperes: int | None = None
    power: int | None = None
    currents: InstantaneousCurrents | None = None
    energy_import: Decimal | None = None
    energy_export: Decimal | None = None
    today_import: Decimal | None = None
    today_export: Decimal | None = None
    last_slot_import: Decimal | None = None
    last_slot_export: Decimal | None = None
    last_slot_time: datetime | None = None
    midnight_import_raw: int | None = None
    midnight_export_raw: int | None = None
    previous_fixed: dict[int, FixedTimeEnergy] = field(default_factory=dict)
    read_at: float | None = None  # time.monotonic() of the last good reading
    failed: bool = False  # the last read failed: what is shown is not current
    error: str | None = None
    errors: int = 0
    updates: int = 0
    samples: deque[tuple[float, int]] = field(default_factory=deque)

    def set_stage(self, stage: str) -> None:
        self.stage = stage
        self.stage_since = time.monotonic()

    def stale(self, now: float) -> bool:
        """Whether the values shown are not current: a read failed, or none came lately."""
        if self.read_at is None:
            return False
        return self.failed or now - self.read_at > STALE_INTERVALS * self.interval

    def add_sample(self, at: float, power: int) -> None:
        self.samples.append((at, power))
        while self.samples and self.samples[0][0] < at - SPARK_SECONDS:
            self.samples.popleft()


def _fmt(value: object, unit: str) -> str:
    return "unavailable" if value is None else f"{value} {unit}"


def _ago(seconds: float) -> str:
    s = max(0, round(seconds))
    return f"{s} s" if s < 120 else f"{s // 60} min"


def sparkline(samples: list[tuple[float, int]], now: float, width: int) -> Text:
    """The last hour of power in ``width`` columns: block height = |W|, cyan buying, green
    selling, a space where there was no reading."""
    text = Text()
    if width <= 0:
        return text
    step = SPARK_SECONDS / width
    buckets: list[list[int]] = [[] for _ in range(width)]
    for at, power in samples:
        index = int((at - (now - SPARK_SECONDS)) / step)
        if 0 <= index < width:
            buckets[index].append(power)
    means = [sum(b) / len(b) if b else None for b in buckets]
    top = max((abs(m) for m in means if m is not None), default=0.0) or 1.0
    for mean in means:
        if mean is None:
            text.append(" ")
            continue
        level = min(len(SPARK_BLOCKS) - 1, int(abs(mean) / top * (len(SPARK_BLOCKS) - 1) + 0.5))
        text.append(SPARK_BLOCKS[level], style="green" if mean < 0 else "cyan")
    return text


def _counts(counts: dict[str, int] | Any) -> str:
    """{'reopen_port': 1, 'rejoin': 2} → "reopen port ×1, rejoin ×2"."""
    items = dict(counts).items()
    return ", ".join(f"{k.replace('_', ' ')} ×{v}" for k, v in items) if items else "none"


def _current_style(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return "bold red" if ratio >= 1 else "bold yellow" if ratio >= NEAR_LIMIT else ""


def _render(
    view: _View, conn: Connection | None, now: float | None = None, width: int = 80
) -> Group:
    """One whole frame (pure: the view, the link's counters and the time)."""
    now = time.monotonic() if now is None else now
    snapshot = conn.link_snapshot() if conn is not None else LinkSnapshot(state=view.stage)
    stale = view.stale(now)
    value_style = "dim" if stale else "bold cyan"
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    if view.read_at is None:  # not yet: the stage, with its time, instead of a blank screen
        spent = _ago(now - view.stage_since)
        table.add_row("connecting", Text(f"{view.stage} … {spent}", style="yellow"))
    power = view.power
    line = Text(_fmt(power, "W"), style=value_style if power is not None else "dim")
    if power is not None:
        line.append(" selling" if power < 0 else " buying", style="green" if power < 0 else "")
    if stale and view.read_at is not None:
        line.append(f"  stale: last reading {_ago(now - view.read_at)} ago", style="yellow")
    table.add_row("power", line)
    if view.currents is not None:
        contract = view.contract_amperes
        parts = Text()
        for name, amps in (("R", view.currents.r), ("T", view.currents.t)):
            if parts:
                parts.append("  ")
            ratio = None if amps is None or not contract else float(abs(amps)) / contract
            style = "dim" if stale else _current_style(ratio)
            shown = None if amps is None else abs(amps)
            parts.append(f"{name} {_fmt(shown, 'A')}", style=style)
        if contract:
            parts.append(f"  of {contract} A")
        table.add_row("current", parts)
    table.add_row(
        "today",
        Text(
            f"bought {_fmt(view.today_import, 'kWh')}"
            + (
                f" · sold {_fmt(view.today_export, 'kWh')}"
                if view.energy_export is not None
                else ""
            ),
            style="dim" if stale else "",
        ),
    )
    slot = "" if view.last_slot_time is None else f" (to {view.last_slot_time:%H:%M})"
    table.add_row(
        "last 30 min",
        f"bought {_fmt(view.last_slot_import, 'kWh')}"
        + (
            f" · sold {_fmt(view.last_slot_export, 'kWh')}"
            if view.energy_export is not None
            else ""
        )
        + slot,
    )
    table.add_row(
        "counters",
        f"bought {_fmt(view.energy_import, 'kWh')}"
        + (f" · sold {_fmt(view.energy_export, 'kWh')}" if view.energy_export is not None else ""),
    )
    spark_width = max(10, min(60, width - 20))
    spark = sparkline(list(view.samples), now, spark_width)
    spark.append("  last hour", style="dim")
    table.add_row("power, 1 h", spark)
    age = "—" if view.read_at is None else f"{_ago(now - view.read_at)} ago"
    table.add_row("last reading", age)
    link = Table.grid(padding=(0, 2))
    link.add_column(style="bold", no_wrap=True)
    link.add_column()
    lqi, rssi = snapshot.lqi, snapshot.rssi_dbm
    dbm = None if rssi is None else f"{rssi:.0f} dBm"
    link_parts = [part for part in (None if lqi is None else f"LQI {lqi}", dbm) if part]
    quality = " ≈ ".join(link_parts) or "—"
    link.add_row("link", f"{snapshot.state}, {quality}")
    rejoins = sum(snapshot.rejoins.values())
    why = f" ({_counts(snapshot.rejoins)})" if rejoins else ""
    link.add_row(
        "reconnects", f"{rejoins} rejoin(s){why}, recovery: {_counts(snapshot.recovery_steps)}"
    )
    if view.error:
        link.add_row("problem", Text(view.error, style="yellow"))
    keys = Text(" q quit · Ctrl-C quit", style="dim")
    return Group(Panel(table, title="routeb watch"), Panel(link, title="B-route link"), keys)


def _usage_kwh(conn: Connection, earlier: int, later: int) -> Decimal | None:
    info = conn.reader.info
    return info.scale.kwh(usage_between(earlier, later, info.digits or 8))


async def _load_today(conn: Connection, view: _View) -> None:
    """Today's counters at midnight (E2/E4 first values) and the last whole half-hour."""
    reverse = conn.reader.info.reverse_measurement
    history = await conn.reader.history_day(0, reverse=reverse)
    for direction, day in ((0xE0, history.normal), (0xE3, history.reverse)):
        if day is None:
            continue
        first = day.raw[0] if day.raw else None
        if direction == 0xE0:
            view.midnight_import_raw = first
        else:
            view.midnight_export_raw = first
        filled = [(i, raw) for i, raw in enumerate(day.raw) if raw is not None]
        if len(filled) >= 2 and filled[-1][0] == filled[-2][0] + 1:
            (_, before), (index, after) = filled[-2], filled[-1]
            usage = _usage_kwh(conn, before, after)
            if direction == 0xE0:
                view.last_slot_import = usage
                minutes = index * 30  # §B.1 E2: slot i is the counter at 00:00 + 30 min × i
                now = datetime.now(JST).replace(tzinfo=None)
                view.last_slot_time = now.replace(
                    hour=minutes // 60 % 24, minute=minutes % 60, second=0, microsecond=0
                )
            else:
                view.last_slot_export = usage


async def _poll(conn: Connection, view: _View, interval: float, energy_every: int) -> None:
    cycle = 0
    while True:
        epcs = [0xE7, 0xE8]
        if cycle % energy_every == 0:
            epcs += [0xE0, 0xE3] if conn.reader.info.reverse_measurement else [0xE0]
        try:
            readings = await conn.reader.read(epcs)
        except RouteBError as exc:
            view.failed = True  # marked stale at once, not after a timeout
            view.error = f"{exc} — reconnecting"
            view.errors += 1
        else:
            view.failed = False
            view.error = None
            view.read_at = time.monotonic()
            value = readings[0xE7].value
            view.power = value if isinstance(value, int) else None
            if view.power is not None:
                view.add_sample(view.read_at, view.power)
            currents = readings[0xE8].value
            view.currents = currents if isinstance(currents, InstantaneousCurrents) else None
            for epc in (0xE0, 0xE3):
                reading = readings.get(epc)
                if reading is None:
                    continue
                energy = reading.value
                kwh = energy.kwh() if isinstance(energy, CumulativeEnergy) else None
                raw = energy.raw if isinstance(energy, CumulativeEnergy) else None
                midnight = view.midnight_import_raw if epc == 0xE0 else view.midnight_export_raw
                today = None if raw is None or midnight is None else _usage_kwh(conn, midnight, raw)
                if epc == 0xE0:
                    view.energy_import, view.today_import = kwh, today
                else:
                    view.energy_export, view.today_export = kwh, today
            view.updates += 1
        cycle += 1
        await asyncio.sleep(interval)


async def _listen(conn: Connection, view: _View) -> None:
    """EA/EB pushed at each half-hour: the last 30 minutes bought and sold."""
    note: Notification
    async for note in conn.client.notifications():
        for epc in (0xEA, 0xEB):
            prop = note.frame.first(epc)
            if prop is None:
                continue
            try:
                value = decode_property(epc, prop.edt, conn.reader.info.scale)
            except RouteBError:
                continue
            if not isinstance(value, FixedTimeEnergy) or value.raw is None:
                continue
            previous = view.previous_fixed.get(epc)
            if previous is not None and previous.raw is not None:
                usage = _usage_kwh(conn, previous.raw, value.raw)
                if epc == 0xEA:
                    view.last_slot_import = usage
                    view.last_slot_time = value.timestamp
                else:
                    view.last_slot_export = usage
            view.previous_fixed[epc] = value


def _json_line(view: _View, conn: Connection) -> str:
    currents = view.currents
    snapshot = conn.link_snapshot()

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return json.dumps(
        {
            "power_w": view.power,
            "current_r_a": None if currents is None else text(currents.r),
            "current_t_a": None if currents is None else text(currents.t),
            "energy_import_kwh": text(view.energy_import),
            "energy_export_kwh": text(view.energy_export),
            "today_kwh": text(view.today_import),
            "today_export_kwh": text(view.today_export),
            "last_30min_kwh": text(view.last_slot_import),
            "last_30min_export_kwh": text(view.last_slot_export),
            "link": snapshot.state,
            "lqi": snapshot.lqi,
            "rejoins": sum(snapshot.rejoins.values()),
            "error": view.error,
        }
    )


class _StagesIntoView(Progress):
    """The connection's stages shown in the view instead of on stderr."""

    def __init__(self, view: _View, device: str) -> None:
        super().__init__(sys.stderr, live=False, device=device)
        self.view = view

    def stage(self, text: str) -> None:
        super().stage(text)  # logged at INFO (into the view's log handler: shown, not printed)
        self.view.set_stage(text)


class _IntoView(logging.Handler):
    """While the screen is drawn, warnings go into the view, not between its frames."""

    def __init__(self, view: _View, filters: list[Any]) -> None:
        super().__init__(logging.WARNING)
        self.view = view
        for f in filters:
            self.addFilter(f)

    def emit(self, record: logging.LogRecord) -> None:
        self.view.error = record.getMessage()


@contextlib.contextmanager
def _logs_into(view: _View) -> Iterator[None]:
    root = logging.getLogger()
    old = list(root.handlers)
    filters = [f for h in old for f in h.filters]
    handler = _IntoView(view, filters)
    for h in old:
        root.removeHandler(h)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for h in old:
            root.addHandler(h)


@contextlib.contextmanager
def _keys(on_key: Callable[[str], None]) -> Iterator[None]:
    """Single keys from the terminal (cbreak mode, restored on exit); nothing without a TTY."""
    stdin = sys.stdin
    if not stdin.isatty():
        yield
        return
    import termios  # noqa: PLC0415 - POSIX terminals only
    import tty  # noqa: PLC0415

    fd = stdin.fileno()
    saved = termios.tcgetattr(fd)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        with contextlib.suppress(OSError):
            for char in stdin.read(1):
                on_key(char)

    tty.setcbreak(fd)
    loop.add_reader(fd, readable)
    try:
        yield
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _contract_amperes(settings: Any) -> int | None:
    """The contract amperage from the tariff file, when one is configured."""
    path = settings.config.tariff.file
    if path is None:
        return None
    from routeb.tariff import load_tariff  # noqa: PLC0415 - only with a tariff

    with contextlib.suppress(RouteBError):
        return load_tariff(path).contract_amperes
    return None


async def _watch(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    interval = max(5.0, args.interval or settings.config.polling.instantaneous_interval)
    energy_every = max(1, round(settings.config.polling.energy_interval / interval))
    console = Console()
    view = _View(interval=interval, contract_amperes=_contract_amperes(settings))
    screen = not args.json and console.is_terminal
    quit_now = asyncio.Event()
    holder: list[Connection] = []

    # The connection's stages (cli/progress.py): into the view on the screen, else on stderr.
    stages: Progress = (
        _StagesIntoView(view, settings.device)
        if screen
        else stage_line(quiet=args.quiet, device=settings.device)
    )

    last_frame: list[RenderableType] = []

    def frame() -> RenderableType:
        # Drawn by rich's refresh thread: an exception there would stop every later frame.
        try:
            scanning = stages.scan_text()  # "scanning channel N of 28 …", moving on its own
            if scanning is not None and view.read_at is None:
                view.stage = scanning
            last_frame[:] = [_render(view, holder[0] if holder else None, width=console.width)]
        except Exception as exc:  # noqa: BLE001 - see above: the refresh thread must go on
            view.error = f"cannot draw the view: {exc!r}"
            if not last_frame:
                return Text(view.error)
        return last_frame[0]

    def on_key(char: str) -> None:
        if char in {"q", "Q"}:
            quit_now.set()

    async def session() -> None:
        stages.stage(f"opening {settings.device}")
        async with connect(
            settings,
            retry_auth=args.retry_auth,
            show_identifiers=args.show_identifiers,
            progress=stages,
            start_reader=False,
        ) as conn:
            stages.stage("reading the meter's properties")
            d5_wait = D5_WAIT_LAN if isinstance(conn, LanLink) else D5_WAIT_WISUN
            await conn.reader.start(d5_wait=d5_wait)
            holder.append(conn)
            stages.stage("reading today's 30-minute values")
            with contextlib.suppress(RouteBError):
                await _load_today(conn, view)
            stages.stage("reading power")
            stages.close()
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(_poll(conn, view, interval, energy_every))
                    group.create_task(_listen(conn, view))
                    group.create_task(_until_done(view, conn, args, quit_now, screen))
            except* _Done:
                pass

    if not screen:
        await session()
        return 0
    with (
        _logs_into(view),
        _keys(on_key),
        Live(
            console=console,
            get_renderable=frame,
            screen=True,
            refresh_per_second=4,
            redirect_stderr=False,
        ),
    ):
        watcher = asyncio.ensure_future(session())
        stopper = asyncio.ensure_future(quit_now.wait())
        try:
            await asyncio.wait({watcher, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
            if not watcher.done():
                watcher.cancel()
            await asyncio.gather(watcher, stopper, return_exceptions=True)
    if not watcher.cancelled() and watcher.exception() is not None:
        raise watcher.exception()  # type: ignore[misc]
    return 0


class _Done(Exception):
    """Raised inside the task group when the view has shown enough updates."""


async def _until_done(
    view: _View, conn: Connection, args: argparse.Namespace, quit_now: asyncio.Event, screen: bool
) -> None:
    seen = 0
    while not quit_now.is_set():
        await asyncio.sleep(0.2)
        if view.updates > seen:
            seen = view.updates
            if not screen:
                print(_json_line(view, conn), flush=True)
        if args.updates and seen >= args.updates:
            raise _Done
    raise _Done
