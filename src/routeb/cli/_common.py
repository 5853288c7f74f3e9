"""What the meter-facing commands share: options, credentials, logging, exit codes, connect.

Every failure is one line on stderr, ``routeb: <what to fix>: <what is wrong>``, and a status
that scripts (and systemd's ``RestartPreventExitStatus``) can tell apart — README "Exit codes"
and docs/run.md list them: 0 success, 1 a check found problems (doctor, db check) or an
unexpected error, 2 usage or configuration (a flag, a key, a file, an address), 3 credentials
rejected or latched, 4 meter not found, 5 the device or module (missing, busy, no permission,
a command refused — often a wrong dialect), 6 link/session lost or PANA timed out, 7 the meter
did not answer, 8 an address to listen on is in use or not ours, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from routeb._redact import Secret, redact_secrets
from routeb.cli.progress import Progress
from routeb.collector.daemon import MeterLink
from routeb.collector.links import Endpoint, is_lan_device, open_link
from routeb.collector.supervisor import client_settings
from routeb.config import (
    DIALECTS,
    Config,
    default_db_path,
    load_config,
    validate_password,
    validate_rbid,
    with_overrides,
)
from routeb.driver.session import ScanProgress, SessionSettings
from routeb.errors import (
    AuthenticationError,
    ConfigError,
    DeviceError,
    ListenError,
    MeterNotFoundError,
    ModuleRefusedError,
    RouteBError,
    RouteBTimeoutError,
    SessionError,
    UsageError,
)
from routeb.radio.base import ModuleChoice

__all__ = [
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_DEVICE",
    "EXIT_LINK",
    "EXIT_LISTEN",
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
EXIT_LISTEN: Final = 8
EXIT_INTERRUPTED: Final = 130
# The documented statuses (README "Exit codes"; tests/test_bad_input.py holds every command to
# these).
EXIT_CODES: Final = {
    0: "success",
    EXIT_OTHER: "a check found problems (doctor, db check), or an unexpected error",
    EXIT_USAGE: "usage or configuration: a flag, a config key, a file, an address",
    EXIT_AUTH: "the meter rejected the B-route ID or password (or they are latched)",
    EXIT_NOT_FOUND: "no meter answered with your pairing ID (range, or a wrong B-route ID)",
    EXIT_DEVICE: "the device or module: missing, busy, no permission, refused a command",
    EXIT_LINK: "the link: PANA timed out, or the session was lost",
    EXIT_TIMEOUT: "the meter did not answer",
    EXIT_LISTEN: "an address to listen on is in use or not this computer's",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
CREDENTIALS_HELP: Final = (
    "The B-route ID and password come from the config file ([meter] id / password, see "
    "`routeb init`), or ROUTEB_ID / ROUTEB_PASSWORD; on a terminal routeb asks for missing ones."
)


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
        choices=list(DIALECTS),
        help="force the module dialect instead of detecting it",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help="where the scan cache and the credentials latch live (or ROUTEB_STATE_DIR)",
    )
    parser.add_argument(
        "--retry-auth",
        action="store_true",
        help="try credentials again that the meter rejected before",
    )
    add_verbosity_args(parser)
    parser.add_argument(
        "--show-identifiers",
        action="store_true",
        help="log MAC / IPv6 addresses unredacted (the ID and password are never shown)",
    )


def add_verbosity_args(parser: argparse.ArgumentParser) -> None:
    """-v/--verbose and -q/--quiet."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging on stderr: -v each stage, -vv the module's lines (secrets masked)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line on stderr (it is shown only on a terminal anyway)",
    )


class _SecretFilter(logging.Filter):
    """Last line of defence: mask SKSETRBID/SKSETPWD and any registered secret in records.

    It runs on the handler, so it sees every logger's records (aiohttp's too), and it masks the
    formatted exception and stack as well as the message.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: list[str] = []

    def clean(self, text: str) -> str:
        cleaned = redact_secrets(text)
        for secret in self.secrets:
            if secret:
                cleaned = cleaned.replace(secret, "********")
        return cleaned

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.clean(message)
        info = record.exc_info
        if info is not None and info[0] is not None and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
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
        if record.exc_text:
            entry["exception"] = record.exc_text
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


def register_secret(secret: Secret | None) -> None:
    """Mask this secret's value in every log record (and every error line) from now on."""
    if secret and secret.reveal() not in _FILTER.secrets:
        _FILTER.secrets.append(secret.reveal())


