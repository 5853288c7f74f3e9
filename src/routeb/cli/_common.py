"""What the meter-facing commands share: options, credentials, logging, exit codes, connect.

Exit codes are distinct per failure so scripts can tell them apart (issue: driver §4):
2 usage/config, 3 credentials rejected or latched, 4 meter not found, 5 device problem,
6 link/session problem (PANA timed out, link lost), 7 the meter did not answer, 1 other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from routeb._redact import Secret, redact_line
from routeb.collector.daemon import MeterLink
from routeb.collector.links import open_lan_link, open_wisun
from routeb.config import Config, load_config, validate_password, validate_rbid, with_overrides
from routeb.driver.session import ScanProgress, SessionSettings
from routeb.errors import (
    AuthenticationError,
    ConfigError,
    DeviceError,
    MeterNotFoundError,
    RouteBError,
    RouteBTimeoutError,
    SessionError,
    UsageError,
)
from routeb.meter.client import ClientSettings
from routeb.skstack.events import Dialect

__all__ = [
    "EXIT_AUTH",
    "EXIT_DEVICE",
    "EXIT_LINK",
    "EXIT_NOT_FOUND",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "Connection",
    "add_connection_args",
    "connect",
    "load_settings",
    "run",
    "setup_logging",
    "until_signalled",
]

EXIT_OTHER: Final = 1
EXIT_USAGE: Final = 2
EXIT_AUTH: Final = 3
EXIT_NOT_FOUND: Final = 4
EXIT_DEVICE: Final = 5
EXIT_LINK: Final = 6
EXIT_TIMEOUT: Final = 7


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """--config, --device, --dialect, --state-dir, --retry-auth, -v."""
    parser.add_argument("--config", type=Path, help="config file (default: platform config dir)")
    parser.add_argument(
        "--device",
        help="serial device or URL: /dev/ttyUSB0, /dev/serial/by-id/…, socket://host:port, "
        "rfc2217://host:port, udp://ADDRESS for a meter behind a LAN bridge (or ROUTEB_DEVICE)",
    )
    parser.add_argument(
        "--dialect",
        choices=["auto", *(d.value for d in Dialect)],
        help="force the module dialect instead of detecting it",
    )
    parser.add_argument("--state-dir", type=Path, help="where the scan cache lives")
    parser.add_argument(
        "--retry-auth",
        action="store_true",
        help="try credentials again that the meter rejected before",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: module lines)"
    )
    parser.add_argument(
        "--show-identifiers",
        action="store_true",
        help="log MAC / IPv6 addresses unredacted (the ID and password are never shown)",
    )


class _SecretFilter(logging.Filter):
    """Last line of defence: mask SKSETRBID/SKSETPWD and any registered secret in records."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact_line(message)
        for secret in self.secrets:
            if secret:
                cleaned = cleaned.replace(secret, "********")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER: Final = _SecretFilter()


class _JsonFormatter(logging.Formatter):
    """One JSON object per line (for journald/Loki/…): time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(verbosity: int, *, json_lines: bool = False) -> None:
    """WARNING by default, INFO with -v, DEBUG with -vv; secrets masked in every record."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(_FILTER)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def register_secret(secret: Secret) -> None:
    """Mask this secret's value in every log record from now on."""
    _FILTER.secrets.append(secret.reveal())


@dataclass(frozen=True, slots=True)
class Settings:
    """Config + flags, resolved."""

    config: Config
    rbid: Secret
    password: Secret
    device: str
    dialect: Dialect | None
    state_dir: Path


def _prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise ConfigError(
            label,
            "not configured: set it in the config file or the environment (ROUTEB_ID / "
            "ROUTEB_PASSWORD), or run interactively",
        )
    return getpass.getpass(f"{label}: ")


