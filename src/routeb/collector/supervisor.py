"""The composition root of the collectors: the config's meters → links, collectors, rotations.

One place turns the configuration into what runs (issue 17 §1): each ``[meter]`` /
``[[meter]]`` becomes a :class:`MeterPlan` (its name, how to reach it, its schedules), and
:class:`Supervisor` runs them in one task group — one collector per meter; meters that share a
device share it through a :class:`~routeb.collector.rotation.Rotation`; a meter alone on its
dongle, and every ``udp://`` meter, runs on its own, concurrently (docs/meters.md). One meter
configured is exactly the single collector of before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

from routeb._redact import Secret
from routeb.collector.daemon import Collector, CollectorSettings, MeterLink, Recorder
from routeb.collector.links import Endpoint, open_link
from routeb.collector.rotation import Rotation, RotationSettings
from routeb.config import Config, MeterConfig, PollingConfig
from routeb.driver.cache import meter_key
from routeb.driver.latch import AuthEvidence
from routeb.driver.session import SessionSettings
from routeb.errors import ConfigError
from routeb.live import LiveHub
from routeb.meter.client import ClientSettings
from routeb.radio.base import ModuleChoice

__all__ = [
    "MeterPlan",
    "Supervisor",
    "client_settings",
    "default_meter_name",
    "from_section",
    "meter_plans",
    "rotation_settings",
]

_S = TypeVar("_S")


def from_section(cls: type[_S], section: object, **extra: Any) -> _S:
    """Runtime settings ``cls`` from the config section's keys of the same names (once)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {n: getattr(section, n) for n in names if hasattr(section, n) and n not in extra}
    return cls(**values, **extra)


def client_settings(polling: PollingConfig) -> ClientSettings:
    """The client's pacing and AIF timers from ``[polling]``."""
    return from_section(ClientSettings, polling)


def rotation_settings(polling: PollingConfig) -> RotationSettings:
    """The visit timing of meters sharing a dongle, from ``[polling]``."""
    return from_section(RotationSettings, polling)


def default_meter_name(rbid: Secret | None) -> str:
    """A meter's key when none is configured: from a digest of its ID (never the ID)."""
    return "m" + meter_key(rbid)[:11] if rbid else "lan"


@dataclass(frozen=True, slots=True)
class MeterPlan:
    """One meter of the config, resolved: its name, how to reach it, its schedules."""

    name: str
    endpoint: Endpoint
    settings: CollectorSettings


def _plan(config: Config, meter: MeterConfig, name: str, endpoint: Endpoint) -> MeterPlan:
    polling = config.polling
    schedules = CollectorSettings(
        meter=name,
        instant_interval=meter.instantaneous_interval or polling.instantaneous_interval,
        energy_interval=meter.energy_interval or polling.energy_interval,
        clock_interval=polling.clock_interval,
    )
    if not endpoint.lan and endpoint.auth_evidence is None:
        # One record of this meter's failed joins for the daemon's life (issue 16 §4).
        gap = (endpoint.session_settings or SessionSettings()).auth_confirm_gap
        endpoint = replace(endpoint, auth_evidence=AuthEvidence(gap))
    return MeterPlan(name, endpoint, schedules)


