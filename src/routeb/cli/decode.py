"""`routeb decode INPUT...`: ECHONET Lite frames (hex) or SKSTACK ERXUDP lines, decoded.

For debugging a log or answering a bug report. Bad input: one line on stderr naming the input
and the byte offset; every other input is still decoded; exit status 2 at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
from decimal import Decimal, InvalidOperation
from typing import Any

from routeb.echonet import decode_frame
from routeb.echonet.describe import Describer, dumps
from routeb.echonet.energy import ENERGY_UNITS, MAX_COEFFICIENT
from routeb.errors import EchonetDecodeError, SkstackProtocolError
from routeb.skstack.erxudp import PREFIX, parse_erxudp_line, parse_header

__all__ = ["register", "split_inputs"]

_HEXDIGITS = frozenset("0123456789abcdefABCDEF")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "decode",
        help="decode ECHONET Lite frames (hex) or SKSTACK ERXUDP lines",
        description="Decode ECHONET Lite frames given in hex (spaces allowed) or whole "
        "ERXUDP lines (any dialect, hex or binary data). '-' reads inputs from stdin, one per "
        "line. The meter's D3/E1 in the batch scale later energy values.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT")
    parser.add_argument("--json", action="store_true", help="one JSON object per input")
    parser.add_argument("--coefficient", type=int, help="D3 coefficient to assume (default 1)")
    parser.add_argument("--unit", help="E1 unit in kWh to assume, e.g. 0.01 (or code 0x02)")
    parser.set_defaults(handler=_handle)


def _unit(text: str | None) -> Decimal | None:
    if text is None:
        return None
    if text.lower().startswith("0x"):
        try:
            unit = ENERGY_UNITS.get(int(text, 16))
        except ValueError:
            unit = None
        if unit is None:
            raise SystemExit(f"routeb decode: --unit {text}: not an E1 code (0x00-0x04, 0x0A-0x0D)")
        return unit
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SystemExit(f"routeb decode: --unit {text}: not a number of kWh") from None
    if value not in ENERGY_UNITS.values():
        raise SystemExit(f"routeb decode: --unit {text}: E1 units are 0.0001 … 10000 kWh")
    return value


def split_inputs(data: bytes) -> list[bytes]:
    """Lines of ``data``; an ERXUDP line with binary data is cut by its DATALEN, not by CRLF."""
    items: list[bytes] = []
    pos = 0
    while pos < len(data):
        rest = data[pos:]
        if rest.startswith(PREFIX):
            try:
                parsed = parse_header(rest)
                if parsed is not None:
                    header, start = parsed
                    length = header.length
                    end = start + length
                    if rest[end : end + 2] != b"\r\n" and rest[end : end + 1] != b"\n":
                        end = start + 2 * length  # hex data
                    items.append(rest[:end])
                    pos += end
                    while data[pos : pos + 1] in (b"\r", b"\n"):
                        pos += 1
                    continue
            except SkstackProtocolError:
                pass
        newline = rest.find(b"\n")
        line = rest if newline < 0 else rest[:newline]
        pos += len(line) + 1
        if line.strip():
            items.append(line.rstrip(b"\r"))
    return items


def _frame_bytes(text: bytes) -> bytes:
    compact = bytearray()
    for offset, char in enumerate(text.decode("latin-1")):
        if char.isspace() or char in ":-":
            continue
        if char not in _HEXDIGITS:
            raise EchonetDecodeError(
                f"not a hex digit: {char!r} at character {offset}", offset=len(compact) // 2
            )
        compact.append(ord(char))
    if len(compact) % 2:
        raise EchonetDecodeError("odd number of hex digits", offset=len(text))
    return bytes.fromhex(compact.decode("ascii"))


def _handle(args: argparse.Namespace) -> int:
    coefficient = args.coefficient
    if coefficient is not None and not 0 <= coefficient <= MAX_COEFFICIENT:
        print("routeb decode: --coefficient must be 0..999999", file=sys.stderr)
        return 2
    try:
        unit = _unit(args.unit)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    describer = Describer(coefficient, unit)
    inputs: list[bytes] = []
    for item in args.inputs:
        if item == "-":
            inputs += split_inputs(sys.stdin.buffer.read())
        else:
            inputs.append(os.fsencode(item))
    status = 0
    for number, raw in enumerate(inputs, start=1):
        label = f"input {number}"
        document: dict[str, object]
        try:
            if raw.startswith(b"ERXUDP"):
                rx = parse_erxudp_line(raw)
                frame = decode_frame(rx.data)
                document = describer.frame_json(frame)
                extra: dict[str, object] = {"sender": rx.sender, "secured": rx.secured}
                if rx.rssi is not None:
                    extra["rssi"] = round(rx.rssi, 1)
                document = {**extra, **document}
            else:
                document = describer.frame_json(decode_frame(_frame_bytes(raw)))
        except (EchonetDecodeError, SkstackProtocolError) as exc:
            print(f"routeb decode: {label}: {exc}", file=sys.stderr)
            status = 2
            continue
        for error in describer.errors:
            print(f"routeb decode: {label}: {error}", file=sys.stderr)
            status = 2
        describer.errors.clear()
        if args.json:
            print(dumps(document))
        else:
            print(f"{label}:")
            if "sender" in document:
                rssi = f", RSSI {document['rssi']} dBm" if "rssi" in document else ""
                print(f"  from {document['sender']} (secured {document['secured']}{rssi})")
            for line in describer.text_lines(document):
                print(line)
    return status
