"""Configuration: a TOML file, environment overrides, validation that names the key.

Every key is documented in docs/configuration.md. The password and the B-route ID are
``Secret`` values that never print. Precedence: command-line flags > environment
(``ROUTEB_ID``, ``ROUTEB_PASSWORD``, ``ROUTEB_DEVICE``, …) > the file > defaults.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import platformdirs

from routeb._redact import Secret
from routeb.errors import ConfigError

__all__ = [
    "DIALECTS",
    "Config",
    "HomeAssistantConfig",
    "HttpConfig",
    "InfluxConfig",
    "MeterConfig",
    "MqttConfig",
    "PollingConfig",
    "StorageConfig",
    "TariffConfig",
    "default_config_path",
    "default_state_dir",
    "load_config",
    "validate_password",
    "validate_rbid",
    "with_overrides",
]

_LOG = logging.getLogger(__name__)

# protocol.md §D.1: SKSETRBID takes exactly 32 ASCII characters; the B-route password is 12.
RBID_LENGTH: Final = 32
PASSWORD_LENGTH: Final = 12
DIALECTS: Final = ("auto", "bp35a1", "bp35c2", "rl7023")
# protocol.md §E: scan duration 6 (17.5 s over 28 channels), escalating to 7 and 8.
DEFAULT_SCAN_DURATIONS: Final = (6, 7, 8)
_MAX_SCAN_DURATION: Final = 14  # §D.1: DURATION 0..14
# Polite polling (protocol.md §E): E7 every ≥ 10 s; never more than one request in flight.
MIN_INSTANT_INTERVAL: Final = 10.0
MIN_ENERGY_INTERVAL: Final = 30.0
MIN_REQUEST_GAP: Final = 0.0
MIN_AIF_TIMER1: Final = 1.0

ENV_PREFIX: Final = "ROUTEB_"
DEFAULT_RETENTION_DAYS: Final = 31
DEFAULT_LISTEN: Final = "127.0.0.1:8610"


def default_config_path() -> Path:
    """The platform's config file path (e.g. ~/.config/routeb/config.toml)."""
    return Path(platformdirs.user_config_dir("routeb")) / "config.toml"


def default_state_dir() -> Path:
    """Where routeb keeps its scan cache and other small state."""
    return Path(platformdirs.user_state_dir("routeb"))


def default_db_path() -> Path:
    """Where ``routeb run`` records by default (e.g. ~/.local/share/routeb/routeb.sqlite3)."""
    return Path(platformdirs.user_data_dir("routeb")) / "routeb.sqlite3"


def validate_rbid(value: str, key: str = "meter.id") -> Secret:
    """A B-route ID: exactly 32 printable ASCII characters, no spaces."""
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
            f"the B-route password must be exactly {PASSWORD_LENGTH} characters (got {len(text)})",
        )
    return Secret(text)


@dataclass(frozen=True, slots=True)
class MeterConfig:
    """[meter]: which meter, through which device, with which credentials."""

    id: Secret | None = None
    password: Secret | None = None
    device: str | None = None
    dialect: str = "auto"
    scan_durations: tuple[int, ...] = DEFAULT_SCAN_DURATIONS
    state_dir: Path = field(default_factory=default_state_dir)


@dataclass(frozen=True, slots=True)
class PollingConfig:
    """[polling]: schedules and request pacing."""

    instantaneous_interval: float = 10.0
    energy_interval: float = 60.0
    clock_interval: float = 3600.0
    min_gap: float = 1.0
    timer1: float = 20.0
    timer2: float = 60.0
    retries: int = 2


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """[storage]: the SQLite database and how long raw readings are kept."""

    db: Path = field(default_factory=default_db_path)
    retention_days: int = DEFAULT_RETENTION_DAYS


@dataclass(frozen=True, slots=True)
class MqttConfig:
    """[mqtt]: the optional publisher (Home Assistant discovery)."""

    enabled: bool = False
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: Secret | None = None
    base_topic: str = "routeb"
    discovery_prefix: str = "homeassistant"
    discovery: bool = True
    ca_file: str | None = None
    tls_insecure: bool = False


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """[http]: the server for /metrics and the dashboard."""

    listen: str = DEFAULT_LISTEN
    token: Secret | None = None


@dataclass(frozen=True, slots=True)
class TariffConfig:
    """[tariff]: the electricity plan used for costs (docs/tariffs.md)."""

    file: Path | None = None


_SECTIONS: Final = frozenset(
    {
        "meter",
        "polling",
        "storage",
        "mqtt",
        "http",
        "tariff",
        "fleet",
        "bridge",
        "homeassistant",
        "influxdb",
    }
)


