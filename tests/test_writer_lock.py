"""One recording daemon per database (issue 17 §5): the writer lock on ``<db>.lock``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.storage import AsyncStore, DatabaseInUseError, SqliteStore, acquire_writer_lock
from routeb.storage.writerlock import lock_path


def test_second_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "a.sqlite3"
    with acquire_writer_lock(db) as lock:
        assert lock.held
        assert stat.S_IMODE(lock_path(db).stat().st_mode) == 0o600
        with pytest.raises(DatabaseInUseError) as refused, acquire_writer_lock(db):
            pass
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message
        assert "since " in message
        assert "`" in message  # the command line, quoted
        assert "\n" not in message
    assert not lock.held
    # Released: the next one gets it although the file is still there.
    assert lock_path(db).exists()
    with acquire_writer_lock(db):
        pass


def test_a_lock_file_left_by_a_dead_process_is_not_a_lock(tmp_path: Path) -> None:
    db = tmp_path / "b.sqlite3"
    code = (
        "import os, sys; from routeb.storage import acquire_writer_lock\n"
        f"with acquire_writer_lock({str(db)!r}):\n    os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert "pid=" in lock_path(db).read_text()
    with acquire_writer_lock(db) as lock:
        assert f"pid={os.getpid()}" in lock.path.read_text()


def test_a_holder_that_wrote_nothing_yet(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    with acquire_writer_lock(db):
        lock_path(db).write_text("")
        refused = pytest.raises(DatabaseInUseError, match="has not written its details")
        with refused, acquire_writer_lock(db):
            pass


async def test_a_second_async_store_is_refused_and_readers_are_not(tmp_path: Path) -> None:
    db = tmp_path / "d.sqlite3"
    async with AsyncStore(db):
        second = AsyncStore(db)
        with pytest.raises(DatabaseInUseError):
            await second.open()
        await second.close()  # never opened: nothing to do
        with SqliteStore(db, read_only=True) as reader:  # db check, export, dashboard
            assert reader.meters() == []
    async with AsyncStore(db):  # released at close
        pass


def _count(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_two_routeb_run_on_one_database(tmp_path: Path) -> None:
    emulator = Emulator(EmulatorOptions(time_scale=0.02))
    ready = await emulator.start()
    db = tmp_path / "one.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    env |= {
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
        "ROUTEB_CONFIG": "/dev/null",
        "ROUTEB_STATE_DIR": str(tmp_path / "state"),
    }
    command = [sys.executable, "-m", "routeb", "run", "--device", ready["serial"],
               "--db", str(db), "--listen", "127.0.0.1:0"]  # fmt: skip
    first = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not db.exists() or _count(db, "instant") == 0:
            assert time.monotonic() < deadline, "routeb run recorded nothing"
            assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
            await asyncio.sleep(0.2)
        second = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 2, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert lines[0].startswith(f"routeb: --db: cannot open the database {db}: ")
        assert f"another routeb is recording into it (pid {first.pid}, `" in lines[0]
        assert "routeb run --device" in lines[0]
        assert "since " in lines[0]
        assert "Traceback" not in second.stderr
        # The first keeps recording.
        before = _count(db, "instant")
        deadline = time.monotonic() + 60
        while _count(db, "instant") <= before:
            assert time.monotonic() < deadline, "the first daemon stopped recording"
            assert first.poll() is None
            await asyncio.sleep(0.2)
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(first.communicate, timeout=30)
        await emulator.close()
    assert first.returncode == 0, err.decode()
