"""`routeb db check` (integrity, wrong data, gaps) and `routeb db backup` (an online copy)."""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from routeb.cli._common import run
from routeb.config import load_config
from routeb.errors import ConfigError, UsageError
from routeb.storage import StorageError, check
from routeb.storage.backup import backup
from routeb.tariff import load_tariff

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("db", help="database maintenance")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    checker = actions.add_parser(
        "check", help="integrity, data that cannot be right, and gaps per day, per meter"
    )
    checker.add_argument(
        "--config", type=Path, help="config file (for [storage] db and the [tariff] contract)"
    )
    checker.add_argument("--db", type=Path, help="SQLite database (default: [storage] db)")
    checker.add_argument("--quick", action="store_true", help="PRAGMA quick_check only")
    checker.add_argument(
        "--meter", metavar="NAME", help="check this meter's data only (default: every meter)"
    )
    checker.set_defaults(handler=_check)
    saver = actions.add_parser(
        "backup",
        help="copy the database while `routeb run` keeps recording (SQLite online backup)",
        description="A consistent copy of the database as of one commit, made with SQLite's "
        "online backup API: safe while `routeb run` writes. The copy is checked, mode 0600.",
    )
    saver.add_argument(
        "destination",
        type=Path,
        metavar="DEST",
        help="the copy's file name, or a directory for routeb-YYYYmmdd-HHMMSS.sqlite3",
    )
    saver.add_argument("--config", type=Path, help="config file (for [storage] db)")
    saver.add_argument("--db", type=Path, help="SQLite database (default: [storage] db)")
    saver.add_argument("--force", action="store_true", help="replace DEST if it exists")
    saver.set_defaults(handler=_backup)


def _database(args: argparse.Namespace) -> Path:
    db: Path = args.db or load_config(args.config).storage.db
    if not db.is_file():
        raise ConfigError("--db" if args.db else "storage.db", f"no database at {db}")
    return db


def _contract_va(args: argparse.Namespace) -> int | None:
    """The [tariff] file's contract, which bounds a day's usage (docs/storage.md, db check)."""
    if args.config is None and args.db is not None:
        return None
    config = load_config(args.config)
    if config.tariff.file is None:
        return None
    return load_tariff(config.tariff.file).capacity_va


def _check(args: argparse.Namespace) -> int:
    async def main() -> int:
        db = _database(args)
        capacity = _contract_va(args)
        try:
            report = check(db, quick=args.quick, meter=args.meter, capacity_va=capacity)
        except UsageError as exc:
            raise ConfigError("--meter", str(exc)) from None
        print(report.summary())
        return 0 if report.ok else 1

    return run(main)


def _backup(args: argparse.Namespace) -> int:
    async def main() -> int:
        return _copy(args)

    return run(main)


def _copy(args: argparse.Namespace) -> int:
    db = _database(args)
    target: Path = args.destination
    if target.is_dir():
        target = target / f"routeb-{datetime.now():%Y%m%d-%H%M%S}.sqlite3"
    if not target.parent.is_dir():
        raise ConfigError("DEST", f"directory {target.parent} does not exist")
    if target.exists() and not args.force:
        raise ConfigError("DEST", f"{target} exists (use --force to replace it)")
    if target.resolve() == db.resolve():
        raise ConfigError("DEST", "is the database itself")
    try:
        result = backup(db, target)
    except StorageError as exc:
        raise ConfigError("--db" if args.db else "storage.db", str(exc)) from None
    print(f"routeb db backup: {result.path} ({result.pages} pages, {result.size} bytes)")
    return 0
