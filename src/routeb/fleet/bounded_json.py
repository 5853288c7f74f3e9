"""JSON that cannot hurt its reader: size, encoding and nesting checked before parsing, duplicate
keys while parsing (issue 15: 1,000 nested brackets made ``json.loads`` raise RecursionError and
killed the ingest worker on every redelivery).

``json.loads`` recurses once per nested array or object. ``loads`` measures the nesting first,
at C speed and without recursion: escape pairs are removed (``\\\\`` pairs, then ``\\"``), the
text between the remaining quotes (the strings) is dropped, and the brackets left are summed as
+1/−1; the running maximum is the depth ``json.loads`` would reach. That holds for every prefix
that is valid JSON, and ``json.loads`` stops at the first byte that is not.
"""

from __future__ import annotations

import json
from array import array
from itertools import accumulate
from typing import Any, Final

__all__ = [
    "DEPTH",
    "DUPLICATE_KEY",
    "ENCODING",
    "NOT_JSON",
    "OVERSIZE",
    "JsonError",
    "depth",
    "loads",
]

# Rejection kinds (the dead-letter kinds of routeb.fleet.schema.REJECTIONS).
OVERSIZE: Final = "oversize"
ENCODING: Final = "encoding"
DEPTH: Final = "depth"
NOT_JSON: Final = "json"
DUPLICATE_KEY: Final = "duplicate_key"

_BRACKETS: Final = b"[]{}"
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in _BRACKETS)
# Opening brackets become +1, closing ones −1 (as signed bytes).
_STEPS: Final = bytes.maketrans(_BRACKETS, b"\x01\xff\x01\xff")


class JsonError(ValueError):
    """``raw`` is not JSON this reader accepts; ``kind`` is one of the constants above."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _brackets(raw: bytes) -> bytes:
    """The brackets of ``raw`` outside its strings, opening ones as 0x01, closing ones 0xFF."""
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    if b'"' in raw:
        raw = b"".join(raw.split(b'"')[::2])
    return raw.translate(_STEPS, _NOT_BRACKETS)


def depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in the UTF-8 JSON ``raw`` (0 for a scalar)."""
    return max(accumulate(array("b", _brackets(raw))), default=0)


def within(raw: bytes, max_depth: int) -> bool:
    """``depth(raw) <= max_depth``, faster for ordinary messages: each pass removes the
    innermost pairs (a message's rows, then its lists, then the object itself). Exact unless
    ``raw`` closes a bracket it never opened (then it is not JSON, and may be called deep)."""
    original = brackets = _brackets(raw)
    for _ in range(max_depth):
        if not brackets:
            return True
        brackets = brackets.replace(b"\x01\xff", b"")
    if b"\x01\xff" in brackets:
        return False  # a pair left after max_depth passes had max_depth levels inside it
    # Unbalanced (not JSON: ``]]][[[`` is left): the exact answer.
    return not brackets or max(accumulate(array("b", original)), default=0) <= max_depth


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Two values for one key: parsers disagree on which one counts, so neither is taken.
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonError(DUPLICATE_KEY, f"duplicate key {key[:40]!r}")
            seen.add(key)
    return out


def _constant(name: str) -> object:
    raise JsonError(NOT_JSON, f"not JSON: {name} is not a JSON number")


def loads(raw: bytes | bytearray, *, max_bytes: int, max_depth: int) -> object:
    """The value of ``raw``; JsonError if it is larger than ``max_bytes``, not UTF-8, nested
    deeper than ``max_depth``, has an object with a key twice, or is not JSON."""
    if len(raw) > max_bytes:
        raise JsonError(OVERSIZE, f"{len(raw)} bytes, more than the limit of {max_bytes}")
    raw = bytes(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonError(ENCODING, f"not UTF-8 (byte {exc.start})") from None
    if not within(raw, max_depth):
        raise JsonError(DEPTH, f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except JsonError:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4,300 digits
        raise JsonError(NOT_JSON, f"not JSON: {str(exc)[:80]}") from None
