"""`routeb read [EPC or name …] [--json]`: connect (cache first), read, print with units."""

from __future__ import annotations

import argparse
from typing import Any

from routeb.cli._common import (
    CREDENTIALS_HELP,
    add_connection_args,
    connect,
    load_settings,
    run,
    setup_logging,
)
from routeb.cli.progress import progress
from routeb.echonet.describe import describe_value, dumps, property_json
from routeb.echonet.smartmeter import SMART_METER_PROPERTIES, lookup_property
from routeb.errors import UsageError
from routeb.meter.reader import DEFAULT_READ, Reading

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "read",
        help="read properties from the meter (default: power, currents, energy)",
        description="Connect to the meter (cached scan first) and read properties. "
        "Properties are EPCs (0xE7, e7) or names (instantaneous_power); 'all' reads every "
        "property the meter offers. " + CREDENTIALS_HELP,
    )
    add_connection_args(parser)
    parser.add_argument(
        "properties",
        nargs="*",
        metavar="EPC",
        help="what to read: EPCs or names (default: power, currents, energy); 'all'",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    return run(lambda: _read(args))


def _wanted(names: list[str], get_map: tuple[int, ...]) -> list[int]:
    if not names:
        return list(DEFAULT_READ)
    if names == ["all"]:
        # §B.1: E2/E4/EC/EE need their selector first; read them as history, not here.
        selectors = {0xE2, 0xE4, 0xEC, 0xEE}
        epcs = get_map or tuple(SMART_METER_PROPERTIES)
        return [e for e in epcs if e not in selectors]
    out: list[int] = []
    for name in names:
        out.append(lookup_property(name).epc)
    return out


def _line(reading: Reading) -> str:
    spec = SMART_METER_PROPERTIES.get(reading.epc)
    name = spec.name_en if spec else f"0x{reading.epc:02X}"
    if reading.edt is None:
        return f"0x{reading.epc:02X} {name}: unavailable (the meter refused it)"
    if reading.error:
        return (
            f"0x{reading.epc:02X} {name}: {reading.edt.hex().upper()} (bad value: {reading.error})"
        )
    return f"0x{reading.epc:02X} {name}: {describe_value(reading.epc, reading.value)}"


async def _read(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    for name in args.properties:
        if name != "all":
            lookup_property(name)  # fail before touching the radio
    if "all" in args.properties and len(args.properties) > 1:
        raise UsageError("'all' cannot be combined with other properties")
    # The AIF start-up (D5, maps, D3/E1…) is only needed for scaled energy or "all": a plain
    # power read goes straight to the meter after the join (the fastest first value).
    requested = [lookup_property(n).epc for n in args.properties if n != "all"]
    needs_start = (
        not args.properties
        or "all" in args.properties
        or any(SMART_METER_PROPERTIES[e].scaled for e in requested)
    )
    with progress(quiet=args.quiet, device=settings.device) as shown:
        async with connect(
            settings,
            retry_auth=args.retry_auth,
            show_identifiers=args.show_identifiers,
            progress=shown,
            start_reader=needs_start,
        ) as link:
            epcs = _wanted(args.properties, link.reader.info.get_map)
            shown.stage("reading " + ", ".join(f"0x{e:02X}" for e in epcs))
            readings = await link.reader.read(epcs)
            scale = link.reader.info.scale if needs_start else None
            shown.stage(f"read {len(readings)} properties; closing the session (SKTERM)")
    if args.json:
        props = [property_json(r.epc, r.edt, r.value, scale=scale) for r in readings.values()]
        print(dumps({"properties": props}))
    else:
        for reading in readings.values():
            print(_line(reading))
    return 0
