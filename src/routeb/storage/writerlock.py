"""One recording daemon per database: an exclusive lock on ``<db>.lock`` for the writer's life.

Two ``routeb run`` on one file both record, and their interleaved half-hours contradict each
other (issue 17 §5). :func:`acquire_writer_lock` takes ``flock(LOCK_EX | LOCK_NB)`` on a file
beside the database and writes who holds it (pid, command, since) into it, so the second
daemon is refused with one line naming the first.

Why a separate file and not the database itself:

- SQLite locks the database with POSIX ``fcntl`` byte-range locks, and POSIX drops *all* of a
  process's locks on a file when *any* descriptor of it is closed (sqlite.org/howtocorrupt.html
  §2.2): a second descriptor on the database is a hazard. On NFS, Linux emulates ``flock`` with
  a whole-file ``fcntl`` lock, which would collide with SQLite's own locks there.
- The kernel releases an ``flock`` when its holder dies, however it dies: a stale ``.lock``
  file left after a crash or ``kill -9`` is not a held lock, so nothing needs cleaning up.
- Readers (``db check``, ``db backup``, ``export``, the dashboard) never take it: WAL lets them
  read while the daemon writes. ``db backup`` copies the database through SQLite, not the lock
  file, so a restored copy starts unlocked.
- NFS: ``flock`` there works between hosts only through NLM (``lockd``); SQLite's WAL needs
  shared memory and does not work across hosts at all, so the database belongs on a local disk
  (docs/storage.md). On one host the lock holds on any file system Linux mounts.

The lock is per open file description: a second acquisition in the same process on a new
descriptor is refused too, as it should be for a second store on one file.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from routeb._redact import redact_secrets
from routeb.storage.errors import StorageError

__all__ = ["LOCK_SUFFIX", "DatabaseInUseError", "WriterLock", "acquire_writer_lock"]

# `<db>.lock`: beside the database, like SQLite's own `-wal` and `-shm` files.
LOCK_SUFFIX: Final = ".lock"
# The holder's description is short; a larger file is not ours.
_MAX_INFO: Final = 4096


class DatabaseInUseError(StorageError):
    """Another process holds the writer lock of the database (its pid, command and start)."""

    def __init__(self, path: Path, holder: str) -> None:
        super().__init__(
            f"another routeb is recording into it ({holder}); "
            "stop that one first, or give each daemon its own database"
        )
        self.path = path
        self.holder = holder


def lock_path(db_path: Path) -> Path:
    """The lock file of the database at ``db_path``."""
    return db_path.with_name(db_path.name + LOCK_SUFFIX)


def _command() -> str:
    """This process's command line, as a user would recognise it (secrets masked)."""
    argv = list(sys.argv) or ["python"]
    program = os.path.basename(argv[0]) or argv[0]
    # `python -m routeb` runs routeb/__main__.py: the user typed (or systemd ran) `routeb`.
    argv[0] = "routeb" if program in ("routeb", "__main__.py") else program
    return redact_secrets(shlex.join(argv)).replace("\n", " ")


def _describe(raw: str) -> str:
    """The holder's "pid N, `command`, since T" from the lock file's text."""
    fields: dict[str, str] = {}
    for line in raw.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    pid = fields.get("pid")
    if pid is None or not pid.isdigit():
        return "a process that has not written its details yet"
    parts = [f"pid {pid}"]
    if fields.get("command"):
        parts.append(f"`{fields['command']}`")
    if fields.get("since"):
        parts.append(f"since {fields['since']}")
    return ", ".join(parts)


class WriterLock:
    """A held writer lock; :meth:`release` (or closing the process) lets the next one in."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        """True until :meth:`release`."""
        return self._fd is not None

    def release(self) -> None:
        """Give the lock up (idempotent). The file stays: its presence means nothing."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock


def take_writer_lock(db_path: str | Path) -> WriterLock:
    """Lock ``db_path`` for writing or raise :class:`DatabaseInUseError` naming the holder."""
    db = Path(db_path)
    path = lock_path(db)
    try:
        # As the database itself (connection.py): the directory is created private if missing.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot create the lock file {path}: {exc.strerror}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            raw = os.pread(fd, _MAX_INFO, 0).decode("utf-8", "replace")
        finally:
            os.close(fd)
        raise DatabaseInUseError(db, _describe(raw)) from None
    except OSError as exc:
        os.close(fd)
        raise StorageError(f"cannot lock {path}: {exc.strerror}") from exc
    since = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
    text = f"pid={os.getpid()}\ncommand={_command()}\nsince={since}\n".encode()
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text, 0)
    except OSError as exc:
        os.close(fd)
        raise StorageError(f"cannot write the lock file {path}: {exc.strerror}") from exc
    return WriterLock(path, fd)


@contextmanager
def acquire_writer_lock(db_path: str | Path) -> Iterator[WriterLock]:
    """Hold the writer lock of ``db_path`` for the ``with`` block (docs/storage.md)."""
    lock = take_writer_lock(db_path)
    try:
        yield lock
    finally:
        lock.release()
