"""JSON with exact Decimals: the one encoder of `routeb decode --json`, `read --json` and the API.

``json`` writes a Decimal through a float (or refuses it); here a Decimal is written with its own
digits (``0.2500`` stays ``0.2500``), so kWh and yen are exact on the wire, and a zero never
carries a sign (``-0`` is written ``0``). Parse it in Python with
``json.loads(text, parse_float=Decimal)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from decimal import Decimal
from typing import Final

__all__ = ["COMPACT", "SPACED", "Fragment", "decimal_text", "dumps"]

#: Separators: compact for the API, spaced for the CLI's documents.
COMPACT: Final = (",", ":")
SPACED: Final = (", ", ": ")


class Fragment:
    """JSON text that is already written (e.g. by SQLite, storage/jsonviews.py), embedded as is."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def decimal_text(value: Decimal) -> str:
    """A Decimal as a JSON number with its own digits; ``null`` when not finite; no ``-0``."""
    if not value.is_finite():
        return "null"
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")


def _plain(obj: object, default: Callable[[object], object]) -> object:
    """A JSON-ready form: Decimals and fragments kept, everything else through ``default``."""
    if obj is None or isinstance(obj, bool | int | float | str | Decimal | Fragment):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _plain(v, default) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [_plain(v, default) for v in obj]
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name), default) for f in fields(obj)}
    converted = default(obj)
    return converted if isinstance(converted, str | type(None)) else _plain(converted, default)


def _write(obj: object, out: list[str], separators: tuple[str, str]) -> None:
    item, key_sep = separators
    if obj is None or isinstance(obj, bool | int | str):
        out.append(json.dumps(obj, ensure_ascii=False))
    elif isinstance(obj, float):
        out.append(json.dumps(obj) if math.isfinite(obj) else "null")
    elif isinstance(obj, Decimal):
        out.append(decimal_text(obj))
    elif isinstance(obj, Fragment):
        out.append(obj.text)
    elif isinstance(obj, Mapping):
        out.append("{")
        for index, (key, value) in enumerate(obj.items()):
            if index:
                out.append(item)
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(key_sep)
            _write(value, out, separators)
        out.append("}")
    elif isinstance(obj, list):  # _plain made every other sequence a list
        out.append("[")
        for index, value in enumerate(obj):
            if index:
                out.append(item)
            _write(value, out, separators)
        out.append("]")
    else:  # pragma: no cover - _plain leaves nothing else
        out.append(json.dumps(str(obj), ensure_ascii=False))


# The fast path: one pass of the C encoder, each Decimal written as a marked string (NUL "D"
# digits NUL; JSON always escapes NUL as \u0000) and then unquoted by two plain replaces.
# Anything unusual (or a user string that looks like a mark) takes the exact writer.
_OPEN: Final = '"\\u0000D'
_CLOSE: Final = '\\u0000"'


class _Marker:
    def __init__(self, default: Callable[[object], object]) -> None:
        self.count = 0
        self.fragments: list[str] = []
        self.convert = default

    def default(self, obj: object) -> object:
        if isinstance(obj, Fragment):
            self.fragments.append(obj.text)
            return f"\x00F{len(self.fragments) - 1}\x00"
        if isinstance(obj, Decimal):
            self.count += 1
            return "\x00D" + decimal_text(obj) + "\x00"
        if isinstance(obj, Mapping):
            return dict(obj)
        if isinstance(obj, set | frozenset):
            return list(obj)
        if is_dataclass(obj) and not isinstance(obj, type):
            return {f.name: getattr(obj, f.name) for f in fields(obj)}
        return self.convert(obj)


def dumps(
    obj: object,
    *,
    separators: tuple[str, str] = COMPACT,
    default: Callable[[object], object] = str,
) -> str:
    """JSON where Decimals are numbers with their exact digits.

    ``default`` turns any other object (a datetime, an enum) into something JSON can hold;
    the default writes its ``str``.
    """
    marker = _Marker(default)
    try:
        text = json.dumps(
            obj, ensure_ascii=False, separators=separators, allow_nan=False, default=marker.default
        )
    except (TypeError, ValueError):  # non-string keys, non-finite floats: write it by hand
        text = None
    if text is not None and text.count(_OPEN) == text.count(_CLOSE) == marker.count:
        text = text.replace(_OPEN, "").replace(_CLOSE, "")
        for index, fragment in enumerate(marker.fragments):
            mark = f'"\\u0000F{index}\\u0000"'
            if text.count(mark) != 1:
                break
            text = text.replace(mark, fragment)
        else:
            return text
    out: list[str] = []
    _write(_plain(obj, default), out, separators)
    return "".join(out)
