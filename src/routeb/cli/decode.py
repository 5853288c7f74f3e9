"""`routeb decode INPUT...`: ECHONET Lite frames (hex) or SKSTACK ERXUDP lines, decoded.

For reading a log or answering a bug report. Each INPUT is a frame in hex (spaces, ``:`` and
``-`` allowed) or a whole ``ERXUDP`` line in any dialect (protocol.md §D.4), with hex or raw
binary data; ``-`` reads inputs from stdin, one per line. Bad input: one line on stderr naming
the input and the byte offset; every other input is still decoded; exit status 2 at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

from routeb.echonet import decode_frame
from routeb.echonet.describe import Describer, dumps
from routeb.echonet.energy import ENERGY_UNITS, MAX_COEFFICIENT
from routeb.errors import EchonetDecodeError, SkstackProtocolError

if TYPE_CHECKING:
    from routeb.skstack.events import UdpReceived

# routeb.skstack is imported only for ERXUDP input (split_inputs, _parse_erxudp): a hex frame,
# the common case, decodes without it, so `routeb decode HEX` starts fast (docs/benchmarks.md).

__all__ = ["register", "split_inputs"]

_HEXDIGITS: Final = frozenset("0123456789abcdefABCDEF")
_SEPARATORS: Final = frozenset(" \t\r\n:-")
# protocol.md §D.1 (EPANDESC): RSSI dBm = 0.275 × LQI − 104.27, kept exact.
_RSSI_SLOPE: Final = Decimal("0.275")
_RSSI_OFFSET: Final = Decimal("104.27")
_RSSI_STEP: Final = Decimal("0.01")
_PREVIEW: Final = 40
_ERXUDP: Final = b"ERXUDP"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "decode",
        help="decode ECHONET Lite frames (hex) or SKSTACK ERXUDP lines",
        description="Decode ECHONET Lite frames given in hex (spaces allowed) or whole "
        "ERXUDP lines (any module dialect, hex or binary data). '-' reads inputs from stdin, "
        "one per line. When the meter's D3/E1 appear in the batch, later energy values are "
        "scaled with them; otherwise --coefficient/--unit apply.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="hex frame, ERXUDP line or -")
    parser.add_argument("--json", action="store_true", help="one JSON object per input")
    parser.add_argument(
        "--coefficient", type=int, help="D3 coefficient to assume until the input has one"
    )
    parser.add_argument("--unit", help="E1 unit to assume, in kWh (0.01) or as the E1 code (0x02)")
    parser.set_defaults(handler=_handle)


def _parse_unit(text: str) -> Decimal:
    """An E1 unit from ``0.01`` (kWh) or ``0x02`` (the code); ValueError with the reason."""
    if text.lower().startswith("0x"):
        try:
            unit = ENERGY_UNITS.get(int(text, 16))
        except ValueError:
            unit = None
        if unit is None:
            raise ValueError("not an E1 code (0x00-0x04, 0x0A-0x0D)")
        return unit
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("not a number of kWh") from None
    for unit in ENERGY_UNITS.values():
        if unit == value:
            return unit
    raise ValueError("E1 units are 0.0001, 0.001, 0.01, 0.1, 1, 10, 100, 1000 or 10000 kWh")


def split_inputs(data: bytes) -> list[bytes]:
    """Lines of ``data``; an ERXUDP line is cut by its DATALEN, so binary data may hold CR LF."""
    from routeb.skstack.erxudp import PREFIX  # noqa: PLC0415 (ERXUDP input only, see above)

    items: list[bytes] = []
    pos = 0
    size = len(data)
    while pos < size:
        end = _erxudp_end(data, pos) if data.startswith(PREFIX, pos) else -1
        if end >= 0:
            line = data[pos:end]  # binary data may end in a CR byte of its own
        else:
            newline = data.find(b"\n", pos)
            end = size if newline < 0 else newline
            line = data[pos:end].rstrip(b"\r")
        if line.strip():
            items.append(line)
        pos = end
        while pos < size and data[pos] in b"\r\n":
            pos += 1
    return items


def _erxudp_end(data: bytes, pos: int) -> int:
    """Where the ERXUDP line at ``pos`` ends (before its CRLF), or -1 to cut at the newline."""
    from routeb.skstack.erxudp import parse_header  # noqa: PLC0415 (ERXUDP input only)

    try:
        parsed = parse_header(data[pos:])
    except SkstackProtocolError:
        return -1
    if parsed is None:
        return -1
    header, start = parsed
    binary_end = pos + start + header.length
    # Binary data is DATALEN bytes followed by the line end; hex data is 2 × DATALEN digits
    # (§D.4). Anything else is left to the newline and reported by the line parser.
    if data[binary_end : binary_end + 1] in (b"\r", b"\n", b""):
        return binary_end
    hex_end = binary_end + header.length
    if data[hex_end : hex_end + 1] in (b"\r", b"\n", b""):
        return hex_end
    return -1


def _frame_bytes(text: bytes) -> bytes:
    """The bytes of a frame written in hex; EchonetDecodeError names the byte offset."""
    digits = bytearray()
    body = text.strip()
    if body[:2] in (b"0x", b"0X"):
        body = body[2:]
    for char in body.decode("latin-1"):
        if char in _SEPARATORS:
            continue
        if char not in _HEXDIGITS:
            raise EchonetDecodeError(f"{char!r} is not a hex digit", offset=len(digits) // 2)
        digits.append(ord(char))
    if len(digits) % 2:
        raise EchonetDecodeError("odd number of hex digits", offset=len(digits) // 2)
    if not digits:
        raise EchonetDecodeError("empty input", offset=0)
    return bytes.fromhex(digits.decode("ascii"))


def _label(number: int, raw: bytes) -> str:
    text = raw.decode("ascii", "backslashreplace")
    if len(text) > _PREVIEW:
        text = text[: _PREVIEW - 1] + "…"
    return f'input {number} ("{text}")'


def _where(exc: EchonetDecodeError | SkstackProtocolError, place: str) -> str:
    epc = getattr(exc, "epc", None)
    prop = "" if epc is None else f"EPC 0x{epc:02X}: "
    return f"{prop}{exc.reason} (byte offset {exc.offset} {place})"


def _parse_erxudp(line: bytes) -> UdpReceived:
    """The line as the module printed it; failing that, without a bare LF / CR ending."""
    from routeb.skstack.erxudp import parse_erxudp_line  # noqa: PLC0415 (ERXUDP input only)

    try:
        return parse_erxudp_line(line)
    except SkstackProtocolError:
        trimmed = line.rstrip(b"\r\n")
        if trimmed == line:
            raise
        try:
            return parse_erxudp_line(trimmed)
        except SkstackProtocolError:
            pass
        raise


def _rssi(rx: UdpReceived) -> Decimal | None:
    if rx.lqi is None:
        return None
    return (_RSSI_SLOPE * rx.lqi - _RSSI_OFFSET).quantize(_RSSI_STEP)


def _handle(args: argparse.Namespace) -> int:
    coefficient = args.coefficient
    if coefficient is not None and not 0 <= coefficient <= MAX_COEFFICIENT:
        print("routeb decode: --coefficient must be 0..999999", file=sys.stderr)
        return 2
    unit = None
    if args.unit is not None:
        try:
            unit = _parse_unit(args.unit)
        except ValueError as exc:
            print(f"routeb decode: --unit {args.unit}: {exc}", file=sys.stderr)
            return 2
    describer = Describer(coefficient, unit)
    inputs: list[bytes] = []
    for item in args.inputs:
        if item == "-":
            inputs += split_inputs(sys.stdin.buffer.read())
        else:
            # Raw binary ERXUDP data reaches us through the OS's surrogate escapes.
            inputs.append(os.fsencode(item))
    status = 0
    for number, raw in enumerate(inputs, start=1):
        label = _label(number, raw)
        extra: dict[str, object] = {}
        source = "of the frame"
        try:
            if raw.lstrip().startswith(_ERXUDP):
                rx = _parse_erxudp(raw.lstrip())
                source = "of the ERXUDP data"
                extra["sender"] = rx.sender
                rssi = _rssi(rx)
                if rssi is not None:
                    extra["rssi"] = rssi
                extra["secured"] = rx.secured
                frame = decode_frame(rx.data)
            else:
                frame = decode_frame(_frame_bytes(raw))
        except SkstackProtocolError as exc:
            print(f"routeb decode: {label}: {_where(exc, 'in the line')}", file=sys.stderr)
            status = 2
            continue
        except EchonetDecodeError as exc:
            print(f"routeb decode: {label}: {_where(exc, source)}", file=sys.stderr)
            status = 2
            continue
        described = describer.describe(frame)
        for error in described.errors:
            print(f"routeb decode: {label}: {_where(error, source)}", file=sys.stderr)
            status = 2
        if args.json:
            print(dumps({**extra, **described.document}))
        else:
            print(f"input {number}:")
            if extra:
                rssi_text = f", RSSI {extra['rssi']} dBm" if "rssi" in extra else ""
                print(f"  from {extra['sender']} (secured {extra['secured']}{rssi_text})")
            for line in described.lines:
                print(line)
    return status
