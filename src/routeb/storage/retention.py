"""Retention: raw readings older than ``raw_days`` are deleted; aggregates and slots stay.

The horizon is committed before any row is deleted: from then on older readings are refused
(writes.py), so a kill between the two steps can never let a deleted reading be counted twice
in the aggregates. Deletes go in chunks so no transaction holds the write lock for long.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from routeb.storage.connection import HORIZON_KEY, Database
from routeb.storage.model import PurgeResult, RetentionPolicy
from routeb.storage.times import DAY_SECONDS, from_epoch, to_epoch

__all__ = ["PURGE_CHUNK", "purge", "raw_horizon"]

# Rows deleted per transaction.
PURGE_CHUNK: Final = 5000


def purge(db: Database, retention: RetentionPolicy, now: datetime | None = None) -> PurgeResult:
    """Delete raw readings older than the retention (aggregates and slots stay)."""
    days = retention.raw_days
    if days is None:
        return PurgeResult(0, 0, raw_horizon(db))
    cut = to_epoch(now or db.clock()) - days * DAY_SECONDS
    cut -= cut % 60
    with db.write() as tx:
        if tx.horizon is None or cut > tx.horizon:
            db.conn.execute(
                "INSERT INTO store_state (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (HORIZON_KEY, cut),
            )
            horizon = cut
        else:
            horizon = tx.horizon
    with db.errors():
        meter_ids = [int(r[0]) for r in db.conn.execute("SELECT id FROM meters")]
    deleted = {"instant": 0, "cumulative": 0}
    for table in deleted:
        for meter_id in meter_ids:
            while True:
                with db.write():
                    count = db.conn.execute(
                        _SQL_PURGE[table], (meter_id, horizon, PURGE_CHUNK)
                    ).rowcount
                deleted[table] += count
                if count < PURGE_CHUNK:
                    break
    return PurgeResult(deleted["instant"], deleted["cumulative"], from_epoch(horizon))


def raw_horizon(db: Database) -> datetime | None:
    """Raw readings before this instant have been deleted by retention (None: never)."""
    with db.errors():
        row = db.conn.execute(
            "SELECT value FROM store_state WHERE key = ?", (HORIZON_KEY,)
        ).fetchone()
    return None if row is None else from_epoch(int(row[0]))


_SQL_PURGE: Final[dict[str, str]] = {
    "instant": "DELETE FROM instant WHERE seq IN "
    "(SELECT seq FROM instant WHERE meter_id = ? AND ts < ? LIMIT ?)",
    "cumulative": "DELETE FROM cumulative WHERE seq IN "
    "(SELECT seq FROM cumulative WHERE meter_id = ? AND ts < ? LIMIT ?)",
}
