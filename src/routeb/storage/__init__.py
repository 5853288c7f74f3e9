"""The SQLite store of ``routeb run`` (docs/storage.md): every reading, exact, crash-safe.

Write through :class:`AsyncStore` (daemon) or :class:`SqliteStore` (anything synchronous);
read with a read-only :class:`SqliteStore`; :func:`export` and :func:`check` are the cores of
``routeb export`` and ``routeb db check``.
"""

from routeb.storage.asyncstore import AsyncStore, StoreStats
from routeb.storage.check import CheckReport, MeterCheck, check
from routeb.storage.errors import SchemaVersionError, StorageError
from routeb.storage.export import ExportFormat, ExportWhat, export, export_range
from routeb.storage.model import (
    Change,
    CumulativeReading,
    DayGaps,
    DaySummary,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterRecord,
    MeterUpdate,
    MonthSummary,
    PowerStats,
    PurgeResult,
    Record,
    RetentionPolicy,
    Slot,
    SlotReading,
    SlotSource,
    WriteResult,
    e4_to_kwh,
    kwh_to_e4,
)
from routeb.storage.schema import latest_version
from routeb.storage.sqlite import SqliteStore
from routeb.storage.times import JST, jst_to_utc, utc_to_jst
from routeb.storage.writerlock import DatabaseInUseError, WriterLock, acquire_writer_lock

__all__ = [
    "JST",
    "AsyncStore",
    "Change",
    "CheckReport",
    "CumulativeReading",
    "DatabaseInUseError",
    "DayGaps",
    "DaySummary",
    "ExportFormat",
    "ExportWhat",
    "InstantReading",
    "LinkEvent",
    "MeterCheck",
    "MeterMetadata",
    "MeterRecord",
    "MeterUpdate",
    "MonthSummary",
    "PowerStats",
    "PurgeResult",
    "Record",
    "RetentionPolicy",
    "SchemaVersionError",
    "Slot",
    "SlotReading",
    "SlotSource",
    "SqliteStore",
    "StorageError",
    "StoreStats",
    "WriteResult",
    "WriterLock",
    "acquire_writer_lock",
    "check",
    "e4_to_kwh",
    "export",
    "export_range",
    "jst_to_utc",
    "kwh_to_e4",
    "latest_version",
    "utc_to_jst",
]
