"""/metrics text: base-unit names, labels, and absence (not zero) for unavailable values."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from routeb.export.prometheus import render
from routeb.live import LinkSnapshot, LiveState


def samples(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = value
    return out


def test_values_and_labels() -> None:
    state = LiveState(
        "m1",
        online=True,
        power_w=-420,
        current_r_a=Decimal("3.0"),
        current_t_a=None,
        energy_import_kwh=Decimal("651.28"),
        energy_export_kwh=Decimal("12.5"),
        last_seen=datetime(2026, 5, 20, 5, 0, tzinfo=UTC),
        link=LinkSnapshot(
            state="ready", lqi=180, joins=2, rejoins={"EVENT 26": 1}, module_events={"21": 9}
        ),
    )
    text = render([state])
    got = samples(text)
    assert got['routeb_power_watts{meter="m1"}'] == "-420"
    assert got['routeb_current_amperes{meter="m1",phase="R"}'] == "3.0"
    assert 'routeb_current_amperes{meter="m1",phase="T"}' not in got  # no data: absent, not 0
    assert got['routeb_energy_kilowatt_hours_total{direction="import",meter="m1"}'] == "651.28"
    assert got['routeb_energy_kilowatt_hours_total{direction="export",meter="m1"}'] == "12.5"
    assert got['routeb_session_rejoins_total{meter="m1",reason="EVENT 26"}'] == "1"
    assert got['routeb_last_success_timestamp_seconds{meter="m1"}'] == "1779253200.0"
    assert got['routeb_meter_up{meter="m1"}'] == "1"
    assert "# TYPE routeb_energy_kilowatt_hours_total counter" in text
    assert text.count("# TYPE routeb_power_watts gauge") == 1


def test_outage_reports_down_without_values() -> None:
    got = samples(render([LiveState("m1", online=False)]))
    assert got['routeb_meter_up{meter="m1"}'] == "0"
    assert not any(name.startswith("routeb_power_watts") for name in got)


def test_label_values_are_escaped() -> None:
    text = render([LiveState('a"b\\c', online=True, power_w=1)])
    assert 'meter="a\\"b\\\\c"' in text


def test_two_meters_are_two_label_sets_under_one_header() -> None:
    # issue 17 §4: Prometheus tells meters apart by the `meter` label, one HELP/TYPE per metric.
    house = LiveState("house", online=True, power_w=632)
    ev = LiveState("ev", online=False, power_w=3100)
    text = render([house, ev])
    got = samples(text)
    assert got['routeb_power_watts{meter="house"}'] == "632"
    assert got['routeb_power_watts{meter="ev"}'] == "3100"
    assert got['routeb_meter_up{meter="house"}'] == "1"
    assert got['routeb_meter_up{meter="ev"}'] == "0"
    assert text.count("# TYPE routeb_power_watts ") == 1
