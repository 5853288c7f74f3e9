"""Configuration: TOML, environment overrides, validation naming the key, secrets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from routeb.config import (
    Text,
    Whole,
    key,
    load_config,
    parse_document,
    reference_markdown,
    section,
    with_overrides,
)
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
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.key == key
    # FILE:LINE of the bad value, then the key (the key's own line, or the section's).
    line = next(n for n, raw in enumerate(text.splitlines(), 1) if key.rsplit(".", 1)[-1] in raw)
    assert str(info.value).startswith(f"{path}:{line}: {key}: ")


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[meter]\npasword = "x"\n', "meter.pasword: unknown key (did you mean password?)"),
        ("[polling]\nenergy_intervall = 60\n", "(did you mean energy_interval?)"),
        ("[meeter]\n", "meeter: unknown section (did you mean meter?)"),
        ("[storage]\nbanana = 1\n", "storage.banana: unknown key"),
    ],
)
def test_a_typo_names_file_line_and_the_nearest_key(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, "# routeb\n\n" + text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    shown = str(info.value)
    assert shown.startswith(f"{path}:{3 if text.startswith('[meeter]') else 4}: ")
    assert message in shown
    if "banana" in text:
        assert "did you mean" not in shown


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ('[http]\nlisten = "localhost"\n', "http.listen", "expected HOST:PORT"),
        ('[http]\nlisten = "127.0.0.1:99999"\n', "http.listen", "out of range"),
        ('[http]\nlisten = "no such host!:80"\n', "http.listen", "not an IP address"),
        ('[http]\ntoken = "aaaaaaaaaaaaaaaa"\n', "http.token", "too easy to guess"),
        ('[bridge]\nlisten = "lan"\n', "bridge.listen", "not an IP address"),
        ("[bridge.fresh]\nE7 = -1\n", "bridge.fresh.E7", "at least 0"),
        ("[polling]\ntimer1 = nan\n", "polling.timer1", "number"),
        ("[polling]\ntimer1 = inf\n", "polling.timer1", "finite"),
        ('[tariff]\nfile = "/nonexistent/plan.toml"\n', "tariff.file", "no tariff file"),
        ('[storage]\ndb = ""\n', "storage.db", "path"),
    ],
)
def test_bad_values_are_one_clear_error(tmp_path: Path, text: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), env={})
    assert info.value.key == key
    assert hint in str(info.value)
    assert str(info.value).startswith(f"{tmp_path / 'config.toml'}:")


def test_environment_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ""), env={"ROUTEB_ID": "x"})
    assert info.value.key == "ROUTEB_ID"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ""), env={"ROUTEB_LISTEN": "localhost"})
    assert info.value.key == "ROUTEB_LISTEN"
    with pytest.raises(ConfigError, match="--listen"):
        with_overrides(load_config(write(tmp_path, ""), env={}), listen="127.0.0.1:99999")


def test_env_enables_mqtt_and_fleet(tmp_path: Path) -> None:
    env = {"ROUTEB_MQTT_URL": "mqtt://broker:1883", "ROUTEB_FLEET_URL": "mqtts://c:8883"}
    config = load_config(write(tmp_path, ""), env=env)
    assert config.mqtt.enabled
    assert config.mqtt.url == "mqtt://broker:1883"
    assert config.fleet.enabled
    off = load_config(write(tmp_path, "[mqtt]\nenabled = false\n"), env=env)
    assert not off.mqtt.enabled


def test_every_key_is_in_the_reference_of_the_docs() -> None:
    """docs/configuration.md holds the tables made from the declarations, unchanged."""
    docs = (Path(__file__).parent.parent / "docs" / "configuration.md").read_text()
    begin, end = "<!-- reference: begin -->\n", "<!-- reference: end -->"
    assert begin in docs, "docs/configuration.md lacks the generated reference"
    shown = docs.split(begin, 1)[1].split(end, 1)[0]
    assert shown.strip() == reference_markdown().strip(), (
        "regenerate: python -c 'from routeb.config import reference_markdown as r; print(r())'"
    )


@dataclass(frozen=True, slots=True)
class _Home:
    name: str = key("", convert=Text(), help="what it is called")
    limit: int = key(30, convert=Whole(1), help="amperes")


@dataclass(frozen=True, slots=True)
class _Root:
    home: tuple[_Home, ...] = section(_Home, "homes", many=True)
    solo: _Home = section(_Home, "one home")


def test_a_list_of_tables_is_one_declaration(tmp_path: Path) -> None:
    text = '[[home]]\nname = "a"\n\n[[home]]\nname = "b"\nlimit = 60\n\n[solo]\nlimit = 40\n'
    root = parse_document(_Root, text, file=tmp_path / "x.toml")
    assert root.home == (_Home("a", 30), _Home("b", 60))
    assert root.solo == _Home("", 40)
    assert parse_document(_Root, "").home == ()
    bad = text.replace("limit = 60", "limit = 0")
    with pytest.raises(ConfigError) as info:
        parse_document(_Root, bad, file=tmp_path / "x.toml")
    assert info.value.key == "home[1].limit"
    assert str(info.value).startswith(f"{tmp_path / 'x.toml'}:6: home[1].limit: ")
    with pytest.raises(
        ConfigError, match=r"x.toml:2: home\[0\].nmae: unknown key \(did you mean name"
    ):
        parse_document(_Root, "[[home]]\nnmae = 1\n", file=tmp_path / "x.toml")
