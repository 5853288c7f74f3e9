"""`routeb watch`'s frame: values, "unavailable" for unknowns, stale values marked at once,
bought and sold both, the last hour as a sparkline, the currents coloured near the contract
amperage, the connection stage before the first reading, the link's reconnects in words, and
the key line (Wi-SUN and LAN alike)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from routeb.cli import watch
from routeb.echonet.smartmeter import InstantaneousCurrents
from routeb.live import LinkSnapshot

NOW = 10_000.0


class _Link:
    def __init__(self, snapshot: LinkSnapshot) -> None:
        self.snapshot = snapshot

    def link_snapshot(self) -> LinkSnapshot:
        return self.snapshot


def _text(view: watch._View, snapshot: LinkSnapshot | None, *, styles: bool = False) -> str:
    console = Console(record=True, width=100, color_system="standard" if styles else None)
    link = None if snapshot is None else _Link(snapshot)
    console.print(watch._render(view, link, NOW, 100))  # type: ignore[arg-type]
    return console.export_text(styles=styles)


def _read(**changes: object) -> watch._View:
    view = watch._View(read_at=NOW - 3, interval=10.0)
    for key, value in changes.items():
        setattr(view, key, value)
    return view


def test_panel_shows_values_bought_and_sold_and_the_wisun_link() -> None:
    view = _read(
        power=-420,
        energy_import=Decimal("12345.6"),
        energy_export=Decimal("678.9"),
        today_import=Decimal("3.2"),
        today_export=Decimal("5.1"),
        last_slot_import=Decimal("0.0"),
        last_slot_export=Decimal("0.4"),
    )
    snapshot = LinkSnapshot(
        state="ready",
        lqi=120,
        rejoins={"event29": 2},
        recovery_steps={"rejoin": 2, "reopen_port": 1},
    )
    text = _text(view, snapshot)
    assert "-420 W selling" in text
    assert "bought 3.2 kWh · sold 5.1 kWh" in text  # a solar home: today both ways
    assert "bought 0.0 kWh · sold 0.4 kWh" in text  # and the last 30 minutes
    assert "bought 12345.6 kWh · sold 678.9 kWh" in text
    assert "ready, LQI 120" in text
    # in words, not a Python dict
    assert "2 rejoin(s) (event29 ×2), recovery: rejoin ×2, reopen port ×1" in text
    assert "{" not in text
    assert "q quit" in text
    assert "stale" not in text


def test_unknown_values_are_unavailable_and_a_lan_link_has_no_radio() -> None:
    text = _text(_read(error="timed out"), LinkSnapshot(state="ready"))
    assert "power         unavailable" in text
    assert "sold" not in text  # no export counter: not a solar home
    assert "ready, —" in text
    assert "0 rejoin(s), recovery: none" in text
    assert "timed out" in text


def test_a_failed_read_marks_the_values_stale_at_once() -> None:
    view = _read(power=261, failed=True, error="no answer — reconnecting")
    text = _text(view, LinkSnapshot(state="recovering"), styles=True)
    plain = _text(view, LinkSnapshot(state="recovering"))
    assert "261 W buying  stale: last reading 3 s ago" in plain
    # greyed (dim, SGR 2), never the bold cyan of a current value (SGR 1;36)
    assert "\x1b[2m261 W" in text
    assert "\x1b[1;36m261 W" not in text
    # without an error a reading is stale after 2.5 intervals
    quiet = _read(power=261, read_at=NOW - 26)
    assert "stale: last reading 26 s ago" in _text(quiet, LinkSnapshot(state="ready"))


def test_the_connection_stage_shows_before_the_first_reading() -> None:
    view = watch._View(stage="scanning for the meter (duration 6, ~10 s), 0 beacon(s)")
    view.stage_since = NOW - 7
    text = _text(view, None)
    assert "connecting    scanning for the meter (duration 6, ~10 s), 0 beacon(s) … 7 s" in text
    assert "scanning for the meter" in text.split("B-route link")[1]  # the link's state too
    assert "q quit" in text


def test_sparkline_of_the_last_hour() -> None:
    samples = [(NOW - 3600 + 60 * i, 100 * (i % 10)) for i in range(59)]
    samples.append((NOW - 30, -900))  # selling, just now
    line = watch.sparkline(samples, NOW, 60)
    assert len(line.plain) == 60
    assert set(line.plain) <= set(watch.SPARK_BLOCKS)
    assert line.plain[9] == "█"  # 900 W, the largest
    assert line.plain[0] == "▁"
    assert any(span.style == "green" for span in line.spans)  # selling in green
    gap = watch.sparkline([(NOW - 10, 500)], NOW, 60)
    assert gap.plain == " " * 59 + "█"  # nothing where there was no reading


def test_currents_turn_yellow_near_and_red_at_the_contract_amperage() -> None:
    for amps, sgr in (("12.0", "\x1b[0m"), ("25.0", "\x1b[1;33m"), ("31.0", "\x1b[1;31m")):
        view = _read(
            power=3000,
            currents=InstantaneousCurrents(Decimal(amps), Decimal("-5.0")),
            contract_amperes=30,
        )
        text = _text(view, LinkSnapshot(state="ready"), styles=True)
        assert f"R {amps} A" in text
        assert "T 5.0 A" in text  # the size; the direction is the power's
        assert "of 30 A" in text
        if sgr != "\x1b[0m":
            assert f"{sgr}R {amps} A" in text
        else:
            assert "\x1b[1;33mR" not in text
            assert "\x1b[1;31mR" not in text