def register_url_secret(url: str) -> None:
    """Mask the password of ``scheme://user:password@host`` or a ``password=…`` conninfo."""
    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        if password:
            register_secret(Secret(unquote(password)))
            register_secret(Secret(password))
    for match in re.finditer(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", url):
        register_secret(Secret(match.group(1).strip("'")))


def register_config_secrets(config: Config) -> None:
    """Every secret of the config: credentials, the dashboard token, broker passwords."""
    for meter in config.meters:
        register_secret(meter.id)
        register_secret(meter.password)
    for secret in (
        config.http.token,
        config.mqtt.password,
        config.fleet.password,
        config.homeassistant.token,
        config.influxdb.token,
        config.influxdb.password,
    ):
        register_secret(secret)
    register_url_secret(config.mqtt.url)
    register_url_secret(config.fleet.url)


@dataclass(frozen=True, slots=True)
class Settings:
    """Config + flags, resolved."""

    config: Config
    rbid: Secret
    password: Secret
    device: str
    dialect: ModuleChoice | None
    state_dir: Path

    def endpoint(self, *, show_identifiers: bool = False) -> Endpoint:
        """How to reach the meter, with the config's session and client settings."""
        return Endpoint(
            self.device,
            self.rbid,
            self.password,
            dialect=self.dialect,
            state_dir=self.state_dir,
            session_settings=SessionSettings(
                scan_durations=self.config.meter.scan_durations,
                show_identifiers=show_identifiers,
            ),
            client_settings=client_settings(self.config.polling),
        )


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
    register_config_secrets(config)
    dialect_flag = getattr(args, "dialect", None)
    config = with_overrides(
        config,
        device=getattr(args, "device", None),
        dialect=dialect_flag,
        state_dir=getattr(args, "state_dir", None),
    )
    meter = config.meter
    if is_lan_device(meter.device) or len(config.meters) > 1:
        # A meter behind a LAN bridge needs no B-route credentials; several [[meter]] tables
        # carry their own (routeb.collector.supervisor.meter_plans checks each).
        need_credentials = False
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
    dialect = ModuleChoice.parse(meter.dialect)
    secret_id = rbid or Secret("")
    secret_pw = password or Secret("")
    for secret in (secret_id, secret_pw):
        register_secret(secret)
    settings = Settings(config, secret_id, secret_pw, meter.device, dialect, meter.state_dir)
    _LOADED[:] = [settings]
    return settings


# The settings of this command (one per process), for the hints of ``explain``.
_LOADED: list[Settings] = []


def database_path(config: Config, flag: Path | None) -> Path:
    """The database to record into; its directory is made only at the default location."""
    path = flag or config.storage.db
    key = "--db" if flag is not None else "storage.db"
    if path.is_dir():
        raise ConfigError(key, f"{path} is a directory: give the database file's path")
    if path.parent.is_dir():
        return path
    if path == default_db_path():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path
    raise ConfigError(
        key, f"directory {path.parent} does not exist: create it, or choose another path"
    )


def postgres_error(exc: BaseException) -> ConfigError:
    """A PostgreSQL failure (connection refused, bad DSN, schema) as the --db error line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return ConfigError("--db", text if "PostgreSQL" in text else f"PostgreSQL: {text}")


def jst_day(text: str) -> date:
    """An argparse type: a JST calendar day YYYY-MM-DD within the API's bounds (2000–2099)."""
    from routeb.web.query import MAX_DATE, MIN_DATE  # noqa: PLC0415 - one definition

    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise argparse.ArgumentTypeError(f"{text} is outside {MIN_DATE} … {MAX_DATE}")
    return value


@contextlib.asynccontextmanager
async def connect(
    settings: Settings,
    *,
    retry_auth: bool = False,
    show_identifiers: bool = False,
    session_settings: SessionSettings | None = None,
    on_scan_progress: Callable[[ScanProgress], None] | None = None,
    progress: Progress | None = None,
    start_reader: bool = True,
) -> AsyncIterator[MeterLink]:
    """Connect (cache first), start the client and the AIF start-up; SKTERM on exit.

    ``udp://ADDRESS`` reaches a meter behind a LAN bridge with the same client (pacing,
    adaptive batching) and reader. Either way the commands see a :class:`MeterLink`: the
    client, the reader and the link's counters (``link_snapshot()``).
    """
    try:
        async with _connect(
            settings,
            retry_auth=retry_auth,
            show_identifiers=show_identifiers,
            session_settings=session_settings,
            on_scan_progress=on_scan_progress,
            progress=progress,
            start_reader=start_reader,
        ) as link:
            yield link
    except BaseException:
        if progress is not None:
            progress.close()  # before the error line
        raise


@contextlib.asynccontextmanager
async def _connect(
    settings: Settings,
    *,
    retry_auth: bool,
    show_identifiers: bool,
    session_settings: SessionSettings | None,
    on_scan_progress: Callable[[ScanProgress], None] | None,
    progress: Progress | None,
    start_reader: bool,
) -> AsyncIterator[MeterLink]:
    if progress is not None:
        if is_lan_device(settings.device):
            progress.stage(f"asking the meter at {settings.device}")
        elif on_scan_progress is None:
            on_scan_progress = progress.on_scan
    endpoint = settings.endpoint(show_identifiers=show_identifiers)
    if session_settings is not None:
        endpoint = replace(endpoint, session_settings=session_settings)
    if endpoint.session_settings is not None:
        # A one-shot command ends on the first PANA failure (exit 3) instead of waiting
        # minutes for the repeat that would latch the credentials (issue 16 §4).
        one_shot = replace(endpoint.session_settings, wait_for_auth_evidence=False)
        endpoint = replace(endpoint, session_settings=one_shot)
    async with open_link(
        endpoint,
        retry_auth=retry_auth,
        on_scan_progress=on_scan_progress,
        on_state=None if progress is None else progress.on_state,
        start_reader=start_reader,
    ) as link:
        if progress is not None and start_reader and not endpoint.lan:
            progress.stage("joined; the meter's coefficient, unit and property map read")
        yield link


Connection = MeterLink


def exit_code(exc: BaseException) -> int:
    """The documented exit status for an error."""
    if isinstance(exc, ConfigError | UsageError):
        return EXIT_USAGE
    if isinstance(exc, ListenError):
        return EXIT_LISTEN
    if isinstance(exc, ModuleRefusedError):
        return EXIT_DEVICE
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


def explain(exc: RouteBError) -> str:
    """The error's line, with what to do next where the error alone does not say it."""
    text = str(exc)
    settings = _LOADED[0] if _LOADED else None
    if isinstance(exc, MeterNotFoundError):
        text += (
            ". If the meter is near: check the B-route ID too — the meter answers only to the "
            "pairing ID made from its last 8 characters, so a wrong ID finds no meter"
        )
    elif isinstance(exc, ModuleRefusedError):
        if settings is not None and settings.dialect is not None:
            text += (
                f". The module refused a command of the {settings.dialect.value} dialect: "
                "is --dialect (meter.dialect) right for this module? Try --dialect auto"
            )
        else:
            text += ". Is this a supported Wi-SUN module? `routeb doctor` checks it"
    elif isinstance(exc, AuthenticationError) and "retry-auth" not in text:
        text += ". Fix the ID or password (config, ROUTEB_ID / ROUTEB_PASSWORD), then retry"
    return _FILTER.clean(text)


def fail_line(exc: BaseException) -> tuple[str, int]:
    """The one line on stderr and the exit status for anything a command raised."""
    if isinstance(exc, RouteBError):
        text = " ".join(part.strip() for part in explain(exc).splitlines() if part.strip())
        return f"routeb: {text}", exit_code(exc)
    if isinstance(exc, OSError):
        # A file or directory the user named (export -o, db backup …) that cannot be written.
        where = f"{exc.filename}: " if exc.filename else ""
        return _FILTER.clean(f"routeb: {where}{exc.strerror or exc}"), EXIT_USAGE
    raise exc


def run(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """asyncio.run with errors turned into one line on stderr and a documented status."""
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `routeb export | head`: the reader went away; that is not an error.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (RouteBError, OSError) as exc:
        line, status = fail_line(exc)
        print(line, file=sys.stderr)
        return status


async def until_signalled() -> None:
    """Return at SIGINT or SIGTERM (the foreground commands that serve until stopped)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
