"""The collector's Recorder on the SQLite AsyncStore (docs/storage.md, "Wiring the collector").

The collector speaks meter time (naive JST) and echonet values; the store speaks aware UTC and
its own records. Writes never block the event loop (``submit``); reads await the writer thread.
"""

from __future__ import annotations

from datetime import UTC, datetime

from routeb.collector.daemon import SlotValue
from routeb.echonet.energy import EnergyScale
from routeb.echonet.smartmeter import InstantaneousCurrents
from routeb.meter.reader import MeterInfo
from routeb.storage import (
    AsyncStore,
    CumulativeReading,
    InstantReading,
    LinkEvent,
    MeterMetadata,
    MeterUpdate,
    SlotReading,
    SlotSource,
    jst_to_utc,
    utc_to_jst,
)
from routeb.storage.model import unit_code_of

__all__ = ["StoreRecorder"]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class StoreRecorder:
    """Implements :class:`~routeb.collector.daemon.Recorder` with an AsyncStore."""

    def __init__(self, store: AsyncStore) -> None:
        self.store = store

    async def record_meter(self, meter: str, info: MeterInfo) -> None:
        values = info.values
        maker = values.get(0x8A)
        release = values.get(0x82)
        metadata = MeterMetadata(
            maker_code=getattr(maker, "code", None),
            serial=_text(values.get(0x8D)),
            release=getattr(release, "release_letter", None),
            coefficient=info.scale.coefficient if 0xD3 in values else None,
            unit_code=unit_code_of(info.scale),
            digits=info.digits,
            get_map=info.get_map or None,
            set_map=info.set_map or None,
            inf_map=info.inf_map or None,
        )
        self.store.submit(MeterUpdate(meter, datetime.now(UTC), metadata))

    async def record_instant(
        self,
        meter: str,
        at: datetime,
        power_w: int | None,
        currents: InstantaneousCurrents | None,
    ) -> None:
        self.store.submit(
            InstantReading(
                meter,
                at,
                power_w,
                None if currents is None else currents.r,
                None if currents is None else currents.t,
            )
        )

    async def record_cumulative(
        self,
        meter: str,
        at: datetime,
        import_raw: int | None,
        export_raw: int | None,
        *,
        scale: EnergyScale,
        digits: int | None,
    ) -> None:
        self.store.submit(CumulativeReading(meter, at, import_raw, export_raw, scale, digits))

    async def record_slots(
        self, meter: str, slots: list[SlotValue], scale: EnergyScale, digits: int | None
    ) -> None:
        self.store.submit(
            *(
                SlotReading(
                    meter,
                    jst_to_utc(v.at),
                    v.import_raw,
                    v.export_raw,
                    SlotSource(v.source),
                    scale,
                    digits,
                )
                for v in slots
            )
        )

    async def record_event(self, meter: str, at: datetime, kind: str, detail: str) -> None:
        self.store.submit(LinkEvent(meter, at, kind, detail[:1000]))

    async def missing_slots(self, meter: str, start: datetime, end: datetime) -> list[datetime]:
        await self.store.flush()
        missing = await self.store.missing_slots(meter, jst_to_utc(start), jst_to_utc(end))
        return [utc_to_jst(t) for t in missing]

    async def slot_value(self, meter: str, at: datetime) -> SlotValue | None:
        slot = await self.store.slot(meter, jst_to_utc(at))
        if slot is None:
            return None
        return SlotValue(at, slot.import_raw, slot.export_raw, str(slot.import_source or "poll"))
