"""A status line corrupted on the UART: repeatable commands are asked for again, others not.

protocol.md §D.1: SKLL64 answers with the link-local address, SKSREG with OK; a garbled byte
turns either into a line the parser cannot place.
"""

from __future__ import annotations

import asyncio

import pytest

from routeb.errors import RouteBTimeoutError
from routeb.radio.skstack_module import WiSunModule
from routeb.skstack import commands
from routeb.transport.memory import ByteEnd, byte_pipe

MAC = "0011223344556677"
LL64 = b"FE80:0000:0000:0000:0211:2233:4455:6677\r\n"


async def _answer(device: ByteEnd, replies: list[bytes]) -> list[bytes]:
    """Answer each command line with the next reply; return the commands seen."""
    seen: list[bytes] = []
    buffer = b""
    while replies:
        buffer += await device.read()
        while b"\r\n" in buffer and replies:
            line, buffer = buffer.split(b"\r\n", 1)
            seen.append(line)
            device.write(replies.pop(0))
    return seen


@pytest.mark.parametrize(
    ("command", "good", "wants_address"),
    [
        (commands.skll64(MAC), LL64, True),
        (commands.sksreg("S2", "21"), b"OK\r\n", False),
    ],
)
async def test_repeatable_command_is_sent_again_after_a_garbled_answer(
    command: commands.Command, good: bytes, wants_address: bool
) -> None:
    host, device = byte_pipe()
    module = WiSunModule(host)
    module.start()
    garbled = b"\x9cE80:00Z0\x01\r\n"
    peer = asyncio.ensure_future(_answer(device, [garbled, good]))
    try:
        result = await module.execute(command, timeout=0.3, wants_address=wants_address)
        seen = await peer
    finally:
        peer.cancel()
        await module.close()
    assert seen == [command.wire.rstrip(b"\r\n")] * 2
    assert module.stats.commands[command.name] == 2
    assert result.status is not None


async def test_a_command_that_starts_something_is_not_repeated() -> None:
    host, device = byte_pipe()
    module = WiSunModule(host)
    module.start()
    peer = asyncio.ensure_future(_answer(device, [b"O\x4b\x00\r\n", b"OK\r\n"]))
    try:
        with pytest.raises(RouteBTimeoutError, match="SKJOIN"):
            await module.execute(commands.skjoin("FE80::0211:2233:4455:6677"), timeout=0.3)
    finally:
        peer.cancel()
        await module.close()
    assert module.stats.commands["SKJOIN"] == 1


async def test_a_silent_module_is_not_asked_twice() -> None:
    host, _device = byte_pipe()
    module = WiSunModule(host)
    module.start()
    try:
        with pytest.raises(RouteBTimeoutError, match="nothing came back"):
            await module.execute(commands.skll64(MAC), timeout=0.2, wants_address=True)
    finally:
        await module.close()
    assert module.stats.commands["SKLL64"] == 1
