"""`routeb export`: what `routeb run` recorded, as CSV or JSON lines, for any date range."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from routeb.cli._common import jst_day as _day
from routeb.cli._common import run
from routeb.config import load_config
from routeb.errors import ConfigError
from routeb.storage import ExportFormat, ExportWhat, SqliteStore, StorageError, export

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export recorded data as CSV or JSON lines",
        description="Export what `routeb run` recorded. Dates are whole JST days; --to is "
        "inclusive. Reads the database only (safe while `routeb run` records).",
    )
    parser.add_argument("--config", type=Path, help="config file (for [storage] db)")
    parser.add_argument("--db", type=Path, help="SQLite database (default: [storage] db)")
    parser.add_argument(
        "--from",
        dest="start",
        type=_day,
        required=True,
        metavar="DATE",
        help="first JST day, YYYY-MM-DD",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=_day,
        required=True,
        metavar="DATE",
        help="last JST day, YYYY-MM-DD (inclusive)",
    )
    parser.add_argument(
        "--format",
        choices=[f.value for f in ExportFormat],
        default="csv",
        help="csv (a header row, then one row per record) or json (one JSON object per line)",
    )
    parser.add_argument(
        "--what",
        choices=[w.value for w in ExportWhat],
        default="slots",
        help="slots: 30-minute energy; readings: raw power and currents; cumulative: the "
        "meter's E0/E3 counters; minutes: per-minute power; events: link and session events "
        "(default slots)",
    )
    parser.add_argument("--meter", help="only this meter (its key, as `routeb run` names it)")
    parser.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    parser.set_defaults(handler=_handle)


def _check_meter(db: Path, meter: str) -> None:
    with SqliteStore(db, read_only=True) as store:
        known = [m.meter for m in store.meters()]
    if meter not in known:
        listed = ", ".join(known) if known else "none recorded yet"
        raise ConfigError("--meter", f"there is no meter {meter!r} in {db} (meters: {listed})")


def _handle(args: argparse.Namespace) -> int:
    async def main() -> int:
        db = args.db or load_config(args.config).storage.db
        key = "--db" if args.db else "storage.db"
        if not db.exists():
            raise ConfigError(key, f"no database at {db} (has routeb run recorded yet?)")
        if args.end < args.start:
            raise ConfigError("--to", "is before --from")
        try:
            if args.meter is not None:
                _check_meter(db, args.meter)
            if args.output is not None:
                with args.output.open("w", encoding="utf-8", newline="") as out:
                    rows = _export(args, db, out)
            else:
                rows = _export(args, db, sys.stdout)
        except StorageError as exc:
            raise ConfigError(key, f"cannot read {db}: {exc.__cause__ or exc}") from None
        print(f"routeb export: {rows} rows", file=sys.stderr)
        return 0

    return run(main)


def _export(args: argparse.Namespace, db: Path, out: Any) -> int:
    return export(
        db, args.start, args.end, out=out, fmt=args.format, what=args.what, meter=args.meter
    )
