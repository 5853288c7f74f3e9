"""Several meters in one config (issue 17 §1): [[meter]] tables beside the single [meter]."""

from __future__ import annotations

from pathlib import Path

import pytest

from routeb._redact import Secret
from routeb.collector.links import Endpoint
from routeb.collector.supervisor import (
    Supervisor,
    client_settings,
    meter_plans,
    rotation_settings,
)
from routeb.config import MIN_INSTANT_INTERVAL, load_config, with_overrides
from routeb.errors import ConfigError
from routeb.live import LiveHub

RBID = "0123456789ABCDEF0123456789ABCDEF"
RBID2 = "0123456789ABCDEF0123456789ABCD02"
PASSWORD = "PASSWORD1234"

TWO = f"""
[polling]
switch_pause = 3
[[meter]]
name = "house"
id = "{RBID}"
password = "{PASSWORD}"
device = "/dev/ttyUSB0"
[[meter]]
name = "rental"
id_env = "RENTAL_ID"
password_file = "PWFILE"
device = "/dev/ttyUSB0"
instantaneous_interval = 30
[[meter]]
name = "solar"
device = "udp://192.0.2.10"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def _two(tmp_path: Path) -> Path:
    secret = tmp_path / "pw"
    secret.write_text("012345678902\n", encoding="utf-8")
    return write(tmp_path, TWO.replace("PWFILE", str(secret)))


def test_meter_tables_with_their_own_credential_sources(tmp_path: Path) -> None:
    config = load_config(_two(tmp_path), env={"RENTAL_ID": RBID2, "ROUTEB_ID": "x" * 32})
    assert [m.name for m in config.meters] == ["house", "rental", "solar"]
    rental = config.meters[1]
    assert rental.id is not None
    assert rental.id.reveal() == RBID2
    assert rental.password is not None
    assert rental.password.reveal() == "012345678902"
    assert config.meter is config.meters[0]
    first = Endpoint("/dev/ttyUSB0", Secret(RBID), Secret(PASSWORD))
    plans = meter_plans(config, first=first)
    assert [p.name for p in plans] == ["house", "rental", "solar"]
    assert plans[1].settings.instant_interval == 30.0
    assert plans[0].settings.instant_interval == config.polling.instantaneous_interval
    assert plans[2].endpoint.lan
    assert RBID not in repr(plans)
    assert PASSWORD not in repr(plans)
    assert plans[0].endpoint.client_settings == client_settings(config.polling)
    assert rotation_settings(config.polling).switch_pause == 3.0
    # The two meters on /dev/ttyUSB0 share it in turn; the LAN meter runs on its own.
    supervisor = Supervisor(plans, _NoRecorder(), LiveHub(), rotation_settings(config.polling))
    assert [len(r.collectors) for r in supervisor.rotations] == [2]
    assert set(supervisor.collectors) == {"house", "rental", "solar"}


def test_the_single_meter_form_still_reads_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[meter]\ndevice = "/dev/ttyUSB0"\n')
    config = load_config(path, env={"ROUTEB_ID": RBID, "ROUTEB_PASSWORD": PASSWORD})
    assert len(config.meters) == 1
    assert config.meter.id is not None
    assert config.meter.id.reveal() == RBID
    plans = meter_plans(config, first=Endpoint("/dev/ttyUSB0", Secret(RBID), Secret(PASSWORD)))
    assert plans[0].name.startswith("m")
    assert RBID not in plans[0].name
    named = meter_plans(config, first=plans[0].endpoint, name="house")
    assert named[0].name == "house"
    nothing = load_config(write(tmp_path, ""), env={"ROUTEB_DEVICE": "/dev/ttyACM0"})
    assert nothing.meter.device == "/dev/ttyACM0"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '[[meter]]\nname = "a"\ndevice = "/dev/x"\n[[meter]]\nname = "a"\n',
            5,
            "meter[1].name: 'a' names two meters",
        ),
        ('[[meter]]\nname = "a"\n[[meter]]\ndevice = "/dev/x"\n', 3, "meter[1]: needs a name"),
        ('[[meter]]\nname = "a b"\n', 2, "meter[0].name: must be 1..32 letters"),
        ('[[meter]]\nname = "a"\n[[meter]]\nnmae = "b"\n', 4, "did you mean name?"),
        (
            f'[[meter]]\nname = "a"\nid = "{RBID}"\nid_env = "X"\n',
            3,
            "meter[0].id: give the B-route ID once",
        ),
        ('[[meter]]\nname = "a"\nid_env = "NOT_SET"\n', 3, "NOT_SET is not set"),
        ('[[meter]]\nname = "a"\npassword_file = "/nonexistent/pw"\n', 3, "cannot read"),
    ],
)
def test_meter_table_errors_name_file_line_and_key(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert f"{path}:{line}:" in str(caught.value)
    assert message in str(caught.value)


def test_flags_for_one_meter_are_refused_with_several(tmp_path: Path) -> None:
    config = load_config(_two(tmp_path), env={"RENTAL_ID": RBID2})
    with pytest.raises(ConfigError, match="--device: applies to one meter"):
        with_overrides(config, device="/dev/ttyUSB1")
    first = Endpoint("/dev/ttyUSB0", Secret(RBID), Secret(PASSWORD))
    with pytest.raises(ConfigError, match="--meter-name: applies to one meter"):
        meter_plans(config, first=first, name="x")
    missing = load_config(
        write(tmp_path, '[[meter]]\nname = "a"\ndevice = "/dev/x"\n[[meter]]\nname = "b"\n'),
        env={},
    )
    with pytest.raises(ConfigError, match=r"meter\[0\]\.id: is required"):
        meter_plans(missing, first=first)


def test_one_minimum_per_schedule(tmp_path: Path) -> None:
    """The collector clamps to the config's minimum (protocol.md §E), not a second one."""
    from routeb.collector.daemon import CollectorSettings  # noqa: PLC0415

    assert CollectorSettings(instant_interval=1.0).instant_interval == MIN_INSTANT_INTERVAL
    with pytest.raises(ConfigError, match="at least 10"):
        load_config(write(tmp_path, "[polling]\ninstantaneous_interval = 9\n"), env={})


