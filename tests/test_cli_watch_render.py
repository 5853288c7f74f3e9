"""`routeb watch`'s terminal panel: values, "unavailable" for unknowns, and the link's state,
quality and reconnects as the connection reports them (Wi-SUN and LAN alike)."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console

from routeb.cli import watch
from routeb.live import LinkSnapshot


class _Link:
    def __init__(self, snapshot: LinkSnapshot) -> None:
        self.snapshot = snapshot

    def link_snapshot(self) -> LinkSnapshot:
        return self.snapshot


def _text(view: watch._View, snapshot: LinkSnapshot) -> str:
    console = Console(record=True, width=100, color_system=None)
    console.print(watch._render(view, _Link(snapshot)))  # type: ignore[arg-type]
    return console.export_text()


def test_panel_shows_values_and_the_wisun_link() -> None:
    view = watch._View(power=-420, energy_import=Decimal("12345.6"), today=Decimal("3.2"))
    snapshot = LinkSnapshot(
        state="ready", lqi=120, rejoins={"event29": 2}, recovery_steps={"rejoin": 2}
    )
    text = _text(view, snapshot)
    assert "-420 W (selling)" in text
    assert "12345.6 kWh" in text
    assert "energy sold" not in text  # no export counter: not a solar home
    assert "ready, LQI 120" in text
    assert "2 rejoin(s), recovery {'rejoin': 2}" in text


def test_unknown_values_are_unavailable_and_a_lan_link_has_no_radio() -> None:
    text = _text(watch._View(error="timed out"), LinkSnapshot(state="ready"))
    assert "power          unavailable" in text
    assert "ready, —" in text
    assert "0 rejoin(s), recovery none" in text
    assert "timed out" in text
