"""Errors of the SQLite store (children of :class:`routeb.errors.RouteBError`).

::

    RouteBError
    └── StorageError                  the database cannot be opened, read or written
        └── SchemaVersionError        the file's schema is newer than this routeb (or not ours)
"""

from __future__ import annotations

__all__ = ["SchemaVersionError", "StorageError"]

from routeb.errors import RouteBError


class StorageError(RouteBError):
    """The SQLite database cannot be opened, read or written (the cause is chained)."""


class SchemaVersionError(StorageError):
    """The database was written by a newer routeb, or is not a routeb database at all.

    ``found`` is the file's ``PRAGMA user_version``; ``supported`` the newest this routeb knows.
    """

    def __init__(self, message: str, *, found: int, supported: int) -> None:
        self.found = found
        self.supported = supported
        super().__init__(message)
