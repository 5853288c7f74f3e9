"""`routeb init`: interactive setup — pick the device, enter the credentials (hidden), try a
scan and a join, and write the config (mode 0600). An access token for the dashboard is
generated and shown once.

A mistyped ID or password is asked for again. The file is written by a TOML writer
(tomli-w), so every character the validation accepts reads back unchanged; the scan cache of
the test join goes to the state directory (``--state-dir``, ``ROUTEB_STATE_DIR``)."""

from __future__ import annotations

import argparse
import getpass
import glob
import os
import secrets
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import tomli_w

from routeb._redact import Secret
from routeb.cli._common import (
    Settings,
    add_verbosity_args,
    connect,
    register_secret,
    run,
    setup_logging,
)
from routeb.cli.progress import progress
from routeb.collector.supervisor import default_meter_name
from routeb.config import (
    DEFAULT_LISTEN,
    Config,
    default_config_path,
    load_config,
    meter_name_problem,
    parse_document,
    validate_password,
    validate_rbid,
    with_overrides,
)
from routeb.errors import ConfigError, RouteBError

__all__ = ["added_meter_text", "config_text", "register", "serial_candidates"]

# How often a mistyped answer is asked for again before init gives up.
ATTEMPTS: Final = 3


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "init",
        help="interactive setup: device, credentials, test join, config file",
        description="Asks for the device, the B-route ID (32 characters) and password (12) from "
        "your utility's letter, tries a scan and a join, and writes the config file (mode 0600) "
        "that every other command reads.",
    )
    parser.add_argument("--config", type=Path, help="where to write (default: platform config)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing config")
    parser.add_argument(
        "--add-meter",
        metavar="NAME",
        help="add a meter named NAME to the existing config as a [[meter]] table, keeping the "
        "rest (docs/meters.md); a single [meter] becomes the first [[meter]] under its key",
    )
    parser.add_argument("--skip-test", action="store_true", help="do not try to join the meter")
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the test join keeps its scan cache (or ROUTEB_STATE_DIR)",
    )
    add_verbosity_args(parser)
    parser.set_defaults(handler=_handle)


