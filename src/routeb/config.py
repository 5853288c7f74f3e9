"""Configuration: a TOML file, environment overrides, validation that names the file, line and key.

Each section is a frozen dataclass whose fields *are* its keys: every field is declared with
``key(…)``, which carries the key's converter (type, minimum, choices), environment variable
and help text. One generic reader (``_read_section``) turns any section — a ``[table]`` or a
list of ``[[tables]]`` — into its dataclass, so a new section or key is one declaration, and
the reference tables of docs/configuration.md are made from the same declarations
(``reference_markdown``; a test keeps the page equal to it).

The password and the B-route ID are ``Secret`` values that never print. Precedence:
command-line flags > environment (``ROUTEB_ID``, ``ROUTEB_PASSWORD``, ``ROUTEB_DEVICE``, …) >
the file > defaults.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import logging
import math
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, TypeVar

import platformdirs

from routeb._redact import Secret
from routeb.errors import ConfigError
from routeb.meter.retransmit import DEFAULT_SENDS_PER_HOUR

__all__ = [
    "DEFAULT_LISTEN",
    "DIALECTS",
    "BridgeConfig",
    "Config",
    "FleetConfig",
    "HomeAssistantConfig",
    "HttpConfig",
    "InfluxConfig",
    "MeterConfig",
    "MqttConfig",
    "PollingConfig",
    "StorageConfig",
    "TariffConfig",
    "default_config_path",
    "default_db_path",
    "default_state_dir",
    "environment_variables",
    "key",
    "load_config",
    "meter_name_problem",
    "parse_document",
    "parse_listen",
    "reference_markdown",
    "section",
    "validate_password",
    "validate_rbid",
    "validate_token",
    "with_overrides",
]

_LOG = logging.getLogger(__name__)
_T = TypeVar("_T")

# protocol.md §D.1: SKSETRBID takes exactly 32 ASCII characters; the B-route password is 12.
RBID_LENGTH: Final = 32
PASSWORD_LENGTH: Final = 12
DIALECTS: Final = ("auto", "bp35a1", "bp35c2", "rl7023", "j11")
# protocol.md §E: scan duration 6 (17.5 s over 28 channels), escalating to 7 and 8.
DEFAULT_SCAN_DURATIONS: Final = (6, 7, 8)
_MAX_SCAN_DURATION: Final = 14  # §D.1: DURATION 0..14
# Polite polling (protocol.md §E "Poll rates in practice": Smdn's minimum cycle is 10 s; the
# advice is E7 every ≥ 10–60 s); never more than one request in flight. The collector clamps
# its schedules to these same minimums (routeb.collector.daemon.CollectorSettings).
MIN_INSTANT_INTERVAL: Final = 10.0
MIN_ENERGY_INTERVAL: Final = 30.0
MIN_CLOCK_INTERVAL: Final = 60.0
MIN_REQUEST_GAP: Final = 0.0
MIN_AIF_TIMER1: Final = 1.0

# One dongle, several meters (docs/meters.md). peers.md (broute-mqtt 1.1): an immediate rejoin
# after SKTERM races the meter's clean-up and fails with EVENT 24; its length is not published
# (the emulator's REJOIN_GUARD assumes 5 s), so wait twice that. broute-mqtt spends 15–20 s per
# visit; a visit here is at least that and at most two minutes, so with three meters each is
# visited every few minutes — far within its 99-day history (protocol.md §B.1 E5).
SWITCH_PAUSE: Final = 10.0
VISIT_SECONDS: Final = 120.0
VISIT_MIN_SECONDS: Final = 20.0

ENV_PREFIX: Final = "ROUTEB_"
DEFAULT_RETENTION_DAYS: Final = 31
DEFAULT_LISTEN: Final = "127.0.0.1:8610"
# An access token must be hard to guess: at least 16 characters and 64 bits by the Shannon
# entropy of its own characters (``secrets.token_urlsafe(24)`` has ~150; "aaaa…" has 0).
MIN_TOKEN_LENGTH: Final = 16
MIN_TOKEN_BITS: Final = 64.0


def default_config_path() -> Path:
    """The platform's config file path (e.g. ~/.config/routeb/config.toml)."""
    return Path(platformdirs.user_config_dir("routeb")) / "config.toml"


def default_state_dir() -> Path:
    """Where routeb keeps its scan cache and other small state."""
    return Path(platformdirs.user_state_dir("routeb"))


def default_db_path() -> Path:
    """Where ``routeb run`` records by default (e.g. ~/.local/share/routeb/routeb.sqlite3)."""
    return Path(platformdirs.user_data_dir("routeb")) / "routeb.sqlite3"


# --- values --------------------------------------------------------------------------------


def validate_rbid(value: str, key: str = "meter.id") -> Secret:
    """A B-route ID: exactly 32 ASCII letters and digits."""
    text = value.strip()
    if len(text) != RBID_LENGTH or not text.isascii() or not text.isalnum():
        raise ConfigError(
            key,
            f"the B-route ID must be exactly {RBID_LENGTH} letters and digits "
            f"(got {len(text)} characters)",
        )
    return Secret(text)


def validate_password(value: str, key: str = "meter.password") -> Secret:
    """A B-route password: exactly 12 printable ASCII characters, no spaces."""
    text = value.strip().replace(" ", "")
    if len(text) != PASSWORD_LENGTH or not text.isascii() or not text.isprintable():
        raise ConfigError(
            key,
            f"the B-route password must be exactly {PASSWORD_LENGTH} printable ASCII "
            f"characters (got {len(text)})",
        )
    return Secret(text)


