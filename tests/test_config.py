"""Configuration: TOML, environment overrides, validation naming the key, secrets."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from routeb.config import load_config, with_overrides
from routeb.errors import ConfigError

RBID = "0123456789ABCDEF0123456789ABCDEF"
PASSWORD = "PASSWORD1234"


def write(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def test_file_and_env_precedence(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'[meter]\nid = "{RBID}"\npassword = "{PASSWORD}"\ndevice = "/dev/ttyUSB0"\n'
        "[polling]\ninstantaneous_interval = 15\n",
    )
    config = load_config(path, env={})
    assert config.meter.device == "/dev/ttyUSB0"
    assert config.meter.id is not None
    assert config.meter.id.reveal() == RBID
    assert config.polling.instantaneous_interval == 15
    env = {"ROUTEB_DEVICE": "socket://127.0.0.1:1", "ROUTEB_PASSWORD": "ABCDEFGHIJKL"}
    config = load_config(path, env=env)
    assert config.meter.device == "socket://127.0.0.1:1"
    assert config.meter.password is not None
    assert config.meter.password.reveal() == "ABCDEFGHIJKL"
    assert with_overrides(config, device="/dev/pts/9").meter.device == "/dev/pts/9"


def test_no_file_env_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_config(None, env={"ROUTEB_ID": RBID, "ROUTEB_PASSWORD": PASSWORD})
    assert config.meter.id is not None
    assert config.source is None


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[meter]\nid = "short"\n', "meter.id"),
        ('[meter]\npassword = "x"\n', "meter.password"),
        ('[meter]\ndialect = "bp99"\n', "meter.dialect"),
        ("[meter]\nscan_durations = [20]\n", "meter.scan_durations"),
        ("[polling]\ninstantaneous_interval = 1\n", "polling.instantaneous_interval"),
        ('[polling]\nmin_gap = "fast"\n', "polling.min_gap"),
        ("[polling]\nretries = 99\n", "polling.retries"),
        ("[meter]\ncolour = 1\n", "meter.colour"),
        ("meter = 3\n", "meter"),
    ],
)
def test_validation_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert info.value.key == key
    assert str(info.value).startswith(key)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[meter\n"), env={})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", env={})


def test_secrets_never_print_and_world_readable_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, f'[meter]\nid = "{RBID}"\npassword = "{PASSWORD}"\n', 0o644)
    with caplog.at_level(logging.DEBUG):
        config = load_config(path, env={})
    assert "readable by other users" in caplog.text
    shown = f"{config!r} {config} {config.meter.id} {config.meter.password:>20}"
    assert RBID not in shown
    assert PASSWORD not in shown
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f'[meter]\nid = "{RBID[:-1]}"\n'), env={})
    assert RBID[:-1] not in str(info.value)


def test_storage_mqtt_http_sections(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[storage]\ndb = "~/meter.db"\nretention_days = 7\n'
        '[mqtt]\nenabled = true\nurl = "mqtts://broker:8883"\nusername = "home"\n'
        'password = "s3cret-mqtt"\nbase_topic = "house/meter"\n'
        '[http]\nlisten = "0.0.0.0:8610"\ntoken = "0123456789abcdef0123"\n',
    )
    config = load_config(path, env={})
    assert config.storage.db == Path("~/meter.db").expanduser()
    assert config.storage.retention_days == 7
    assert config.mqtt.enabled
    assert config.mqtt.url == "mqtts://broker:8883"
    assert config.mqtt.password is not None
    assert "s3cret-mqtt" not in repr(config)
    assert config.mqtt.base_topic == "house/meter"
    assert config.http.listen == "0.0.0.0:8610"
    assert "0123456789abcdef0123" not in repr(config)
    overridden = with_overrides(config, db=tmp_path / "x.db", listen="127.0.0.1:9")
    assert overridden.storage.db == tmp_path / "x.db"
    assert overridden.http.listen == "127.0.0.1:9"
    env_config = load_config(path, env={"ROUTEB_DB": str(tmp_path / "env.db")})
    assert env_config.storage.db == tmp_path / "env.db"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[storage]\nretention_days = 0\n", "storage.retention_days"),
        ('[mqtt]\nurl = "http://x"\n', "mqtt.url"),
        ('[mqtt]\nbase_topic = "a/#"\n', "mqtt.base_topic"),
        ('[mqtt]\nenabled = "yes"\n', "mqtt.enabled"),
        ('[http]\ntoken = "short"\n', "http.token"),
        ("[http]\nport = 1\n", "http.port"),
    ],
)
def test_new_sections_name_the_bad_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), env={})
    assert caught.value.key == key
