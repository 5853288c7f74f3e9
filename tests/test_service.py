"""Running under systemd: the notify protocol against a real datagram socket standing in for
systemd's NOTIFY_SOCKET, a watchdog fed only while healthy, and the shipped unit file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.service.notify import Notifier
from routeb.service.watchdog import Watchdog, store_probe
from routeb.storage import AsyncStore


class NotifySocket:
    """systemd's side of sd_notify: a datagram socket; records (arrival time, fields)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, dict[str, str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if line)
            self.messages.append((time.monotonic(), fields))

    def times(self, key: str) -> list[float]:
        return [at for at, fields in self.messages if key in fields]

    def values(self, key: str) -> list[str]:
        return [fields[key] for _, fields in self.messages if key in fields]

    def wait_for(self, key: str, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.times(key)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{key} × {count} not received: {self.messages}")
            time.sleep(0.02)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    server = NotifySocket(tmp_path / "notify.sock")
    try:
        yield server
    finally:
        server.close()


def test_notifier_speaks_the_protocol(notify: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "3000000"}
    notifier = Notifier(env)
    assert notifier.enabled
    assert notifier.watchdog_seconds == 3.0
    assert notifier.ready("recording\nmeter m1")
    assert notifier.watchdog()
    assert notifier.stopping()
    notify.wait_for("STOPPING")
    notifier.close()
    first = notify.messages[0][1]
    assert first == {"READY": "1", "STATUS": "recording meter m1", "MAINPID": str(os.getpid())}
    assert notify.values("WATCHDOG") == ["1"]
    # Outside systemd, or with a watchdog meant for another process: nothing happens.
    assert not Notifier({}).ready("x")
    assert Notifier({**env, "WATCHDOG_PID": "1"}).watchdog_seconds is None


def test_the_abstract_namespace(tmp_path: Path) -> None:
    name = f"routeb-test-{os.getpid()}-{time.monotonic_ns()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind("\0" + name)
        server.settimeout(5)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready("up")
        notifier.close()
        assert server.recv(4096).startswith(b"READY=1\n")


@pytest.mark.skipif(shutil.which("systemd-notify") is None, reason="no systemd-notify")
def test_the_socket_is_what_systemd_notify_talks_to(notify: NotifySocket) -> None:
    """The stand-in receives the real systemd-notify's datagrams as it receives ours."""
    subprocess.run(
        ["systemd-notify", "--no-block", "--ready", "--status=from systemd-notify"],
        env={**os.environ, "NOTIFY_SOCKET": str(notify.path)},
        check=True,
        timeout=10,
    )
    notify.wait_for("READY")
    assert notify.messages[0][1]["STATUS"] == "from systemd-notify"


async def test_a_blocked_event_loop_feeds_nothing(notify: NotifySocket) -> None:
    async def healthy() -> None:
        return None

    notifier = Notifier({"NOTIFY_SOCKET": str(notify.path)})
    watchdog = Watchdog(notifier, [("loop", healthy)], interval=0.4)  # feeds every 0.2 s
    task = asyncio.create_task(watchdog.run())
    await asyncio.sleep(0.7)
    fed_before = len(notify.times("WATCHDOG"))
    blocked_at = time.monotonic()
    time.sleep(1.5)  # the daemon wedged: its event loop does not turn
    unblocked_at = time.monotonic()
    await asyncio.sleep(0.7)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    notifier.close()
    pings = notify.times("WATCHDOG")
    assert fed_before >= 2
    # Nothing arrived while blocked (after what was already in flight), then feeding resumed.
    assert not [t for t in pings if blocked_at + 0.05 < t < unblocked_at - 0.01]
    assert len([t for t in pings if t > unblocked_at]) >= 2


async def test_a_database_that_takes_no_writes_feeds_nothing(
    notify: NotifySocket, tmp_path: Path
) -> None:
    db = tmp_path / "wedged.sqlite3"
    store = AsyncStore(db, busy_timeout=5.0)
    await store.open()
    notifier = Notifier({"NOTIFY_SOCKET": str(notify.path)})
    watchdog = Watchdog(notifier, [("database", store_probe(store))], interval=0.6)
    task = asyncio.create_task(watchdog.run())
    try:
        await asyncio.sleep(1.0)
        assert watchdog.fed >= 2
        other = sqlite3.connect(db, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another process holds the database
        locked_at = time.monotonic()
        await asyncio.sleep(2.0)
        assert watchdog.failing is not None
        assert watchdog.failing.startswith("database: no answer within")
        stopped = [t for t in notify.times("WATCHDOG") if t > locked_at + 0.5]
        assert stopped == []
        assert any(v.startswith("unhealthy: database") for v in notify.values("STATUS"))
        other.execute("ROLLBACK")
        other.close()
        released_at = time.monotonic()
        await asyncio.sleep(8.0)  # the probe stuck behind the lock finishes; feeding resumes
        assert [t for t in notify.times("WATCHDOG") if t > released_at]
        assert watchdog.failing is None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        notifier.close()
        await store.close()


async def test_routeb_run_under_systemd_ready_watchdog_wedge_and_stop(
    notify: NotifySocket, tmp_path: Path
) -> None:
    """The daemon itself: READY once listening, fed while healthy, starved while its database
    is locked by another process, fed again after, STOPPING at SIGTERM."""
    emulator = Emulator(EmulatorOptions(time_scale=0.02))
    ready = await emulator.start()
    db = tmp_path / "run.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    env |= {
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
        "ROUTEB_CONFIG": "/dev/null",
        "ROUTEB_STATE_DIR": str(tmp_path / "state"),
        "NOTIFY_SOCKET": str(notify.path),
        "WATCHDOG_USEC": "1000000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "routeb", "run", "--device", ready["serial"], "--db", str(db),
         "--listen", "127.0.0.1:0"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        await asyncio.to_thread(notify.wait_for, "READY")
        assert "recording meter" in notify.values("STATUS")[0]
        await asyncio.to_thread(notify.wait_for, "WATCHDOG", 3)
        other = sqlite3.connect(db, isolation_level=None, timeout=10)
        other.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        await asyncio.sleep(4.0)
        starved = [t for t in notify.times("WATCHDOG") if t > locked_at + 1.0]
        other.execute("ROLLBACK")
        other.close()
        released_at = time.monotonic()
        assert starved == [], "fed while the database took no writes"
        assert any("unhealthy: database" in v for v in notify.values("STATUS"))
        await asyncio.sleep(7.0)
        assert [t for t in notify.times("WATCHDOG") if t > released_at], "not fed again"
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(process.communicate, timeout=30)
        await emulator.close()
    log = err.decode()
    assert process.returncode == 0, log
    assert "STOPPING" in {k for _, fields in notify.messages for k in fields}
    assert "unhealthy, not feeding the watchdog: database" in log
    assert "Traceback" not in log
    assert json.dumps(DEFAULT_PASSWORD) not in log


def test_the_unit_file(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "routeb", "service", "unit", "--exec", "/opt/routeb/bin/routeb"],
        capture_output=True,
        text=True,
        check=True,
    )
    unit = result.stdout
    for line in (
        "Type=notify",
        "WatchdogSec=60s",
        "ExecStart=/opt/routeb/bin/routeb run --config /etc/routeb/config.toml",
        "User=routeb",
        "SupplementaryGroups=dialout",
        "StateDirectory=routeb",
        "DeviceAllow=char-ttyUSB rw",
        "PrivateDevices=no",
        "ProtectSystem=strict",
        "RestartPreventExitStatus=2 3",
    ):
        assert line in unit.splitlines(), line
    if shutil.which("systemd-analyze") is None:
        return
    path = tmp_path / "routeb.service"
    path.write_text(unit.replace("/opt/routeb/bin/routeb", sys.executable + " -m routeb"))
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verify.returncode == 0, verify.stderr
    assert "routeb.service" not in verify.stderr, verify.stderr