def token_bits(text: str) -> float:
    """Shannon entropy of ``text``'s own characters × its length (a weak-token measure)."""
    if not text:
        return 0.0
    counts = [text.count(c) for c in set(text)]
    per_char = -sum(n / len(text) * math.log2(n / len(text)) for n in counts)
    return per_char * len(text)


def validate_token(value: str, key: str = "http.token") -> Secret:
    """A dashboard access token: ≥ 16 characters, no spaces, and not guessable ("aaaa…")."""
    text = value.strip()
    if len(text) < MIN_TOKEN_LENGTH or not text.isprintable() or " " in text:
        raise ConfigError(
            key, f"must be at least {MIN_TOKEN_LENGTH} printable characters without spaces"
        )
    if token_bits(text) < MIN_TOKEN_BITS:
        raise ConfigError(
            key,
            "is too easy to guess (repeated or too few distinct characters): generate one with "
            "`python3 -c 'import secrets; print(secrets.token_urlsafe(24))'`",
        )
    return Secret(text)


def parse_listen(text: str, key: str = "http.listen") -> tuple[str, int]:
    """HOST:PORT (IPv6 as [::1]:8610; port 0 = any free port) → (host, port); else ConfigError."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit() or (host.count(":") and not host.startswith("[")):
        raise ConfigError(key, f"expected HOST:PORT such as 127.0.0.1:8610, got {text!r}")
    number = int(port)
    if number > 65535:
        raise ConfigError(key, f"port {number} is out of range (0..65535) in {text!r}")
    host = host.strip("[]") or "127.0.0.1"
    if not _is_host(host):
        raise ConfigError(key, f"{host!r} is not an IP address or host name in {text!r}")
    return host, number


_HOST_NAME: Final = re.compile(
    r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$"
)


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(_HOST_NAME.match(host))
    return True


# --- converters: one per kind of value; each raises ValueError with what is wrong ----------


class Converter:
    """Turns a TOML value (or an environment string) into the field's value."""

    kind = "value"

    def __call__(self, value: object) -> object:
        return value

    def from_env(self, text: str) -> object:
        return self(text)


class Text(Converter):
    kind = "string"

    def __init__(self, check: Callable[[str], str | None] | None = None) -> None:
        self.check = check

    def __call__(self, value: object) -> object:
        if not isinstance(value, str):
            raise TypeError("must be a string")
        if self.check is not None:
            problem = self.check(value)
            if problem:
                raise ValueError(problem)
        return value


class Choice(Converter):
    def __init__(self, *choices: str) -> None:
        self.choices = choices
        self.kind = " \\| ".join(f"`{c}`" for c in choices)

    def __call__(self, value: object) -> object:
        text = value.lower() if isinstance(value, str) else value
        if text not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}")
        return text


class Number(Converter):
    def __init__(self, minimum: float, *, polite: bool = False) -> None:
        self.minimum = minimum
        self.polite = polite
        self.kind = f"seconds ≥ {minimum:g}"

    def __call__(self, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise ValueError("must be a number of seconds")
        if value < self.minimum:
            why = " (be polite to the meter)" if self.polite else ""
            raise ValueError(f"must be at least {self.minimum:g}{why}")
        if math.isinf(value):
            raise ValueError("must be a finite number of seconds")
        return float(value)

    def from_env(self, text: str) -> object:
        try:
            return self(float(text))
        except ValueError:
            raise ValueError("must be a number of seconds") from None


class Whole(Converter):
    def __init__(self, minimum: int, maximum: int | None = None, unit: str = "") -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.unit = unit
        span = f"{minimum}..{maximum}" if maximum is not None else f"≥ {minimum}"
        self.kind = f"integer {span}"

    def __call__(self, value: object) -> object:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < self.minimum
            or (self.maximum is not None and value > self.maximum)
        ):
            span = (
                f"{self.minimum}..{self.maximum}"
                if self.maximum is not None
                else f"at least {self.minimum}"
            )
            raise ValueError(f"must be a whole number{self.unit}, {span}")
        return value

    def from_env(self, text: str) -> object:
        return self(int(text) if text.strip().lstrip("-").isdigit() else text)


class Flag(Converter):
    kind = "`true` \\| `false`"

    def __call__(self, value: object) -> object:
        if not isinstance(value, bool):
            raise TypeError("must be true or false")
        return value

    def from_env(self, text: str) -> object:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError("must be true or false")


class FilePath(Converter):
    kind = "path"

    def __init__(self, *, must_exist: str | None = None) -> None:
        self.must_exist = must_exist  # the message when the file is missing

    def __call__(self, value: object) -> object:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a path (a non-empty string)")
        path = Path(value).expanduser()
        if self.must_exist is not None and not path.is_file():
            raise ValueError(f"{self.must_exist} at {path}")
        return path


class SecretText(Converter):
    """A credential: validated, then wrapped so that it never prints."""

    kind = "string (secret)"

    def __init__(self, validate: Callable[[str, str], Secret] | None = None) -> None:
        self.validate = validate

    def __call__(self, value: object) -> object:
        if not isinstance(value, str):
            raise TypeError("must be a string")
        if self.validate is None:
            return Secret(value) if value else None
        try:
            return self.validate(value, "")
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix(": ")) from None


