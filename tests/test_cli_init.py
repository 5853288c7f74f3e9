"""`routeb init`: a TOML writer (every accepted character reads back), the state directory
honoured, and a mistyped answer asked for again — against the emulator over a pty."""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from routeb._redact import Secret
from routeb.cli import main
from routeb.cli.init import config_text
from routeb.config import default_state_dir, load_config
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions

# Every character the password check accepts (printable ASCII; spaces are stripped).
ACCEPTED = [c for c in string.printable if c.isprintable() and c != " "]


@pytest.mark.parametrize("char", ACCEPTED, ids=[f"0x{ord(c):02X}" for c in ACCEPTED])
def test_every_accepted_password_character_reads_back(tmp_path: Path, char: str) -> None:
    password = (f"PW{char}ecre" + char * 6)[:12]
    device = f"/dev/serial/by-id/usb-{char}-port0"
    path = tmp_path / "config.toml"
    path.write_text(
        config_text(Secret(DEFAULT_ID), Secret(password), device, "t" * 8 + "0123456789abcdefXYZ")
    )
    path.chmod(0o600)
    config = load_config(path, env={})
    assert config.meter.password is not None
    assert config.meter.password.reveal() == password
    assert config.meter.device == device


def test_the_issue_password_reads_back(tmp_path: Path) -> None:
    password = 'PW\\tecre"Xq4'  # a backslash and a t: not a tab
    path = tmp_path / "config.toml"
    path.write_text(
        config_text(
            Secret(DEFAULT_ID), Secret(password), "/dev/ttyUSB0", "Zk3v9QpL2mX8rT4wYb7nC1dF"
        )
    )
    config = load_config(path, env={})
    assert config.meter.password is not None
    assert config.meter.password.reveal() == password


@pytest.fixture
async def device() -> AsyncIterator[str]:
    emulator = Emulator(EmulatorOptions(time_scale=0.01, password='PW\\tecre"Xq4'))
    ready = await emulator.start()
    yield ready["serial"]
    await emulator.close()


async def test_init_asks_again_honours_the_state_dir_and_writes_toml(
    device: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("ROUTEB_STATE_DIR", str(state))
    answers = iter(["7", device])  # no device number 7: asked again
    monkeypatch.setattr("builtins.input", lambda _prompt: next(answers))
    typed = iter([DEFAULT_ID[:-1], DEFAULT_ID, "short", 'PW\\tecre"Xq4'])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(typed))
    config = tmp_path / "conf" / "config.toml"
    status = await asyncio.to_thread(main, ["init", "--config", str(config)])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "there is no device number 7" in err
    assert "B-route ID: the B-route ID must be exactly 32" in err
    assert "please try again" in err
    assert "Joined. The meter reads" in out
    loaded = load_config(config, env={})
    assert loaded.meter.password is not None
    assert loaded.meter.password.reveal() == 'PW\\tecre"Xq4'
    assert loaded.http.token is not None
    assert list(state.glob("meter-*.json")), "the scan cache goes to ROUTEB_STATE_DIR"
    assert not default_state_dir().exists()
    assert DEFAULT_PASSWORD not in out + err
    assert 'PW\\tecre"Xq4' not in out + err


async def test_init_gives_up_after_three_mistakes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("builtins.input", lambda _prompt: "/dev/ttyUSB9")
    monkeypatch.setattr("getpass.getpass", lambda _prompt: "short")
    status = await asyncio.to_thread(
        main, ["init", "--config", str(tmp_path / "c.toml"), "--skip-test"]
    )
    assert status == 2
    assert "B-route ID" in capsys.readouterr().err
    assert not (tmp_path / "c.toml").exists()
