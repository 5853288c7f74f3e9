"""Property descriptors: one table row per EPC, driving decode, encode, names and units.

A :class:`PropertySpec` ties an EPC to its names (English / 日本語, as in protocol.md §A.6,
§A.7 and §B.1), a stable snake_case key, the EDT size the spec allows, a decoder, an encoder and
a display unit. Every decoder checks the EDT size itself before anything else (one call per
property on the hot path), so a wrong-length EDT is always an
:class:`~routeb.errors.EchonetDecodeError` naming the EPC (:func:`size_error`), never a silent
mis-scale; the tests hold each decoder to its spec's ``min_size`` / ``max_size``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from routeb.echonet.energy import EnergyScale
from routeb.errors import EchonetDecodeError, UsageError

__all__ = ["Decoder", "PropertySpec", "decoders_of", "find_spec", "size_error"]

V_co = TypeVar("V_co", covariant=True)
V = TypeVar("V")
# What a decoder is: EDT (and the energy scale, for the EPCs it concerns) → typed value.
Decoder = Callable[[bytes, EnergyScale | None], V]


def size_error(epc: int, edt: bytes, min_size: int, max_size: int) -> EchonetDecodeError:
    """The error for an EDT whose length is outside ``min_size..max_size`` (names the EPC)."""
    size = len(edt)
    expected = f"{min_size}" if min_size == max_size else f"{min_size}..{max_size}"
    return EchonetDecodeError(
        f"EDT is {size} bytes, expected {expected}", offset=min(size, max_size), epc=epc
    )


@dataclass(frozen=True, slots=True)
class PropertySpec(Generic[V_co]):
    """One EPC of one class: names, key, EDT size range, codec and display unit."""

    epc: int
    key: str
    name_en: str
    name_ja: str
    min_size: int
    max_size: int
    decoder: Callable[[bytes, EnergyScale | None], V_co]
    # Encoders take any object and check its type: one registry serves every value type.
    encoder: Callable[[object], bytes]
    unit: str = ""
    # True for the cumulative-energy EPCs whose counts are scaled by D3 × E1 (§B).
    scaled: bool = False

    @property
    def size(self) -> int | tuple[int, int]:
        """The EDT size, or the (min, max) range when it varies."""
        return self.min_size if self.min_size == self.max_size else (self.min_size, self.max_size)

    def decode(self, edt: bytes, scale: EnergyScale | None = None) -> V_co:
        """The typed value of ``edt``; EchonetDecodeError (naming the EPC) when it is invalid.

        The decoder checks the size first (see the module docstring).
        """
        return self.decoder(edt, scale)

    def encode(self, value: object) -> bytes:
        """The exact EDT bytes of ``value``; UsageError when the value cannot be sent."""
        return self.encoder(value)


def decoders_of(registry: Mapping[int, PropertySpec[V]]) -> dict[int, Decoder[V]]:
    """EPC → decoder of a registry: the one-call-per-property form for bulk decoding."""
    return {epc: spec.decoder for epc, spec in registry.items()}


def find_spec(text: str, registry: Mapping[int, PropertySpec[V]]) -> PropertySpec[V]:
    """The spec named by ``0xE7``, ``e7``, ``E7`` or its key ``instantaneous_power``."""
    raw = text.strip()
    lowered = raw.lower()
    for spec in registry.values():
        if spec.key == lowered:
            return spec
    digits = lowered.removeprefix("0x")
    if 1 <= len(digits) <= 2 and all(c in "0123456789abcdef" for c in digits):
        spec_for_epc = registry.get(int(digits, 16))
        if spec_for_epc is not None:
            return spec_for_epc
    raise UsageError(f"unknown property {text!r}: give an EPC such as 0xE7 or a key")
