"""[homeassistant] and [influxdb]: validation that names the key; tokens stay secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from routeb.config import load_config
from routeb.errors import ConfigError

TOKEN = "eyJhbGciOiJIUzI1NiJ9.secret-token-value"


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return load_config(path, env={})


def test_sections_parse_and_tokens_never_print(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        f'[homeassistant]\nurl = "http://ha:8123"\ntoken = "{TOKEN}"\n'
        f'[influxdb]\nurl = "http://db:8086"\ntoken = "{TOKEN}"\norg = "home"\n',
    )
    assert config.homeassistant.enabled  # type: ignore[attr-defined]
    assert config.influxdb.enabled  # type: ignore[attr-defined]
    assert config.influxdb.version == 2  # type: ignore[attr-defined]
    assert TOKEN not in repr(config)
    assert TOKEN not in str(config)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[homeassistant]\nurl = "http://ha:8123"\n', "homeassistant.token"),
        ('[homeassistant]\nurl = "ha:8123"\ntoken = "x"\n', "homeassistant.url"),
        (
            '[homeassistant]\nurl = "http://ha"\ntoken = "x"\ninterval = 1\n',
            "homeassistant.interval",
        ),
        ("[homeassistant]\nnope = 1\n", "homeassistant.nope"),
        ('[influxdb]\nurl = "http://db:8086"\nversion = 3\n', "influxdb.version"),
        ('[influxdb]\nurl = "db:8086"\n', "influxdb.url"),
        ('[influxdb]\nurl = "http://db"\nmeasurement = "a b"\n', "influxdb.measurement"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert key in str(caught.value)


def test_routeb_ha_without_a_configuration_says_so_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\ndb = "{tmp_path / "db"}"\n', encoding="utf-8")
    path.chmod(0o600)
    done = subprocess.run(
        [sys.executable, "-m", "routeb", "ha", "status", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "homeassistant" in done.stderr
