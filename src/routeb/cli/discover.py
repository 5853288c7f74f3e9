"""`routeb discover`: ECHONET Lite nodes on the LAN and their smart meters."""

from __future__ import annotations

import argparse
import json
import socket
from typing import Any

from routeb.bridge.discovery import DiscoveredNode, discover
from routeb.cli._common import run, setup_logging
from routeb.errors import ConfigError, ListenError

__all__ = ["register"]


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "discover",
        help="find ECHONET Lite nodes and smart meters on the LAN (bridges, gateways)",
        description="Multicast a Get of the node profile (0x83, 0xD6), listen for D5 "
        "announcements, and list every node with its smart meters. See docs/bridge.md.",
    )
    parser.add_argument(
        "targets", nargs="*", metavar="ADDRESS", help="also ask these addresses (unicast)"
    )
    parser.add_argument(
        "--bind",
        default="",
        metavar="ADDRESS",
        help="local address to use (default: all interfaces; needed when another ECHONET "
        "Lite program on this host already uses port 3610)",
    )
    parser.add_argument("--ipv6", action="store_true", help="use IPv6 (ff02::1)")
    parser.add_argument(
        "--interface", help="interface for multicast (IPv4: its address; IPv6: its name)"
    )
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to listen (2)")
    parser.add_argument("--json", action="store_true", help="one JSON object per node")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging on stderr (-vv: debug)"
    )
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    setup_logging(args.verbose)
    return run(lambda: _discover(args))


def _maker(code: bytes | None) -> str:
    return "?" if code is None else f"0x{code.hex().upper()}"


def describe(node: DiscoveredNode) -> list[str]:
    """The text lines of one node."""
    identity = (
        f"id {node.identification.hex()}"
        if node.identification
        else "id (none: known by its address)"
    )
    instances = " ".join(e.to_bytes().hex().upper() for e in node.instances) or "none listed"
    lines = [f"{node.address}  {identity}  maker {_maker(node.maker)}  instances {instances}"]
    for meter in node.meters:
        serial = f"  serial {meter.serial}" if meter.serial else ""
        lines.append(
            f"  smart meter {meter.eoj.to_bytes().hex().upper()}  maker {_maker(meter.maker)}"
            + serial
        )
    if node.gateway_without_meter:
        lines.append(
            "  a gateway that does not expose the meter (only a controller object, no 0x0288)"
        )
    return lines


async def _discover(args: argparse.Namespace) -> int:
    if not args.timeout > 0:
        raise ConfigError("--timeout", "must be a number of seconds > 0")
    family = socket.AF_INET6 if args.ipv6 or ":" in args.bind else socket.AF_INET
    try:
        nodes = await discover(
            bind=args.bind,
            family=family,
            interface=args.interface,
            timeout=args.timeout,
            targets=args.targets,
        )
    except socket.gaierror as exc:
        given = " ".join(args.targets) or args.bind or args.interface
        raise ConfigError("ADDRESS", f"{given}: {exc.strerror}") from None
    except OSError as exc:
        raise ListenError.from_os_error("--bind", f"{args.bind or '*'}:3610", exc) from None
    if args.json:
        for node in nodes:
            print(json.dumps(node.to_json()))
        return 0
    if not nodes:
        print("no ECHONET Lite node answered")
        return 4
    for node in nodes:
        print("\n".join(describe(node)))
    meters = sum(len(n.meters) for n in nodes)
    print(f"{len(nodes)} node(s), {meters} smart meter(s)")
    return 0
