"""The codec's optional C fast paths (``_speedups.c``), or None to run pure Python.

Each C object handles the common, valid input and hands everything else to the Python function
it wraps, which stays the single definition of the codec (docs/codec.md). Set
``ROUTEB_PURE_PYTHON=1`` to run without them; ``ROUTEB_REQUIRE_SPEEDUPS=1`` (CI) makes a
missing build an ImportError instead of a silent fallback.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from routeb.echonet._speedups import FrameDecoder, ValueDecoder


class Speedups(NamedTuple):
    """The C types: a frame decoder and a value decoder, each built around a Python fallback."""

    frame_decoder: type[FrameDecoder[Any]]
    value_decoder: type[ValueDecoder[Any]]


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def load_speedups() -> Speedups | None:
    """The compiled fast paths, or None (not built, or ROUTEB_PURE_PYTHON set)."""
    if _flag("ROUTEB_PURE_PYTHON"):
        return None
    try:
        from routeb.echonet._speedups import (  # noqa: PLC0415 (optional, compiled)
            FrameDecoder,
            ValueDecoder,
        )
    except ImportError:
        if _flag("ROUTEB_REQUIRE_SPEEDUPS"):
            raise
        return None
    return Speedups(FrameDecoder, ValueDecoder)


SPEEDUPS: Speedups | None = load_speedups()