def meter_plans(
    config: Config,
    *,
    first: Endpoint,
    name: str | None = None,
    show_identifiers: bool = False,
) -> list[MeterPlan]:
    """Every configured meter as a plan; ``first`` is the single meter as the CLI resolved it.

    With one meter, ``first`` carries what the flags, the environment and a prompt gave, and
    ``name`` (``--meter-name``) wins over ``[meter] name``. With several ``[[meter]]`` tables,
    each must name its device and (unless ``udp://``) carry its own credentials.
    """
    clients = client_settings(config.polling)
    if len(config.meters) <= 1:
        meter = config.meter
        chosen = name or meter.name or default_meter_name(first.rbid or None)
        return [_plan(config, meter, chosen, first)]
    if name is not None:
        raise ConfigError("--meter-name", "applies to one meter: name each [[meter]] instead")
    plans = []
    for index, meter in enumerate(config.meters):
        label = f"meter[{index}]"
        if meter.device is None:
            raise ConfigError(f"{label}.device", "is required (a serial device or udp://…)")
        endpoint = Endpoint(
            meter.device,
            meter.id or Secret(""),
            meter.password or Secret(""),
            dialect=ModuleChoice.parse(meter.dialect),
            state_dir=meter.state_dir,
            session_settings=SessionSettings(
                scan_durations=meter.scan_durations, show_identifiers=show_identifiers
            ),
            client_settings=clients,
        )
        if not endpoint.lan:
            for key, value in (("id", meter.id), ("password", meter.password)):
                if value is None:
                    raise ConfigError(
                        f"{label}.{key}", f"is required ({key}, {key}_env or {key}_file)"
                    )
        plans.append(_plan(config, meter, meter.name, endpoint))
    return [_sharing(plan, plans, config.polling) for plan in plans]


def _sharing(plan: MeterPlan, plans: list[MeterPlan], polling: PollingConfig) -> MeterPlan:
    """A meter that shares its dongle retries an EVENT 24 join after the switch pause."""
    device = plan.endpoint.device
    shared = sum(1 for other in plans if other.endpoint.device == device) > 1
    session = plan.endpoint.session_settings
    if plan.endpoint.lan or not shared or session is None:
        return plan
    # ...and never sits out the latch's confirmation gap inside its visit (the next decides).
    retry = replace(
        session, rejoin_retry_after=max(polling.switch_pause, 1.0), wait_for_auth_evidence=False
    )
    return replace(plan, endpoint=replace(plan.endpoint, session_settings=retry))


def _by_device(plans: list[MeterPlan]) -> Iterator[tuple[str, list[MeterPlan]]]:
    """Meters grouped by the dongle they share (every ``udp://`` meter alone)."""
    groups: dict[str, list[MeterPlan]] = {}
    for plan in plans:
        device = plan.endpoint.device
        groups.setdefault(f"{device}#{plan.name}" if plan.endpoint.lan else device, []).append(plan)
    for key, members in groups.items():
        yield key.split("#", 1)[0], members


class Supervisor:
    """Runs every meter's collector, each dongle shared in turn, until cancelled."""

    def __init__(
        self,
        plans: list[MeterPlan],
        recorder: Recorder,
        hub: LiveHub,
        rotation: RotationSettings,
        *,
        retry_auth: bool = False,
    ) -> None:
        self.plans = plans
        self.rotation = rotation
        self.collectors: dict[str, Collector] = {}
        self.rotations: list[Rotation] = []
        self._retry_auth = {plan.name: retry_auth for plan in plans}
        self._runs: list[Callable[[], Any]] = []
        for device, members in _by_device(plans):
            collectors = [
                Collector(self._connector(plan), recorder, hub, plan.settings) for plan in members
            ]
            for plan, collector in zip(members, collectors, strict=True):
                self.collectors[plan.name] = collector
            if len(collectors) == 1:
                self._runs.append(collectors[0].run)
            else:
                shared = Rotation(device, collectors, rotation)
                self.rotations.append(shared)
                self._runs.append(shared.run)

    def _connector(self, plan: MeterPlan) -> Callable[[], AbstractAsyncContextManager[MeterLink]]:
        def connect() -> AbstractAsyncContextManager[MeterLink]:
            retry = self._retry_auth[plan.name]
            self._retry_auth[plan.name] = False  # only the first attempt clears the latch
            return open_link(plan.endpoint, retry_auth=retry)

        return connect

    async def run(self) -> None:
        """Every collector and rotation in one task group."""
        async with asyncio.TaskGroup() as group:
            for index, run in enumerate(self._runs):
                group.create_task(run(), name=f"routeb-meters-{index}")
