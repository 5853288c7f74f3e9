"""`make demo`: the emulated meter on a pty, `routeb run` recording it, the dashboard URL.

Everything lives in a temporary directory (config, scan cache, database) that is removed on
exit: the user's real configuration is never read or written. The emulator runs its radio
20× faster than real timing so the start-up and the 99-day backfill finish within a minute;
the meter's clock runs at real speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Final

__all__ = ["main"]

DEMO_ID: Final = "00112233445566778899AABBCCDDEEFF"  # the emulator's documented defaults
DEMO_PASSWORD: Final = "0123456789AB"  # noqa: S105 - the emulator's documented default
TIME_SCALE: Final = 0.05
_PREFERRED_PORT: Final = 8610


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tariff() -> Path | None:
    here = Path(__file__).resolve()
    for base in (here.parent / "tariff" / "examples", here.parents[2] / "examples" / "tariffs"):
        candidate = base / "standard-tiered.toml"
        if candidate.exists():
            return candidate
    return None


def _config(directory: Path, device: str, port: int) -> Path:
    tariff = _tariff()
    text = f"""# routeb demo configuration (temporary; removed when the demo stops)
[meter]
id = "{DEMO_ID}"
password = "{DEMO_PASSWORD}"
device = "{device}"
state_dir = "{directory / "state"}"

[polling]
instantaneous_interval = 10
min_gap = 0.1
timer1 = 5
timer2 = 10

[storage]
db = "{directory / "routeb.sqlite3"}"

[http]
listen = "127.0.0.1:{port}"
"""
    if tariff is not None:
        text += f'\n[tariff]\nfile = "{tariff}"\n'
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            body: bytes = response.read()
            return body.decode("utf-8")
    except (urllib.error.URLError, OSError):
        return None


def _metric(text: str, name: str) -> str | None:
    for line in text.splitlines():
        if line.startswith(name):
            return line.rsplit(" ", 1)[1]
    return None


def main() -> int:
    directory = Path(tempfile.mkdtemp(prefix="routeb-demo-"))
    children: list[subprocess.Popen[bytes]] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in [k for k in env if k.startswith("ROUTEB_")]:
        del env[key]  # never let the user's real settings leak into the demo
    try:
        print("routeb demo: starting the emulated Wi-SUN module and smart meter…", flush=True)
        emulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "routeb",
                "emulate",
                "--time-scale",
                str(TIME_SCALE),
                "--link",
                str(directory / "tty"),
            ],
            stdout=subprocess.PIPE,
            env=env,
        )
        children.append(emulator)
        assert emulator.stdout is not None
        ready = json.loads(emulator.stdout.readline() or b"{}")
        if "serial" not in ready:
            print("routeb demo: the emulator did not start", file=sys.stderr)
            return 1
        port = _free_port(_PREFERRED_PORT)
        config = _config(directory, ready["serial"], port)
        print(f"routeb demo: emulator ready on {ready['serial']} ({ready['dialect']})", flush=True)
        run = subprocess.Popen(
            [sys.executable, "-m", "routeb", "run", "--config", str(config), "--log-level", "info"],
            env=env,
            stderr=open(directory / "run.log", "wb"),  # noqa: SIM115 - lives as long as the child
        )
        children.append(run)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            health = _get(f"{base}/healthz")
            if health and json.loads(health).get("meter_online"):
                break
            if run.poll() is not None:
                print((directory / "run.log").read_text(errors="replace"), file=sys.stderr)
                return 1
            time.sleep(0.5)
        print(
            f"\n  Dashboard:  {base}/\n  Metrics:    {base}/metrics\n"
            f"  Database:   {directory / 'routeb.sqlite3'} (temporary)\n"
            "\n  Ctrl-C stops the demo and removes everything it created.\n",
            flush=True,
        )
        while run.poll() is None:
            metrics = _get(f"{base}/metrics") or ""
            power = _metric(metrics, "routeb_power_watts")
            energy = _metric(metrics, 'routeb_energy_kilowatt_hours_total{direction="import"')
            missing = _metric(metrics, "routeb_backfill_missing_slots")
            print(
                f"  power {power or '—'} W   energy {energy or '—'} kWh   "
                f"backfill: {missing or '?'} half-hours to go",
                flush=True,
            )
            time.sleep(10)
        return run.returncode or 0
    except KeyboardInterrupt:
        print("\nrouteb demo: stopping…", flush=True)
        return 0
    finally:
        # Stop `routeb run` first (it sends SKTERM to the emulated module), then the emulator.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(15)
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
