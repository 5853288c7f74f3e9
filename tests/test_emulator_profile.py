"""The meter profile: the documented TOML example loads, and every key is validated by name."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routeb.emulator.household import Direction
from routeb.emulator.profile import PROFILE_KEYS, MeterProfile, load_profile
from routeb.errors import ConfigError

DOC = Path(__file__).resolve().parent.parent / "docs" / "emulator-profile.md"


def doc_example() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    return str(blocks[0])


def test_the_documented_example_loads_and_lists_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "meter.toml"
    path.write_text(doc_example(), encoding="utf-8")
    assert load_profile(path) == MeterProfile()
    keys = re.findall(r"^([a-z_]+) = ", doc_example(), re.MULTILINE)
    assert keys == list(PROFILE_KEYS)  # every key, in the order of the table below it


def test_the_key_table_documents_every_key() -> None:
    rows = re.findall(r"^\| `([a-z_]+)` \|", DOC.read_text(encoding="utf-8"), re.MULTILINE)
    assert rows == list(PROFILE_KEYS)


def test_a_full_profile_round_trips_through_toml(tmp_path: Path) -> None:
    profile = MeterProfile(
        seed=42,
        solar=True,
        pv_kw=Decimal("6.2"),
        load_scale=Decimal("1.7"),
        contract_amperes=40,
        wiring="1p2w",
        release="r",
        maker_code=0x00008A,
        serial_number="ABC 123",
        location=0x0A,
        coefficient=None,
        unit_code=0x01,
        digits=7,
        initial_import=9_999_990,
        initial_export=1234,
        reverse_measurement=True,
        history_days=40,
        installed_days_ago=Decimal("12.5"),
        clock_offset=timedelta(seconds=-95.5),
        mac="001d129012345678",
        channel=0x21,
        pan_id=0x8888,
    )
    assert (profile.wiring, profile.release, profile.mac) == ("1P2W", "R", "001D129012345678")
    path = tmp_path / "full.toml"
    path.write_text(profile.to_toml(), encoding="utf-8")
    assert load_profile(path) == profile


def test_overrides_apply_after_the_file(tmp_path: Path) -> None:
    path = tmp_path / "meter.toml"
    path.write_text('seed = 3\nrelease = "R"\nchannel = "0x21"\n', encoding="utf-8")
    profile = load_profile(path, overrides={"seed": 7, "coefficient": "absent"})
    assert (profile.seed, profile.release, profile.channel, profile.coefficient) == (
        7,
        "R",
        0x21,
        None,
    )


def test_auto_values() -> None:
    profile = MeterProfile.from_mapping({"pan_id": "auto", "mac": "0011223344556677"})
    assert profile.effective_pan_id == 0x6677
    assert MeterProfile(pan_id=0x1234).effective_pan_id == 0x1234
    assert MeterProfile().effective_initial_export == 0  # nothing is sold without PV
    solar = MeterProfile.from_mapping({"solar": True, "initial_export": "auto"})
    # 4.5 kW × 8 kWh/kW/day × 100 days, in 0.01 kWh counts
    assert solar.effective_initial_export == 360_000
    assert MeterProfile(solar=True, initial_export=5).effective_initial_export == 5
    young = MeterProfile(solar=True, installed_days_ago=Decimal(2))
    assert young.effective_initial_export == 7_200


def test_the_household_reads_the_initial_values_at_the_epoch() -> None:
    profile = MeterProfile(coefficient=10, unit_code=0x03, initial_import=77_777, digits=5)
    epoch = datetime(2026, 1, 2, 3, 4, 5)
    household = profile.build_household(epoch)
    raw = household.counter_at(epoch, Direction.NORMAL, 10, Decimal("0.001"), 5)
    assert raw == 77_777
    assert profile.multiplier_kwh == Decimal("0.010")
    assert household.installed == epoch - timedelta(days=400)


# Every key with values its validation must refuse; ConfigError must name that key.
BAD: dict[str, list[object]] = {
    "seed": ["one", True, 1.5],
    "solar": ["yes", 1],
    "pv_kw": [0, -1, 51, "much", "nan"],
    "load_scale": [0, 10.5, "inf"],
    "contract_amperes": [25, 0, "30A"],
    "wiring": ["3P4W", 3],
    "release": ["G", "", 70],
    "maker_code": [-1, 0x1000000, "Toshiba"],
    "serial_number": ["", "1234567890123", "caf\u00e9", 12],
    "location": [0x01, 0x03, 0x100, -1, "garden"],
    "coefficient": [0, 1_000_000, "none"],
    "unit_code": [0x05, 0x0E, "kWh"],
    "digits": [0, 9, "six"],
    "initial_import": [-1, 1_000_000, "lots"],
    "initial_export": [-1, 10**6, "none"],
    "reverse_measurement": ["no", 0],
    "history_days": [-1, 100, "all"],
    "installed_days_ago": [-1, 36_501, "long"],
    "clock_offset": [366 * 86_400 + 1, "five minutes"],
    "mac": ["0011", "00112233445566ZZ", 1234],
    "channel": [0x20, 0x3D, "ch33"],
    "pan_id": [-1, 0x10000, "any"],
}


def test_every_key_has_bad_values_listed() -> None:
    assert set(BAD) == set(PROFILE_KEYS)


@pytest.mark.parametrize(
    ("key", "raw"), [(key, raw) for key, values in BAD.items() for raw in values]
)
def test_a_bad_value_names_its_key(key: str, raw: object) -> None:
    with pytest.raises(ConfigError) as caught:
        MeterProfile.from_mapping({key: raw}, source="meter.toml")
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    assert "(in meter.toml)" in str(caught.value)


@pytest.mark.parametrize(("key", "raw"), [("digits", 9), ("location", "0x03")])
def test_a_bad_value_in_a_file_names_the_key_and_file(
    tmp_path: Path, key: str, raw: object
) -> None:
    path = tmp_path / "meter.toml"
    text = f'{key} = "{raw}"\n' if isinstance(raw, str) else f"{key} = {raw}\n"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(path)
    assert caught.value.key == key
    assert str(path) in str(caught.value)


def test_cross_key_rules() -> None:
    with pytest.raises(ConfigError) as caught:
        MeterProfile.from_mapping({"solar": True, "reverse_measurement": False})
    assert caught.value.key == "reverse_measurement"
    with pytest.raises(ConfigError) as caught:
        MeterProfile.from_mapping({"digits": 4})  # the default initial_import 432100 > 9999
    assert caught.value.key == "initial_import"
    assert MeterProfile.from_mapping({"digits": 4, "initial_import": 9999}).digits == 4


def test_unknown_key() -> None:
    with pytest.raises(ConfigError) as caught:
        MeterProfile.from_mapping({"colour": "blue"})
    assert caught.value.key == "colour"
    assert "seed" in str(caught.value)  # the message lists the known keys


def test_file_problems_use_the_profile_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile(tmp_path / "missing.toml")
    assert caught.value.key == "profile"
    broken = tmp_path / "broken.toml"
    broken.write_text("seed = = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_profile(broken)
    assert caught.value.key == "profile"


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("location", 0x00, 0x00),
        ("location", 0xFF, 0xFF),
        ("location", 0x80, 0x80),  # free definition
        ("unit_code", "absent", None),
        ("coefficient", "absent", None),
        ("maker_code", "0x00_00_8A", 0x8A),
        ("clock_offset", -300, timedelta(minutes=-5)),
        ("installed_days_ago", "0.25", Decimal("0.25")),
        ("solar", "true", True),
        ("release", "r", "R"),
    ],
)
def test_accepted_spellings(key: str, raw: object, expected: object) -> None:
    assert getattr(MeterProfile.from_mapping({key: raw}), key) == expected
