"""One SKSTACK IP module on a byte stream: commands in, typed output and events out.

``WiSunModule`` runs a reader task that feeds every byte to the sans-IO
:class:`~routeb.skstack.parser.OutputParser`. Commands run one at a time (the module has a
single command interpreter, protocol.md §D.0): each waits for its ``OK`` / ``FAIL ERxx`` (or,
for SKLL64, the bare address line, §D.1). Asynchronous output — EVENT, EPANDESC, ERXUDP — goes
to every subscriber. Lines are logged at DEBUG with the B-route ID and password masked and,
unless asked otherwise, addresses redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, TypeVar

from routeb._redact import redact_identifiers
from routeb.errors import DeviceDisconnectedError, ModuleCommandError, RouteBTimeoutError
from routeb.serialio.port import ByteStream
from routeb.skstack.commands import Command
from routeb.skstack.events import (
    EchoLine,
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
)
from routeb.skstack.parser import OutputParser

__all__ = ["AsyncOutput", "CommandResult", "ModuleStats", "Receiver", "WiSunModule"]

_LOG = logging.getLogger(__name__)

# Output that is not an answer to the command in flight (§D.2, §D.4).
AsyncOutput = ModuleEvent | PanDescriptor | UdpReceived
# A plain command answers within milliseconds; SKSCAN/SKJOIN answer OK at once and report later
# through events (§D.1), so one generous bound fits every command.
DEFAULT_COMMAND_TIMEOUT: Final = 5.0
_SUBSCRIBER_BACKLOG: Final = 1024
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CommandResult:
    """The status line and the informational lines (EVER, EINFO, ESREG, …) before it."""

    status: OkLine | LinkLocalAddress
    lines: tuple[ModuleOutput, ...]

    def first(self, kind: type[_T]) -> _T | None:
        """The first line of ``kind`` (e.g. InfoLine), or None."""
        for line in self.lines:
            if isinstance(line, kind):
                return line
        return None


@dataclass(slots=True)
class ModuleStats:
    """Counters for metrics and `routeb doctor`."""

    commands: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    events: Counter[int] = field(default_factory=Counter)
    unknown_lines: int = 0
    echo_lines: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


class _Subscription:
    def __init__(self, owner: WiSunModule) -> None:
        self.queue: asyncio.Queue[AsyncOutput | None] = asyncio.Queue(_SUBSCRIBER_BACKLOG)
        self._owner = owner

    def put(self, item: AsyncOutput | None) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            _LOG.warning("module output backlog full; dropping %s", type(item).__name__)

    def close(self) -> None:
        self._owner._subscribers.discard(self)


class WiSunModule:
    """A SKSTACK IP module reached through ``stream`` (a serial port, pty, TCP socket…)."""

    def __init__(
        self,
        stream: ByteStream,
        *,
        show_identifiers: bool = False,
        on_echo: Callable[[EchoLine], None] | None = None,
    ) -> None:
        self._stream = stream
        self._parser = OutputParser()
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[CommandResult] | None = None
        self._pending_lines: list[ModuleOutput] = []
        self._pending_wants_address = False
        self._subscribers: set[_Subscription] = set()
        self._reader: asyncio.Task[None] | None = None
        self._lost: BaseException | None = None
        self._show_identifiers = show_identifiers
        self._on_echo = on_echo
        self.stats = ModuleStats()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start reading the module's output."""
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(
                self._read_loop(), name="routeb-module-reader"
            )

    @property
    def lost(self) -> bool:
        """True once the stream has failed or closed."""
        return self._lost is not None

    async def close(self) -> None:
        """Stop reading and close the stream."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        await self._stream.close()
        self._fail_all(DeviceDisconnectedError("the module was closed"))

    # --- output ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Receiver]:
        """Receive every asynchronous output (EVENT, EPANDESC, ERXUDP) while in the block."""
        sub = _Subscription(self)
        self._subscribers.add(sub)
        try:
            yield Receiver(sub)
        finally:
            sub.close()

    def _log(self, direction: str, text: str) -> None:
        if _LOG.isEnabledFor(logging.DEBUG):
            shown = text if self._show_identifiers else redact_identifiers(text)
            _LOG.debug("%s %s", direction, shown)

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self._stream.read()
                if not data:
                    raise DeviceDisconnectedError("the module closed the connection")
                self.stats.bytes_in += len(data)
                for item in self._parser.feed(data):
                    self._dispatch(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            lost = (
                exc
                if isinstance(exc, DeviceDisconnectedError)
                else DeviceDisconnectedError(f"the module stopped answering: {exc}")
            )
            self._fail_all(lost)

    def _fail_all(self, exc: BaseException) -> None:
        if self._lost is None:
            self._lost = exc
            _LOG.debug("module stream lost: %s", exc)
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(exc)
        for sub in list(self._subscribers):
            sub.put(None)

    def _dispatch(self, item: ModuleOutput) -> None:
        if isinstance(item, ModuleEvent | PanDescriptor | UdpReceived):
            if isinstance(item, ModuleEvent):
                self.stats.events[item.number] += 1
                self._log("<", f"EVENT {item.number:02X} {item.address} {item.param}")
            elif isinstance(item, UdpReceived):
                self._log("<", f"ERXUDP {item.sender} {item.remote_port:04X} {item.data.hex()}")
            else:
                self._log(
                    "<",
                    f"EPANDESC Channel:{item.channel:02X} Pan ID:{item.pan_id:04X} "
                    f"Addr:{item.address} LQI:{item.lqi:02X} PairID:{item.pair_id}",
                )
            for sub in list(self._subscribers):
                sub.put(item)
            return
        if isinstance(item, EchoLine):
            self.stats.echo_lines += 1
            self._log("<", f"echo {item.text}")
            if self._on_echo is not None:
                self._on_echo(item)
            return
        if isinstance(item, UnknownLine):
            self.stats.unknown_lines += 1
            self._log("<", f"unknown line {item.raw[:80]!r}")
            return
        self._log("<", repr(item))
        pending = self._pending
        if pending is None or pending.done():
            _LOG.debug("module output with no command waiting: %r", item)
            return
        wants_address = self._pending_wants_address
        if isinstance(item, LinkLocalAddress if wants_address else OkLine):
            pending.set_result(CommandResult(item, tuple(self._pending_lines)))
        elif isinstance(item, FailLine):
            pending.set_exception(_FailReceived(item))
        elif isinstance(item, VersionLine | InfoLine | RegisterValue | LinkLocalAddress | OkLine):
            self._pending_lines.append(item)

    # --- commands ----------------------------------------------------------------------------

    async def execute(
        self,
        command: Command,
        *,
        timeout: float = DEFAULT_COMMAND_TIMEOUT,
        wants_address: bool = False,
    ) -> CommandResult:
        """Send ``command`` and wait for its status line; FAIL ERxx → ModuleCommandError."""
        async with self._lock:
            if self._lost is not None:
                raise DeviceDisconnectedError("the module is not connected") from self._lost
            self._pending_wants_address = wants_address
            # A line corrupted on the UART can eat the status line: when the module sent
            # something meanwhile, a repeatable command is asked for once more.
            again = command.repeatable
            try:
                while True:
                    heard = self.stats.bytes_in
                    try:
                        return await self._attempt(command, timeout)
                    except TimeoutError:
                        if not again or self.stats.bytes_in == heard:
                            raise
                        again = False
                        _LOG.info("no status line for %s; sending it again", command.name)
            except _FailReceived as fail:
                self.stats.failures[command.name] += 1
                raise ModuleCommandError(command.name, fail.line.code, fail.line.meaning) from None
            except TimeoutError:
                # A J11 module ignores SKSTACK text silently (j11.md §13): say so when the
                # port never gave a byte back.
                hint = (
                    "; nothing came back: a J11 module (BP35C*-J11, RS-WSUHA-J11) needs "
                    "--dialect j11 (docs/j11.md)"
                    if self.stats.bytes_in == 0
                    else ""
                )
                raise RouteBTimeoutError(
                    f"the module did not answer {command.name} within {timeout:g} s{hint}"
                ) from None
            except OSError as exc:
                lost = DeviceDisconnectedError(f"writing to the module failed: {exc}")
                self._fail_all(lost)
                raise lost from exc
            finally:
                self._pending = None

    async def _attempt(self, command: Command, timeout: float) -> CommandResult:
        self._pending = asyncio.get_running_loop().create_future()
        self._pending_lines = []
        self.stats.commands[command.name] += 1
        self._log(">", command.log_text)
        self._stream.write(command.wire)
        self.stats.bytes_out += len(command.wire)
        async with asyncio.timeout(timeout):
            return await self._pending


class _FailReceived(Exception):
    def __init__(self, line: FailLine) -> None:
        super().__init__(f"ER{line.code:02d}")
        self.line = line


class Receiver:
    """Async iteration over one subscription; ends with DeviceDisconnectedError."""

    def __init__(self, sub: _Subscription) -> None:
        self._sub = sub

    async def get(self, timeout: float | None = None) -> AsyncOutput:
        """The next asynchronous output; RouteBTimeoutError after ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                item = await self._sub.queue.get()
        except TimeoutError:
            raise RouteBTimeoutError("no module event in time") from None
        if item is None:
            raise DeviceDisconnectedError("the module is gone")
        return item

    def __aiter__(self) -> AsyncIterator[AsyncOutput]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AsyncOutput]:
        while True:
            yield await self.get()
