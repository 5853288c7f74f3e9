"""`routeb init`, `routeb doctor`, `routeb export`, `routeb db check` and `routeb read` from the
command line, against the emulator over a pty; secrets never in their output."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from routeb.cli import main
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions


@pytest.fixture
async def device() -> AsyncIterator[str]:
    emulator = Emulator(EmulatorOptions(time_scale=0.01))
    ready = await emulator.start()
    yield ready["serial"]
    await emulator.close()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in ("ROUTEB_ID", "ROUTEB_PASSWORD", "ROUTEB_DEVICE", "ROUTEB_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ROUTEB_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


async def run_cli(*args: str) -> int:
    return await asyncio.to_thread(main, list(args))


async def test_init_writes_a_private_config_and_never_prints_secrets(
    device: str, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([device])
    monkeypatch.setattr("builtins.input", lambda _prompt: next(answers))
    secrets = iter([DEFAULT_ID, DEFAULT_PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(secrets))
    config = env / "conf" / "config.toml"
    assert await run_cli("init", "--config", str(config)) == 0
    out = capsys.readouterr().out
    assert "Joined. The meter reads" in out
    assert DEFAULT_ID not in out
    assert DEFAULT_PASSWORD not in out
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    text = config.read_text()
    assert DEFAULT_ID in text
    assert "token =" in text
    assert await run_cli("init", "--config", str(config)) == 2  # no silent overwrite


async def test_doctor_passes_and_names_the_failed_step(
    device: str, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROUTEB_ID", DEFAULT_ID)
    monkeypatch.setenv("ROUTEB_PASSWORD", DEFAULT_PASSWORD)
    assert await run_cli("doctor", "--device", device, "--config", "/dev/null") == 0
    out = capsys.readouterr().out
    assert out.count("[ OK ]") == 8
    monkeypatch.setenv("ROUTEB_PASSWORD", "WRONGPASSWRD")
    monkeypatch.setenv("ROUTEB_STATE_DIR", str(env / "other"))
    assert await run_cli("doctor", "--device", device, "--config", "/dev/null") == 1
    out = capsys.readouterr().out
    assert "[FAIL] join: the meter rejected" in out
    assert "WRONGPASSWRD" not in out
    assert await run_cli("doctor", "--device", str(env / "nope"), "--config", "/dev/null") == 1
    assert "[FAIL] device" in capsys.readouterr().out


async def test_read_json_and_exit_codes(
    device: str, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROUTEB_ID", DEFAULT_ID)
    monkeypatch.setenv("ROUTEB_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("ROUTEB_DEVICE", device)
    monkeypatch.setenv("ROUTEB_CONFIG", "/dev/null")
    assert await run_cli("read", "--json") == 0
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    epcs = [p["epc"] for p in doc["properties"]]
    assert epcs == ["0xE7", "0xE8", "0xE0", "0xE3", "0xEA", "0xEB"]
    energy = doc["properties"][2]["value"]
    assert energy["kwh"] is not None
    assert energy["raw"] is not None
    assert DEFAULT_ID not in captured.out + captured.err
    monkeypatch.setenv("ROUTEB_PASSWORD", "WRONGPASSWRD")
    monkeypatch.setenv("ROUTEB_STATE_DIR", str(env / "w"))
    assert await run_cli("read") == 3  # credentials rejected
    err = capsys.readouterr().err
    assert "rejected" in err
    assert "WRONGPASSWRD" not in err
    # One EVENT 24 is not proof (issue 16 §4): not latched, so the next read asks again.
    assert await run_cli("read") == 3
    assert "not latched" in capsys.readouterr().err
    monkeypatch.setenv("ROUTEB_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("ROUTEB_DEVICE", str(env / "missing-tty"))
    assert await run_cli("read") == 5  # device problem


async def test_watch_prints_updates_and_survives_the_meter_ending_the_session(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator = Emulator(EmulatorOptions(time_scale=0.01))
    ready = await emulator.start()
    try:
        monkeypatch.setenv("ROUTEB_ID", DEFAULT_ID)
        monkeypatch.setenv("ROUTEB_PASSWORD", DEFAULT_PASSWORD)
        monkeypatch.setenv("ROUTEB_DEVICE", ready["serial"])
        monkeypatch.setenv("ROUTEB_CONFIG", "/dev/null")

        async def end_session_soon() -> None:
            await asyncio.sleep(7)
            for module in emulator.modules:
                module.inject("event26")

        kicker = asyncio.create_task(end_session_soon())
        assert await run_cli("watch", "--json", "--interval", "5", "--updates", "3") == 0
        await kicker
    finally:
        await emulator.close()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3
    assert all(isinstance(line["power_w"], int) for line in lines)
    assert lines[0]["today_kwh"] is not None
    assert lines[-1]["link"] == "ready"
    assert lines[-1]["rejoins"] >= 1  # EVENT 26 at 7 s: rejoined, and still updating


async def test_scan_lists_meters_without_revealing_the_pairing_id(
    device: str, env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROUTEB_ID", DEFAULT_ID)
    monkeypatch.setenv("ROUTEB_PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("ROUTEB_CONFIG", "/dev/null")
    assert await run_cli("scan", "--device", device, "--json", "--duration", "4") == 0
    captured = capsys.readouterr()
    found = [json.loads(line) for line in captured.out.splitlines()]
    assert found == [
        {
            "channel": 0x3B,
            "pan_id": "6677",
            "mac": "0011223344556677",
            "lqi": 0xB2,
            "rssi": round(0.275 * 0xB2 - 104.27, 1),
            "side": None,
            "pairing_id": "yours",
        }
    ]
    assert DEFAULT_ID[-8:] not in captured.out + captured.err
    monkeypatch.setenv("ROUTEB_ID", "F" * 32)
    assert await run_cli("scan", "--device", device, "--json", "--duration", "4") == 4
