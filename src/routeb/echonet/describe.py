"""Decoded frames and values as text and as JSON (exact decimals), for `routeb decode`/`read`.

Sans-IO. :class:`Describer` keeps the energy scale across a batch: once a frame from the meter
object carries its 0xD3 / 0xE1, later energy values are scaled with them (protocol.md §B,
kWh = raw × D3 × E1); a Get_SNA for 0xD3 means the meter has no coefficient, which counts as 1.
Before that the scale given by the caller applies, and without a unit the raw count is shown
with ``kwh`` null — an undefined E1 code is reported as unknown, never guessed.
JSON numbers keep a Decimal's exact digits (:func:`dumps`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from routeb._json import SPACED
from routeb._json import dumps as _dumps
from routeb.echonet.energy import CumulativeEnergy, EnergyScale, EnergyUnit
from routeb.echonet.frame import EOJ, ESV, Format2Frame, Frame, Property
from routeb.echonet.objects import NODE_PROFILE_CLASS, SMART_METER_CLASS
from routeb.echonet.smartmeter import (
    SMART_METER_PROPERTIES,
    DailyHistory,
    FixedTimeEnergy,
    InstantaneousCurrents,
    OneMinuteEnergy,
    PairHistory,
)
from routeb.echonet.spec import PropertySpec
from routeb.echonet.superclass import SUPER_CLASS_PROPERTIES
from routeb.errors import EchonetDecodeError

__all__ = [
    "DescribedFrame",
    "Describer",
    "describe_value",
    "dumps",
    "property_json",
    "registry_for",
    "value_json",
]

# protocol.md §A.2: requests are 0x60–0x6F; the object they address is the DEOJ.
_REQUESTS: Final = range(0x60, 0x70)
# protocol.md §A.2/§A.3: the answers and notifications whose EDTs are the object's own values
# (a Set answer carries none, or echoes the refused request).
_REPORTS: Final = frozenset(
    {ESV.GET_RES, ESV.GET_SNA, ESV.INF, ESV.INFC, ESV.INF_SNA, ESV.SETGET_RES, ESV.SETGET_SNA}
)
# protocol.md §A.1: EHD(2) TID(2) SEOJ(3) DEOJ(3) ESV(1) OPC(1), then EPC PDC EDT.
_FIRST_PROPERTY: Final = 12
# protocol.md §A.6 0xD7: a list of 2-byte class codes, not EPCs.
_CLASS_LIST_KEYS: Final = frozenset({"self_node_class_list"})
# protocol.md §B.1 0xD3 (coefficient) and 0xE1 (unit), learned from the meter object.
_EPC_COEFFICIENT: Final = 0xD3
_EPC_UNIT: Final = 0xE1


def dumps(obj: object) -> str:
    """JSON where Decimals are numbers written with their exact digits (routeb._json)."""
    return _dumps(obj, separators=SPACED)


def _when(value: datetime | date | time | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value.isoformat()


def _kwh(energy_raw: int | None, scale: EnergyScale | None) -> Decimal | None:
    return None if scale is None else scale.kwh(energy_raw)


def value_json(value: object, scale: EnergyScale | None = None) -> object:
    """A JSON-ready form of a decoded value (Decimals kept, see ``dumps``).

    ``scale`` overrides the one bound at decode time; "no data" is None (JSON null).
    """
    if value is None or isinstance(value, bool | str | Decimal):
        return value
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, int):
        return value
    if isinstance(value, datetime | date | time):
        return _when(value)
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, EOJ):
        return str(value)
    if isinstance(value, EnergyUnit):
        return {"code": value.code, "kwh": value.multiplier}
    if isinstance(value, CumulativeEnergy):
        if value.raw is None:
            return None  # 0xFFFFFFFE: no data (§B)
        return {"raw": value.raw, "kwh": _kwh(value.raw, scale or value.scale)}
    if isinstance(value, FixedTimeEnergy):
        use = scale or value.scale
        return {"timestamp": _when(value.timestamp), "raw": value.raw, "kwh": _kwh(value.raw, use)}
    if isinstance(value, OneMinuteEnergy):
        use = scale or value.scale
        return {
            "timestamp": _when(value.timestamp),
            "normal_raw": value.normal_raw,
            "normal_kwh": _kwh(value.normal_raw, use),
            "reverse_raw": value.reverse_raw,
            "reverse_kwh": _kwh(value.reverse_raw, use),
        }
    if isinstance(value, InstantaneousCurrents):
        return {"r": value.r, "t": value.t, "single_phase_two_wire": value.single_phase_two_wire}
    if isinstance(value, DailyHistory):
        use = scale or value.scale
        # §B.1 E2/E4: slot i is the reading at 00:00 + 30 min × i of (the meter's today − day).
        return {
            "day": value.day,
            "slots": [
                {
                    "slot": i,
                    "time": f"{i // 2:02d}:{i % 2 * 30:02d}",
                    "raw": raw,
                    "kwh": _kwh(raw, use),
                }
                for i, raw in enumerate(value.raw)
            ],
        }
    if isinstance(value, PairHistory):
        use = scale or value.scale
        step = value.STEP
        start = value.timestamp
        # §B.1 EC/EE: pair i is the reading at (the ED/EF time − step × i).
        return {
            "timestamp": _when(start),
            "pairs": [
                {
                    "timestamp": None if start is None else _when(start - step * i),
                    "normal_raw": normal,
                    "normal_kwh": _kwh(normal, use),
                    "reverse_raw": reverse,
                    "reverse_kwh": _kwh(reverse, use),
                }
                for i, (normal, reverse) in enumerate(value.pairs)
            ],
        }
    if isinstance(value, tuple):
        if all(isinstance(v, int) for v in value):
            return [f"0x{v:02X}" for v in value]  # a property map (§A.5)
        return [value_json(v, scale) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {
            f.name: value_json(getattr(value, f.name), scale)
            for f in dataclasses.fields(value)
            if f.name != "scale"
        }
        text = str(value)
        if not text.startswith(type(value).__name__ + "("):
            out["text"] = text
        return out
    return str(value)


def describe_value(
    epc: int,
    value: object,
    scale: EnergyScale | None = None,
    *,
    spec: PropertySpec[Any] | None = None,
) -> str:
    """One line for a terminal: the value with its unit (``spec`` defaults to the meter's)."""
    if spec is None:
        spec = SMART_METER_PROPERTIES.get(epc)
    unit = spec.unit if spec else ""
    if value is None:
        return "no data"
    if isinstance(value, CumulativeEnergy | FixedTimeEnergy):
        use = scale or value.scale
        stamp = f" at {value.timestamp}" if isinstance(value, FixedTimeEnergy) else ""
        if value.raw is None:
            return f"no data{stamp}"
        kwh = _kwh(value.raw, use)
        shown = f"{kwh} kWh" if kwh is not None else "unit unknown"
        return f"{shown} (raw {value.raw}){stamp}"
    if isinstance(value, OneMinuteEnergy):
        use = scale or value.scale
        parts = []
        for label, raw in (("normal", value.normal_raw), ("reverse", value.reverse_raw)):
            kwh = _kwh(raw, use)
            shown = "no data" if raw is None else f"{kwh} kWh" if kwh is not None else "?"
            parts.append(f"{label} {shown} (raw {raw})")
        return f"{', '.join(parts)} at {value.timestamp}"
    if isinstance(value, InstantaneousCurrents):
        r = "no data" if value.r is None else f"{value.r} A"
        t = "— (single-phase two-wire)" if value.t is None else f"{value.t} A"
        return f"R {r}, T {t}"
    if isinstance(value, int) and not isinstance(value, bool | Enum) and unit:
        return f"{value} {unit}"
    if isinstance(value, DailyHistory):
        filled = sum(raw is not None for raw in value.raw)
        day = "day unset" if value.day is None else f"{value.day} day(s) ago"
        return f"{day}: {filled}/48 half-hour slots with data"
    if isinstance(value, PairHistory):
        minutes = int(value.STEP.total_seconds() // 60)
        return f"{len(value.pairs)} pair(s), {minutes} min apart, back from {value.timestamp}"
    if isinstance(value, tuple):
        if spec is not None and spec.key in _CLASS_LIST_KEYS:
            return " ".join(f"{v:04X}" for v in value) or "none"
        if all(isinstance(v, int) for v in value):
            return " ".join(f"{v:02X}" for v in value) or "none"
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, EnergyUnit):
        return f"{value.multiplier} kWh" if value.multiplier is not None else "undefined code"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)


