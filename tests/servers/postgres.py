"""A real PostgreSQL on a free loopback port, from a temporary data directory.

initdb and postgres refuse to run as root, so as root they run as an unprivileged account
(``routeb-test``, created if missing, else ``nobody``) through ``runuser``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.servers.mosquitto import free_port

_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for directory in _DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    pytest.fail(f"{name} is not installed (apt-get install postgresql; .ci/run does)")


def _account() -> str | None:
    """The user to run the server as (None = ourselves, when not root)."""
    if os.geteuid() != 0:
        return None
    for name in ("routeb-test", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            if name == "routeb-test":
                return name
    useradd = shutil.which("useradd")
    if useradd:
        result = subprocess.run(
            [
                useradd,
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "routeb-test",
            ],
            capture_output=True,
            check=False,
        )
        if result.returncode == 0:
            return "routeb-test"
    return "nobody"


class Postgres:
    """``start()``/``stop()`` a postgres server; ``dsn(db)``, ``create_database()``."""

    def __init__(self) -> None:
        self.user = _account()
        # Outside pytest's tmp_path: its parents are not searchable by the server's account.
        self.directory = Path(tempfile.mkdtemp(prefix="routeb-pg-"))
        os.chmod(self.directory, 0o755)
        self.data = self.directory / "data"
        self.socket_dir = self.directory / "run"
        self.socket_dir.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)
        self.port = free_port()
        self.log = self.directory / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._run([_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--no-sync", "--locale=C"])  # fmt: skip

    def _command(self, argv: list[str]) -> list[str]:
        if self.user is None:
            return argv
        return ["runuser", "-u", self.user, "--", *argv]

    def _run(self, argv: list[str]) -> None:
        result = subprocess.run(self._command(argv), capture_output=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"{argv[0]} failed: {result.stderr.decode(errors='replace')[-2000:]}")

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={database}"

    def start(self) -> None:
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            self._command(
                [
                    _binary("postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.socket_dir}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=50",
                    "-c",
                    "shared_buffers=128MB",
                ]
            ),
            stdout=subprocess.DEVNULL,
            # A file, never an undrained pipe: a full pipe blocks every backend that logs
            # (e.g. an ERROR per duplicate-key COPY that the ingest writer falls back from).
            stderr=log,
        )
        log.close()  # the server holds its own descriptor
        import psycopg  # noqa: PLC0415

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=1):
                    return
            except psycopg.OperationalError:
                if self.process.poll() is not None:
                    err = self.log.read_text(errors="replace")
                    pytest.fail(f"postgres exited: {err[-2000:]}")
                time.sleep(0.1)
        pytest.fail("postgres did not start")

    def create_database(self) -> str:
        """A fresh, empty database; its DSN."""
        import psycopg  # noqa: PLC0415

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}".encode())
        return self.dsn(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # smart shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
        shutil.rmtree(self.directory, ignore_errors=True)
