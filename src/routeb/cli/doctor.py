"""`routeb doctor`: a checklist a non-expert can follow, each step with its verdict and the fix.

Config → credentials → serial device → module (dialect, firmware) → scan for our pairing ID →
PANA join → the meter's properties and clock. It stops at the first step that fails, because
every later step needs it, and says what to do. docs/b-route-service.md explains where the
B-route ID and password come from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from routeb.cli._common import add_connection_args, run, setup_logging
from routeb.collector.links import open_wisun
from routeb.config import Config, load_config, with_overrides
from routeb.driver.session import BRouteSession, SessionSettings
from routeb.echonet.energy import CumulativeEnergy
from routeb.errors import (
    AuthenticationError,
    ConfigError,
    CredentialsLatchedError,
    DeviceError,
    MeterNotFoundError,
    PanaTimeoutError,
    RouteBError,
)
from routeb.radio.base import ModuleChoice
from routeb.radio.skstack_module import WiSunModule
from routeb.serialio.port import open_serial
from routeb.skstack import commands
from routeb.skstack.events import Dialect, InfoLine, VersionLine

__all__ = ["register"]

APPLY = (
    "Apply for the B-route service (電力メーター情報発信サービス) with your grid operator: "
    "TEPCO and Kyushu take applications on the web, most others by a paper form. The B-route "
    "ID (32 characters) and password (12) arrive by mail or letter once the meter is set up "
    "(about 13 business days). See docs/b-route-service.md."
)


class _Checklist:
    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.failed = False

    def ok(self, step: str, detail: str) -> None:
        self.out(f"[ OK ] {step}: {detail}")

    def fail(self, step: str, problem: str, fix: str) -> None:
        self.failed = True
        self.out(f"[FAIL] {step}: {problem}")
        for line in fix.splitlines():
            self.out(f"       → {line}")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "doctor",
        help="check config, device, module, scan, join and meter, with fixes",
        description="A step-by-step check of everything between routeb and your meter.",
    )
    add_connection_args(parser)
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    return run(lambda: _doctor(args, print))


async def _doctor(args: argparse.Namespace, out: Callable[[str], None]) -> int:
    check = _Checklist(out)
    # 1. Configuration
    try:
        config: Config = load_config(args.config)
        config = with_overrides(config, device=args.device, dialect=args.dialect)
    except ConfigError as exc:
        check.fail("configuration", str(exc), "fix the key named above (docs/configuration.md)")
        return 1
    where = str(config.source) if config.source else "no file (environment and flags only)"
    check.ok("configuration", where)
    meter = config.meter
    # 2. Credentials
    if meter.id is None or meter.password is None:
        missing = " and ".join(
            name for name, value in (("ID", meter.id), ("password", meter.password)) if not value
        )
        check.fail(
            "credentials",
            f"the B-route {missing} {'are' if ' and ' in missing else 'is'} not configured",
            f"set meter.id / meter.password in the config, or ROUTEB_ID / ROUTEB_PASSWORD\n{APPLY}",
        )
        return 1
    check.ok("credentials", "ID (32 characters) and password (12) are well-formed")
    # 3. Serial device
    if meter.device is None:
        check.fail("device", "no device", "pass --device, or set ROUTEB_DEVICE / meter.device")
        return 1
    try:
        stream = await open_serial(meter.device)
    except DeviceError as exc:
        check.fail("device", str(exc), "see the hint above; `ls -l /dev/serial/by-id/`")
        return 1
    # 4. Module
    module = WiSunModule(stream)
    module.start()
    try:
        await module.execute(commands.sksreg("SFE", "0"))
        version = (await module.execute(commands.skver())).first(VersionLine)
        info = (await module.execute(commands.skinfo())).first(InfoLine)
    except RouteBError as exc:
        check.fail(
            "module",
            f"the Wi-SUN module does not answer SKSTACK commands ({exc})",
            "is this the Wi-SUN dongle (not another serial device)? unplug and replug it; "
            "check the baud rate is 115200",
        )
        await module.close()
        return 1
    await module.close()
    dialect = (
        Dialect(meter.dialect)
        if meter.dialect != "auto"
        else (Dialect.BP35C2 if info is not None and info.side is not None else Dialect.BP35A1)
    )
    firmware = version.version if version else "unknown"
    check.ok("device", f"{meter.device} opens")
    check.ok("module", f"{dialect.value} dialect, firmware {firmware}")
    state_dir = args.state_dir or meter.state_dir
    settings = SessionSettings(scan_durations=meter.scan_durations, wait_for_auth_evidence=False)
    # 5. Scan
    session = BRouteSession(
        meter.device,
        meter.id,
        meter.password,
        dialect=dialect,
        state_dir=Path(state_dir),
        settings=settings,
    )
    try:
        beacons = await session.scan()
    except RouteBError as exc:
        check.fail("scan", str(exc), "retry; if it persists, replug the module")
        return 1
    ours = [b for b in beacons if b.pair_id.upper() == session.pairing_id]
    if not ours:
        others = f" ({len(beacons)} other meters heard)" if beacons else ""
        check.fail(
            "scan",
            f"no meter answered with your pairing ID{others}",
            "move the module closer to the meter or use an extension cable; check the antenna\n"
            "is the B-route service active yet? the utility sends the ID when it is\n"
            "check the B-route ID: its last 8 characters are what the meter answers to",
        )
        return 1
    best = max(ours, key=lambda b: b.rssi_dbm)
    quality = (
        f"{best.rssi_dbm:.0f} dBm"
        if best.lqi is None
        else f"LQI {best.lqi} ≈ {best.rssi_dbm:.0f} dBm"
    )
    check.ok(
        "scan",
        f"your meter on channel {best.channel} (PAN {best.pan_id:04X}), "
        + quality
        + (" — weak" if best.rssi_dbm < -90 else ""),
    )
    # 6. Join and 7. read
    try:
        async with open_wisun(
            meter.device,
            meter.id,
            meter.password,
            dialect=ModuleChoice.of(dialect),
            state_dir=Path(state_dir),
            session_settings=settings,
            retry_auth=args.retry_auth,
        ) as link:
            check.ok("join", "PANA authentication succeeded (EVENT 25)")
            info_values = link.reader.info
            readings = await link.reader.read([0xE7, 0xE0])
            skew = await link.reader.clock_skew()
    except CredentialsLatchedError as exc:
        check.fail("join", str(exc), "after fixing the credentials: routeb doctor --retry-auth")
        return 1
    except AuthenticationError:
        check.fail(
            "join",
            "the meter rejected the B-route ID or password (PANA authentication failed)",
            "compare both with the utility's letter/mail: the ID is 32 characters, the password "
            "12, letters and digits; 0 (zero) and O are easy to confuse",
        )
        return 1
    except (PanaTimeoutError, MeterNotFoundError) as exc:
        check.fail("join", str(exc), "the radio link is weak: move the module closer")
        return 1
    except RouteBError as exc:
        check.fail("meter", str(exc), "retry; run with -vv to see the conversation")
        return 1
    power = readings[0xE7].value
    energy = readings[0xE0].value
    scale = info_values.scale
    energy_text = (
        f"{energy.kwh()} kWh" if isinstance(energy, CumulativeEnergy) and energy.kwh() else "?"
    )
    check.ok(
        "meter",
        f"power {power} W, energy {energy_text} (coefficient {scale.coefficient}, "
        f"unit {scale.unit} kWh, {info_values.digits} digits), "
        f"{len(info_values.get_map)} properties",
    )
    if skew is None:
        check.ok("clock", "the meter does not report its clock")
    elif abs(skew.total_seconds()) > 300:
        check.fail(
            "clock",
            f"the meter's clock is {skew.total_seconds() / 60:+.0f} min off ours",
            "is this computer's clock right (NTP)? routeb stamps 30-minute values with the "
            "meter's own time either way",
        )
    else:
        check.ok("clock", f"meter clock within {abs(skew.total_seconds()):.0f} s of ours")
    out("")
    out("All checks passed." if not check.failed else "Some checks need attention.")
    return 1 if check.failed else 0
