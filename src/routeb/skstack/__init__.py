"""SKSTACK IP: the text protocol of Wi-SUN modules, sans-IO, in both directions (protocol.md §D).

Host side: :mod:`.commands` builds command bytes, :class:`OutputParser` turns module output
into the typed values of :mod:`.events`. Module side (the emulator): :class:`CommandParser`
turns host bytes into typed commands (:mod:`.module_commands`), and :mod:`.module_output`
builds the module's output. :mod:`.grammar` holds the lexical facts both sides share.
See docs/skstack.md for the dialects and quirks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from routeb.skstack import commands, module_commands, module_output
    from routeb.skstack.commands import Command
    from routeb.skstack.erxudp import format_erxudp, parse_erxudp_line
    from routeb.skstack.events import (
        FAIL_MEANINGS,
        Dialect,
        EchoLine,
        EventNumber,
        FailLine,
        InfoLine,
        LinkLocalAddress,
        ModuleEvent,
        ModuleOutput,
        OkLine,
        PanDescriptor,
        RegisterValue,
        UdpReceived,
        UnknownLine,
        VersionLine,
        lqi_to_rssi,
    )
    from routeb.skstack.module_commands import BadCommand, CommandParser, ParsedCommand
    from routeb.skstack.module_output import ll64_address
    from routeb.skstack.parser import OutputParser

__all__ = [
    "FAIL_MEANINGS",
    "BadCommand",
    "Command",
    "CommandParser",
    "Dialect",
    "EchoLine",
    "EventNumber",
    "FailLine",
    "InfoLine",
    "LinkLocalAddress",
    "ModuleEvent",
    "ModuleOutput",
    "OkLine",
    "OutputParser",
    "PanDescriptor",
    "ParsedCommand",
    "RegisterValue",
    "UdpReceived",
    "UnknownLine",
    "VersionLine",
    "commands",
    "format_erxudp",
    "ll64_address",
    "lqi_to_rssi",
    "module_commands",
    "module_output",
    "parse_erxudp_line",
]

# Each name is imported from its module when first used (PEP 562), so a program that needs one
# part — `routeb decode` an ERXUDP line, the driver the host side — never loads the others
# (the emulator's module side above all).
_HOME = {
    "commands": "",
    "module_commands": "",
    "module_output": "",
    "Command": "commands",
    "format_erxudp": "erxudp",
    "parse_erxudp_line": "erxudp",
    "BadCommand": "module_commands",
    "CommandParser": "module_commands",
    "ParsedCommand": "module_commands",
    "ll64_address": "module_output",
    "OutputParser": "parser",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    home = _HOME.get(name, "events")
    if not home:
        return importlib.import_module(f"{__name__}.{name}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
