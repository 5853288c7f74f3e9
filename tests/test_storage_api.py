"""The public surface of routeb.storage, and what the package may import."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import routeb.storage
from routeb.errors import RouteBError

STORAGE = Path(routeb.storage.__file__).resolve().parent
# docs/architecture.md: storage (L4) prefers stdlib + routeb.errors + the echonet value types.
# routeb._redact (stdlib only): the writer lock masks secrets in the command line it records.
ALLOWED_ROUTEB = {"routeb.errors", "routeb._redact", "routeb.echonet.energy", "routeb.meter_time"}


def test_public_api_is_pinned() -> None:
    assert routeb.storage.__all__ == [
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
    for name in routeb.storage.__all__:
        assert hasattr(routeb.storage, name), name


def test_storage_errors_are_routeb_errors() -> None:
    assert issubclass(routeb.storage.StorageError, RouteBError)
    assert issubclass(routeb.storage.SchemaVersionError, routeb.storage.StorageError)


def test_storage_imports_only_stdlib_errors_and_echonet_values() -> None:
    stdlib = sys.stdlib_module_names
    for path in sorted(STORAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "routeb":
                    assert name.startswith("routeb.storage") or name in ALLOWED_ROUTEB, (
                        f"{path.name} imports {name}"
                    )
                else:
                    assert top in stdlib or top == "__future__", f"{path.name} imports {name}"
