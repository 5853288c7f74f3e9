"""What routeb measures, described once: every output iterates these descriptors.

A :class:`Quantity` names one value of :class:`~routeb.live.state.LiveState` — its stable key
(the MQTT state JSON key, the Home Assistant unique-id suffix, the InfluxDB field), unit,
English and Japanese label, where the meter gives it (the ECHONET Lite property of
protocol.md §B.1, or ``link`` for the session's own counters), how people read it, and how
Home Assistant (:class:`Entity`) and Prometheus (:class:`Metric`) show it. Adding a quantity is
one entry in :data:`QUANTITIES`; MQTT discovery, the MQTT state, /metrics and InfluxDB follow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Final, Literal

from routeb.live.state import LiveState

__all__ = ["BY_KEY", "QUANTITIES", "Entity", "Metric", "Quantity", "Reading", "quantity"]

Reading = int | float | Decimal | bool | str | datetime | Mapping[str, int] | None
Number = int | float | Decimal


@dataclass(frozen=True, slots=True)
class Entity:
    """How Home Assistant shows a quantity (allowed pairs: homeassistant.md §2.5)."""

    platform: Literal["sensor", "binary_sensor"] = "sensor"
    device_class: str | None = None
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    diagnostic: bool = False
    # state_class "total" only: the state-JSON key holding when the current cycle began
    # (homeassistant.md §2.6: each new last_reset starts a new cycle of the sum).
    last_reset: str | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    """A Prometheus sample family: base-unit name, type, help and the labels of this sample."""

    name: str
    kind: Literal["gauge", "counter"]
    help: str
    labels: tuple[tuple[str, str], ...] = ()
    # The value is a mapping (e.g. rejoins by reason): one sample per key under this label.
    breakdown: str | None = None
    # Labels that depend on the state (routeb_meter_up's ``reason`` while the meter is down).
    state_labels: Callable[[LiveState], tuple[tuple[str, str], ...]] | None = None


@dataclass(frozen=True, slots=True)
class Quantity:
    """One measured (or link) quantity and how each output shows it."""

    key: str
    en: str
    ja: str
    unit: str | None
    source: str
    read: Callable[[LiveState], Reading]
    precision: int | None = None  # digits after the point people see
    entity: Entity | None = None
    metric: Metric | None = None
    in_state: bool = True  # part of the retained MQTT state JSON

    def label(self, language: str = "en") -> str:
        """The label in ``language`` (``ja`` or ``en``)."""
        return self.ja if language == "ja" else self.en

    def number(self, state: LiveState) -> Number | None:
        """The value as a number (bool → 0/1, time → unix seconds); None if unavailable."""
        value = self.read(state)
        if value is None or isinstance(value, str | Mapping):
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, datetime):
            return value.timestamp()
        return value

    def text(self, state: LiveState, language: str = "en") -> str:
        """The value as people read it (``632 W``, ``651.28 kWh``); ``—`` when unavailable."""
        value = self.read(state)
        if value is None:
            return "—"
        if isinstance(value, bool):
            on, off = ("異常", "正常") if language == "ja" else ("fault", "ok")
            return on if value else off
        if isinstance(value, datetime):
            return value.isoformat(timespec="seconds")
        if isinstance(value, Mapping):
            return ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) or "—"
        if isinstance(value, float) and self.precision is not None:
            body = f"{value:.{self.precision}f}"
        else:
            body = format(value, "f") if isinstance(value, Decimal) else str(value)
        return f"{body} {self.unit}" if self.unit else body


def _energy(direction: str) -> Metric:
    return Metric(
        "routeb_energy_kilowatt_hours_total",
        "counter",
        "Cumulative energy (E0 bought, E3 sold), D3 × E1 applied",
        (("direction", direction),),
    )


def _slot(direction: str) -> Metric:
    return Metric(
        "routeb_last_slot_kilowatt_hours",
        "gauge",
        "Energy in the last 30-minute slot",
        (("direction", direction),),
    )


def _link(name: str, help_text: str, breakdown: str | None = None) -> Metric:
    return Metric(name, "counter", help_text, breakdown=breakdown)


def _down_reason(state: LiveState) -> tuple[tuple[str, str], ...]:
    if state.online or not state.down_reason:
        return ()
    return (("reason", state.down_reason),)


_POWER: Final = Entity(device_class="power", state_class="measurement")
_CURRENT: Final = Entity(device_class="current", state_class="measurement")
_COUNTER: Final = Entity(device_class="energy", state_class="total_increasing")
# Energy of one 30-minute slot: each slot is a new cycle that starts at last_slot_start.
_SLOT_ENERGY: Final = Entity(
    device_class="energy", state_class="total", last_reset="last_slot_start"
)

QUANTITIES: Final[tuple[Quantity, ...]] = (
    Quantity(
        "online",
        "Meter up",
        "メーター応答",
        None,
        "routeb",
        lambda s: s.online,
        metric=Metric(
            "routeb_meter_up",
            "gauge",
            "1 when the meter answered recently; 0 with reason (credentials_rejected, …)",
            state_labels=_down_reason,
        ),
        in_state=False,
    ),
    Quantity(
        "power",
        "Power",
        "瞬時電力",
        "W",
        "0xE7",
        lambda s: s.power_w,
        precision=0,
        entity=_POWER,
        metric=Metric("routeb_power_watts", "gauge", "Instantaneous power (E7); < 0 = selling"),
    ),
    Quantity(
        "current_r",
        "Current R",
        "瞬時電流 R相",
        "A",
        "0xE8",
        lambda s: s.current_r_a,
        precision=1,
        entity=_CURRENT,
        metric=Metric(
            "routeb_current_amperes", "gauge", "Instantaneous current (E8)", (("phase", "R"),)
        ),
    ),
    Quantity(
        "current_t",
        "Current T",
        "瞬時電流 T相",
        "A",
        "0xE8",
        lambda s: s.current_t_a,
        precision=1,
        entity=_CURRENT,
        metric=Metric(
            "routeb_current_amperes", "gauge", "Instantaneous current (E8)", (("phase", "T"),)
        ),
    ),
    Quantity(
        "energy_import",
        "Energy bought",
        "積算電力量 買電",
        "kWh",
        "0xE0",
        lambda s: s.energy_import_kwh,
        precision=2,
        entity=_COUNTER,
        metric=_energy("import"),
    ),
    Quantity(
        "energy_export",
        "Energy sold",
        "積算電力量 売電",
        "kWh",
        "0xE3",
        lambda s: s.energy_export_kwh,
        precision=2,
        entity=_COUNTER,
        metric=_energy("export"),
    ),
    Quantity(
        "last_slot_import",
        "Last 30 minutes bought",
        "直近30分 買電",
        "kWh",
        "0xEA",
        lambda s: s.last_slot_import_kwh,
        precision=2,
        entity=_SLOT_ENERGY,
        metric=_slot("import"),
    ),
    Quantity(
        "last_slot_export",
        "Last 30 minutes sold",
        "直近30分 売電",
        "kWh",
        "0xEB",
        lambda s: s.last_slot_export_kwh,
        precision=2,
        entity=_SLOT_ENERGY,
        metric=_slot("export"),
    ),
    Quantity(
        "last_slot_start",
        "Last slot start",
        "直近30分 開始",
        None,
        "0xEA",
        lambda s: s.last_slot_start,
    ),
    Quantity(
        "last_slot_end",
        "Last slot end",
        "直近30分 終了",
        None,
        "0xEA",
        lambda s: s.last_slot_end,
    ),
    Quantity(
        "fault",
        "Meter fault",
        "異常発生状態",
        None,
        "0x88",
        lambda s: s.fault,
        entity=Entity("binary_sensor", "problem", diagnostic=True),
        metric=Metric("routeb_meter_fault", "gauge", "Meter fault status (0x88): 1 = fault"),
    ),
    Quantity(
        "clock_skew",
        "Meter clock skew",
        "メーター時計のずれ",
        "s",
        "0x97",
        lambda s: s.clock_skew_s,
        precision=0,
        metric=Metric("routeb_meter_clock_skew_seconds", "gauge", "Meter clock minus ours"),
    ),
    Quantity(
        "last_seen",
        "Last seen",
        "最終応答",
        None,
        "routeb",
        lambda s: s.last_seen,
        entity=Entity(device_class="timestamp", diagnostic=True),
        metric=Metric(
            "routeb_last_success_timestamp_seconds", "gauge", "When the meter last answered"
        ),
    ),
    Quantity(
        "lqi",
        "Link LQI",
        "LQI",
        None,
        "link",
        lambda s: s.link.lqi,
        metric=Metric("routeb_link_quality_lqi", "gauge", "LQI of the last received frame"),
    ),
    Quantity(
        "rssi",
        "Link RSSI",
        "受信強度",
        "dBm",
        "link",
        lambda s: s.link.rssi_dbm,
        precision=1,
        entity=Entity(device_class="signal_strength", state_class="measurement", diagnostic=True),
        metric=Metric("routeb_link_rssi_dbm", "gauge", "RSSI of the last received frame"),
    ),
    Quantity("link", "Link state", "通信状態", None, "link", lambda s: s.link.state),
    Quantity(
        "joins",
        "PANA joins",
        "PANA 接続",
        None,
        "link",
        lambda s: s.link.joins,
        metric=_link("routeb_session_joins_total", "PANA joins"),
        in_state=False,
    ),
    Quantity(
        "scans",
        "Active scans",
        "アクティブスキャン",
        None,
        "link",
        lambda s: s.link.scans,
        metric=_link("routeb_session_scans_total", "Active scans"),
        in_state=False,
    ),
    Quantity(
        "rejoins",
        "Rejoins",
        "再接続",
        None,
        "link",
        lambda s: s.link.rejoins,
        metric=_link("routeb_session_rejoins_total", "Rejoins by reason", "reason"),
        in_state=False,
    ),
    Quantity(
        "recovery_steps",
        "Recovery steps",
        "復旧手順",
        None,
        "link",
        lambda s: s.link.recovery_steps,
        metric=_link("routeb_session_recovery_total", "Recovery ladder steps taken", "step"),
        in_state=False,
    ),
    Quantity(
        "module_events",
        "Module events",
        "モジュールイベント",
        None,
        "link",
        lambda s: s.link.module_events,
        metric=_link("routeb_module_events_total", "SKSTACK events by number", "event"),
        in_state=False,
    ),
    Quantity(
        "requests",
        "Requests",
        "要求",
        None,
        "link",
        lambda s: s.link.requests,
        metric=_link("routeb_requests_total", "ECHONET Lite requests sent"),
        in_state=False,
    ),
    Quantity(
        "timeouts",
        "Timeouts",
        "応答なし",
        None,
        "link",
        lambda s: s.link.timeouts,
        metric=_link("routeb_request_timeouts_total", "Requests never answered"),
        in_state=False,
    ),
    Quantity(
        "retransmissions",
        "Retransmissions",
        "再送",
        None,
        "link",
        lambda s: s.link.retransmissions,
        metric=_link("routeb_request_retransmissions_total", "Retransmissions"),
        in_state=False,
    ),
    Quantity(
        "sna_answers",
        "SNA answers",
        "SNA 応答",
        None,
        "link",
        lambda s: s.link.sna_answers,
        metric=_link("routeb_sna_answers_total", "SNA (refused) answers"),
        in_state=False,
    ),
    Quantity(
        "backfill_missing",
        "Slots to backfill",
        "未取得の30分値",
        None,
        "routeb",
        lambda s: s.backfill_missing,
        metric=Metric(
            "routeb_backfill_missing_slots", "gauge", "30-minute slots still to backfill"
        ),
        in_state=False,
    ),
    Quantity(
        "backfill_filled",
        "Slots backfilled",
        "補完した30分値",
        None,
        "routeb",
        lambda s: s.backfill_filled,
        metric=_link("routeb_backfill_filled_slots_total", "Slots backfilled"),
        in_state=False,
    ),
)

BY_KEY: Final[Mapping[str, Quantity]] = MappingProxyType({q.key: q for q in QUANTITIES})


def quantity(key: str) -> Quantity:
    """The quantity named ``key`` (KeyError names it if there is none)."""
    return BY_KEY[key]
