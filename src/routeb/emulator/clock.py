"""The emulated meter's clock (rate and skew) and the module's delay scale: two separate knobs.

Two different things can be sped up in the emulator, and they must not be confused:

* ``EmulatorClock.speed`` is how fast the *meter's calendar* runs against real time: at 3600 an
  hour of meter time passes every real second, so the :00 / :30 pushes (protocol.md §C 3.2.1)
  and the 30-minute history (§B.1 E2) fill quickly. It changes *what time it is* on the meter.
* ``DelayScale.factor`` multiplies the *module's reaction times* (scan, join, answer delays of
  §E and §G): at 0.01 a 17.5 s scan takes 0.175 s. It changes *how long things take*, not the
  meter's calendar.

A demo can run the calendar fast while the radio keeps real timing, or the reverse.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from routeb.errors import ConfigError
from routeb.meter_time import JST, SLOT

__all__ = [
    "JST",
    "MINUTE",
    "SLOT",
    "DelayScale",
    "EmulatorClock",
    "MonotonicSource",
    "floor_minute",
    "floor_slot",
    "jst_now",
    "next_slot",
]

# JST (meters keep Japanese local time, §A.7 0x97/0x98) and the 30-minute SLOT (§B.1
# EA/EB/E2/EC) are routeb.meter_time's, re-exported here for the emulator's callers.
# §B.1 D0/EE/EF (Release R): one-minute readings.
MINUTE: Final = timedelta(minutes=1)
_EPOCH: Final = datetime(2000, 1, 1)  # any midnight; the grid of :00/:30 is anchored on it

MonotonicSource = Callable[[], float]
"""A monotonic time source in real seconds, like ``time.monotonic`` (injectable in tests)."""


def jst_now() -> datetime:
    """Now in Japan as a naive local datetime (the meter's representation)."""
    return datetime.now(JST).replace(tzinfo=None)


def _naive_jst(value: datetime) -> datetime:
    """A naive JST datetime; aware datetimes are converted to JST first."""
    if value.tzinfo is None:
        return value
    return value.astimezone(JST).replace(tzinfo=None)


def floor_slot(t: datetime) -> datetime:
    """The latest :00 or :30 boundary at or before ``t`` (the EA/EB time stamp, §B.1)."""
    return t - (t - _EPOCH) % SLOT


def next_slot(t: datetime) -> datetime:
    """The first :00 or :30 boundary strictly after ``t`` (when the next push is due, §C)."""
    return floor_slot(t) + SLOT


def floor_minute(t: datetime) -> datetime:
    """``t`` with seconds and microseconds dropped (the D0 / EE time stamp, §B.1)."""
    return t.replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class DelayScale:
    """Time-scale factor F: every module delay (§E, §G) lasts F times its nominal length."""

    factor: float = 1.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.factor) and self.factor >= 0):
            raise ConfigError("delay_scale", f"must be a finite number >= 0, got {self.factor!r}")

    def scale(self, seconds: float) -> float:
        """The real duration of a nominal delay of ``seconds``."""
        return seconds * self.factor

    def scale_timedelta(self, delay: timedelta) -> float:
        """The real duration, in seconds, of a nominal delay."""
        return delay.total_seconds() * self.factor


@dataclass(frozen=True, slots=True)
class EmulatorClock:
    """The meter's clock: true JST ``start`` at creation, running ``speed``× real time, skewed."""

    # true_now() is the emulated world's true time; now() is what the meter believes
    # (true_now() + offset), the time it stamps on readings (§B.1 EA, E2; §A.7 0x97/0x98).

    start: datetime = field(default_factory=jst_now)
    speed: float = 1.0
    offset: timedelta = timedelta(0)
    monotonic: MonotonicSource = field(default=time.monotonic, repr=False, compare=False)
    _anchor: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and self.speed > 0):
            raise ConfigError("clock_speed", f"must be a finite number > 0, got {self.speed!r}")
        object.__setattr__(self, "start", _naive_jst(self.start))
        object.__setattr__(self, "_anchor", self.monotonic())

    def elapsed(self) -> float:
        """Real seconds since the clock was created."""
        return self.monotonic() - self._anchor

    def true_now(self) -> datetime:
        """The emulated true time (naive JST), without the meter's skew."""
        return self.start + timedelta(seconds=self.elapsed() * self.speed)

    def now(self) -> datetime:
        """The meter's local time (naive JST): true time plus the configured skew."""
        return self.true_now() + self.offset

    def to_real(self, meter_duration: timedelta) -> float:
        """Real seconds that a span of meter time takes at this clock's speed."""
        return meter_duration.total_seconds() / self.speed

    def to_meter(self, real_seconds: float) -> timedelta:
        """The span of meter time that passes in ``real_seconds``."""
        return timedelta(seconds=real_seconds * self.speed)

    def seconds_until(self, meter_dt: datetime) -> float:
        """Real seconds until the meter clock reads ``meter_dt`` (0.0 if already past)."""
        return max(0.0, self.to_real(_naive_jst(meter_dt) - self.now()))