def serial_candidates() -> list[str]:
    """Serial devices, stable names first (/dev/serial/by-id survives re-plugging)."""
    by_id = sorted(glob.glob("/dev/serial/by-id/*"))
    plain = sorted(glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*"))
    return by_id + [p for p in plain if p not in {os.path.realpath(b) for b in by_id}]


def config_text(rbid: Secret, password: Secret, device: str, token: str) -> str:
    """The file ``routeb init`` writes: TOML from a TOML writer, so it always reads back."""
    document = {
        "meter": {"id": rbid.reveal(), "password": password.reveal(), "device": device},
        "http": {"listen": DEFAULT_LISTEN, "token": token},
    }
    return (
        "# written by `routeb init`; every key: docs/configuration.md\n"
        "# http.token is needed only when listening beyond 127.0.0.1\n" + tomli_w.dumps(document)
    )


def _ask(prompt: str, default: str | None = None) -> str:
    suffix = f" [{default}]" if default else ""
    try:
        answer = input(f"{prompt}{suffix}: ").strip()
    except EOFError:
        print()  # end the prompt's line
        raise ConfigError("routeb init", "no answer (standard input ended)") from None
    return answer or (default or "")


def _ask_until_valid(ask: Callable[[], str], check: Callable[[str], Secret]) -> Secret:
    """Ask again after a mistake (up to ATTEMPTS times), saying what was wrong."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answer = ask()
        except EOFError:
            print()  # end the prompt's line
            raise ConfigError("routeb init", "no answer (standard input ended)") from None
        try:
            return check(answer)
        except ConfigError as exc:
            if attempt == ATTEMPTS:
                raise
            print(f"  {exc} — please try again ({ATTEMPTS - attempt} more)", file=sys.stderr)
    raise AssertionError("unreachable")


def _choose_device(devices: list[str]) -> str:
    for attempt in range(1, ATTEMPTS + 1):
        choice = _ask("Device (number, path or socket://host:port)", "1" if devices else None)
        if choice.isdigit():
            if 0 < int(choice) <= len(devices):
                return devices[int(choice) - 1]
            problem = f"there is no device number {choice}"
        elif choice:
            return choice
        else:
            problem = "no device given"
        if attempt == ATTEMPTS:
            raise ConfigError("meter.device", problem)
        print(f"  {problem} — please try again", file=sys.stderr)
    raise AssertionError("unreachable")


def _handle(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    return run(lambda: _init(args))


async def _init(args: argparse.Namespace) -> int:
    path: Path = args.config or default_config_path()
    if args.add_meter is not None:
        return await _add_meter(args, path)
    if path.exists() and not args.force:  # noqa: ASYNC240 - one stat before any IO starts
        raise ConfigError(str(path), "already exists (use --force to replace it)")
    if not path.parent.is_dir() and path.parent.exists():
        raise ConfigError("--config", f"{path.parent} is not a directory")
    # The state directory as every other command finds it: --state-dir > ROUTEB_STATE_DIR > default.
    base: Config = with_overrides(
        parse_document(Config, "", env=os.environ), state_dir=args.state_dir
    )
    device, rbid, password = _ask_meter()
    if not args.skip_test:
        await _test_join(args, base, device, rbid, password)
    token = secrets.token_urlsafe(24)
    _write_private(path, config_text(rbid, password, device, token))
    print(f"Wrote {path} (mode 0600).")
    print(f"Dashboard access token (shown once; it is in the config): {token}")
    print("Next: `routeb run`, then open http://127.0.0.1:8610")
    return 0


def _ask_meter() -> tuple[str, Secret, Secret]:
    """The device, B-route ID and password, asked for (the secrets hidden)."""
    devices = serial_candidates()
    print("Serial devices:" if devices else "No serial devices found (is the dongle plugged in?)")
    for index, device in enumerate(devices, start=1):
        print(f"  {index}. {device}")
    device = _choose_device(devices)
    rbid = _ask_until_valid(
        lambda: getpass.getpass("B-route ID (32 characters, hidden): "),
        lambda text: validate_rbid(text, "B-route ID"),
    )
    register_secret(rbid)
    password = _ask_until_valid(
        lambda: getpass.getpass("B-route password (12 characters, hidden): "),
        lambda text: validate_password(text, "B-route password"),
    )
    register_secret(password)
    return device, rbid, password


async def _add_meter(args: argparse.Namespace, path: Path) -> int:
    """``--add-meter NAME``: one more ``[[meter]]`` in an existing config, the rest kept."""
    name: str = args.add_meter
    problem = meter_name_problem(name)
    if problem or not name:
        raise ConfigError("--add-meter", problem or "give the new meter a name")
    config = load_config(path, env={}, required=True)
    if any(meter.name == name for meter in config.meters):
        raise ConfigError("--add-meter", f"{path} already has a meter named {name!r}")
    document = tomllib.loads(path.read_text(encoding="utf-8"))  # noqa: ASYNC240 - read once
    device, rbid, password = _ask_meter()
    if not args.skip_test:
        base = with_overrides(config, state_dir=args.state_dir)
        await _test_join(args, base, device, rbid, password)
    _write_private(path, added_meter_text(document, name, rbid, password, device))
    print(f"Added meter {name!r} to {path} (mode 0600). `routeb run` records every meter.")
    return 0


def added_meter_text(
    document: dict[str, Any], name: str, rbid: Secret, password: Secret, device: str
) -> str:
    """``document`` (a parsed config) with one more ``[[meter]]``, written by tomli-w.

    A single ``[meter]`` table becomes the first ``[[meter]]``; without a ``name`` it gets the
    key it was recorded under (``default_meter_name``), so its history stays its own. Comments
    are not kept (tomli-w writes values only); every key and value is.
    """
    existing = document.get("meter")
    meters: list[dict[str, Any]]
    if isinstance(existing, list):
        meters = existing
    elif isinstance(existing, dict):
        old = dict(existing)
        if not old.get("name"):
            rbid_text = old.get("id")
            old_id = Secret(rbid_text) if isinstance(rbid_text, str) else None
            old = {"name": default_meter_name(old_id), **old}
        meters = [old]
    else:
        meters = []
    meters.append(
        {"name": name, "id": rbid.reveal(), "password": password.reveal(), "device": device}
    )
    rest = {k: v for k, v in document.items() if k != "meter"}
    return "# every key: docs/configuration.md; several meters: docs/meters.md\n" + tomli_w.dumps(
        {**rest, "meter": meters}
    )


async def _test_join(
    args: argparse.Namespace, base: Config, device: str, rbid: Secret, password: Secret
) -> None:
    settings = Settings(base, rbid, password, device, None, base.meter.state_dir)
    print("Scanning and joining (up to two minutes)…")
    try:
        with progress(quiet=args.quiet, device=device) as shown:
            async with connect(settings, progress=shown) as link:
                shown.stage("reading the power (0xE7)")
                power = (await link.reader.read([0xE7]))[0xE7].value
        print(f"Joined. The meter reads {power} W now.")
    except RouteBError as exc:
        print(f"The test failed: {exc}\nThe config is written anyway; run `routeb doctor`.")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, atomically (never a half-written config)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
