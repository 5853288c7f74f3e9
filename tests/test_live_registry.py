"""The quantity registry: one description per quantity, and every output follows it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from routeb.export.mqtt import MeterDevice, MqttSettings, discovery_payload, state_payload
from routeb.export.prometheus import render
from routeb.live import (
    BY_KEY,
    QUANTITIES,
    BackfillProgress,
    EnergyValues,
    InstantValues,
    LinkSnapshot,
    LiveState,
    Offline,
    SlotValues,
    Stale,
)

AT = datetime(2026, 5, 20, 5, 30, tzinfo=UTC)
# homeassistant.md §2.5: the units and state classes Home Assistant accepts per device class.
ALLOWED = {
    "power": ({"W"}, {"measurement"}),
    "current": ({"A"}, {"measurement"}),
    "energy": ({"kWh"}, {"total", "total_increasing"}),
    "signal_strength": ({"dBm", "dB"}, {"measurement"}),
    "timestamp": ({None}, {None}),
    "problem": ({None}, {None}),
}


def full_state() -> LiveState:
    state = LiveState("m1")
    for update in (
        InstantValues(AT, 632, Decimal("3.0"), Decimal("5.0")),
        EnergyValues(AT, Decimal("651.28"), Decimal("0.15")),
        SlotValues(AT, Decimal("0.31"), Decimal("0.02")),
        BackfillProgress(3, 4),
    ):
        state = update.apply(state)
    return state


def test_keys_are_unique_and_valid_ids() -> None:
    keys = [q.key for q in QUANTITIES]
    assert len(keys) == len(set(keys)) == len(BY_KEY)
    for key in keys:
        assert key.replace("_", "").isalnum()
        assert key.islower()


@pytest.mark.parametrize("quantity", [q for q in QUANTITIES if q.entity], ids=lambda q: q.key)
def test_entities_use_pairs_home_assistant_accepts(quantity: object) -> None:
    entity = quantity.entity  # type: ignore[attr-defined]
    units, classes = ALLOWED[entity.device_class]
    assert quantity.unit in units  # type: ignore[attr-defined]
    assert entity.state_class in classes


def test_every_entity_is_discovered_and_in_the_state() -> None:
    payload = discovery_payload(MqttSettings(), MeterDevice("m1"))
    state = json.loads(state_payload(full_state()))
    entities = {q.key for q in QUANTITIES if q.entity}
    assert set(payload["cmps"]) == entities
    assert entities <= set(state)
    for key in state:
        assert BY_KEY[key].in_state


def test_every_metric_is_rendered() -> None:
    state = full_state()
    text = render([state])
    for quantity in QUANTITIES:
        if quantity.metric and quantity.number(state) is not None:
            assert f"\n{quantity.metric.name}{{" in "\n" + text, quantity.key


def test_typed_updates() -> None:
    state = full_state()
    assert state.online
    assert state.power_w == 632
    assert state.last_seen == AT
    assert state.backfill_filled == 4
    assert BackfillProgress(1, 2).apply(state).backfill_filled == 6
    stale = Stale().apply(state)
    assert (stale.online, stale.power_w, stale.current_r_a) == (False, None, None)
    assert stale.energy_import_kwh == Decimal("651.28")  # counters stay: they are still true
    down = Offline(LinkSnapshot(state="down")).apply(state)
    assert (down.online, down.link.state) == (False, "down")
    # A slot whose start is not known: both values unknown, never the previous slot's.
    unknown = SlotValues(AT, None, None).apply(state)
    assert unknown.last_slot_import_kwh is None


def test_text_renders_for_people() -> None:
    state = full_state()
    assert BY_KEY["power"].text(state) == "632 W"
    assert BY_KEY["energy_import"].text(state) == "651.28 kWh"
    assert BY_KEY["power"].text(LiveState("m1")) == "—"
    assert BY_KEY["power"].label("ja") == "瞬時電力"
