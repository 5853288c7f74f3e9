"""`routeb emulate`: a Wi-SUN module and smart meter on a pty (and TCP), for any B-route client.

Prints exactly one JSON line when ready, e.g.
``{"serial": "/dev/pts/7", "tcp": "socket://127.0.0.1:40123", "dialect": "bp35a1"}``,
then runs until SIGINT/SIGTERM. With ``--udp ADDRESS`` the meter is also an ECHONET Lite node
on ADDRESS:3610 and the line gains ``"udp": "ADDRESS"`` (docs/bridge.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from routeb.cli._common import run, setup_logging, until_signalled
from routeb.config import validate_password, validate_rbid
from routeb.emulator.app import (
    DEFAULT_ID,
    DEFAULT_PASSWORD,
    FAULTS,
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
        description="Serve an emulated SKSTACK IP module with a smart meter behind it. "
        f"Without --id/--password the meter uses ID {DEFAULT_ID} and password "
        f"{DEFAULT_PASSWORD} (the emulator's own, not a secret; see docs/emulator.md).",
    )
    parser.add_argument(
        "--dialect",
        choices=[d.value for d in Dialect],
        default="bp35a1",
        help="which module to be: bp35a1 (also RL7023 Stick-D/IPS), bp35c2 (BP35C0/C2, "
        "RS-WSUHA-P), rl7023 (Tessera); default bp35a1",
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
        "--tcp", type=int, metavar="PORT", help="also serve socket:// on PORT (0 = any free port)"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the household model")
    parser.add_argument(
        "--profile", type=Path, help="meter profile TOML (docs/emulator-profile.md)"
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
    profile = load_profile(args.profile, overrides={"seed": args.seed}) if args.profile else None
    options = EmulatorOptions(
        dialect=Dialect(args.dialect),
        rbid=rbid,
        password=password,
        time_scale=args.time_scale,
        clock_speed=args.clock_speed,
        tcp=args.tcp,
        seed=args.seed,
        link=args.link,
        log=args.log,
        udp=args.udp,
    )
    if profile is not None:
        options = replace(options, profile=profile)
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