class Strings(Converter):
    kind = "list of strings"

    def __call__(self, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a list of strings")
        return tuple(v.strip() for v in value)


class ScanDurations(Converter):
    kind = f"list of integers 1..{_MAX_SCAN_DURATION}"

    def __call__(self, value: object) -> object:
        if (
            not isinstance(value, list)
            or not value
            or not all(
                isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= _MAX_SCAN_DURATION
                for d in value
            )
        ):
            raise ValueError(f"must be a list of integers 1..{_MAX_SCAN_DURATION}")
        return tuple(value)


class SecondsTable(Converter):
    """A sub-table of NAME = seconds (``[bridge.fresh]``)."""

    kind = "table of EPC = seconds"

    def __call__(self, value: object) -> object:
        if not isinstance(value, dict):
            raise TypeError("must be a table of NAME = seconds")
        out: list[tuple[str, float]] = []
        for name, seconds in value.items():
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise _SubKeyError(name, "must be a number of seconds, at least 0")
            out.append((str(name), float(seconds)))
        return tuple(out)


class _SubKeyError(ValueError):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _mqtt_url(value: str) -> str | None:
    return (
        None if value.startswith(("mqtt://", "mqtts://")) else "must start with mqtt:// or mqtts://"
    )


def _plain_topic(value: str) -> str | None:
    if not value or any(c in value for c in "#+") or value.startswith("/"):
        return "must be a plain topic (no #, +, leading /)"
    return None


def _site(value: str) -> str | None:
    return "must not contain #, + or /" if any(c in value for c in "#+/") else None


def _listen(value: str) -> str | None:
    try:
        parse_listen(value, "")
    except ConfigError as exc:
        return str(exc).removeprefix(": ")
    return None


def _listen_or_empty(value: str) -> str | None:
    return None if value == "" else _ip_or_empty(value)


def _ip_or_empty(value: str) -> str | None:
    try:
        ipaddress.ip_address(value.split("%", maxsplit=1)[0])
    except ValueError:
        return f"{value!r} is not an IP address"
    return None


# --- declarations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Setting:
    """What one key is: its converter, environment variable and help (docs/configuration.md)."""

    convert: Converter
    help: str
    env: str | None = None
    enabled_by_env: str | None = None  # a flag that defaults to true when this variable is set
    default_text: str | None = None  # how the default reads in the docs
    enabled_by: str | None = None  # a flag that defaults to true when this sibling key is set


_SETTING: Final = "routeb.setting"
_SECTION: Final = "routeb.section"


def key(
    default: Any = None,
    *,
    convert: Converter,
    help: str,
    env: str | None = None,
    factory: Callable[[], Any] | None = None,
    enabled_by_env: str | None = None,
    default_text: str | None = None,
    enabled_by: str | None = None,
) -> Any:
    """A dataclass field that is also a config key (its name is the key)."""
    meta = {_SETTING: Setting(convert, help, env, enabled_by_env, default_text, enabled_by)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class Section:
    """A top-level table: ``[name]`` once, or ``[[name]]`` repeated when ``many``.

    ``single_too``: a ``many`` section that may also be written as one ``[name]`` table (or
    left out), which then reads the environment too — ``[meter]`` beside ``[[meter]]``.
    ``toml``: the key in the file when it differs from the field's name.
    """

    table: type[Any]  # the dataclass each table becomes
    help: str
    many: bool = False
    single_too: bool = False
    toml: str | None = None


def section(
    table: type[Any],
    help: str,
    *,
    many: bool = False,
    single_too: bool = False,
    toml: str | None = None,
) -> Any:
    """A field of :class:`Config` that is one section of the file (a tuple when ``many``)."""
    meta = {_SECTION: Section(table, help, many, single_too, toml)}
    if single_too:
        return field(default_factory=lambda: (table(),), metadata=meta)
    if many:
        return field(default=(), metadata=meta)
    return field(default_factory=table, metadata=meta)


def meter_name_problem(value: str) -> str | None:
    """Why ``value`` cannot name a meter (it names topics and rows), or None."""
    if value and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", value):
        return "must be 1..32 letters, digits, - or _ (it names MQTT topics and database rows)"
    return None


def _env_name(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value) else "must be a variable name"


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """[meter] (or each [[meter]]): which meter, through which device, with which credentials.

    Several ``[[meter]]`` tables on one device share it in turn (docs/meters.md); the
    environment (``ROUTEB_ID`` …) applies only to the single ``[meter]`` form — a ``[[meter]]``
    takes its credentials from the table, ``id_env``/``password_env`` or ``id_file``/
    ``password_file``.
    """

    name: str = key(
        "",
        convert=Text(meter_name_problem),
        default_text="`--meter-name`, else from the B-route ID",
        help="the meter's key in the database, topics and the dashboard (required with "
        "several `[[meter]]`, unique)",
    )
    id: Secret | None = key(
        convert=SecretText(validate_rbid),
        env="ROUTEB_ID",
        help="B-route ID (認証ID): exactly 32 letters and digits, from your grid operator",
    )
    password: Secret | None = key(
        convert=SecretText(validate_password),
        env="ROUTEB_PASSWORD",
        help="B-route password: exactly 12 characters",
    )
    device: str | None = key(
        convert=Text(),
        env="ROUTEB_DEVICE",
        help="the Wi-SUN module: `/dev/ttyUSB0`, `/dev/serial/by-id/…`, `socket://host:port`, "
        "`rfc2217://host:port`; or a meter on the LAN: `udp://192.0.2.10`",
    )
    dialect: str = key(
        "auto",
        convert=Choice(*DIALECTS),
        env="ROUTEB_DIALECT",
        help="`bp35a1` (also RL7023 Stick-D/IPS), `bp35c2` (BP35C0/C2, RS-WSUHA-P, "
        "RL7023 Stick-D/DSS), `rl7023`, `j11` (ROHM BP35C0/C2-J11, RATOC RS-WSUHA-J11); "
        "`auto` detects it",
    )
    scan_durations: tuple[int, ...] = key(
        DEFAULT_SCAN_DURATIONS,
        convert=ScanDurations(),
        help="active-scan duration exponents tried in turn (6 ≈ 17.5 s over all channels)",
    )
    state_dir: Path = key(
        convert=FilePath(),
        env="ROUTEB_STATE_DIR",
        factory=default_state_dir,
        default_text="platform state dir (`~/.local/state/routeb`)",
        help="scan cache, module facts, the wrong-credentials latch (`--state-dir` overrides)",
    )
    id_env: str | None = key(
        convert=Text(_env_name), help="read the B-route ID from this environment variable"
    )
    password_env: str | None = key(
        convert=Text(_env_name), help="read the B-route password from this environment variable"
    )
    id_file: Path | None = key(
        convert=FilePath(),
        help="read the B-route ID from this file (e.g. a systemd credential), first line",
    )
    password_file: Path | None = key(
        convert=FilePath(), help="read the B-route password from this file, first line"
    )
    instantaneous_interval: float | None = key(
        convert=Number(MIN_INSTANT_INTERVAL, polite=True),
        default_text="`[polling]`'s",
        help="this meter's seconds between E7+E8 reads",
    )
    energy_interval: float | None = key(
        convert=Number(MIN_ENERGY_INTERVAL, polite=True),
        default_text="`[polling]`'s",
        help="this meter's seconds between E0(+E3) reads",
    )
    tariff: Path | None = key(
        convert=FilePath(must_exist="no tariff file"),
        default_text="`[tariff] file`",
        help="this meter's tariff TOML file (docs/tariffs.md)",
    )

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across keys."""
        if self.id is not None and (self.id_env or self.id_file):
            return [("id", "give the B-route ID once: id, id_env or id_file")]
        if self.password is not None and (self.password_env or self.password_file):
            return [("password", "give the password once: password, password_env or password_file")]
        return []

    def resolve(self, env: Mapping[str, str]) -> MeterConfig:
        """The credentials read from ``*_env`` / ``*_file`` (``_SubKeyError`` names the key)."""
        values: dict[str, Any] = {}
        for name, variable, path, check in (
            ("id", self.id_env, self.id_file, validate_rbid),
            ("password", self.password_env, self.password_file, validate_password),
        ):
            source = f"{name}_env" if variable else f"{name}_file"
            text: str | None = None
            if variable:
                text = env.get(variable)
                if not text:
                    raise _SubKeyError(source, f"environment variable {variable} is not set")
            elif path is not None:
                try:
                    lines = path.read_text(encoding="utf-8").splitlines()
                except OSError as exc:
                    raise _SubKeyError(source, f"cannot read {path} ({exc.strerror})") from None
                text = lines[0] if lines else ""
            if text is not None:
                try:
                    values[name] = check(text, "")
                except ConfigError as exc:
                    raise _SubKeyError(source, str(exc).removeprefix(": ")) from None
        return replace(self, **values) if values else self


@dataclass(frozen=True, slots=True)
class PollingConfig:
    """[polling]: schedules and request pacing."""

    instantaneous_interval: float = key(
        10.0,
        convert=Number(MIN_INSTANT_INTERVAL, polite=True),
        help="seconds between E7+E8 reads (one Get)",
    )
    energy_interval: float = key(
        60.0,
        convert=Number(MIN_ENERGY_INTERVAL, polite=True),
        help="seconds between E0(+E3) reads",
    )
    clock_interval: float = key(
        3600.0,
        convert=Number(MIN_CLOCK_INTERVAL, polite=True),
        help="seconds between meter clock / fault status reads",
    )
    min_gap: float = key(
        1.0, convert=Number(MIN_REQUEST_GAP), help="seconds between two requests to the meter"
    )
    timer1: float = key(
        20.0,
        convert=Number(MIN_AIF_TIMER1),
        help="response wait for a one-property request (AIF Timer 1 ≥ 20 s)",
    )
    timer2: float = key(
        60.0,
        convert=Number(MIN_AIF_TIMER1),
        help="response wait for several properties (AIF Timer 2 ≥ 60 s)",
    )
    retries: int = key(
        2,
        convert=Whole(0, 10),
        help="a request gives up after (retries + 1) × the AIF timer unanswered",
    )
    strict_aif: bool = key(
        False,
        convert=Flag(),
        help="retransmit only when the AIF timer ran out (default: adaptive, docs/session.md)",
    )
    max_sends_per_hour: int = key(
        DEFAULT_SENDS_PER_HOUR,
        convert=Whole(60, 36000),
        help="requests sent to the meter in any hour, at most (ARIB 360 s/h of airtime)",
    )
    switch_pause: float = key(
        SWITCH_PAUSE,
        convert=Number(0.0),
        help="several meters on one dongle: seconds between SKTERM and the next meter's join "
        "(an immediate rejoin fails with EVENT 24; docs/meters.md)",
    )
    visit_seconds: float = key(
        VISIT_SECONDS,
        convert=Number(1.0),
        help="several meters on one dongle: the longest visit to one meter (the rest of its "
        "backfill waits for the next visit)",
    )
    visit_min_seconds: float = key(
        VISIT_MIN_SECONDS,
        convert=Number(0.0),
        help="several meters on one dongle: the shortest visit, even with nothing to backfill",
    )


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """[storage]: the SQLite database and how long raw readings are kept."""

    db: Path = key(
        convert=FilePath(),
        env="ROUTEB_DB",
        factory=default_db_path,
        default_text="`~/.local/share/routeb/routeb.sqlite3`",
        help="the SQLite database `routeb run` records into (`--db` overrides)",
    )
    retention_days: int = key(
        DEFAULT_RETENTION_DAYS,
        convert=Whole(1, unit=" of days"),
        help="days of raw instantaneous readings kept; per-minute and 30-minute aggregates "
        "are kept forever",
    )


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """[mqtt]: the optional publisher (Home Assistant discovery)."""

    enabled: bool = key(
        False,
        convert=Flag(),
        enabled_by_env="ROUTEB_MQTT_URL",
        default_text="`false` (`true` when `ROUTEB_MQTT_URL` is set)",
        help="publish to an MQTT broker",
    )
    url: str = key(
        "mqtt://127.0.0.1:1883",
        convert=Text(_mqtt_url),
        env="ROUTEB_MQTT_URL",
        help="`mqtt://host:port` or `mqtts://host:port` (TLS)",
    )
    username: str | None = key(convert=Text(), help="broker user")
    password: Secret | None = key(
        convert=SecretText(), env="ROUTEB_MQTT_PASSWORD", help="broker password (never printed)"
    )
    base_topic: str = key(
        "routeb",
        convert=Text(_plain_topic),
        help="state under `<base>/<meter>/state`, availability under `<base>/<meter>/availability`",
    )
    discovery_prefix: str = key(
        "homeassistant", convert=Text(), help="Home Assistant discovery prefix"
    )
    discovery: bool = key(True, convert=Flag(), help="publish Home Assistant MQTT discovery")
    ca_file: str | None = key(
        convert=Text(), default_text="system CAs", help="CA bundle for `mqtts://`"
    )
    tls_insecure: bool = key(False, convert=Flag(), help="skip certificate checks (testing only)")


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """[http]: the server for /metrics and the dashboard."""

    listen: str = key(
        DEFAULT_LISTEN,
        convert=Text(_listen),
        env="ROUTEB_LISTEN",
        help="`HOST:PORT` of `/metrics`, `/healthz` and the dashboard (`--listen` overrides)",
    )
    token: Secret | None = key(
        convert=SecretText(validate_token),
        env="ROUTEB_TOKEN",
        help="access token (≥ 16 characters, not guessable), required when listening beyond "
        "loopback; `routeb init` generates one",
    )


@dataclass(frozen=True, slots=True)
class TariffConfig:
    """[tariff]: the electricity plan used for costs (docs/tariffs.md)."""

    file: Path | None = key(
        convert=FilePath(must_exist="no tariff file"),
        help="a tariff TOML file (docs/tariffs.md)",
    )


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """[bridge]: `routeb bridge` (docs/bridge.md); its flags override these."""

    listen: str = key(
        "",
        convert=Text(_listen_or_empty),
        default_text="all interfaces",
        help="address to answer on (IPv6 literals allowed)",
    )
    interface: str | None = key(
        convert=Text(), help="interface for multicast (IPv4: its address; IPv6: its name)"
    )
    allow_from: tuple[str, ...] = key(
        (),
        convert=Strings(),
        default_text="everyone",
        help="networks answered, e.g. `192.168.1.0/24`",
    )
    allow_set: tuple[str, ...] = key(
        (),
        convert=Strings(),
        default_text="none",
        help='EPCs (hex) LAN clients may set, e.g. `["E5", "ED"]`',
    )
    fresh: tuple[tuple[str, float], ...] = key(
        (),
        convert=SecondsTable(),
        default_text="per property",
        help="`[bridge.fresh]`: how long a property stays fresh in the cache, e.g. `E7 = 1`",
    )
    deadline: float = key(
        5.0, convert=Number(0.1), help="seconds a LAN request waits for the radio before Get_SNA"
    )
    status_interval: float = key(
        60.0, convert=Number(0.0), help="seconds between status lines on stderr (0: none)"
    )


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """[fleet]: the fleet stream to a central broker (docs/fleet.md)."""

    enabled: bool = key(
        False,
        convert=Flag(),
        enabled_by_env="ROUTEB_FLEET_URL",
        default_text="`false` (`true` when `ROUTEB_FLEET_URL` is set)",
        help="`routeb run` publishes its SQLite outbox to the fleet stream",
    )
    url: str = key(
        "mqtt://127.0.0.1:1883",
        convert=Text(_mqtt_url),
        env="ROUTEB_FLEET_URL",
        help="`mqtts://host:8883` for TLS",
    )
    site: str = key(
        "",
        convert=Text(_site),
        env="ROUTEB_FLEET_SITE",
        default_text="the meter key",
        help="the site identity in topics and the fleet database (no `#`, `+`, `/`)",
    )
    username: str | None = key(convert=Text(), help="per-site broker user")
    password: Secret | None = key(
        convert=SecretText(),
        env="ROUTEB_FLEET_PASSWORD",
        help="per-site broker password (never printed)",
    )
    base_topic: str = key(
        "routeb-fleet",  # routeb.fleet.schema.DEFAULT_BASE_TOPIC
        convert=Text(_plain_topic),
        help="messages go to `<base>/v1/<site>/<meter>`",
    )
    client_id: str | None = key(
        convert=Text(),
        default_text="`routeb-fleet-<site>`",
        help="keep it stable: the broker keeps the persistent session under it",
    )
    ca_file: str | None = key(convert=Text(), default_text="system CAs", help="TLS: CA bundle")
    cert_file: str | None = key(convert=Text(), help="TLS: client certificate")
    key_file: str | None = key(convert=Text(), help="TLS: client key")
    tls_insecure: bool = key(False, convert=Flag(), help="skip certificate checks (testing only)")
    interval: float = key(5.0, convert=Number(0.5), help="seconds between outbox polls")
    max_rows: int = key(2000, convert=Whole(1), help="readings per message")
    max_inflight: int = key(100, convert=Whole(1), help="QoS 1 messages awaiting PUBACK")


def _measurement(value: str) -> str | None:
    if not value or any(c in value for c in ", =\\\n") or value.startswith("_"):
        return "must be a plain name (no spaces, commas, =)"
    return None


class Versions(Converter):
    """An integer protocol version out of a few."""

    def __init__(self, *versions: int, meaning: str) -> None:
        self.versions = versions
        self.meaning = meaning
        self.kind = " \\| ".join(f"`{v}`" for v in versions)

    def __call__(self, value: object) -> object:
        if isinstance(value, bool) or value not in self.versions:
            raise ValueError(f"must be {self.meaning}")
        return value

    def from_env(self, text: str) -> object:
        return self(int(text) if text.strip().isdigit() else text)


@dataclass(frozen=True, slots=True)
class HomeAssistantConfig:
    """[homeassistant]: long-term statistics import (docs/homeassistant.md)."""

    enabled: bool = key(
        False,
        convert=Flag(),
        enabled_by="url",
        default_text="`true` when `url` is set",
        help="`routeb run` imports after every backfill and every completed hour",
    )
    url: str = key(
        "",
        convert=Text(),
        env="ROUTEB_HA_URL",
        help="`http://homeassistant.local:8123` (https works too)",
    )
    token: Secret | None = key(
        convert=SecretText(),
        env="ROUTEB_HA_TOKEN",
        help="a long-lived access token of an **administrator** (a secret: never printed)",
    )
    cost: bool = key(
        True,
        convert=Flag(),
        help="with a `[tariff]`, also import the cost of energy bought in JPY "
        "(`routeb:<meter>_cost`)",
    )
    interval: float = key(
        60.0,
        convert=Number(5.0),
        help="seconds between checks of the store for new or changed half-hours",
    )

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across keys (checked only when enabled)."""
        if not self.enabled:
            return []
        if not self.url.startswith(("http://", "https://")):
            return [("url", "must look like http://homeassistant.local:8123")]
        if self.token is None:
            return [("token", "is required: a long-lived access token of an admin user")]
        return []


@dataclass(frozen=True, slots=True)
class InfluxConfig:
    """[influxdb]: the InfluxDB line-protocol sink (docs/influxdb.md)."""

    enabled: bool = key(
        False,
        convert=Flag(),
        enabled_by="url",
        default_text="`true` when `url` is set",
        help="`routeb run` writes the store's outbox to InfluxDB",
    )
    url: str = key("", convert=Text(), env="ROUTEB_INFLUX_URL", help="`http://127.0.0.1:8086`")
    version: int = key(
        2,
        convert=Versions(1, 2, meaning="1 (/write) or 2 (/api/v2/write, also 3.x)"),
        help="`1`: `/write?db=` (InfluxDB 1.x); `2`: `/api/v2/write` (InfluxDB 2.x and 3.x, "
        "VictoriaMetrics)",
    )
    token: Secret | None = key(
        convert=SecretText(),
        env="ROUTEB_INFLUX_TOKEN",
        help="2.x/3.x API token (`Authorization: Token …`; never printed)",
    )
    org: str = key("", convert=Text(), help="2.x/3.x organisation")
    bucket: str = key(
        "routeb", convert=Text(), help="2.x/3.x bucket (3.x: the database as `bucket`)"
    )
    database: str = key("routeb", convert=Text(), help="1.x database")
    username: str | None = key(convert=Text(), help="1.x user (HTTP basic)")
    password: Secret | None = key(
        convert=SecretText(), env="ROUTEB_INFLUX_PASSWORD", help="1.x password (never printed)"
    )
    measurement: str = key(
        "routeb",
        convert=Text(_measurement),
        help="the measurement name; tag `meter`, fields named as in the registry",
    )
    interval: float = key(10.0, convert=Number(0.5), help="seconds between outbox polls")
    batch: int = key(5000, convert=Whole(1), help="outbox rows per write")
    backlog_days: int = key(
        31,
        convert=Whole(1, unit=" of days"),
        help="raw readings older than this when finally sent are skipped (half-hours never)",
    )

    def problems(self) -> list[tuple[str, str]]:
        """What is wrong across keys (checked only when enabled)."""
        if self.enabled and not self.url.startswith(("http://", "https://")):
            return [("url", "must look like http://127.0.0.1:8086")]
        return []


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration: one field per section, plus where it was read from."""

    meters: tuple[MeterConfig, ...] = section(
        MeterConfig,
        "which meter, through which device (`[[meter]]` once per meter: docs/meters.md)",
        many=True,
        single_too=True,
        toml="meter",
    )
    polling: PollingConfig = section(PollingConfig, "schedules and request pacing")
    source: Path | None = None
    storage: StorageConfig = section(StorageConfig, "the SQLite database")
    mqtt: MqttConfig = section(MqttConfig, "the MQTT publisher (Home Assistant)")
    http: HttpConfig = section(HttpConfig, "the dashboard and /metrics")
    tariff: TariffConfig = section(TariffConfig, "the electricity plan for costs")
    fleet: FleetConfig = section(FleetConfig, "the fleet stream (docs/fleet.md)")
    bridge: BridgeConfig = section(BridgeConfig, "`routeb bridge` (docs/bridge.md)")
    homeassistant: HomeAssistantConfig = section(
        HomeAssistantConfig, "Home Assistant long-term statistics (docs/homeassistant.md)"
    )
    influxdb: InfluxConfig = section(InfluxConfig, "the InfluxDB sink (docs/influxdb.md)")

    @property
    def meter(self) -> MeterConfig:
        """The first (with the single ``[meter]`` form, the only) meter."""
        return self.meters[0] if self.meters else MeterConfig()

    def problems(self) -> list[tuple[str, int | None, str]]:
        """What is wrong across sections: (dotted key, [[table]] index, message)."""
        if len(self.meters) < 2:
            return []
        seen: set[str] = set()
        for index, meter in enumerate(self.meters):
            if not meter.name:
                return [("meter", index, "needs a name (required with several [[meter]] tables)")]
            if meter.name in seen:
                return [("meter.name", index, f"{meter.name!r} names two meters: make it unique")]
            seen.add(meter.name)
        return []


# --- reading ---------------------------------------------------------------------------------


def _settings(cls: type[Any]) -> list[tuple[str, Setting]]:
    return [
        (f.name, f.metadata[_SETTING]) for f in dataclasses.fields(cls) if _SETTING in f.metadata
    ]


def _sections(cls: type[Any]) -> list[tuple[str, Section]]:
    return [
        (f.name, f.metadata[_SECTION]) for f in dataclasses.fields(cls) if _SECTION in f.metadata
    ]


def suggest(name: str, known: Sequence[str]) -> str:
    """' (did you mean password?)' for a typo of a known key, else ''."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


class _Locator:
    """Finds the line of ``[section]`` / ``key =`` in the file's text (tomllib gives none)."""

    _HEADER: Final = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?")
    _KEY: Final = re.compile(r"^\s*(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_\-.]+))\s*=")

    def __init__(self, file: Path | None, text: str) -> None:
        self.file = file
        self.lines = text.splitlines()

    def where(self, dotted: str, index: int | None = None) -> str | None:
        if self.file is None:
            return None
        line = self.line(dotted, index)
        return f"{self.file}:{line}" if line else str(self.file)

    def line(self, dotted: str, index: int | None = None) -> int | None:
        parts = dotted.split(".")
        table: list[str] = []
        seen: dict[str, int] = {}
        best: int | None = None
        for number, raw in enumerate(self.lines, start=1):
            header = self._HEADER.match(raw)
            if header and not self._KEY.match(raw):
                table = [p.strip().strip("\"'") for p in header.group(2).split(".")]
                name = ".".join(table)
                seen[name] = seen.get(name, -1) + (1 if header.group(1) == "[[" else 0)
                if table == parts and (index is None or seen[name] == index):
                    return number
                continue
            found = self._KEY.match(raw)
            if not found:
                continue
            name = next(g for g in found.groups() if g is not None)
            full = [*table, *name.split(".")]
            if full == parts and (index is None or seen.get(".".join(table), 0) == index):
                return number
            if best is None and full[: len(parts)] == parts:
                best = number
        return best


def _read_table(
    cls: type[Any],
    name: str,
    data: object,
    env: Mapping[str, str],
    locate: _Locator,
    index: int | None = None,
) -> Any:
    """Any section's dataclass from its table: every key converted, unknown keys refused."""
    label = name if index is None else f"{name}[{index}]"
    if not isinstance(data, dict):
        raise ConfigError(label, "must be a table", where=locate.where(name, index))
    known = _settings(cls)
    names = [n for n, _ in known]
    for given in data:
        if given not in names:
            raise ConfigError(
                f"{label}.{given}",
                "unknown key" + suggest(given, names),
                where=locate.where(f"{name}.{given}", index),
            )
    values: dict[str, object] = {}
    # A flag enabled by a sibling key is decided after that key.
    for field_name, setting in sorted(known, key=lambda item: item[1].enabled_by is not None):
        dotted = f"{label}.{field_name}"
        from_env = env.get(setting.env) if setting.env and index is None else None
        try:
            if from_env:
                values[field_name] = setting.convert.from_env(from_env)
            elif field_name in data:
                values[field_name] = setting.convert(data[field_name])
            elif setting.enabled_by_env and env.get(setting.enabled_by_env):
                values[field_name] = True
            elif setting.enabled_by and values.get(setting.enabled_by):
                values[field_name] = True  # e.g. [homeassistant] with a url is enabled
        except _SubKeyError as exc:
            raise ConfigError(
                f"{dotted}.{exc.name}",
                str(exc),
                where=locate.where(f"{name}.{field_name}.{exc.name}", index),
            ) from None
        except (TypeError, ValueError) as exc:
            if from_env:
                raise ConfigError(str(setting.env), str(exc)) from None
            raise ConfigError(
                dotted, str(exc), where=locate.where(f"{name}.{field_name}", index)
            ) from None
    table = cls(**values)
    check = getattr(table, "problems", None)
    for field_name, message in check() if check is not None else ():
        raise ConfigError(
            f"{label}.{field_name}", message, where=locate.where(f"{name}.{field_name}", index)
        )
    resolve = getattr(table, "resolve", None)
    if resolve is not None:
        try:
            table = resolve(env)
        except _SubKeyError as exc:
            raise ConfigError(
                f"{label}.{exc.name}", str(exc), where=locate.where(f"{name}.{exc.name}", index)
            ) from None
    return table


def read_sections(
    root: type[_T], data: Mapping[str, object], env: Mapping[str, str], locate: _Locator
) -> _T:
    """``root`` (a dataclass of ``section`` fields) from a parsed TOML document."""
    sections = _sections(root)
    names = [meta.toml or n for n, meta in sections]
    for given in data:
        if given not in names:
            raise ConfigError(
                given, "unknown section" + suggest(given, names), where=locate.where(given)
            )
    values: dict[str, object] = {}
    for field_name, meta in sections:
        name = meta.toml or field_name
        raw = data.get(name)
        if meta.single_too and not isinstance(raw, list):
            # One [meter] table (or none): the environment applies, as it always did.
            values[field_name] = (
                _read_table(meta.table, name, {} if raw is None else raw, env, locate),
            )
        elif meta.many:
            tables = raw if isinstance(raw, list) else [] if raw is None else [raw]
            values[field_name] = tuple(
                _read_table(meta.table, name, table, env, locate, index)
                for index, table in enumerate(tables)
            )
        else:
            values[field_name] = _read_table(
                meta.table, name, {} if raw is None else raw, env, locate
            )
    result = root(**values)
    check = getattr(result, "problems", None)
    for dotted, index, message in check() if check is not None else ():
        head, dot, rest = dotted.partition(".")
        label = dotted if index is None else f"{head}[{index}]{dot}{rest}"
        raise ConfigError(label, message, where=locate.where(dotted, index))
    return result


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    required: bool = False,
) -> Config:
    """Read and validate the config; a missing default file is fine unless ``required``."""
    environ = os.environ if env is None else env
    explicit = path is not None or bool(environ.get(f"{ENV_PREFIX}CONFIG"))
    file = path or Path(environ.get(f"{ENV_PREFIX}CONFIG") or default_config_path())
    source: Path | None = None
    text = ""
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        if explicit or required:
            raise ConfigError(
                str(file), "config file not found (create it with `routeb init`)"
            ) from None
    except IsADirectoryError:
        raise ConfigError(str(file), "is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(str(file), f"cannot read the config file ({exc.strerror})") from exc
    else:
        source = file
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(str(file), f"not UTF-8 text (byte {exc.start})") from None
        mode = file.stat().st_mode
        if stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH):
            _LOG.warning(
                "%s is readable by other users and holds the B-route password: chmod 600 %s",
                file,
                file,
            )
    config = parse_document(Config, text, file=source, env=environ)
    return replace(config, source=source)


def parse_document(
    root: type[_T], text: str, *, file: Path | None = None, env: Mapping[str, str] | None = None
) -> _T:
    """``root`` (a dataclass of ``section`` fields) from TOML text; errors name file and line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(file or "config"), f"not valid TOML: {exc}") from None
    return read_sections(root, data, {} if env is None else env, _Locator(file, text))


def environment_variables() -> frozenset[str]:
    """Every variable routeb reads as configuration (ROUTEB_CONFIG and each key's)."""
    names = {f"{ENV_PREFIX}CONFIG", f"{ENV_PREFIX}FLEET_DSN"}
    for _, meta in _sections(Config):
        for _, setting in _settings(meta.table):
            names.update(n for n in (setting.env, setting.enabled_by_env) if n)
    return frozenset(names)


def with_overrides(
    config: Config,
    *,
    device: str | None = None,
    dialect: str | None = None,
    db: Path | None = None,
    listen: str | None = None,
    state_dir: Path | None = None,
) -> Config:
    """Apply command-line flags (they win over the environment and the file)."""
    if db is not None:
        config = replace(config, storage=replace(config.storage, db=db))
    if listen is not None:
        parse_listen(listen, "--listen")
        config = replace(config, http=replace(config.http, listen=listen))
    if dialect and dialect not in DIALECTS:
        raise ConfigError("--dialect", f"must be one of {', '.join(DIALECTS)}")
    if (device or dialect) and len(config.meters) > 1:
        flag = "--device" if device else "--dialect"
        raise ConfigError(flag, "applies to one meter: set device / dialect in each [[meter]]")
    changes: dict[str, Any] = {}
    if device:
        changes["device"] = device
    if dialect:
        changes["dialect"] = dialect
    if state_dir is not None:
        changes["state_dir"] = state_dir
    return replace(config, meters=tuple(replace(m, **changes) for m in config.meters))


# --- the reference tables of docs/configuration.md --------------------------------------------


def _default_text(value: object, setting: Setting) -> str:
    if setting.default_text is not None:
        return setting.default_text
    if value is None or value in ((), ""):
        return "—"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return f"`{value}`"
    return str(value)


def reference_markdown() -> str:
    """Every section's table of keys (type, default, env, help) as docs/configuration.md has."""
    out: list[str] = []
    for section_name, meta in _sections(Config):
        cls = meta.table
        name = meta.toml or section_name
        header = (
            f"[{name}]` / `[[{name}]]"
            if meta.single_too
            else f"[[{name}]]"
            if meta.many
            else f"[{name}]"
        )
        out += [f"### `{header}` — {meta.help}", ""]
        out += ["| key | type | default | env | meaning |", "|---|---|---|---|---|"]
        defaults = cls()
        for field_name, setting in _settings(cls):
            default = _default_text(getattr(defaults, field_name), setting)
            env = f"`{setting.env}`" if setting.env else ""
            out.append(
                f"| `{field_name}` | {setting.convert.kind} | {default} | {env} | {setting.help} |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"
