"""`routeb ha import` / `routeb ha status`: Home Assistant's long-term statistics by hand.

``import`` brings the hourly statistics of every meter (or ``--meter``) in [--from, --to) in
line with the store — only the hours Home Assistant lacks or holds differently; ``status``
shows what Home Assistant holds next to what routeb holds, importing nothing. Both read the
database read-only and use [homeassistant] url and token (docs/homeassistant.md).

Exit codes: 0 done, 1 a statistic id conflict or a refused command, 2 configuration,
3 the token was rejected or is not an administrator's, 6 Home Assistant unreachable.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

from routeb.cli._common import EXIT_AUTH, EXIT_LINK, EXIT_OTHER, jst_day, run
from routeb.config import load_config
from routeb.errors import ConfigError

__all__ = ["register"]

_DAY: Final = timedelta(days=1)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "ha",
        help="Home Assistant long-term statistics: import history, show status",
        description="Import the recorded half-hours into Home Assistant's long-term "
        "statistics (the Energy dashboard), or compare what each side holds.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("import", "import the hours Home Assistant lacks or holds differently"),
        ("status", "show what Home Assistant holds next to what routeb holds"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("--config", type=Path, help="config file ([homeassistant], [storage])")
        action.add_argument("--db", type=Path, help="SQLite database (default: [storage] db)")
        action.add_argument("--meter", help="only this meter (default: every meter recorded)")
        action.add_argument(
            "--from", dest="start", type=jst_day, help="first day (JST, YYYY-MM-DD)"
        )
        action.add_argument("--to", dest="end", type=jst_day, help="last day, inclusive (JST)")
        action.set_defaults(handler=_handle, dry_run=name == "status")


def _handle(args: argparse.Namespace) -> int:
    return run(lambda: _main(args))


async def _main(args: argparse.Namespace) -> int:
    # Imported here: `routeb --help` must not pay for aiohttp's websocket client.
    from routeb.ha.client import (  # noqa: PLC0415
        HaNotAdminError,
        HaTokenRejectedError,
        HaUnreachableError,
        HomeAssistantClient,
        HomeAssistantError,
        HomeAssistantSettings,
    )
    from routeb.ha.importer import StatisticsImporter  # noqa: PLC0415
    from routeb.tariff import JST, load_tariff  # noqa: PLC0415

    config = load_config(args.config)
    section = config.homeassistant
    if not section.url or section.token is None:
        raise ConfigError("homeassistant", "set url and token (docs/homeassistant.md)")
    db = args.db or config.storage.db
    if not db.exists():
        raise ConfigError("storage.db", f"no database at {db}")
    start = None if args.start is None else datetime.combine(args.start, time(), JST)
    end = None
    if args.end is not None:
        end = datetime.combine(args.end, time(), JST) + _DAY
    if start is not None and end is not None and end <= start:
        raise ConfigError("--to", "must not be before --from")
    tariff = load_tariff(config.tariff.file) if config.tariff.file else None
    settings = HomeAssistantSettings(section.url, section.token, cost=section.cost)
    importer = StatisticsImporter(db, tariff, cost=section.cost, read_only=True)
    try:
        meters = [args.meter] if args.meter else await importer.meters()
        if args.meter and args.meter not in await importer.meters():
            raise ConfigError("--meter", f"no meter {args.meter!r} in {db}")
        async with HomeAssistantClient(settings) as ha:
            print(f"Home Assistant {ha.version_text} at {section.url}")
            for meter in meters:
                for report in await importer.sync(ha, meter, start, end, dry_run=args.dry_run):
                    print(_line(report, dry_run=args.dry_run))
    except HomeAssistantError as exc:
        print(f"routeb: {exc}", file=sys.stderr)
        if isinstance(exc, HaTokenRejectedError | HaNotAdminError):
            return EXIT_AUTH
        if isinstance(exc, HaUnreachableError):
            return EXIT_LINK
        return EXIT_OTHER
    finally:
        await importer.close()
    return 0


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    from routeb.tariff import JST  # noqa: PLC0415 - see _main

    return value.astimezone(JST).strftime("%Y-%m-%d %H:%M")


def _line(report: Any, *, dry_run: bool) -> str:
    routeb_side = (
        f"routeb {report.routeb_hours} h to {_when(report.routeb_last)}"
        f" (sum {report.routeb_sum if report.routeb_sum is not None else '—'})"
    )
    ha_side = (
        f"Home Assistant {report.ha_hours} h to {_when(report.ha_last)}"
        f" (sum {report.ha_sum if report.ha_sum is not None else '—'})"
    )
    if dry_run:
        done = "in step" if not report.differing else f"{report.differing} h to import"
    else:
        done = f"{report.imported} h imported" if report.imported else "nothing to import"
    return f"{report.statistic_id}: {routeb_side}; {ha_side}; {done}"
