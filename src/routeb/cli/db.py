"""`routeb db check`: integrity check of the database and a report of missing half-hours."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from routeb.cli._common import run
from routeb.config import load_config
from routeb.errors import ConfigError
from routeb.storage import check

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("db", help="database maintenance")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    checker = actions.add_parser("check", help="integrity check and gaps per day")
    checker.add_argument("--config", type=Path, help="config file (for [storage] db)")
    checker.add_argument("--db", type=Path, help="SQLite database (default: [storage] db)")
    checker.add_argument("--quick", action="store_true", help="PRAGMA quick_check only")
    checker.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    async def main() -> int:
        db = args.db or load_config(args.config).storage.db
        if not db.exists():
            raise ConfigError("storage.db", f"no database at {db}")
        report = check(db, quick=args.quick)
        print(report.summary())
        return 0 if report.ok else 1

    return run(main)
