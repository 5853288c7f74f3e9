"""The outbox: every stored row in change order, for publishers that acknowledge what they sent.

Each write numbers the rows it adds or changes with the global counter ``seq``
(connection.py); a consumer (the fleet publisher) reads what is above its acknowledged seq and
acknowledges as the broker confirms. A row changed after it was acknowledged (a slot that got
its usage) comes back with a new seq; raw readings removed by retention before they were
published do not.
"""

from __future__ import annotations

from typing import Final

from routeb.errors import UsageError
from routeb.storage.connection import Database
from routeb.storage.model import Change
from routeb.storage.reads import ROW_BUILDERS, SQL_METERS, meter_record

__all__ = ["acked", "acknowledge", "pending"]


def acked(db: Database, consumer: str) -> int:
    """The highest seq ``consumer`` has acknowledged (0 = nothing yet)."""
    for row in db.select("SELECT acked_seq FROM outbox_acks WHERE consumer = ?", (consumer,)):
        return int(row[0])
    return 0


def acknowledge(db: Database, consumer: str, seq: int) -> None:
    """Record that ``consumer`` has everything up to and including ``seq`` (never goes back)."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise UsageError("seq is a non-negative int")
    with db.write():
        db.conn.execute(
            "INSERT INTO outbox_acks (consumer, acked_seq) VALUES (?, ?) "
            "ON CONFLICT (consumer) DO UPDATE SET acked_seq = max(acked_seq, excluded.acked_seq)",
            (consumer, seq),
        )


def pending(db: Database, consumer: str, limit: int = 1000) -> list[Change]:
    """The oldest ``limit`` rows not yet acknowledged by ``consumer``, in seq order."""
    after = acked(db, consumer)
    changes: list[Change] = []
    with db.read():
        for row in db.select(SQL_METERS + " WHERE seq > ? ORDER BY seq LIMIT ?", (after, limit)):
            record = meter_record(row)
            changes.append(Change(record.seq, "meters", record))
        for table, sql in _SQL_OUTBOX.items():
            for row in db.select(sql, (after, limit)):
                key, seq, rest = row[0], int(row[1]), row[2:]
                changes.append(Change(seq, table, ROW_BUILDERS[table](key, rest)))
    changes.sort(key=lambda c: c.seq)
    return changes[:limit]


_SQL_OUTBOX: Final[dict[str, str]] = {
    "instant": "SELECT m.key, t.seq, t.ts, t.power_w, t.current_r_da, t.current_t_da "
    "FROM instant t JOIN meters m ON m.id = t.meter_id WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
    "cumulative": "SELECT m.key, t.seq, t.ts, t.import_raw, t.export_raw, t.coefficient, "
    "t.unit_code, t.digits FROM cumulative t JOIN meters m ON m.id = t.meter_id "
    "WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
    "slots": "SELECT m.key, t.seq, t.slot_start, t.import_raw, t.import_source, t.export_raw, "
    "t.export_source, t.coefficient, t.unit_code, t.digits, t.import_e4, t.export_e4, "
    "t.import_use_e4, t.export_use_e4, t.conflicts, t.seq, t.updated FROM slots t "
    "JOIN meters m ON m.id = t.meter_id WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
    "link_events": "SELECT m.key, t.seq, t.ts, t.kind, t.detail FROM link_events t "
    "JOIN meters m ON m.id = t.meter_id WHERE t.seq > ? ORDER BY t.seq LIMIT ?",
}
