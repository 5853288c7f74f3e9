"""SKSTACK IP: the text protocol of Wi-SUN modules, sans-IO, in both directions (protocol.md §D).

Host side: :mod:`.commands` builds command bytes, :class:`OutputParser` turns module output
into the typed values of :mod:`.events`. Module side (the emulator): :class:`CommandParser`
turns host bytes into typed commands (:mod:`.module_commands`), and :mod:`.module_output`
builds the module's output. :mod:`.grammar` holds the lexical facts both sides share.
See docs/skstack.md for the dialects and quirks.
"""

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