def registry_for(eoj: EOJ) -> Mapping[int, PropertySpec[Any]]:
    """The property table of an object: 0x0288 meter, 0x0EF0 node profile, else super class."""
    if eoj.class_id == SMART_METER_CLASS:
        return SMART_METER_PROPERTIES
    if eoj.class_id == NODE_PROFILE_CLASS:
        # Imported when a node-profile frame turns up: `routeb decode` of a meter frame
        # starts without it (docs/benchmarks.md, CLI start-up).
        from routeb.echonet.nodeprofile import NODE_PROFILE_PROPERTIES  # noqa: PLC0415

        return NODE_PROFILE_PROPERTIES
    return SUPER_CLASS_PROPERTIES


def property_json(
    epc: int,
    edt: bytes | None,
    value: object,
    *,
    name: str | None = None,
    scale: EnergyScale | None = None,
    error: str | None = None,
    spec: PropertySpec[Any] | None = None,
) -> dict[str, object]:
    """The shape shared by `routeb decode --json` and `routeb read --json`.

    ``spec`` gives the name and unit; it defaults to the smart-meter table's entry.
    """
    if spec is None:
        spec = SMART_METER_PROPERTIES.get(epc)
    shown: object
    if spec is not None and spec.key in _CLASS_LIST_KEYS and isinstance(value, tuple):
        shown = [f"0x{code:04X}" for code in value]
    else:
        shown = value_json(value, scale)
    out: dict[str, object] = {
        "epc": f"0x{epc:02X}",
        "name": name or (spec.name_en if spec else f"0x{epc:02X}"),
        "edt": None if edt is None else edt.hex().upper(),
        "value": shown,
    }
    if spec is not None and spec.unit:
        out["unit"] = spec.unit
    if error is not None:
        out["error"] = error
    return out


