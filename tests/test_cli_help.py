"""Sub-command help: every option explained, where credentials come from, the emulator's own
credentials in full."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from routeb.cli import _COMMANDS, build_parser
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD


def _parsers(
    parser: argparse.ArgumentParser, name: str = "routeb"
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(name, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                found += _parsers(sub, f"{name} {sub_name}")
    return found


def test_every_option_of_every_command_has_help() -> None:
    missing = []
    parsers = [p for command in _COMMANDS for p in _parsers(build_parser(command))]
    assert len({name for name, _ in parsers}) > len(_COMMANDS) + 3  # sub-sub-commands too
    for name, parser in parsers:
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                continue
            if not action.help:
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


@pytest.mark.parametrize("command", ["read", "scan", "watch", "run", "bridge"])
def test_meter_commands_say_where_credentials_come_from(command: str) -> None:
    text = " ".join(
        build_parser(command)._subparsers._group_actions[0].choices[command].format_help().split()
    )  # type: ignore[union-attr]
    assert "ROUTEB_ID / ROUTEB_PASSWORD" in text
    assert "routeb init" in text


def test_emulate_help_shows_the_default_credentials_in_full() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "routeb", "emulate", "--help"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    text = "".join(result.stdout.split())
    assert DEFAULT_ID in text
    assert DEFAULT_PASSWORD in text


def test_every_command_is_listed() -> None:
    text = build_parser().format_help()
    for command in _COMMANDS:
        assert command in text
