"""Outbox changes as InfluxDB line protocol, with the quantity registry's names (pure code).

One measurement (``routeb`` by default), tagged ``meter``; the fields are registry keys
(:mod:`routeb.live.quantities`) at the time the meter gave them, in seconds:

- an instantaneous reading (E7/E8): ``power`` (integer W), ``current_r``, ``current_t`` (A);
- a cumulative reading (E0/E3): ``energy_import``, ``energy_export`` (kWh);
- a half-hour boundary (EA/EB or history E2/E4): the counters there as ``energy_import`` /
  ``energy_export`` and, once the next boundary is known, the energy of the 30 minutes from
  that time as ``last_slot_import`` / ``last_slot_export`` — written again then, with the
  same timestamp, which InfluxDB treats as the same point (no duplicate).

Line protocol: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
(commas, spaces and ``=`` escaped in tags and field keys; commas and spaces in measurements).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Final

from routeb.live import quantity
from routeb.storage.model import Change, CumulativeReading, InstantReading, Slot, e4_to_kwh
from routeb.storage.times import to_epoch

__all__ = ["line_of", "lines_of"]

_TAG_ESCAPES: Final = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_MEASUREMENT_ESCAPES: Final = str.maketrans({",": r"\,", " ": r"\ "})
_POWER: Final = quantity("power").key
_CURRENT_R: Final = quantity("current_r").key
_CURRENT_T: Final = quantity("current_t").key
_IMPORT: Final = quantity("energy_import").key
_EXPORT: Final = quantity("energy_export").key
_SLOT_IMPORT: Final = quantity("last_slot_import").key
_SLOT_EXPORT: Final = quantity("last_slot_export").key

Field = int | Decimal | None


def _value(value: int | Decimal) -> str:
    if isinstance(value, int):
        return f"{value}i"
    return format(value, "f")


def line_of(measurement: str, meter: str, seconds: int, fields: dict[str, Field]) -> str | None:
    """One line, or None when every field is unknown (nothing to write)."""
    known = [f"{k.translate(_TAG_ESCAPES)}={_value(v)}" for k, v in fields.items() if v is not None]
    if not known:
        return None
    head = f"{measurement.translate(_MEASUREMENT_ESCAPES)},meter={meter.translate(_TAG_ESCAPES)}"
    return f"{head} {','.join(known)} {seconds}"


def _fields(change: Change) -> tuple[str, int, dict[str, Field]] | None:
    record = change.record
    if isinstance(record, InstantReading):
        fields: dict[str, Field] = {
            _POWER: record.power_w,
            _CURRENT_R: record.current_r,
            _CURRENT_T: record.current_t,
        }
        return record.meter, to_epoch(record.at), fields
    if isinstance(record, CumulativeReading):
        fields = {_IMPORT: record.import_kwh, _EXPORT: record.export_kwh}
        return record.meter, to_epoch(record.at), fields
    if isinstance(record, Slot):
        fields = {
            _IMPORT: e4_to_kwh(record.import_e4),
            _EXPORT: e4_to_kwh(record.export_e4),
            _SLOT_IMPORT: e4_to_kwh(record.import_use_e4),
            _SLOT_EXPORT: e4_to_kwh(record.export_use_e4),
        }
        return record.meter, to_epoch(record.at), fields
    return None  # meters and link events are not time series


def lines_of(measurement: str, changes: Iterable[Change]) -> list[str]:
    """The lines of every change that carries a measured value."""
    out = []
    for change in changes:
        found = _fields(change)
        if found is not None:
            line = line_of(measurement, *found)
            if line is not None:
                out.append(line)
    return out
