"""`routeb db backup`: a consistent, checked, private copy while `routeb run` records and
another writer commits as fast as it can (SQLite's online backup API, one step)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "routeb", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _count(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


async def test_backup_while_run_records(tmp_path: Path) -> None:
    emulator = Emulator(EmulatorOptions(time_scale=0.02))
    ready = await emulator.start()
    db = tmp_path / "live.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    env |= {
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
        "ROUTEB_CONFIG": "/dev/null",
        "ROUTEB_STATE_DIR": str(tmp_path / "state"),
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "routeb", "run", "--device", ready["serial"], "--db", str(db),
         "--listen", "127.0.0.1:0"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    stop = threading.Event()
    written = [0]

    def hammer() -> None:
        """A second writer, committing one row at a time for the whole backup."""
        with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS stress (i INTEGER)")
            while not stop.is_set():
                conn.execute("INSERT INTO stress VALUES (?)", (written[0],))
                written[0] += 1

    try:
        deadline = time.monotonic() + 60
        while not db.exists() or _count(db, "instant") == 0:
            assert time.monotonic() < deadline, "routeb run recorded nothing"
            assert daemon.poll() is None, daemon.stderr.read().decode() if daemon.stderr else ""
            await asyncio.sleep(0.2)
        writer = threading.Thread(target=hammer)
        writer.start()
        await asyncio.sleep(0.3)
        seen = -1
        for number in range(3):
            copy = tmp_path / f"copy-{number}.sqlite3"
            result = await asyncio.to_thread(_cli, "db", "backup", "--db", str(db), str(copy),
                                             env=env)  # fmt: skip
            assert result.returncode == 0, result.stderr
            assert f"routeb db backup: {copy}" in result.stdout
            assert stat.S_IMODE(copy.stat().st_mode) == 0o600
            checked = await asyncio.to_thread(_cli, "db", "check", "--db", str(copy), env=env)
            assert checked.returncode == 0, checked.stdout + checked.stderr
            rows = _count(copy, "stress")
            assert rows >= seen
            seen = rows
            assert _count(copy, "instant") >= 1
        stop.set()
        writer.join(10)
        assert 0 < seen < written[0], "the copies are snapshots taken while writing went on"
        # A directory as DEST: a dated file inside it.
        folder = tmp_path / "backups"
        folder.mkdir()
        result = await asyncio.to_thread(_cli, "db", "backup", "--db", str(db), str(folder),
                                         env=env)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert [p.name.startswith("routeb-") for p in folder.iterdir()] == [True]
    finally:
        stop.set()
        daemon.send_signal(signal.SIGTERM)
        _, err = await asyncio.to_thread(daemon.communicate, timeout=30)
        await emulator.close()
    assert daemon.returncode == 0, err.decode()
    assert not list(tmp_path.glob(".routeb-backup-*"))