@dataclass(slots=True)
class DescribedFrame:
    """One frame, described: the JSON-ready document, readable lines and value errors."""

    document: dict[str, object]
    lines: list[str]
    # One message per property whose EDT did not decode, with its byte offset in the frame.
    errors: list[EchonetDecodeError] = field(default_factory=list)


class Describer:
    """Describes the frames of a batch, learning the meter's D3/E1 as they pass."""

    def __init__(self, coefficient: int | None = None, unit: Decimal | None = None) -> None:
        self._coefficient = coefficient
        self._unit = unit

    @property
    def scale(self) -> EnergyScale | None:
        """The scale known now (None until a unit is known from the input or the options)."""
        if self._unit is None:
            return None
        return EnergyScale(1 if self._coefficient is None else self._coefficient, self._unit)

    def describe(self, frame: Frame | Format2Frame) -> DescribedFrame:
        """Header fields and every property, decoded; the scale learned from this frame on."""
        if isinstance(frame, Format2Frame):
            payload = frame.payload.hex().upper()
            return DescribedFrame(
                {"tid": f"{frame.tid:04X}", "format": 2, "payload": payload},
                [f"  TID {frame.tid:04X}  format 2 (arbitrary message): {payload or '(empty)'}"],
            )
        target = frame.deoj if frame.esv in _REQUESTS else frame.seoj
        registry = registry_for(target)
        # Only the meter object's own reports teach the batch its D3 / E1 (§B).
        reports = target.class_id == SMART_METER_CLASS and frame.esv in _REPORTS
        described = DescribedFrame(
            {
                "tid": f"{frame.tid:04X}",
                "seoj": str(frame.seoj),
                "deoj": str(frame.deoj),
                "esv": frame.esv.name,
            },
            [f"  TID {frame.tid:04X}  {frame.seoj} → {frame.deoj}  {frame.esv.name}"],
        )
        offset = _FIRST_PROPERTY
        lists = [("properties", frame.properties)]
        if frame.esv.is_setget:
            lists.append(("get_properties", frame.get_properties))
        for key, props in lists:
            learn = reports
            if key == "get_properties":
                described.lines.append("  Get:")
                offset += 1  # OPCGet (§A.4)
            elif frame.esv.is_setget:
                learn = False  # the Set part of a SetGet answer (§A.4)
            items = []
            for prop in props:
                items.append(self._property(prop, registry, learn, frame.esv, offset, described))
                offset += 2 + prop.pdc
            described.document[key] = items
        return described

    def _property(
        self,
        prop: Property,
        registry: Mapping[int, PropertySpec[Any]],
        learn: bool,
        esv: ESV,
        offset: int,
        described: DescribedFrame,
    ) -> dict[str, object]:
        epc, edt = prop
        spec = registry.get(epc)
        name = spec.name_en if spec else f"0x{epc:02X}"
        head = f"    0x{epc:02X} {name}"
        if not edt:
            # §A.3: PDC 0 is a Get/INF_REQ request entry, an accepted Set, or a refused Get.
            if learn and epc == _EPC_COEFFICIENT and esv.is_sna:
                self._coefficient = None  # the meter has no D3: it counts as 1 (§B)
            note = "not available" if esv.is_sna else "no EDT"
            described.lines.append(f"{head}: ({note})")
            return property_json(epc, None, None, name=name, spec=spec)
        if spec is None:
            described.lines.append(f"{head} [{edt.hex().upper()}]")
            return property_json(epc, edt, edt, name=name, spec=spec)
        try:
            value = spec.decode(edt, self.scale)
        except EchonetDecodeError as exc:
            # Point at the byte in the frame: the EDT starts after EPC and PDC.
            error = EchonetDecodeError(exc.reason, offset=offset + 2 + exc.offset, epc=epc)
            described.errors.append(error)
            described.lines.append(f"{head} [{edt.hex().upper()}]: invalid — {error}")
            return property_json(epc, edt, None, name=name, error=str(error), spec=spec)
        if learn:
            self._learn(epc, value)
        scale = self.scale
        text = describe_value(epc, value, scale, spec=spec)
        described.lines.append(f"{head} [{edt.hex().upper()}] = {text}")
        return property_json(epc, edt, value, name=name, scale=scale, spec=spec)

    def _learn(self, epc: int, value: object) -> None:
        # §B: kWh = raw × D3 × E1; the meter's own values override the options from now on.
        if epc == _EPC_COEFFICIENT and isinstance(value, int):
            self._coefficient = value
        elif epc == _EPC_UNIT and isinstance(value, EnergyUnit):
            self._unit = value.multiplier  # None for an undefined code: unknown, not guessed
