# Types of the C module routeb.echonet._speedups (_speedups.c).
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

from routeb.echonet.energy import EnergyScale

_T = TypeVar("_T")
_FrameInput = bytes | bytearray | memoryview

class FrameDecoder(Generic[_T]):
    @property
    def fallback(self) -> Callable[[_FrameInput], _T]: ...
    def __init__(
        self,
        frame_type: type,
        property_type: type,
        header_cache: dict[bytes, Any],
        fallback: Callable[[_FrameInput], _T],
        /,
    ) -> None: ...
    def __call__(self, data: _FrameInput, /) -> _T: ...

class ValueDecoder(Generic[_T]):
    @property
    def fallback(self) -> Callable[[bytes, EnergyScale | None], _T]: ...
    def __init__(
        self,
        kind: str,
        fallback: Callable[[bytes, EnergyScale | None], _T],
        cls: type | None = None,
        slots: tuple[str, ...] = (),
        amperes: dict[int, Decimal] | None = None,
        /,
    ) -> None: ...
    def __call__(self, edt: bytes, scale: EnergyScale | None = None, /) -> _T: ...
