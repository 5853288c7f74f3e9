"""`routeb bridge`: the meter (over Wi-SUN) as an ECHONET Lite node on the LAN.

Prints one JSON line when ready, e.g.
``{"listen": "192.168.1.20", "port": 3610, "identification": "feffffff…"}``, then serves
until SIGINT/SIGTERM, with a status line on stderr every minute (docs/bridge.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from routeb.bridge.cache import Freshness
from routeb.bridge.core import BridgeSettings, bridge_identification, parse_networks
from routeb.bridge.service import BridgeService
from routeb.cli._common import (
    CREDENTIALS_HELP,
    add_connection_args,
    connect,
    load_settings,
    run,
    setup_logging,
    until_signalled,
)
from routeb.collector.links import WiSunLink
from routeb.config import BridgeConfig
from routeb.errors import ConfigError, ListenError
from routeb.transport.lan import ECHONET_PORT

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "bridge",
        help="expose the meter on the LAN as an ECHONET Lite node (Home Assistant etc.)",
        description="Connect to the meter over Wi-SUN and answer ECHONET Lite requests for it "
        "on ADDRESS:3610 from a cache, fetching what is stale over the radio. Read-only unless "
        "--allow-set is given. See docs/bridge.md. " + CREDENTIALS_HELP,
    )
    add_connection_args(parser)
    parser.add_argument(
        "--listen",
        metavar="ADDRESS",
        help="address to answer on (default: all interfaces; IPv6 literals allowed)",
    )
    parser.add_argument(
        "--interface", help="interface for multicast (IPv4: its address; IPv6: its name)"
    )
    parser.add_argument(
        "--allow-from",
        action="append",
        default=[],
        metavar="NETWORK",
        help="answer only these clients (e.g. 192.168.1.0/24; repeatable; default: everyone)",
    )
    parser.add_argument(
        "--allow-set",
        metavar="EPCS",
        help="EPCs LAN clients may set, e.g. E5,ED,EF (history selectors; default: none)",
    )
    parser.add_argument(
        "--fresh",
        action="append",
        default=[],
        metavar="EPC=SECONDS",
        help="how long a property stays fresh in the cache (e.g. E7=1; repeatable)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        help="seconds a LAN request waits for the radio before Get_SNA (default 5)",
    )
    parser.add_argument(
        "--status-interval",
        type=float,
        help="seconds between status lines on stderr (0: none; default 60, 10 with -v)",
    )
    parser.set_defaults(handler=_handle)


def _epc(text: str, flag: str) -> int:
    try:
        value = int(text.strip().removeprefix("0x").removeprefix("0X"), 16)
    except ValueError:
        raise ConfigError(flag, f"{text!r} is not an EPC (hex, e.g. E5)") from None
    if not 0x80 <= value <= 0xFF:
        raise ConfigError(flag, f"{text!r} is not an EPC (0x80..0xFF)")
    return value


def bridge_settings(args: argparse.Namespace, config: BridgeConfig | None = None) -> BridgeSettings:
    """The flags over [bridge] as :class:`BridgeSettings` (ConfigError when malformed)."""
    config = config or BridgeConfig()
    if args.allow_set is not None:
        allow_set = [t for t in args.allow_set.split(",") if t.strip()]
        where = "--allow-set"
    else:
        allow_set, where = list(config.allow_set), "bridge.allow_set"
    writable = frozenset(_epc(t, where) for t in allow_set)
    networks = args.allow_from or list(config.allow_from)
    try:
        allow = parse_networks(networks)
    except ValueError as exc:
        key = "--allow-from" if args.allow_from else "bridge.allow_from"
        raise ConfigError(key, str(exc)) from None
    overrides = {_epc(name, "bridge.fresh"): seconds for name, seconds in config.fresh}
    for spec in args.fresh:
        name, sep, raw = spec.partition("=")
        try:
            seconds = float(raw)
        except ValueError:
            seconds = -1.0
        if not sep or seconds < 0:
            raise ConfigError("--fresh", f"{spec!r}: expected EPC=SECONDS, e.g. E7=1")
        overrides[_epc(name, "--fresh")] = seconds
    deadline = config.deadline if args.deadline is None else args.deadline
    if not deadline > 0:
        raise ConfigError("--deadline", "must be > 0")
    return BridgeSettings(
        writable=writable,
        allow=allow,
        freshness=Freshness(overrides),
        deadline=deadline,
    )


def _handle(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    return run(lambda: _bridge(args))


def _status(line: str) -> None:
    print(f"routeb bridge: {line}", file=sys.stderr, flush=True)


async def _bridge(args: argparse.Namespace) -> int:
    settings = load_settings(args)
    config = settings.config.bridge
    bridge_config = bridge_settings(args, config)
    interval = config.status_interval if args.status_interval is None else args.status_interval
    if args.verbose and args.status_interval is None:
        interval = min(interval, 10.0) if interval else interval
    async with connect(
        settings, retry_auth=args.retry_auth, show_identifiers=args.show_identifiers
    ) as link:
        meter = link.session.meter if isinstance(link, WiSunLink) else None
        seed = (meter.mac if meter is not None else None) or settings.device
        service = BridgeService(
            link.client,
            link.reader.info,
            bridge_identification(seed),
            bridge_config,
            listen=config.listen if args.listen is None else args.listen,
            interface=args.interface or config.interface,
            link_state=lambda: link.link_snapshot().state,
            status_interval=interval or None,
            status=_status,
        )
        listen = config.listen if args.listen is None else args.listen
        try:
            await service.start()
        except OSError as exc:
            await service.close()
            raise ListenError.from_os_error(
                "--listen" if args.listen is not None else "bridge.listen",
                f"{listen or '*'}:{ECHONET_PORT}",
                exc,
            ) from None
        ready = {
            "listen": service.address,
            "port": ECHONET_PORT,
            "identification": service.bridge.identification.hex(),
        }
        print(json.dumps(ready), flush=True)
        try:
            await until_signalled()
        finally:
            _status(service.bridge.status_line())
            await service.close()
    print("routeb bridge: stopped", file=sys.stderr)
    return 0
