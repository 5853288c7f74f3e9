"""`routeb emulate`: a Wi-SUN module and smart meter(s) on a pty (and TCP), for any B-route client.

Prints exactly one JSON line when ready, e.g.
``{"serial": "/dev/pts/7", "tcp": "socket://127.0.0.1:40123", "dialect": "bp35a1"}``,
then runs until SIGINT/SIGTERM. ``--dialect j11`` serves a ROHM J11 module instead of a SKSTACK
one. With ``--udp ADDRESS`` the meter is also an ECHONET Lite node on ADDRESS:3610 and the line
gains ``"udp": "ADDRESS"`` (docs/bridge.md); with ``--meters N`` it lists each meter's MAC,
channel and PAN ID under ``"meters"``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from routeb.cli._common import run, setup_logging, until_signalled
from routeb.config import validate_password, validate_rbid
from routeb.emulator.app import (
    DEFAULT_ID,
    DEFAULT_PASSWORD,
    DIALECTS,
    FAULTS,
    J11,
    MAX_METERS,
    Emulator,
    EmulatorOptions,
    parse_faults,
)
from routeb.emulator.profile import load_profile
from routeb.errors import ConfigError, ListenError
from routeb.skstack.events import Dialect

__all__ = ["register"]


def register(sub: Any) -> None:
    fault_help = "; ".join(f"{name}: {text}" for name, text in FAULTS.items())
    parser: argparse.ArgumentParser = sub.add_parser(
        "emulate",
        help="run an emulated Wi-SUN module and smart meter on a pty",
        description="Serve an emulated Wi-SUN module (SKSTACK IP text, or ROHM J11 binary with "
        "--dialect j11) with one or more smart meters behind it. "
        f"Without --id/--password the meter uses ID {DEFAULT_ID} and password "
        f"{DEFAULT_PASSWORD} (the emulator's own, not a secret; see docs/emulator.md).",
    )
    parser.add_argument(
        "--dialect",
        choices=list(DIALECTS),
        default="bp35a1",
        help="which module to be: bp35a1 (also RL7023 Stick-D/IPS), bp35c2 (BP35C0/C2, "
        "RS-WSUHA-P), rl7023 (Tessera), j11 (ROHM J11 binary); default bp35a1",
    )
    parser.add_argument(
        "--id", help=f"the meter's B-route ID, 32 letters and digits (default {DEFAULT_ID})"
    )
    parser.add_argument(
        "--password",
        help=f"the meter's B-route password, 12 characters (default {DEFAULT_PASSWORD})",
    )
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiply every delay (0.01 = 100× faster)"
    )
    parser.add_argument(
        "--clock-speed", type=float, default=1.0, help="how fast the meter's clock runs"
    )
    parser.add_argument(
        "--clock-start",
        type=_jst_time,
        metavar="YYYY-MM-DDTHH:MM",
        help="the meter's JST time at start (default: now); with --clock-speed, a soak "
        "can run a past calendar up to the present",
    )
    parser.add_argument(
        "--tcp", type=int, metavar="PORT", help="also serve socket:// on PORT (0 = any free port)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the household model")
    parser.add_argument(
        "--radio-seed",
        type=int,
        help="seed of the module's delays and losses (default: a new one every run)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        action="append",
        default=[],
        help="meter profile TOML (docs/emulator-profile.md); once per meter with --meters",
    )
    parser.add_argument(
        "--meters",
        type=int,
        default=1,
        metavar="N",
        help=f"N meters (1..{MAX_METERS}) on different channels around the module",
    )
    parser.add_argument(
        "--uart-latency",
        type=float,
        metavar="MS",
        help="the adapter's latency timer in ms (default 16, FTDI; 1 with --dialect j11)",
    )
    parser.add_argument(
        "--uart-chunk", type=int, metavar="BYTES", help="cut every burst into pieces this long"
    )
    parser.add_argument(
        "--fault", action="append", default=[], metavar="NAME[=VALUE]", help=fault_help
    )
    parser.add_argument(
        "--udp",
        metavar="ADDRESS",
        help="also serve the meter as an ECHONET Lite node on ADDRESS:3610 (e.g. 127.0.0.2)",
    )
    parser.add_argument("--link", type=Path, help="keep a symlink to the current pty here")
    parser.add_argument("--log", action="store_true", help="print the module's conversation")
    parser.add_argument("--fleet", type=int, metavar="N", help="simulate N homes (docs/fleet.md)")
    parser.add_argument("--mqtt", metavar="URL", help="with --fleet: the broker, mqtt://host:1883")
    parser.set_defaults(handler=_handle)


def _jst_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date-time: {text!r}") from None


def _handle(args: argparse.Namespace) -> int:
    setup_logging(0)
    if args.fleet:
        from routeb.fleet.simulator import main as fleet_main  # noqa: PLC0415

        return run(lambda: fleet_main(args.fleet, args.mqtt, args.seed, args.clock_speed))
    return run(lambda: _emulate(args))


def _options(args: argparse.Namespace) -> EmulatorOptions:
    rbid = validate_rbid(args.id, "--id").reveal() if args.id else DEFAULT_ID
    password = (
        validate_password(args.password, "--password").reveal()
        if args.password
        else DEFAULT_PASSWORD
    )
    if not args.time_scale >= 0:
        raise ConfigError("--time-scale", "must be >= 0")
    if not args.clock_speed > 0:
        raise ConfigError("--clock-speed", "must be > 0")
    if args.tcp is not None and not 0 <= args.tcp <= 65535:
        raise ConfigError("--tcp", f"port {args.tcp} is out of range (0..65535)")
    if not 1 <= args.meters <= MAX_METERS:
        raise ConfigError("--meters", f"must be 1..{MAX_METERS}, got {args.meters}")
    if len(args.profile) > args.meters:
        raise ConfigError(
            "--profile", f"given {len(args.profile)} times for {args.meters} meter(s)"
        )
    if args.uart_latency is not None and not args.uart_latency >= 0:
        raise ConfigError("--uart-latency", "must be >= 0")
    if args.uart_chunk is not None and args.uart_chunk < 1:
        raise ConfigError("--uart-chunk", "must be at least 1")
    profiles = tuple(
        load_profile(path, overrides={"seed": args.seed + index})
        for index, path in enumerate(args.profile)
    )
    options = EmulatorOptions(
        dialect=J11 if args.dialect == J11 else Dialect(args.dialect),
        rbid=rbid,
        password=password,
        time_scale=args.time_scale,
        clock_speed=args.clock_speed,
        clock_start=args.clock_start,
        tcp=args.tcp,
        seed=args.seed,
        link=args.link,
        log=args.log,
        udp=args.udp,
        meters=args.meters,
        profiles=profiles,
        radio_seed=args.radio_seed,
        uart_latency=None if args.uart_latency is None else args.uart_latency / 1000,
        uart_chunk=args.uart_chunk,
    )
    if profiles:
        options = replace(options, profile=profiles[0])
    else:
        options = replace(options, profile=replace(options.profile, seed=args.seed))
    options = parse_faults(args.fault, options)
    if options.vanish_after is not None and options.link is None:
        options = replace(options, link=Path(tempfile.mkdtemp(prefix="routeb-emulator-")) / "tty")
    return options


async def _emulate(args: argparse.Namespace) -> int:
    options = _options(args)
    emulator = Emulator(options)
    try:
        ready = await emulator.start()
    except OSError as exc:
        await emulator.close()
        if args.tcp is not None and args.udp is None:
            raise ListenError.from_os_error("--tcp", f"127.0.0.1:{args.tcp}", exc) from None
        if args.udp is not None and args.tcp is None:
            raise ListenError.from_os_error("--udp", f"{args.udp}:3610", exc) from None
        raise ListenError.from_os_error("--tcp / --udp", "their addresses", exc) from None
    print(json.dumps(ready), flush=True)
    try:
        await until_signalled()
    finally:
        await emulator.close()
    print("routeb emulate: stopped", file=sys.stderr)
    return 0
