"""`routeb fleet`: questions about the whole fleet, asked of the PostgreSQL store."""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, date, datetime, timedelta
from typing import Any

from routeb.cli._common import (
    jst_day,
    postgres_error,
    register_url_secret,
    run,
    setup_logging,
)
from routeb.storage.times import JST

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "fleet",
        help="fleet queries: latest readings, completeness, totals per 30 minutes",
        description="Query the fleet store written by `routeb ingest`.",
    )
    parser.add_argument("--db", default=os.environ.get("ROUTEB_FLEET_DSN", ""),
                        help="PostgreSQL connection string (or $ROUTEB_FLEET_DSN)")  # fmt: skip
    parser.add_argument("--site", help="only this site")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    what = parser.add_subparsers(dest="query", metavar="QUERY", required=True)
    what.add_parser("latest", help="per site and meter, the newest instantaneous reading")
    gaps = what.add_parser("completeness", help="missing 30-minute slots per meter per JST day")
    gaps.add_argument("--from", dest="first", type=jst_day, help="first JST day")
    gaps.add_argument("--to", dest="last", type=jst_day, help="last JST day")
    gaps.add_argument("--incomplete", action="store_true", help="only days with gaps")
    total = what.add_parser("totals", help="fleet-wide energy per 30 minutes")
    total.add_argument("--from", dest="first", type=jst_day, help="first JST day")
    total.add_argument("--to", dest="last", type=jst_day, help="last JST day")
    parser.set_defaults(handler=_handle)


def _days(args: argparse.Namespace) -> tuple[date, date]:
    today = datetime.now(JST).date()
    last = args.last or today
    return args.first or last, last


def _handle(args: argparse.Namespace) -> int:
    setup_logging(0)
    register_url_secret(args.db)

    async def main() -> int:
        import psycopg  # noqa: PLC0415 - only the fleet commands need PostgreSQL

        from routeb.errors import ConfigError  # noqa: PLC0415
        from routeb.fleet.pg import FleetSchemaError  # noqa: PLC0415

        if not args.db:
            raise ConfigError("--db", "a PostgreSQL connection string is needed")
        try:
            return _query(args)
        except (psycopg.Error, FleetSchemaError) as exc:
            raise postgres_error(exc) from None

    return run(main)


def _query(args: argparse.Namespace) -> int:
    from routeb.fleet import pg, queries  # noqa: PLC0415

    rows: list[dict[str, object]] = []
    with pg.connect(args.db) as conn:
        if args.query == "latest":
            for item in queries.latest(conn, args.site):
                rows.append({"site": item.site, "meter": item.meter,
                             "at": item.at.astimezone(UTC).isoformat(),
                             "power_w": item.power_w})  # fmt: skip
        elif args.query == "completeness":
            first, last = _days(args)
            for gap in queries.completeness(conn, first, last, args.site):
                if args.incomplete and not gap.missing:
                    continue
                rows.append({"site": gap.site, "meter": gap.meter, "day": gap.day.isoformat(),
                             "present": gap.present, "missing": gap.missing})  # fmt: skip
        else:
            first, last = _days(args)
            start = datetime(first.year, first.month, first.day, tzinfo=JST)
            end = datetime(last.year, last.month, last.day, tzinfo=JST) + timedelta(days=1)
            for t in queries.totals(conn, start, end, args.site):
                rows.append({"at": t.at.astimezone(JST).isoformat(), "meters": t.meters,
                             "import_kwh": str(t.import_kwh),
                             "export_kwh": str(t.export_kwh)})  # fmt: skip
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
    elif rows:
        keys = list(rows[0])
        widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
        print("  ".join(k.ljust(widths[k]) for k in keys))
        for row in rows:
            print("  ".join(str(row[k]).ljust(widths[k]) for k in keys))
    return 0
