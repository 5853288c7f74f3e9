"""Versioned schema migrations: ``migrations/NNNN_name.sql`` shipped with the package.

``PRAGMA user_version`` holds the number of the last applied file. Each file runs in one
``BEGIN IMMEDIATE`` transaction together with the version bump, so a kill mid-way leaves the
previous version intact. A database from a newer routeb is refused, never touched.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

from routeb.storage.errors import SchemaVersionError, StorageError

__all__ = ["APPLICATION_ID", "Migration", "latest_version", "migrate", "migrations", "verify"]

# PRAGMA application_id marks the file as routeb's: ASCII "RTEB".
APPLICATION_ID: Final = 0x52544542
_NAME: Final = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        """The file split into complete SQL statements (triggers stay whole)."""
        out: list[str] = []
        buffer = ""
        for line in self.sql.splitlines(keepends=True):
            buffer += line
            if sqlite3.complete_statement(buffer):
                out.append(buffer.strip())
                buffer = ""
        leftover = [
            line
            for line in buffer.splitlines()
            if line.strip() and not line.strip().startswith("--")
        ]
        if leftover:
            raise StorageError(f"migration {self.name} ends with an incomplete statement")
        return out


@cache
def migrations() -> tuple[Migration, ...]:
    """Every shipped migration, in order; numbered 1, 2, 3 … without gaps."""
    found: list[Migration] = []
    for entry in resources.files("routeb.storage.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StorageError(f"migration {migration.name}: expected number {expected:04d}")
    return tuple(found)


def latest_version() -> int:
    """The schema version this routeb writes."""
    return len(migrations())


def _pragma_int(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute(f"PRAGMA {name}").fetchone()
    return int(row[0])


def verify(conn: sqlite3.Connection, *, writable: bool) -> int:
    """The file's schema version; raises if it is not ours, or newer than we know.

    A reader (``writable=False``) also needs the version to be current: only the writer migrates.
    """
    version = _pragma_int(conn, "user_version")
    app = _pragma_int(conn, "application_id")
    latest = latest_version()
    if app not in (0, APPLICATION_ID) or (app == 0 and version != 0):
        raise SchemaVersionError(
            "this SQLite file is not a routeb database", found=version, supported=latest
        )
    if version == 0 and app == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise SchemaVersionError(
                "this SQLite file is not a routeb database", found=version, supported=latest
            )
    if version > latest:
        raise SchemaVersionError(
            f"the database has schema version {version}, newer than this routeb understands "
            f"({latest}); upgrade routeb",
            found=version,
            supported=latest,
        )
    if not writable and version < latest:
        raise SchemaVersionError(
            f"the database has schema version {version}, older than this routeb ({latest}); "
            "start `routeb run` once to upgrade it",
            found=version,
            supported=latest,
        )
    return version


def migrate(conn: sqlite3.Connection) -> int:
    """Apply every pending migration (one transaction each); returns the final version.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    if verify(conn, writable=True) == latest_version():
        return latest_version()
    for migration in migrations():
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = _pragma_int(conn, "user_version")
            if current >= migration.version:
                conn.execute("ROLLBACK")
                continue
            for statement in migration.statements():
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return _pragma_int(conn, "user_version")
