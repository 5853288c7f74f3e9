"""``routeb db backup``: a consistent copy of the database, safe while ``routeb run`` writes.

SQLite's online backup API copies the pages under one read transaction (``pages=-1``: a single
step, so a concurrent writer cannot make it restart); in WAL mode the writer goes on
meanwhile, and the copy is the database as of one commit. The copy is written beside its
destination and renamed into place (mode 0600), then checked with ``PRAGMA quick_check``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from routeb.storage.errors import StorageError

__all__ = ["BackupResult", "backup"]


@dataclass(frozen=True, slots=True)
class BackupResult:
    """Where the copy went and how big it is."""

    path: Path
    pages: int
    size: int


def backup(source: Path, destination: Path, *, busy_timeout: float = 30.0) -> BackupResult:
    """Copy ``source`` to ``destination`` (which must not exist); StorageError on failure."""
    if not source.is_file():
        raise StorageError(f"no database at {source}")
    uri = f"file:{quote(str(source.resolve()))}?mode=ro"
    fd, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".routeb-backup-")
    os.close(fd)
    os.chmod(temporary, 0o600)
    try:
        try:
            with (
                contextlib.closing(sqlite3.connect(uri, uri=True, timeout=busy_timeout)) as src,
                contextlib.closing(sqlite3.connect(temporary)) as dst,
            ):
                src.backup(dst, pages=-1)
                pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
                verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.Error as exc:
            raise StorageError(f"cannot back up {source}: {exc}") from exc
        if verdict != "ok":
            raise StorageError(f"the copy of {source} failed its check: {verdict}")
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return BackupResult(destination, pages, destination.stat().st_size)
