"""The ``routeb`` command line: the only place that calls ``asyncio.run``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from routeb import __version__

__all__ = ["main"]

# Each module in routeb.cli named here has ``register(subparsers)`` that adds its sub-command
# and sets ``handler`` (args -> exit status) as a default.
_COMMANDS: tuple[str, ...] = (
    "decode",
    "emulate",
    "scan",
    "read",
    "watch",
    "run",
    "export",
    "db",
    "doctor",
    "init",
    "bridge",
    "discover",
    "ingest",
    "fleet",
    "service",
    "ha",
)


# One line per command for `routeb --help`, so that help (and every command) imports only
# the module it needs: `routeb read` starts in a third of the time the whole CLI would take.
_SUMMARIES: dict[str, str] = {
    "decode": "decode ECHONET Lite frames (hex) or SKSTACK ERXUDP lines",
    "emulate": "run an emulated Wi-SUN module and smart meter on a pty",
    "scan": "find meters: channel, PAN ID, MAC, LQI/RSSI, pairing ID",
    "read": "read properties from the meter (default: power, currents, energy)",
    "watch": "live view: power, currents, energy today, last 30 minutes, link",
    "run": "record continuously to SQLite, serve /metrics, publish MQTT",
    "export": "export recorded data as CSV or JSON lines",
    "db": "database maintenance",
    "doctor": "check config, device, module, scan, join and meter, with fixes",
    "init": "interactive setup: device, credentials, test join, config file",
    "bridge": "expose the meter on the LAN as an ECHONET Lite node (Home Assistant etc.)",
    "discover": "find ECHONET Lite nodes and smart meters on the LAN",
    "ingest": "write the fleet MQTT stream into PostgreSQL (a pool of workers)",
    "fleet": "fleet queries: latest readings, completeness, totals per 30 minutes",
    "service": "print the systemd unit (Type=notify, watchdog) or a udev rule for the dongle",
    "ha": "Home Assistant long-term statistics: import history, show status",
}


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` (COLUMNS, else the terminal, else 80) without
    importing shutil, whose bz2, lzma, zlib and fnmatch imports cost ~3 ms of start-up."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, the width found as argparse finds it (the terminal's less 2).

    argparse builds a formatter for every ``add_argument`` (to check the metavar), and its own
    looks the width up through ``import shutil``: `routeb decode HEX` paid that for nothing.
    """

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        width = _terminal_columns() - 2 if width is None else width
        super().__init__(prog, indent_increment, max_help_position, width)


class _ArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose default formatter is :class:`_HelpFormatter`; sub-parsers are of
    the same class (argparse's default), so every command gets it unless it names another."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser: every command (None), or ``only`` that one, registered in full.

    Each sub-parser argparse builds costs about a millisecond (its gettext look-ups), so a
    command run by name gets only its own (`routeb decode HEX` start-up: docs/benchmarks.md).
    """
    parser = _ArgumentParser(
        prog="routeb",
        description="Read a Japanese smart electricity meter over the B-route.",
    )
    parser.add_argument("--version", action="version", version=f"routeb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        summary = _SUMMARIES.get(name)
        if only in (None, name) and (only is not None or summary is None):
            module = importlib.import_module(f"routeb.cli.{name}")
            module.register(sub)
        elif only is None:
            sub.add_parser(name, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``routeb`` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in arguments if not a.startswith("-")), None)
    # `routeb --help read` lists every command: the help flag belongs to the top level.
    top_help = chosen is not None and bool(
        {"-h", "--help"} & set(arguments[: arguments.index(chosen)])
    )
    parser = build_parser(chosen if chosen in _COMMANDS and not top_help else None)
    args = parser.parse_args(arguments)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
