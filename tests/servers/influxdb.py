"""A real InfluxDB 1.x (Debian's ``influxdb``) on a free loopback port, restartable on it.

Also VictoriaMetrics (Debian's ``victoria-metrics``), which takes the same line protocol on
``/write`` and ``/api/v2/write``: the 2.x/3.x endpoint is tested against it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.servers.mosquitto import free_port

INFLUXD = shutil.which("influxd") or "/usr/bin/influxd"
VICTORIA = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"


def _wait_port(process: subprocess.Popen[bytes], port: int, what: str, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"{what} exited: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
    pytest.fail(f"{what} did not start listening")


class Influx:
    """``start()``/``stop()`` influxd 1.x with its data in ``directory``; ``url`` for routeb."""

    def __init__(self, directory: Path) -> None:
        if not Path(INFLUXD).exists():
            pytest.fail("influxdb is not installed (apt-get install influxdb; make servers does)")
        self.port = free_port()
        self.directory = directory
        self.config = directory / "influxdb.conf"
        self.log = directory / "influxd.log"
        self.config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{free_port()}"
[meta]
  dir = "{directory / "meta"}"
[data]
  dir = "{directory / "data"}"
  wal-dir = "{directory / "wal"}"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [INFLUXD, "-config", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        _wait_port(self.process, self.port, "influxd", self.log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None


class Victoria:
    """VictoriaMetrics single-node on loopback; ``export()`` reads every series back."""

    def __init__(self, directory: Path) -> None:
        if not Path(VICTORIA).exists():
            pytest.fail("victoria-metrics is not installed (apt-get install victoria-metrics)")
        self.port = free_port()
        self.directory = directory
        self.log = directory / "victoria.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    VICTORIA,
                    f"-storageDataPath={self.directory / 'data'}",
                    f"-httpListenAddr=127.0.0.1:{self.port}",
                    "-search.latencyOffset=0s",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait_port(self.process, self.port, "victoria-metrics", self.log)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None

    def flush_url(self) -> str:
        return f"{self.url}/internal/force_flush"

    def export_url(self) -> str:
        return f"{self.url}/api/v1/export?" + "match[]=" + "{__name__=~%22routeb_.*%22}"

    @staticmethod
    def parse(text: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
