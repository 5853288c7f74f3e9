"""`routeb init`: interactive setup — pick the device, enter the credentials (hidden), try a
scan and a join, and write the config (mode 0600). An access token for the dashboard is
generated and shown once."""

from __future__ import annotations

import argparse
import getpass
import glob
import os
import secrets
from pathlib import Path
from typing import Any

from routeb.cli._common import register_secret, run, setup_logging
from routeb.collector.links import open_wisun
from routeb.config import default_config_path, default_state_dir, validate_password, validate_rbid
from routeb.driver.session import SessionSettings
from routeb.errors import ConfigError, RouteBError

__all__ = ["register", "serial_candidates"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "init", help="interactive setup: device, credentials, test join, config file"
    )
    parser.add_argument("--config", type=Path, help="where to write (default: platform config)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing config")
    parser.add_argument("--skip-test", action="store_true", help="do not try to join the meter")
    parser.set_defaults(handler=_handle)


def serial_candidates() -> list[str]:
    """Serial devices, stable names first (/dev/serial/by-id survives re-plugging)."""
    by_id = sorted(glob.glob("/dev/serial/by-id/*"))
    plain = sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))
    return by_id + [p for p in plain if p not in {os.path.realpath(b) for b in by_id}]


def _ask(prompt: str, default: str | None = None) -> str:
    suffix = f" [{default}]" if default else ""
    answer = input(f"{prompt}{suffix}: ").strip()
    return answer or (default or "")


def _handle(args: argparse.Namespace) -> int:
    setup_logging(0)
    return run(lambda: _init(args))


async def _init(args: argparse.Namespace) -> int:
    path: Path = args.config or default_config_path()
    if path.exists() and not args.force:  # noqa: ASYNC240 - one stat before any IO starts
        raise ConfigError(str(path), "already exists (use --force to replace it)")
    devices = serial_candidates()
    print("Serial devices:" if devices else "No serial devices found (is the dongle plugged in?)")
    for index, device in enumerate(devices, start=1):
        print(f"  {index}. {device}")
    choice = _ask("Device (number, path or socket://host:port)", "1" if devices else None)
    device = (
        devices[int(choice) - 1]
        if choice.isdigit() and 0 < int(choice) <= len(devices)
        else (choice)
    )
    if not device:
        raise ConfigError("meter.device", "no device given")
    rbid = validate_rbid(getpass.getpass("B-route ID (32 characters, hidden): "), "meter.id")
    register_secret(rbid)
    password = validate_password(getpass.getpass("B-route password (12, hidden): "))
    register_secret(password)
    state_dir = default_state_dir()
    if not args.skip_test:
        print("Scanning and joining (up to two minutes)…")
        try:
            async with open_wisun(
                device, rbid, password, state_dir=state_dir, session_settings=SessionSettings()
            ) as link:
                power = (await link.reader.read([0xE7]))[0xE7].value
                print(f"Joined. The meter reads {power} W now.")
        except RouteBError as exc:
            print(f"The test failed: {exc}\nThe config is written anyway; run `routeb doctor`.")
    token = secrets.token_urlsafe(24)
    text = (
        "# written by `routeb init`; every key: docs/configuration.md\n"
        "[meter]\n"
        f'id = "{rbid.reveal()}"\n'
        f'password = "{password.reveal()}"\n'
        f'device = "{device}"\n\n'
        "[http]\n"
        'listen = "127.0.0.1:8610"\n'
        f'token = "{token}"  # needed only when listening beyond 127.0.0.1\n'
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    print(f"Wrote {path} (mode 0600).")
    print(f"Dashboard access token (shown once; it is in the config): {token}")
    print("Next: `routeb run`, then open http://127.0.0.1:8610")
    return 0
