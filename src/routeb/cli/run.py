"""`routeb run`: the daemon — record to SQLite, serve the dashboard and /metrics, publish MQTT.

Flags override the config, so with ROUTEB_ID / ROUTEB_PASSWORD / ROUTEB_DEVICE set it runs
with no config file at all. SIGTERM/SIGINT shut down cleanly (SKTERM, flush, close); SIGHUP
reloads the configuration (new credentials, intervals) and reconnects. Under systemd
(``Type=notify``, docs/service.md) it reports READY once it listens and the database is open,
its state in STATUS=, and feeds the watchdog only while healthy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routeb import __version__
from routeb.cli._common import (
    CREDENTIALS_HELP,
    Settings,
    add_connection_args,
    client_settings,
    database_path,
    load_settings,
    run,
    setup_logging,
)
from routeb.collector.daemon import Collector, CollectorSettings, MeterLink
from routeb.collector.links import open_lan_link, open_wisun
from routeb.collector.recording import StoreRecorder
from routeb.config import Config, parse_listen, with_overrides
from routeb.driver.cache import meter_key
from routeb.driver.session import SessionSettings
from routeb.errors import ConfigError
from routeb.export.mqtt import MqttPublisher, MqttSettings
from routeb.live import LiveHub, Sink
from routeb.live.sink import running as running_sinks
from routeb.service.notify import Notifier
from routeb.service.watchdog import Watchdog, store_probe
from routeb.storage import AsyncStore, RetentionPolicy, StorageError
from routeb.tariff import load_tariff
from routeb.web.dashboard import build_dashboard
from routeb.web.server import HttpServer, build_app

if TYPE_CHECKING:
    from routeb.fleet.publisher import FleetPublisher
    from routeb.tariff import Tariff

__all__ = ["register"]

_LOG = logging.getLogger(__name__)
_LEVELS = {"warning": 0, "info": 1, "debug": 2}


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="record continuously to SQLite, serve the dashboard and /metrics, publish MQTT",
        description="The daemon: polls the meter on schedule, takes its 30-minute pushes, "
        "backfills every gap from the meter's history, and records it all. "
        + CREDENTIALS_HELP
        + " Under systemd: `routeb service unit` (docs/service.md).",
    )
    add_connection_args(parser)
    parser.add_argument(
        "--db",
        type=Path,
        help="SQLite database (default: [storage] db, ~/.local/share/routeb/routeb.sqlite3)",
    )
    parser.add_argument(
        "--listen",
        metavar="HOST:PORT",
        help="the dashboard and /metrics (default 127.0.0.1:8610; port 0 = any free port)",
    )
    parser.add_argument(
        "--log-level", choices=sorted(_LEVELS), help="log verbosity (default info; overrides -v)"
    )
    parser.add_argument("--log-json", action="store_true", help="logs as JSON lines")
    parser.add_argument("--meter-name", help="the meter's key in the database and MQTT topics")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    verbosity = _LEVELS[args.log_level] if args.log_level else max(1, args.verbose)
    setup_logging(verbosity, json_lines=args.log_json)
    return run(lambda: _daemon(args))


def _connector(
    settings: Settings, args: argparse.Namespace
) -> Any:  # returns a zero-argument factory of async context managers
    client = client_settings(settings.config.polling)
    session = SessionSettings(
        scan_durations=settings.config.meter.scan_durations,
        show_identifiers=args.show_identifiers,
    )
    retry_auth = [args.retry_auth]

    def connect() -> AbstractAsyncContextManager[MeterLink]:
        if settings.device.startswith("udp://"):
            return open_lan_link(settings.device, client_settings=client)
        manager = open_wisun(
            settings.device,
            settings.rbid,
            settings.password,
            dialect=settings.dialect,
            state_dir=settings.state_dir,
            session_settings=session,
            client_settings=client,
            retry_auth=retry_auth[0],
        )
        retry_auth[0] = False  # only the first attempt clears the latch
        return manager

    return connect


async def _daemon(args: argparse.Namespace) -> int:
    settings = load_settings(args, need_credentials=not _is_lan(args))
    listen_key = "--listen" if args.listen is not None else "http.listen"
    config = with_overrides(settings.config, listen=args.listen)
    host, port = parse_listen(config.http.listen, listen_key)
    db = database_path(config, args.db)
    config = with_overrides(config, db=db)
    meter = args.meter_name or ("m" + meter_key(settings.rbid)[:11] if settings.rbid else "lan")
    hub = LiveHub()
    tariff = load_tariff(config.tariff.file) if config.tariff.file else None
    app = build_app(hub, lambda: {"routeb_build_info": 1.0})
    # Raises ConfigError for a non-loopback listen address without http.token (docs/dashboard.md).
    build_dashboard(
        app,
        db_path=config.storage.db,
        hub=hub,
        tariff=tariff,
        token=config.http.token,
        meter=meter,
        host=host,
    )
    store = AsyncStore(db, retention=RetentionPolicy(raw_days=config.storage.retention_days))
    try:
        await store.open()
    except StorageError as exc:
        cause = exc.__cause__ or exc
        raise ConfigError(
            "--db" if args.db is not None else "storage.db",
            f"cannot open the database {db}: {cause}",
        ) from None
    http = HttpServer(app, host, port, what=listen_key)
    notifier = Notifier()
    watchdog = Watchdog(notifier, [("database", store_probe(store))])
    tasks: list[asyncio.Task[None]] = []
    sinks: list[Sink] = []
    fleet: FleetPublisher | None = None
    stop = asyncio.Event()
    reload = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    stack = contextlib.AsyncExitStack()
    try:
        await http.start()
        tasks.append(asyncio.create_task(watchdog.run(), name="routeb-watchdog"))
        tasks.append(asyncio.create_task(_report_status(hub, notifier), name="routeb-status"))
        notifier.ready(f"recording meter {meter} into {db}; waiting for the meter")
        if config.mqtt.enabled:
            mqtt = config.mqtt
            sinks.append(
                MqttPublisher(
                    MqttSettings(
                        url=mqtt.url,
                        username=mqtt.username,
                        password=mqtt.password,
                        base_topic=mqtt.base_topic,
                        discovery_prefix=mqtt.discovery_prefix,
                        discovery=mqtt.discovery,
                        ca_file=mqtt.ca_file,
                        tls_insecure=mqtt.tls_insecure,
                    ),
                    hub,
                )
            )
        sinks.extend(_statistics_sinks(config, tariff))
        if config.fleet.enabled:
            fleet = _fleet_publisher(config, meter)
            tasks.append(asyncio.create_task(fleet.run(), name="routeb-fleet"))
        _LOG.info("routeb %s recording meter %s into %s", __version__, meter, config.storage.db)
        await stack.enter_async_context(running_sinks(sinks))
        while not stop.is_set():
            collector = Collector(
                _connector(settings, args),
                StoreRecorder(store),
                hub,
                CollectorSettings(
                    meter=meter,
                    instant_interval=config.polling.instantaneous_interval,
                    energy_interval=config.polling.energy_interval,
                    clock_interval=config.polling.clock_interval,
                ),
            )
            running = asyncio.create_task(collector.run(), name="routeb-collector")
            waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(reload.wait())]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
            await store.flush()
            if reload.is_set() and not stop.is_set():
                reload.clear()
                _LOG.info("SIGHUP: reloading the configuration")
                notifier.send(RELOADING=1)
                try:
                    settings = load_settings(args, need_credentials=not _is_lan(args))
                except ConfigError as exc:
                    _LOG.error("config reload failed, keeping the old one: %s", exc)
                notifier.ready(f"recording meter {meter} into {db}; configuration reloaded")
    finally:
        notifier.stopping()
        await stack.aclose()  # each sink stops cleanly (MQTT says offline), then is cancelled
        if fleet is not None and fleet.connected.is_set() and not await fleet.drain(5.0):
            _LOG.warning("fleet: the rest of the outbox is published at the next start")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await http.stop()
        await store.close()
        notifier.close()
        _LOG.info("routeb run: stopped (session closed, database flushed)")
    return 0


async def _report_status(hub: LiveHub, notifier: Notifier) -> None:
    """STATUS= for `systemctl status`: online, or why not (e.g. credentials rejected)."""
    if not notifier.enabled:
        return
    shown: tuple[bool, str | None] | None = None
    async for state in hub.updates():
        now = (state.online, state.down_reason)
        if now == shown:
            continue
        shown = now
        if state.online:
            notifier.status(f"meter {state.meter} online")
        else:
            why = state.down_detail or state.down_reason or "connecting"
            notifier.status(f"meter {state.meter} offline: {why}")


def _statistics_sinks(config: Config, tariff: Tariff | None) -> list[Sink]:
    """The sinks that read the store: Home Assistant statistics, InfluxDB (when configured)."""
    sinks: list[Sink] = []
    ha = config.homeassistant
    if ha.enabled and ha.token is not None:
        from routeb.ha.client import HomeAssistantSettings  # noqa: PLC0415 - only with [ha]
        from routeb.ha.sink import HomeAssistantStatisticsSink  # noqa: PLC0415

        settings = HomeAssistantSettings(ha.url, ha.token, cost=ha.cost, interval=ha.interval)
        sinks.append(HomeAssistantStatisticsSink(settings, config.storage.db, tariff))
    influx = config.influxdb
    if influx.enabled:
        from routeb.influx.sink import InfluxSettings, InfluxSink  # noqa: PLC0415 - [influxdb]

        sinks.append(
            InfluxSink(
                InfluxSettings(
                    url=influx.url,
                    version=influx.version,
                    token=influx.token,
                    org=influx.org,
                    bucket=influx.bucket,
                    database=influx.database,
                    username=influx.username,
                    password=influx.password,
                    measurement=influx.measurement,
                    interval=influx.interval,
                    batch=influx.batch,
                    backlog_days=influx.backlog_days,
                ),
                config.storage.db,
            )
        )
    return sinks


def _fleet_publisher(config: Config, meter: str) -> FleetPublisher:
    """The publisher of the SQLite outbox to the fleet stream ([fleet], docs/fleet.md)."""
    from routeb.fleet.publisher import FleetPublisher  # noqa: PLC0415 - only with [fleet]

    settings = replace(config.fleet, site=config.fleet.site or meter)
    return FleetPublisher(settings, config.storage.db)


def _is_lan(args: argparse.Namespace) -> bool:
    device = args.device or ""
    return device.startswith("udp://")
