"""Prometheus text exposition (format 0.0.4) of the live state, with base-unit metric names.

Hand-rendered from the quantity registry (:mod:`routeb.live.quantities`): every quantity with a
:class:`~routeb.live.quantities.Metric` is one sample per meter, in registry order, e.g.
``routeb_power_watts``, ``routeb_current_amperes{phase}``,
``routeb_energy_kilowatt_hours_total{direction}``, link and session counters. A value that is
unavailable is absent, never 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from routeb.live import QUANTITIES, LiveState, Metric

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
    def __init__(self, metric: Metric) -> None:
        self.metric = metric
        self.samples: list[tuple[dict[str, str], Number]] = []

    def lines(self) -> Iterable[str]:
        if not self.samples:
            return
        yield f"# HELP {self.metric.name} {self.metric.help}"
        yield f"# TYPE {self.metric.name} {self.metric.kind}"
        for labels, value in self.samples:
            yield f"{self.metric.name}{_labels(labels)} {_number(value)}"


def render(states: Iterable[LiveState], extra: Mapping[str, Number] | None = None) -> str:
    """The /metrics body for every meter; a value that is unavailable is simply absent."""
    families: dict[str, _Family] = {}
    for quantity in QUANTITIES:
        if quantity.metric is not None:
            families.setdefault(quantity.metric.name, _Family(quantity.metric))
    for state in states:
        for quantity in QUANTITIES:
            metric = quantity.metric
            if metric is None:
                continue
            samples = families[metric.name].samples
            labels = {"meter": state.meter, **dict(metric.labels)}
            if metric.state_labels is not None:
                labels |= dict(metric.state_labels(state))
            value = quantity.read(state)
            if metric.breakdown is not None and isinstance(value, Mapping):
                for key, count in sorted(value.items()):
                    samples.append(({**labels, metric.breakdown: key}, count))
                continue
            number = quantity.number(state)
            if number is not None:
                samples.append((labels, number))
    lines = [line for family in families.values() for line in family.lines()]
    for name, value in sorted((extra or {}).items()):
        lines += [f"# TYPE {name} gauge", f"{name} {_number(value)}"]
    return "\n".join(lines) + "\n"