def load_settings(args: argparse.Namespace, *, need_credentials: bool = True) -> Settings:
    """Config file → environment → flags; prompts (hidden) for missing credentials on a TTY."""
    config = load_config(getattr(args, "config", None))
    dialect_flag = getattr(args, "dialect", None)
    config = with_overrides(config, device=getattr(args, "device", None), dialect=dialect_flag)
    meter = config.meter
    if is_lan_device(meter.device):
        need_credentials = False  # a meter behind a LAN bridge: no B-route credentials
    rbid = meter.id
    password = meter.password
    if need_credentials and rbid is None:
        rbid = validate_rbid(_prompt("meter.id"), "meter.id")
    if need_credentials and password is None:
        password = validate_password(_prompt("meter.password"), "meter.password")
    if meter.device is None:
        raise ConfigError(
            "meter.device", "no device: pass --device, set ROUTEB_DEVICE or meter.device"
        )
    state_dir = getattr(args, "state_dir", None) or meter.state_dir
    dialect = None if meter.dialect == "auto" else Dialect(meter.dialect)
    secret_id = rbid or Secret("")
    secret_pw = password or Secret("")
    for secret in (secret_id, secret_pw):
        if secret:
            register_secret(secret)
    return Settings(config, secret_id, secret_pw, meter.device, dialect, Path(state_dir))


def is_lan_device(device: str | None) -> bool:
    """True for ``udp://ADDRESS``: a meter (or bridge) on the LAN, not a Wi-SUN module."""
    return device is not None and device.startswith("udp://")


@contextlib.asynccontextmanager
async def connect(
    settings: Settings,
    *,
    retry_auth: bool = False,
    show_identifiers: bool = False,
    session_settings: SessionSettings | None = None,
    on_scan_progress: Callable[[ScanProgress], None] | None = None,
    start_reader: bool = True,
) -> AsyncIterator[MeterLink]:
    """Connect (cache first), start the client and the AIF start-up; SKTERM on exit.

    ``udp://ADDRESS`` reaches a meter behind a LAN bridge with the same client (pacing,
    adaptive batching) and reader. Either way the commands see a :class:`MeterLink`: the
    client, the reader and the link's counters (``link_snapshot()``).
    """
    polling = settings.config.polling
    client_settings = ClientSettings(
        min_gap=polling.min_gap,
        timer1=polling.timer1,
        timer2=polling.timer2,
        retries=polling.retries,
    )
    if is_lan_device(settings.device):
        async with open_lan_link(
            settings.device, client_settings=client_settings, start_reader=start_reader
        ) as lan:
            yield lan
        return
    async with open_wisun(
        settings.device,
        settings.rbid,
        settings.password,
        dialect=settings.dialect,
        state_dir=settings.state_dir,
        session_settings=session_settings
        or SessionSettings(
            scan_durations=settings.config.meter.scan_durations,
            show_identifiers=show_identifiers,
        ),
        client_settings=client_settings,
        on_scan_progress=on_scan_progress,
        retry_auth=retry_auth,
        start_reader=start_reader,
    ) as link:
        yield link


Connection = MeterLink


def exit_code(exc: BaseException) -> int:
    """The documented exit status for an error."""
    if isinstance(exc, ConfigError | UsageError):
        return EXIT_USAGE
    if isinstance(exc, AuthenticationError):
        return EXIT_AUTH
    if isinstance(exc, MeterNotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, DeviceError):
        return EXIT_DEVICE
    if isinstance(exc, SessionError):
        return EXIT_LINK
    if isinstance(exc, RouteBTimeoutError):
        return EXIT_TIMEOUT
    return EXIT_OTHER


def run(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """asyncio.run with RouteBErrors turned into one line on stderr and a distinct status."""
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `routeb export | head`: the reader went away; that is not an error.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except RouteBError as exc:
        print(f"routeb: {exc}", file=sys.stderr)
        return exit_code(exc)


def interactive() -> bool:
    """True when stdout is a terminal (progress and colours make sense)."""
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


async def until_signalled() -> None:
    """Return at SIGINT or SIGTERM (the foreground commands that serve until stopped)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
