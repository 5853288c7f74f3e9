"""The ``routeb`` command line: the only place that calls ``asyncio.run``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from routeb import __version__

__all__ = ["main"]

# Each module in routeb.cli named here has ``register(subparsers)`` that adds its sub-command
# and sets ``handler`` (args -> exit status) as a default.
_COMMANDS: tuple[str, ...] = ("emulate", "scan", "read", "watch", "run", "export", "db")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser; each sub-command registers itself here."""
    parser = argparse.ArgumentParser(
        prog="routeb",
        description="Read a Japanese smart electricity meter over the B-route.",
    )
    parser.add_argument("--version", action="version", version=f"routeb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        module = importlib.import_module(f"routeb.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``routeb`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
