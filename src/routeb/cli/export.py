"""`routeb export`: what `routeb run` recorded, as CSV or JSON lines, for any date range."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from routeb.cli._common import run
from routeb.config import load_config
from routeb.errors import ConfigError
from routeb.storage import ExportFormat, ExportWhat, export

__all__ = ["register"]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="export recorded data as CSV or JSON lines",
        description="Export recorded data. Dates are whole JST days; --to is inclusive.",
    )
    parser.add_argument("--config", type=Path, help="config file (for [storage] db)")
    parser.add_argument("--db", type=Path, help="SQLite database (default: [storage] db)")
    parser.add_argument("--from", dest="start", type=_day, required=True, metavar="DATE")
    parser.add_argument("--to", dest="end", type=_day, required=True, metavar="DATE")
    parser.add_argument("--format", choices=[f.value for f in ExportFormat], default="csv")
    parser.add_argument("--what", choices=[w.value for w in ExportWhat], default="slots")
    parser.add_argument("--meter", help="only this meter")
    parser.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    async def main() -> int:
        db = args.db or load_config(args.config).storage.db
        if not db.exists():
            raise ConfigError("storage.db", f"no database at {db} (has routeb run recorded yet?)")
        if args.end < args.start:
            raise ConfigError("--to", "is before --from")
        if args.output is not None:
            with args.output.open("w", encoding="utf-8", newline="") as out:
                rows = export(
                    db,
                    args.start,
                    args.end,
                    out=out,
                    fmt=args.format,
                    what=args.what,
                    meter=args.meter,
                )
        else:
            rows = export(
                db,
                args.start,
                args.end,
                out=sys.stdout,
                fmt=args.format,
                what=args.what,
                meter=args.meter,
            )
        print(f"routeb export: {rows} rows", file=sys.stderr)
        return 0

    return run(main)
