"""Decoded frames and values as text and as JSON (exact decimals), for `routeb decode`/`read`.

Sans-IO. ``Describer`` keeps the energy scale across a batch: once a frame carries the meter's
0xD3 / 0xE1, later energy values are scaled with them (protocol.md §B); before that the scale
given by the caller applies, and without one the raw count is shown with ``kwh`` null.
JSON numbers keep a Decimal's exact digits (``dumps``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any, Final

from routeb.echonet.energy import CumulativeEnergy, EnergyScale, EnergyUnit
from routeb.echonet.frame import EOJ, ESV, Format2Frame, Frame, Property
from routeb.echonet.nodeprofile import NODE_PROFILE_PROPERTIES
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

__all__ = ["Describer", "describe_value", "dumps", "property_json", "value_json"]

_METER_CLASS: Final = 0x0288
_NODE_PROFILE_CLASS: Final = 0x0EF0
# protocol.md §A.2: requests are 0x60–0x6F; the object they address is the DEOJ.
_REQUESTS: Final = range(0x60, 0x70)


def dumps(obj: object) -> str:
    """JSON where Decimals are numbers written with their exact digits (json cannot)."""
    if obj is None or isinstance(obj, bool | int | float | str):
        return json.dumps(obj, ensure_ascii=False)
    if isinstance(obj, Decimal):
        return format(obj, "f") if obj.is_finite() else "null"
    if isinstance(obj, Mapping):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}: {dumps(v)}" for k, v in obj.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ", ".join(dumps(v) for v in obj) + "]"
    return json.dumps(str(obj), ensure_ascii=False)


def _when(value: datetime | date | time | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value.isoformat()


def _kwh(energy_raw: int | None, scale: EnergyScale | None) -> Decimal | None:
    return None if scale is None else scale.kwh(energy_raw)


def value_json(value: object, scale: EnergyScale | None = None) -> object:
    """A JSON-ready form of a decoded value (Decimals kept, see ``dumps``)."""
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
        return value.to_bytes().hex().upper()
    if isinstance(value, EnergyUnit):
        return {"code": value.code, "kwh": value.multiplier}
    if isinstance(value, CumulativeEnergy):
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


def describe_value(epc: int, value: object, scale: EnergyScale | None = None) -> str:
    """One line for a terminal: the value with its unit."""
    spec = SMART_METER_PROPERTIES.get(epc)
    unit = spec.unit if spec else ""
    if value is None:
        return "no data"
    if isinstance(value, CumulativeEnergy | FixedTimeEnergy):
        use = scale or value.scale
        kwh = _kwh(value.raw, use)
        shown = f"{kwh} kWh" if kwh is not None else "unit unknown"
        stamp = f" at {value.timestamp}" if isinstance(value, FixedTimeEnergy) else ""
        return f"{shown} (raw {value.raw}){stamp}"
    if isinstance(value, InstantaneousCurrents):
        t = "—(single-phase two-wire)" if value.t is None else f"{value.t} A"
        return f"R {value.r} A, T {t}"
    if isinstance(value, int) and not isinstance(value, bool) and unit in ("W", "digits"):
        return f"{value} {unit}"
    if isinstance(value, DailyHistory):
        filled = sum(raw is not None for raw in value.raw)
        return f"day −{value.day}: {filled}/48 slots"
    if isinstance(value, PairHistory):
        return f"{len(value.pairs)} pairs back from {value.timestamp}"
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return " ".join(f"{v:02X}" for v in value)
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, EnergyUnit):
        return f"{value.multiplier} kWh" if value.multiplier is not None else "undefined"
    return str(value)


def _registry(eoj: EOJ) -> Mapping[int, PropertySpec[Any]]:
    if eoj.class_id == _METER_CLASS:
        return SMART_METER_PROPERTIES
    if eoj.class_id == _NODE_PROFILE_CLASS:
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
) -> dict[str, object]:
    """The shape shared by `routeb decode --json` and `routeb read --json`."""
    spec = SMART_METER_PROPERTIES.get(epc)
    out: dict[str, object] = {
        "epc": f"0x{epc:02X}",
        "name": name or (spec.name_en if spec else f"0x{epc:02X}"),
        "edt": None if edt is None else edt.hex().upper(),
        "value": value_json(value, scale),
    }
    if spec is not None and spec.unit:
        out["unit"] = spec.unit
    if error is not None:
        out["error"] = error
    return out


class Describer:
    """Decodes the properties of frames in a batch, learning D3/E1 as they pass."""

    def __init__(self, coefficient: int | None = None, unit: Decimal | None = None) -> None:
        self._coefficient = coefficient
        self._unit = unit
        self.errors: list[str] = []
        self.texts: dict[int, str] = {}  # id(property dict) → one readable line

    @property
    def scale(self) -> EnergyScale | None:
        """The scale known now (None until a unit is known from input or options)."""
        if self._unit is None:
            return None
        return EnergyScale(1 if self._coefficient is None else self._coefficient, self._unit)

    def frame_json(self, frame: Frame | Format2Frame) -> dict[str, object]:
        """Header fields and every property, decoded."""
        if isinstance(frame, Format2Frame):
            return {"tid": f"{frame.tid:04X}", "format": 2, "payload": frame.payload.hex().upper()}
        target = frame.deoj if frame.esv in _REQUESTS else frame.seoj
        registry = _registry(target)
        out: dict[str, object] = {
            "tid": f"{frame.tid:04X}",
            "seoj": str(frame.seoj),
            "deoj": str(frame.deoj),
            "esv": frame.esv.name,
            "properties": [self._property(p, registry, target) for p in frame.properties],
        }
        if frame.esv in (ESV.SETGET, ESV.SETGET_RES, ESV.SETGET_SNA):
            out["get_properties"] = [
                self._property(p, registry, target) for p in frame.get_properties
            ]
        return out

    def _property(
        self, prop: Property, registry: Mapping[int, PropertySpec[Any]], target: EOJ
    ) -> dict[str, object]:
        spec = registry.get(prop.epc)
        name = spec.name_en if spec else f"0x{prop.epc:02X}"
        if not prop.pdc or spec is None:
            value: object = None if not prop.pdc else prop.edt
            return property_json(prop.epc, prop.edt if prop.pdc else None, value, name=name)
        try:
            value = spec.decode(prop.edt, self.scale)
        except EchonetDecodeError as exc:
            self.errors.append(str(exc))
            return property_json(prop.epc, prop.edt, None, name=name, error=str(exc))
        if target.class_id == _METER_CLASS:
            self._learn(prop.epc, value)
        out = property_json(prop.epc, prop.edt, value, name=name, scale=self.scale)
        self.texts[id(out)] = describe_value(prop.epc, value, self.scale)
        return out

    def _learn(self, epc: int, value: object) -> None:
        # §B: kWh = raw × D3 × E1; the meter's own values override the options from now on.
        if epc == 0xD3 and isinstance(value, int):
            self._coefficient = value
        elif epc == 0xE1 and isinstance(value, EnergyUnit):
            self._unit = value.multiplier

    def text_lines(self, document: Mapping[str, object]) -> list[str]:
        """A readable rendering of ``frame_json``'s output."""
        if document.get("format") == 2:
            return [f"  Format 2 frame, TID {document['tid']}: {document['payload']}"]
        lines = [
            f"  TID {document['tid']}  {document['seoj']} → {document['deoj']}  {document['esv']}"
        ]
        for key in ("properties", "get_properties"):
            for prop in document.get(key, []):  # type: ignore[attr-defined]
                text = self.texts.pop(id(prop), None)
                lines.append(_prop_line(prop, text))
        return lines


def _prop_line(prop: Mapping[str, object], text: str | None) -> str:
    edt = prop.get("edt")
    head = f"    {prop['epc']} {prop['name']}"
    if "error" in prop:
        return f"{head} [{edt}]: invalid — {prop['error']}"
    if edt is None:
        return f"{head}: (no value)"
    return f"{head} [{edt}] = {text if text is not None else prop.get('value')}"
