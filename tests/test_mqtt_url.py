"""The one MQTT URL syntax of [mqtt] (Home Assistant export) and [fleet] (the fleet stream)."""

from __future__ import annotations

import pytest

from routeb.errors import ConfigError
from routeb.export.mqtt import MqttSettings
from routeb.fleet.settings import parse_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker", ("broker", 1883, False)),
        ("mqtts://broker", ("broker", 8883, True)),
        ("mqtt://127.0.0.1:1884", ("127.0.0.1", 1884, False)),
        ("mqtts://user:p%40ss@broker:9883", ("broker", 9883, True)),
    ],
)
def test_both_sections_read_a_url_alike(url: str, expected: tuple[str, int, bool]) -> None:
    assert MqttSettings(url=url).endpoint() == expected
    assert parse_url(url)[:3] == expected


def test_fleet_takes_credentials_from_the_url() -> None:
    assert parse_url("mqtts://user:p%40ss@broker")[3:] == ("user", "p@ss")
    assert parse_url("mqtt://broker")[3:] == (None, None)


@pytest.mark.parametrize("url", ["http://broker", "mqtt://", "broker:1883", "mqtt://host:99999"])
def test_a_bad_url_is_a_config_error_naming_its_key(url: str) -> None:
    with pytest.raises(ConfigError) as mqtt:
        MqttSettings(url=url).endpoint()
    with pytest.raises(ConfigError) as fleet:
        parse_url(url)
    assert "mqtt.url" in str(mqtt.value)
    assert "fleet.url" in str(fleet.value)
    assert str(mqtt.value).replace("mqtt.url", "fleet.url") == str(fleet.value)
