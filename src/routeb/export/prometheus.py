"""Prometheus text exposition (format 0.0.4) of the live state, with base-unit metric names.

Hand-rendered: a few gauges and counters do not need a client library, and the output is
pinned by tests. Names follow the issue: ``routeb_power_watts``,
``routeb_current_amperes{phase}``, ``routeb_energy_kilowatt_hours_total{direction}``, plus link
and session counters and last-success timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from routeb.collector.live import LiveState

__all__ = ["CONTENT_TYPE", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Number = int | float | Decimal


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _number(value: Number) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name = name
        self.kind = kind
        self.help = help_text
        self.samples: list[tuple[dict[str, str], Number]] = []

    def add(self, value: Number | None, **labels: str) -> None:
        if value is not None:
            self.samples.append((labels, value))

    def lines(self) -> Iterable[str]:
        if not self.samples:
            return
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} {self.kind}"
        for labels, value in self.samples:
            yield f"{self.name}{_labels(labels)} {_number(value)}"


def render(states: Iterable[LiveState], extra: Mapping[str, Number] | None = None) -> str:
    """The /metrics body for every meter; a value that is unavailable is simply absent."""
    fam = {
        "up": _Family(
            "routeb_meter_up",
            "gauge",
            "1 when the meter answered recently; 0 with reason (credentials_rejected, …)",
        ),
        "power": _Family("routeb_power_watts", "gauge", "Instantaneous power (E7); < 0 = selling"),
        "current": _Family("routeb_current_amperes", "gauge", "Instantaneous current (E8)"),
        "energy": _Family(
            "routeb_energy_kilowatt_hours_total",
            "counter",
            "Cumulative energy (E0 bought, E3 sold), D3 × E1 applied",
        ),
        "slot": _Family(
            "routeb_last_slot_kilowatt_hours", "gauge", "Energy in the last 30-minute slot"
        ),
        "fault": _Family("routeb_meter_fault", "gauge", "Meter fault status (0x88): 1 = fault"),
        "skew": _Family("routeb_meter_clock_skew_seconds", "gauge", "Meter clock minus ours"),
        "seen": _Family(
            "routeb_last_success_timestamp_seconds", "gauge", "When the meter last answered"
        ),
        "lqi": _Family("routeb_link_quality_lqi", "gauge", "LQI of the last received frame"),
        "rssi": _Family("routeb_link_rssi_dbm", "gauge", "RSSI of the last received frame"),
        "joins": _Family("routeb_session_joins_total", "counter", "PANA joins"),
        "scans": _Family("routeb_session_scans_total", "counter", "Active scans"),
        "rejoins": _Family("routeb_session_rejoins_total", "counter", "Rejoins by reason"),
        "recovery": _Family(
            "routeb_session_recovery_total", "counter", "Recovery ladder steps taken"
        ),
        "events": _Family("routeb_module_events_total", "counter", "SKSTACK events by number"),
        "requests": _Family("routeb_requests_total", "counter", "ECHONET Lite requests sent"),
        "timeouts": _Family("routeb_request_timeouts_total", "counter", "Requests never answered"),
        "retx": _Family("routeb_request_retransmissions_total", "counter", "Retransmissions"),
        "sna": _Family("routeb_sna_answers_total", "counter", "SNA (refused) answers"),
        "backfill": _Family(
            "routeb_backfill_missing_slots", "gauge", "30-minute slots still to backfill"
        ),
        "filled": _Family("routeb_backfill_filled_slots_total", "counter", "Slots backfilled"),
    }
    for s in states:
        m = {"meter": s.meter}
        down = {} if s.online or not s.down_reason else {"reason": s.down_reason}
        fam["up"].add(1 if s.online else 0, **m, **down)
        fam["power"].add(s.power_w, **m)
        fam["current"].add(s.current_r_a, phase="R", **m)
        fam["current"].add(s.current_t_a, phase="T", **m)
        fam["energy"].add(s.energy_import_kwh, direction="import", **m)
        fam["energy"].add(s.energy_export_kwh, direction="export", **m)
        fam["slot"].add(s.last_slot_import_kwh, direction="import", **m)
        fam["slot"].add(s.last_slot_export_kwh, direction="export", **m)
        fam["fault"].add(None if s.fault is None else int(s.fault), **m)
        fam["skew"].add(s.clock_skew_s, **m)
        fam["seen"].add(None if s.last_seen is None else s.last_seen.timestamp(), **m)
        link = s.link
        fam["lqi"].add(link.lqi, **m)
        fam["rssi"].add(link.rssi_dbm, **m)
        fam["joins"].add(link.joins, **m)
        fam["scans"].add(link.scans, **m)
        for reason, count in sorted(link.rejoins.items()):
            fam["rejoins"].add(count, reason=reason, **m)
        for step, count in sorted(link.recovery_steps.items()):
            fam["recovery"].add(count, step=step, **m)
        for number, count in sorted(link.module_events.items()):
            fam["events"].add(count, event=number, **m)
        fam["requests"].add(link.requests, **m)
        fam["timeouts"].add(link.timeouts, **m)
        fam["retx"].add(link.retransmissions, **m)
        fam["sna"].add(link.sna_answers, **m)
        fam["backfill"].add(s.backfill_missing, **m)
        fam["filled"].add(s.backfill_filled, **m)
    lines = [line for family in fam.values() for line in family.lines()]
    for name, value in sorted((extra or {}).items()):
        lines += [f"# TYPE {name} gauge", f"{name} {_number(value)}"]
    return "\n".join(lines) + "\n"
