"""`routeb ingest`: consume the fleet stream into PostgreSQL (docs/fleet.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from typing import Any, Final

from routeb.cli._common import postgres_error, register_url_secret, run, setup_logging
from routeb.fleet.schema import DEFAULT_LIMITS

__all__ = ["register"]


# flag, MessageLimits field, type, accepted range, help
_LIMITS: Final = (
    ("--max-message-bytes", "max_bytes", int, (1024, 256 << 20), "payload size"),
    ("--max-days", "max_days", int, (1, 10_000), "distinct UTC days among its readings"),
    (
        "--max-age-days",
        "max_age_days",
        int,
        (1, 36_500),
        "instant and cumulative readings at most this old",
    ),
    ("--max-slot-age-days", "max_slot_age_days", int, (1, 36_500), "slots at most this old"),
    (
        "--max-ahead-hours",
        "max_ahead_hours",
        float,
        (0.0, 8760.0),
        "time stamps at most this far ahead of this machine's clock",
    ),
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "ingest",
        help="write the fleet MQTT stream into PostgreSQL (a pool of workers)",
        description="Consume the fleet stream through an MQTT 5 shared subscription and write "
        "it to PostgreSQL in idempotent COPY batches. Run N of them with distinct --worker.",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("ROUTEB_FLEET_DSN", ""),
        help="PostgreSQL connection string (or $ROUTEB_FLEET_DSN)",
    )
    parser.add_argument(
        "--mqtt", default="mqtt://127.0.0.1:1883", help="mqtt[s]://[user:pass@]host:port"
    )
    parser.add_argument("--ca-file", help="CA bundle for mqtts://")
    parser.add_argument(
        "--base-topic",
        default="routeb-fleet",
        help="the sites' [fleet] base_topic: messages under <base>/v1/<site>/<meter> "
        "(default routeb-fleet)",
    )
    parser.add_argument("--group", default="routeb-ingest", help="shared subscription group")
    parser.add_argument("--worker", help="stable client id of this worker (default: host name)")
    parser.add_argument("--max-rows", type=int, default=20_000, help="readings per batch")
    parser.add_argument("--max-delay", type=float, default=0.5, help="seconds per batch at most")
    parser.add_argument("--listen", metavar="HOST:PORT", help="serve /metrics here")
    limits = parser.add_argument_group(
        "what one message may claim (anything else is a dead letter; docs/fleet.md#limits)"
    )
    for flag, name, kind, (low, high), text in _LIMITS:
        default = getattr(DEFAULT_LIMITS, name)
        limits.add_argument(
            flag,
            dest=name,
            metavar="N",
            type=_bounded(kind, low, high),
            default=default,
            help=f"{text} (default {default})",
        )
    parser.add_argument("--migrate", action="store_true", help="apply schema migrations and exit")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more logging on stderr: -v each batch, -vv debugging",
    )
    parser.set_defaults(handler=_handle)


def _bounded(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` in low..high (argparse says so in one line)."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not in {low:g}..{high:g}")
        return value

    return parse


def _handle(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    register_url_secret(args.db)
    register_url_secret(args.mqtt)
    return run(lambda: _main(args))


async def _main(args: argparse.Namespace) -> int:
    import psycopg  # noqa: PLC0415 - only the fleet commands need PostgreSQL

    from routeb.config import parse_listen  # noqa: PLC0415
    from routeb.errors import ConfigError, ListenError  # noqa: PLC0415
    from routeb.fleet import pg  # noqa: PLC0415
    from routeb.fleet.pg import FleetSchemaError  # noqa: PLC0415
    from routeb.fleet.settings import FleetSettings, parse_url  # noqa: PLC0415

    if not args.db:
        raise ConfigError("--db", "a PostgreSQL connection string is needed")
    if args.max_rows < 1:
        raise ConfigError("--max-rows", "must be at least 1")
    if not args.max_delay > 0:
        raise ConfigError("--max-delay", "must be > 0")
    parse_url(args.mqtt, "--mqtt")
    address = parse_listen(args.listen, "--listen") if args.listen else None
    if args.migrate:

        def migrate() -> int:
            with pg.connect(args.db) as conn:
                return pg.migrate(conn)

        try:
            version = await asyncio.to_thread(migrate)
        except (psycopg.Error, FleetSchemaError) as exc:
            raise postgres_error(exc) from None
        print(f"fleet schema at version {version}")
        return 0

    from routeb.fleet.ingest import IngestOptions, IngestWorker, serve_metrics  # noqa: PLC0415
    from routeb.fleet.schema import MessageLimits  # noqa: PLC0415

    options = IngestOptions(
        dsn=args.db,
        mqtt=FleetSettings(url=args.mqtt, ca_file=args.ca_file, max_inflight=1000),
        group=args.group,
        client_id=args.worker,
        base_topic=args.base_topic,
        max_rows=args.max_rows,
        max_delay=args.max_delay,
        limits=MessageLimits(**{name: getattr(args, name) for _, name, *_ in _LIMITS}),
    )
    worker = IngestWorker(options)
    try:
        if address is not None:
            try:
                metrics = await serve_metrics(worker.metrics, *address)
            except ListenError as exc:
                raise ListenError("--listen", exc.address, exc.reason) from None
            async with metrics:
                await worker.run()
        else:
            await worker.run()
    except (psycopg.Error, FleetSchemaError) as exc:
        raise postgres_error(exc) from None
    return 0
