"""The meter as an IP bridge presents it on the LAN (``routeb emulate --udp``).

A B-route-to-LAN gateway such as IIJ's SA-M0 (peers.md: a BP35A1 inside, the meter shown as an
ECHONET Lite node on the LAN, the Wi-SUN join done by the box) lets a LAN controller "simply send
a request and get the answer". What it does with a request of more properties than the meter
takes at once is not published; the meter's limit (AIF 2.4.4: OPC up to 6 guaranteed) belongs
to the Wi-SUN side, and a relaying bridge that kept it would hand a controller 6 of the 22 values
of its automatic Get-map read. So the bridge here does what a relay must to answer the request
that was asked: it splits a Get into Wi-SUN-sized requests and merges their answers into one
(Get_Res, or Get_SNA if any property was refused), in the order asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from routeb.echonet.frame import ESV, Frame, Property, decode_frame, encode_frame
from routeb.errors import EchonetDecodeError

__all__ = ["WISUN_BATCH", "bridge_answers"]

# protocol.md §C (AIF 2.4.4): a meter must support OPC up to 6 per request.
WISUN_BATCH: Final = 6


def bridge_answers(
    handle: Callable[[bytes, str], list[bytes]], data: bytes, source: str, *, batch: int
) -> list[bytes]:
    """The LAN answer to ``data``: a long Get is relayed in ``batch``-property requests."""
    try:
        frame = decode_frame(data)
    except EchonetDecodeError:
        return handle(data, source)  # the meter counts and ignores it
    if not isinstance(frame, Frame) or frame.esv is not ESV.GET or len(frame.properties) <= batch:
        return handle(data, source)
    merged: list[Property] = []
    refused = False
    answer: Frame | None = None
    for start in range(0, len(frame.properties), batch):
        part = Frame(
            frame.tid, frame.seoj, frame.deoj, ESV.GET, frame.properties[start : start + batch]
        )
        replies = handle(encode_frame(part), source)
        if not replies:
            return []  # the meter stays silent (a DEOJ it does not have): so does the bridge
        reply = decode_frame(replies[0])
        if not isinstance(reply, Frame):
            return []
        answer = reply
        refused = refused or reply.esv is ESV.GET_SNA
        merged.extend(reply.properties)
    assert answer is not None  # at least one batch ran
    esv = ESV.GET_SNA if refused else ESV.GET_RES
    return [encode_frame(Frame(frame.tid, answer.seoj, answer.deoj, esv, tuple(merged)))]
