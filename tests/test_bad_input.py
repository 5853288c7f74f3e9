"""Every mistake a user makes is one line naming what to fix, and a documented exit code.

Each row runs a real ``routeb`` process (as a user would, stdin closed) with one bad input —
a bad config value, a busy port, a bad address, a missing file, a wrong dialect, an absurd
date — and asserts: no traceback on stdout or stderr, the exit status of the row (and one of
README's documented codes), and the named thing in the message. Every sub-command has rows.
The API's routes get absurd dates in tests/test_web_bad_dates.py.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from routeb.cli import _COMMANDS
from routeb.cli._common import EXIT_CODES
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions

README = Path(__file__).resolve().parent.parent / "README.md"
BUSY = "{busy}"  # replaced by a port another socket is listening on
TMP = "{tmp}"
DEVICE = "{device}"


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    status: int
    says: tuple[str, ...]  # what the one line must name (all of them)
    config: str | None = None  # written to {tmp}/config.toml and passed as --config
    env: dict[str, str] = field(default_factory=dict)
    credentials: bool = True  # ROUTEB_ID / ROUTEB_PASSWORD of the emulated meter


CASES = [
    # routeb run: ports, addresses, database paths, config values
    Case("run-busy-port", ("run", "--device", DEVICE, "--listen", f"127.0.0.1:{BUSY}",
         "--db", f"{TMP}/r.sqlite3"), 8, ("--listen", f"127.0.0.1:{BUSY}", "already in use")),
    Case("run-port-range", ("run", "--device", DEVICE, "--listen", "127.0.0.1:99999"), 2,
         ("--listen", "99999", "out of range")),
    Case("run-listen-no-port", ("run", "--device", DEVICE, "--listen", "localhost"), 2,
         ("--listen", "HOST:PORT")),
    Case("run-config-listen", ("run", "--device", DEVICE), 2,
         ("config.toml:3: http.listen", "HOST:PORT"), config='[http]\nlisten = "localhost"\n'),
    Case("run-db-dir-missing", ("run", "--device", DEVICE, "--db", f"{TMP}/no/dir/x.sqlite3"),
         2, ("--db", f"{TMP}/no/dir", "does not exist")),
    Case("run-db-is-dir", ("run", "--device", DEVICE, "--db", TMP), 2, ("--db", "directory")),
    Case("run-weak-token", ("run", "--device", DEVICE), 2, ("http.token", "easy to guess"),
         config='[http]\ntoken = "aaaaaaaaaaaaaaaa"\n'),
    Case("run-public-no-token", ("run", "--device", DEVICE, "--listen", "0.0.0.0:0",
         "--db", f"{TMP}/p.sqlite3"), 2, ("http.listen", "http.token")),
    Case("run-typo", ("run", "--device", DEVICE), 2,
         ("config.toml:3: meter.pasword", "did you mean password"),
         config='[meter]\npasword = "x"\n'),
    Case("run-tariff-missing", ("run", "--device", DEVICE), 2, ("tariff.file", "no tariff"),
         config='[tariff]\nfile = "/nonexistent/plan.toml"\n'),
    Case("run-bad-retention", ("run", "--device", DEVICE), 2,
         ("config.toml:3: storage.retention_days",), config="[storage]\nretention_days = 0\n"),
    Case("run-not-toml", ("run", "--device", DEVICE), 2, ("config.toml", "not valid TOML"),
         config="[meter\n"),
    Case("run-env-id", ("run", "--device", DEVICE), 2, ("ROUTEB_ID", "32"),
         env={"ROUTEB_ID": "short"}),
    # routeb emulate
    Case("emulate-busy-tcp", ("emulate", "--tcp", BUSY), 8, ("--tcp", "already in use")),
    Case("emulate-tcp-range", ("emulate", "--tcp", "70000"), 2, ("--tcp", "out of range")),
    Case("emulate-drop-2", ("emulate", "--fault", "drop=2"), 2, ("--fault drop", "0..1")),
    Case("emulate-unknown-fault", ("emulate", "--fault", "melt"), 2, ("--fault melt", "known")),
    Case("emulate-bad-id", ("emulate", "--id", "short"), 2, ("--id", "32")),
    Case("emulate-bad-dialect", ("emulate", "--dialect", "bp99"), 2, ("--dialect",)),
    # reading the meter: wrong dialect, no meter, missing device, bad property
    Case("read-wrong-dialect", ("read", "--device", DEVICE, "--dialect", "bp35c2"), 5,
         ("SKSCAN", "ER05", "--dialect", "auto")),
    Case("read-no-meter", ("read", "--device", DEVICE), 4, ("pairing ID", "B-route ID"),
         config="[meter]\nscan_durations = [2]\n", env={"ROUTEB_ID": "F" * 32}),
    Case("read-missing-device", ("read", "--device", f"{TMP}/ttyNOPE"), 5, ("ttyNOPE",)),
    Case("read-bad-property", ("read", "--device", DEVICE, "bogus"), 2, ("bogus",)),
    Case("read-no-credentials", ("read", "--device", DEVICE), 2, ("meter.id", "ROUTEB_ID"),
         credentials=False),
    Case("read-config-missing", ("read", "--config", f"{TMP}/nope.toml"), 2,
         ("nope.toml", "not found", "routeb init")),
    Case("scan-bad-duration", ("scan", "--device", DEVICE, "--duration", "99"), 2,
         ("--duration", "0..14")),
    Case("scan-no-meter", ("scan", "--device", DEVICE, "--duration", "2"), 4,
         ("pairing ID", "B-route ID"), env={"ROUTEB_ID": "F" * 32}),
    Case("watch-missing-device", ("watch", "--device", f"{TMP}/ttyNOPE"), 5, ("ttyNOPE",)),
    Case("bridge-missing-device", ("bridge", "--device", f"{TMP}/ttyNOPE"), 5, ("ttyNOPE",)),
    Case("bridge-bad-allow", ("bridge", "--device", DEVICE, "--allow-from", "nope"), 2,
         ("--allow-from",)),
    Case("doctor-config-missing", ("doctor", "--config", f"{TMP}/nope.toml"), 1,
         ("[FAIL] configuration", "nope.toml")),
    # recorded data: missing files, absurd dates, unknown meters
    Case("export-no-db", ("export", "--db", f"{TMP}/none.sqlite3", "--from", "2026-01-01",
         "--to", "2026-01-02"), 2, ("--db", "no database")),
    Case("export-absurd-date", ("export", "--db", "{db}", "--from", "0001-01-01", "--to",
         "9999-12-31"), 2, ("0001-01-01", "outside")),
    Case("export-reversed", ("export", "--db", "{db}", "--from", "2026-02-01", "--to",
         "2026-01-01"), 2, ("--to", "before")),
    Case("export-no-meter", ("export", "--db", "{db}", "--from", "2026-01-01", "--to",
         "2026-01-02", "--meter", "nope"), 2, ("--meter", "no meter 'nope'")),
    Case("export-output-dir", ("export", "--db", "{db}", "--from", "2026-01-01", "--to",
         "2026-01-02", "-o", f"{TMP}/no/dir/out.csv"), 2, ("out.csv",)),
    Case("db-check-no-db", ("db", "check", "--db", f"{TMP}/none.sqlite3"), 2, ("no database",)),
    Case("db-check-not-a-db", ("db", "check", "--db", "{notdb}"), 1, ("not-a-db",)),
    Case("db-backup-dest-dir", ("db", "backup", "--db", "{db}", f"{TMP}/no/dir/b.sqlite3"), 2,
         ("DEST", "does not exist")),
    Case("db-backup-exists", ("db", "backup", "--db", "{db}", "{db}"), 2, ("DEST", "exists")),
    Case("decode-not-hex", ("decode", "zz"), 2, ("zz", "hex")),
    Case("init-exists", ("init", "--config", "{db}"), 2, ("already exists", "--force")),
    Case("init-no-answer", ("init", "--config", f"{TMP}/new.toml"), 2, ("no answer",)),
    # the LAN and the fleet
    Case("discover-timeout", ("discover", "--timeout", "-1"), 2, ("--timeout",)),
    Case("ingest-no-db", ("ingest",), 2, ("--db", "PostgreSQL")),
    Case("ingest-bad-listen", ("ingest", "--db", "postgresql://x", "--listen", "localhost"), 2,
         ("--listen", "HOST:PORT")),
    Case("ingest-bad-mqtt", ("ingest", "--db", "postgresql://x", "--mqtt", "http://x"), 2,
         ("--mqtt",)),
    Case("ingest-db-down", ("ingest", "--db", "postgresql://routeb@127.0.0.1:1/x",
         "--migrate"), 2, ("--db", "PostgreSQL")),
    Case("fleet-db-down", ("fleet", "--db", "postgresql://routeb@127.0.0.1:1/x", "latest"), 2,
         ("--db", "PostgreSQL")),
    Case("fleet-absurd-date", ("fleet", "--db", "postgresql://x", "totals", "--from",
         "0001-01-01"), 2, ("0001-01-01", "outside")),
    Case("service-watchdog", ("service", "unit", "--watchdog", "0"), 2, ("--watchdog",)),
    Case("ha-not-configured", ("ha", "status"), 2, ("homeassistant", "url and token")),
    Case("ha-absurd-date", ("ha", "import", "--db", "{db}", "--from", "0001-01-01"), 2,
         ("0001-01-01", "outside"),
         config='[homeassistant]\nurl = "http://127.0.0.1:1"\ntoken = "t"\n'),
]  # fmt: skip


def test_every_command_has_bad_input_rows() -> None:
    covered = {case.argv[0] for case in CASES}
    assert covered == set(_COMMANDS)


def test_every_exit_code_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in EXIT_CODES:
        assert re.search(rf"^\| `{code}` \|", table, re.MULTILINE), f"exit code {code}"
    assert {case.status for case in CASES} <= set(EXIT_CODES)


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
async def device() -> AsyncIterator[str]:
    emulator = Emulator(EmulatorOptions(time_scale=0.01))
    ready = await emulator.start()
    try:
        yield ready["serial"]
    finally:
        await emulator.close()


def _database(tmp_path: Path) -> Path:
    from routeb.storage import SqliteStore  # noqa: PLC0415

    path = tmp_path / "recorded.sqlite3"
    SqliteStore(path).close()
    return path


async def _run(argv: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "routeb",
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return process.returncode or 0, out.decode() + err.decode()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_one_clear_line_and_a_documented_status(
    case: Case, tmp_path: Path, busy_port: int, device: str
) -> None:
    db = _database(tmp_path)
    notdb = tmp_path / "not-a-db.sqlite3"
    notdb.write_bytes(b"this is not SQLite" * 100)
    values = {
        "busy": str(busy_port),
        "tmp": str(tmp_path),
        "device": device,
        "db": str(db),
        "notdb": str(notdb),
    }
    argv = [part.format(**values) for part in case.argv]
    config = tmp_path / "config.toml"
    config.write_text("# a user's config\n" + (case.config or ""), encoding="utf-8")
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROUTEB_")}
    env["ROUTEB_CONFIG"] = str(config)  # as if it were the default file
    env["ROUTEB_STATE_DIR"] = str(tmp_path / "state")
    if case.credentials:
        env |= {"ROUTEB_ID": DEFAULT_ID, "ROUTEB_PASSWORD": DEFAULT_PASSWORD}
    env |= {k: v.format(**values) for k, v in case.env.items()}
    status, output = await _run(argv, env)
    shown = " ".join(argv)
    assert "Traceback" not in output, f"{shown}\n{output}"
    assert status == case.status, f"{shown}: exit {status}, not {case.status}\n{output}"
    for needle in (n.format(**values) for n in case.says):
        assert needle in output, f"{shown}: {needle!r} not in\n{output}"
    if case.status in {2, 3, 4, 5, 6, 7, 8}:
        errors = [line for line in output.splitlines() if line.startswith("routeb")]
        assert len(errors) == 1, f"{shown}: one line expected\n{output}"
    assert DEFAULT_PASSWORD not in output or case.argv[0] == "emulate"
    assert not (tmp_path / "no").exists()  # nothing created where it was not asked for