@dataclass(frozen=True, slots=True)
class HomeAssistantConfig:
    """[homeassistant]: long-term statistics import (docs/homeassistant.md)."""

    enabled: bool = False
    url: str = ""
    token: Secret | None = None
    cost: bool = True
    interval: float = 60.0


@dataclass(frozen=True, slots=True)
class InfluxConfig:
    """[influxdb]: the InfluxDB line-protocol sink (docs/influxdb.md)."""

    enabled: bool = False
    url: str = ""
    version: int = 2
    token: Secret | None = None
    org: str = ""
    bucket: str = "routeb"
    database: str = "routeb"
    username: str | None = None
    password: Secret | None = None
    measurement: str = "routeb"
    interval: float = 10.0
    batch: int = 5000
    backlog_days: int = 31


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """[bridge]: `routeb bridge` (docs/bridge.md); its flags override these."""

    listen: str = ""
    interface: str | None = None
    allow_from: tuple[str, ...] = ()
    allow_set: tuple[str, ...] = ()
    fresh: tuple[tuple[str, float], ...] = ()
    deadline: float = 5.0
    status_interval: float = 60.0


@dataclass(frozen=True, slots=True)
class FleetConfig:
    """[fleet]: the fleet stream to a central broker (docs/fleet.md)."""

    enabled: bool = False
    url: str = "mqtt://127.0.0.1:1883"
    site: str = ""
    username: str | None = None
    password: Secret | None = None
    base_topic: str = "routeb-fleet"  # routeb.fleet.schema.DEFAULT_BASE_TOPIC
    client_id: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    tls_insecure: bool = False
    interval: float = 5.0
    max_rows: int = 2000
    max_inflight: int = 100


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration."""

    meter: MeterConfig = field(default_factory=MeterConfig)
    polling: PollingConfig = field(default_factory=PollingConfig)
    source: Path | None = None
    storage: StorageConfig = field(default_factory=StorageConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    tariff: TariffConfig = field(default_factory=TariffConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    homeassistant: HomeAssistantConfig = field(default_factory=HomeAssistantConfig)
    influxdb: InfluxConfig = field(default_factory=InfluxConfig)


def _table(data: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(key, "must be a table")
    return value


def _str(section: Mapping[str, object], name: str, key: str) -> str | None:
    value = section.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(key, "must be a string")
    return value


def _number(
    section: Mapping[str, object], name: str, key: str, default: float, low: float
) -> float:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, "must be a number of seconds")
    if value < low:
        raise ConfigError(key, f"must be at least {low:g} (be polite to the meter)")
    return float(value)


def _check_unknown(section: Mapping[str, object], known: Set[str], prefix: str) -> None:
    for name in section:
        if name not in known:
            raise ConfigError(f"{prefix}.{name}" if prefix else name, "unknown key")


def _parse_meter(data: Mapping[str, object], env: Mapping[str, str]) -> MeterConfig:
    section = _table(data, "meter")
    _check_unknown(
        section, {"id", "password", "device", "dialect", "scan_durations", "state_dir"}, "meter"
    )
    rbid_text = env.get(f"{ENV_PREFIX}ID") or _str(section, "id", "meter.id")
    password_text = env.get(f"{ENV_PREFIX}PASSWORD") or _str(section, "password", "meter.password")
    rbid = (
        validate_rbid(rbid_text, "meter.id" if "ROUTEB_ID" not in env else "ROUTEB_ID")
        if (rbid_text)
        else None
    )
    password = (
        validate_password(
            password_text, "meter.password" if "ROUTEB_PASSWORD" not in env else "ROUTEB_PASSWORD"
        )
        if password_text
        else None
    )
    device = env.get(f"{ENV_PREFIX}DEVICE") or _str(section, "device", "meter.device")
    dialect = env.get(f"{ENV_PREFIX}DIALECT") or _str(section, "dialect", "meter.dialect") or "auto"
    dialect = dialect.lower()
    if dialect not in DIALECTS:
        raise ConfigError("meter.dialect", f"must be one of {', '.join(DIALECTS)}")
    durations_raw = section.get("scan_durations", list(DEFAULT_SCAN_DURATIONS))
    if (
        not isinstance(durations_raw, list)
        or not durations_raw
        or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= _MAX_SCAN_DURATION
            for d in durations_raw
        )
    ):
        raise ConfigError("meter.scan_durations", "must be a list of integers 1..14")
    state_dir_text = env.get(f"{ENV_PREFIX}STATE_DIR") or _str(
        section, "state_dir", "meter.state_dir"
    )
    state_dir = Path(state_dir_text).expanduser() if state_dir_text else default_state_dir()
    return MeterConfig(
        rbid, password, device, dialect, tuple(int(d) for d in durations_raw), state_dir
    )


def _parse_polling(data: Mapping[str, object]) -> PollingConfig:
    section = _table(data, "polling")
    names = {
        "instantaneous_interval",
        "energy_interval",
        "clock_interval",
        "min_gap",
        "timer1",
        "timer2",
        "retries",
    }
    _check_unknown(section, names, "polling")
    base = PollingConfig()
    retries = section.get("retries", base.retries)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ConfigError("polling.retries", "must be an integer 0..10")
    return PollingConfig(
        instantaneous_interval=_number(
            section,
            "instantaneous_interval",
            "polling.instantaneous_interval",
            base.instantaneous_interval,
            MIN_INSTANT_INTERVAL,
        ),
        energy_interval=_number(
            section,
            "energy_interval",
            "polling.energy_interval",
            base.energy_interval,
            MIN_ENERGY_INTERVAL,
        ),
        clock_interval=_number(
            section, "clock_interval", "polling.clock_interval", base.clock_interval, 60.0
        ),
        min_gap=_number(section, "min_gap", "polling.min_gap", base.min_gap, MIN_REQUEST_GAP),
        timer1=_number(section, "timer1", "polling.timer1", base.timer1, MIN_AIF_TIMER1),
        timer2=_number(section, "timer2", "polling.timer2", base.timer2, MIN_AIF_TIMER1),
        retries=retries,
    )


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
    data: Mapping[str, object] = {}
    source: Path | None = None
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        if explicit or required:
            raise ConfigError(str(file), "config file not found") from None
    except OSError as exc:
        raise ConfigError(str(file), f"cannot read the config file ({exc.strerror})") from exc
    else:
        source = file
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(file), f"not valid TOML: {exc}") from exc
        mode = file.stat().st_mode
        if stat.S_ISREG(mode) and mode & (stat.S_IRGRP | stat.S_IROTH):
            _LOG.warning(
                "%s is readable by other users and holds the B-route password: chmod 600 %s",
                file,
                file,
            )
    _check_unknown(data, _SECTIONS, "")
    return Config(
        _parse_meter(data, environ),
        _parse_polling(data),
        source,
        _parse_storage(data, environ),
        _parse_mqtt(data, environ),
        _parse_http(data, environ),
        _parse_tariff(data),
        _parse_fleet(data, environ),
        _parse_bridge(data),
        _parse_homeassistant(data, environ),
        _parse_influxdb(data, environ),
    )


def _parse_tariff(data: Mapping[str, object]) -> TariffConfig:
    section = _table(data, "tariff")
    _check_unknown(section, {"file"}, "tariff")
    file = _str(section, "file", "tariff.file")
    if file is None:
        return TariffConfig()
    path = Path(file).expanduser()
    if not path.is_file():
        raise ConfigError("tariff.file", f"no tariff file at {path}")
    return TariffConfig(path)


def _whole(section: Mapping[str, object], name: str, key: str, default: int, low: int) -> int:
    value = section.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(key, f"must be a whole number, at least {low}")
    return value


def _strings(section: Mapping[str, object], name: str, key: str) -> tuple[str, ...]:
    value = section.get(name, [])
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(key, "must be a list of strings")
    return tuple(v.strip() for v in value)


def _parse_bridge(data: Mapping[str, object]) -> BridgeConfig:
    section = _table(data, "bridge")
    _check_unknown(section, set(BridgeConfig.__dataclass_fields__), "bridge")
    base = BridgeConfig()
    fresh_table = _table(section, "fresh")
    fresh: list[tuple[str, float]] = []
    for epc, seconds in fresh_table.items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ConfigError(f"bridge.fresh.{epc}", "must be a number of seconds, at least 0")
        fresh.append((str(epc), float(seconds)))
    return BridgeConfig(
        listen=_str(section, "listen", "bridge.listen") or "",
        interface=_str(section, "interface", "bridge.interface"),
        allow_from=_strings(section, "allow_from", "bridge.allow_from"),
        allow_set=_strings(section, "allow_set", "bridge.allow_set"),
        fresh=tuple(fresh),
        deadline=_number(section, "deadline", "bridge.deadline", base.deadline, 0.1),
        status_interval=_number(
            section, "status_interval", "bridge.status_interval", base.status_interval, 0.0
        ),
    )


def _parse_fleet(data: Mapping[str, object], env: Mapping[str, str]) -> FleetConfig:
    section = _table(data, "fleet")
    names = set(FleetConfig.__dataclass_fields__)
    _check_unknown(section, names, "fleet")
    base = FleetConfig()
    url = env.get(f"{ENV_PREFIX}FLEET_URL") or _str(section, "url", "fleet.url") or base.url
    if not url.startswith(("mqtt://", "mqtts://")):
        raise ConfigError("fleet.url", "must start with mqtt:// or mqtts://")
    password = env.get(f"{ENV_PREFIX}FLEET_PASSWORD") or _str(section, "password", "fleet.password")
    site = env.get(f"{ENV_PREFIX}FLEET_SITE") or _str(section, "site", "fleet.site") or ""
    if any(c in site for c in "#+/"):
        raise ConfigError("fleet.site", "must not contain #, + or /")
    topic = _str(section, "base_topic", "fleet.base_topic") or base.base_topic
    if any(c in topic for c in "#+") or topic.startswith("/"):
        raise ConfigError("fleet.base_topic", "must be a plain topic (no #, +, leading /)")
    enabled_default = bool(env.get(f"{ENV_PREFIX}FLEET_URL"))
    return FleetConfig(
        enabled=_bool(section, "enabled", "fleet.enabled", enabled_default),
        url=url,
        site=site,
        username=_str(section, "username", "fleet.username"),
        password=Secret(password) if password else None,
        base_topic=topic,
        client_id=_str(section, "client_id", "fleet.client_id"),
        ca_file=_str(section, "ca_file", "fleet.ca_file"),
        cert_file=_str(section, "cert_file", "fleet.cert_file"),
        key_file=_str(section, "key_file", "fleet.key_file"),
        tls_insecure=_bool(section, "tls_insecure", "fleet.tls_insecure", False),
        interval=_number(section, "interval", "fleet.interval", base.interval, 0.5),
        max_rows=_whole(section, "max_rows", "fleet.max_rows", base.max_rows, 1),
        max_inflight=_whole(section, "max_inflight", "fleet.max_inflight", base.max_inflight, 1),
    )


def _bool(section: Mapping[str, object], name: str, key: str, default: bool) -> bool:
    value = section.get(name, default)
    if not isinstance(value, bool):
        raise ConfigError(key, "must be true or false")
    return value


def _parse_storage(data: Mapping[str, object], env: Mapping[str, str]) -> StorageConfig:
    section = _table(data, "storage")
    _check_unknown(section, {"db", "retention_days"}, "storage")
    db_text = env.get(f"{ENV_PREFIX}DB") or _str(section, "db", "storage.db")
    retention = section.get("retention_days", DEFAULT_RETENTION_DAYS)
    if isinstance(retention, bool) or not isinstance(retention, int) or retention < 1:
        raise ConfigError("storage.retention_days", "must be a whole number of days, at least 1")
    db = Path(db_text).expanduser() if db_text else default_db_path()
    return StorageConfig(db, retention)


def _parse_mqtt(data: Mapping[str, object], env: Mapping[str, str]) -> MqttConfig:
    section = _table(data, "mqtt")
    names = {
        "enabled",
        "url",
        "username",
        "password",
        "base_topic",
        "discovery_prefix",
        "discovery",
        "ca_file",
        "tls_insecure",
    }
    _check_unknown(section, names, "mqtt")
    base = MqttConfig()
    url = env.get(f"{ENV_PREFIX}MQTT_URL") or _str(section, "url", "mqtt.url") or base.url
    if not url.startswith(("mqtt://", "mqtts://")):
        raise ConfigError("mqtt.url", "must start with mqtt:// or mqtts://")
    password = env.get(f"{ENV_PREFIX}MQTT_PASSWORD") or _str(section, "password", "mqtt.password")
    topic = _str(section, "base_topic", "mqtt.base_topic") or base.base_topic
    if not topic or any(c in topic for c in "#+") or topic.startswith("/"):
        raise ConfigError("mqtt.base_topic", "must be a plain topic (no #, +, leading /)")
    return MqttConfig(
        enabled=_bool(section, "enabled", "mqtt.enabled", bool(env.get(f"{ENV_PREFIX}MQTT_URL"))),
        url=url,
        username=_str(section, "username", "mqtt.username"),
        password=Secret(password) if password else None,
        base_topic=topic,
        discovery_prefix=_str(section, "discovery_prefix", "mqtt.discovery_prefix")
        or base.discovery_prefix,
        discovery=_bool(section, "discovery", "mqtt.discovery", True),
        ca_file=_str(section, "ca_file", "mqtt.ca_file"),
        tls_insecure=_bool(section, "tls_insecure", "mqtt.tls_insecure", False),
    )


def _parse_homeassistant(data: Mapping[str, object], env: Mapping[str, str]) -> HomeAssistantConfig:
    section = _table(data, "homeassistant")
    _check_unknown(section, {"enabled", "url", "token", "cost", "interval"}, "homeassistant")
    base = HomeAssistantConfig()
    url = env.get(f"{ENV_PREFIX}HA_URL") or _str(section, "url", "homeassistant.url") or ""
    token = env.get(f"{ENV_PREFIX}HA_TOKEN") or _str(section, "token", "homeassistant.token")
    enabled = _bool(section, "enabled", "homeassistant.enabled", bool(url))
    if enabled:
        if not url.startswith(("http://", "https://")):
            raise ConfigError("homeassistant.url", "must look like http://homeassistant.local:8123")
        if not token:
            raise ConfigError(
                "homeassistant.token", "is required: a long-lived access token of an admin user"
            )
    return HomeAssistantConfig(
        enabled=enabled,
        url=url,
        token=Secret(token) if token else None,
        cost=_bool(section, "cost", "homeassistant.cost", True),
        interval=_number(section, "interval", "homeassistant.interval", base.interval, 5.0),
    )


def _parse_influxdb(data: Mapping[str, object], env: Mapping[str, str]) -> InfluxConfig:
    section = _table(data, "influxdb")
    names = {
        "enabled",
        "url",
        "version",
        "token",
        "org",
        "bucket",
        "database",
        "username",
        "password",
        "measurement",
        "interval",
        "batch",
        "backlog_days",
    }
    _check_unknown(section, names, "influxdb")
    base = InfluxConfig()
    url = env.get(f"{ENV_PREFIX}INFLUX_URL") or _str(section, "url", "influxdb.url") or ""
    enabled = _bool(section, "enabled", "influxdb.enabled", bool(url))
    if enabled and not url.startswith(("http://", "https://")):
        raise ConfigError("influxdb.url", "must look like http://127.0.0.1:8086")
    version = section.get("version", base.version)
    if isinstance(version, bool) or version not in (1, 2):
        raise ConfigError("influxdb.version", "must be 1 (/write) or 2 (/api/v2/write, also 3.x)")
    token = env.get(f"{ENV_PREFIX}INFLUX_TOKEN") or _str(section, "token", "influxdb.token")
    password = env.get(f"{ENV_PREFIX}INFLUX_PASSWORD") or _str(
        section, "password", "influxdb.password"
    )
    measurement = _str(section, "measurement", "influxdb.measurement") or base.measurement
    if any(c in measurement for c in ", =\\\n") or measurement.startswith("_"):
        raise ConfigError("influxdb.measurement", "must be a plain name (no spaces, commas, =)")
    return InfluxConfig(
        enabled=enabled,
        url=url,
        version=int(version),
        token=Secret(token) if token else None,
        org=_str(section, "org", "influxdb.org") or "",
        bucket=_str(section, "bucket", "influxdb.bucket") or base.bucket,
        database=_str(section, "database", "influxdb.database") or base.database,
        username=_str(section, "username", "influxdb.username"),
        password=Secret(password) if password else None,
        measurement=measurement,
        interval=_number(section, "interval", "influxdb.interval", base.interval, 0.5),
        batch=_whole(section, "batch", "influxdb.batch", base.batch, 1),
        backlog_days=_whole(section, "backlog_days", "influxdb.backlog_days", base.backlog_days, 1),
    )


def _parse_http(data: Mapping[str, object], env: Mapping[str, str]) -> HttpConfig:
    section = _table(data, "http")
    _check_unknown(section, {"listen", "token"}, "http")
    listen = env.get(f"{ENV_PREFIX}LISTEN") or _str(section, "listen", "http.listen")
    token = env.get(f"{ENV_PREFIX}TOKEN") or _str(section, "token", "http.token")
    if token is not None and len(token) < 16:
        raise ConfigError("http.token", "must be at least 16 characters")
    return HttpConfig(listen or DEFAULT_LISTEN, Secret(token) if token else None)


def with_overrides(
    config: Config,
    *,
    device: str | None = None,
    dialect: str | None = None,
    db: Path | None = None,
    listen: str | None = None,
) -> Config:
    """Apply command-line flags (they win over the environment and the file)."""
    if db is not None:
        config = replace(config, storage=replace(config.storage, db=db))
    if listen is not None:
        config = replace(config, http=replace(config.http, listen=listen))
    meter = config.meter
    if device:
        meter = replace(meter, device=device)
    if dialect:
        if dialect not in DIALECTS:
            raise ConfigError("--dialect", f"must be one of {', '.join(DIALECTS)}")
        meter = replace(meter, dialect=dialect)
    return replace(config, meter=meter)
