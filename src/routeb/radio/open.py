"""Which radio drives the module on a freshly opened stream.

A forced choice (``--dialect``, ``[meter] dialect``) picks the radio directly (``j11`` →
:class:`~routeb.radio.j11.J11Radio`); ``auto`` uses SKSTACK, whose bring-up tells its variants
apart (protocol.md §D.1 SKINFO, ROPT).
"""

from __future__ import annotations

from routeb.radio.base import ModuleChoice, ModuleFamily, Radio
from routeb.radio.j11 import J11Radio
from routeb.radio.skstack import SkstackRadio, WoptMemory
from routeb.serialio.port import ByteStream

__all__ = ["open_radio"]


async def open_radio(
    stream: ByteStream,
    choice: ModuleChoice | None,
    *,
    channel_mask: int = 0xFFFFFFFF,
    write_wopt: bool = True,
    memory: WoptMemory | None = None,
    show_identifiers: bool = False,
) -> Radio:
    """The radio for ``stream``: the forced family, else detected."""
    if choice is not None and choice.family is ModuleFamily.J11:
        return J11Radio(stream, show_identifiers=show_identifiers)
    return SkstackRadio(
        stream,
        variant=choice.variant if choice is not None else None,
        channel_mask=channel_mask,
        write_wopt=write_wopt,
        memory=memory,
        show_identifiers=show_identifiers,
    )