class _NoRecorder:
    """A recorder that is never called (the supervisor is only built here, not run)."""

    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"recorder.{name} called")


def test_init_add_meter_keeps_the_rest_and_the_first_meters_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from routeb.cli import main  # noqa: PLC0415
    from routeb.collector.supervisor import default_meter_name  # noqa: PLC0415

    path = write(
        tmp_path,
        f'[meter]\nid = "{RBID}"\npassword = "{PASSWORD}"\ndevice = "/dev/ttyUSB0"\n'
        "[polling]\ninstantaneous_interval = 15\n",
    )
    answers = iter(["/dev/ttyUSB0"])
    monkeypatch.setattr("builtins.input", lambda _prompt: next(answers))
    typed = iter([RBID2, "012345678902"])
    monkeypatch.setattr("getpass.getpass", lambda _prompt: next(typed))
    status = main(["init", "--config", str(path), "--add-meter", "rental", "--skip-test"])
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert RBID2 not in out + err
    config = load_config(path, env={})
    assert [m.name for m in config.meters] == [default_meter_name(Secret(RBID)), "rental"]
    assert config.polling.instantaneous_interval == 15.0
    assert config.meters[1].id is not None
    assert config.meters[1].id.reveal() == RBID2
    assert path.stat().st_mode & 0o777 == 0o600
    # The same name again is one line and status 2.
    status = main(["init", "--config", str(path), "--add-meter", "rental", "--skip-test"])
    assert status == 2
    assert "already has a meter named 'rental'" in capsys.readouterr().err
