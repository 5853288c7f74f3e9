"""One dongle, several meters: visit each in turn, and lose no half-hour (issue 17 §2).

A module holds one PANA session at a time (protocol.md §D.5; the emulator does the same), so
the meters that share a dongle take turns: each visit joins that meter from its own scan cache
(``driver/cache.py`` is keyed by a digest of each B-route ID), reads live values, takes the
pushes that come, backfills whatever the meter's history holds and the store lacks, and ends
with SKTERM (the session's ``close()``). Nothing is lost between visits: the next visit's
backfill fetches the half-hours the meter recorded meanwhile (history 2, or E5 → E2/E4).

Between two visits the dongle rests ``switch_pause`` seconds: an immediate rejoin races the
meter's clean-up of the session just ended and fails with EVENT 24 (peers.md, broute-mqtt 1.1;
the emulator's rejoin guard, ``routeb.emulator.radio.REJOIN_GUARD``). A meter that cannot be
reached (out of range: no beacon; its credentials latched) ends only its own visit — its live
state says why — and is tried less often (every 2nd, 4th, … up to every 8th round) so that it
does not eat the others' time; latched credentials are not tried again until a reload. The
transmit budget (EVENT 32/33, protocol.md §E) is the module's, so it is shared by all visits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from routeb.collector.daemon import Collector

__all__ = ["MAX_SKIPPED_ROUNDS", "Rotation", "RotationSettings"]

_LOG = logging.getLogger(__name__)
# An unreachable meter is tried every 2nd, 4th, then at most every 8th round.
MAX_SKIPPED_ROUNDS: Final = 7


@dataclass(frozen=True, slots=True)
class RotationSettings:
    """Visit timing ([polling] switch_pause, visit_seconds, visit_min_seconds)."""

    switch_pause: float
    visit_seconds: float
    visit_min_seconds: float


class Rotation:
    """Owns one shared dongle and visits its meters in turn, forever (until cancelled)."""

    def __init__(
        self, device: str, collectors: Sequence[Collector], settings: RotationSettings
    ) -> None:
        self.device = device
        self.collectors = list(collectors)
        self.settings = settings
        self.rounds = 0
        self.visits = 0
        self._skip: dict[str, int] = {}  # rounds still skipped, per unreachable meter
        self._misses: dict[str, int] = {}

    async def run(self) -> None:
        """Visit each meter in turn; pause after each SKTERM."""
        while True:
            self.rounds += 1
            visited = 0
            for collector in self.collectors:
                name = collector.settings.meter
                if collector.latched is not None:
                    continue  # credentials rejected: only new ones (a reload) help
                if self._skip.get(name, 0) > 0:
                    self._skip[name] -= 1
                    continue
                then = f"the dongle {self.device} visits the other meters, then this one again"
                reached = await collector.visit(
                    self.settings.visit_seconds, self.settings.visit_min_seconds, then
                )
                self.visits += 1
                visited += 1
                self._account(name, reached)
                await asyncio.sleep(self.settings.switch_pause)
            if not visited:
                # Every meter latched or skipped this round: do not spin.
                await asyncio.sleep(max(self.settings.switch_pause, 1.0))

    def _account(self, name: str, reached: bool) -> None:
        if reached:
            self._misses.pop(name, None)
            return
        misses = self._misses.get(name, 0) + 1
        self._misses[name] = misses
        self._skip[name] = min(2**misses - 1, MAX_SKIPPED_ROUNDS)
        _LOG.warning(
            "meter %s unreachable on %s (%d in a row): next try after %d rounds",
            name,
            self.device,
            misses,
            self._skip[name],
        )
