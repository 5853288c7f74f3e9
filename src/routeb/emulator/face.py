"""What both wire faces of the emulated module share (SKSTACK text, J11 binary): the radio model
with its meters, the faults and their injection. A face adds its protocol: how host bytes are
read, how radio events are written, and what a module reset clears."""

from __future__ import annotations

from routeb.emulator.radio import MeterSite, ModuleFaults, RadioMeter, RadioModel

__all__ = ["ModuleFace"]


class ModuleFace:
    """The shared part of a face; subclasses set ``air``, ``sites`` and ``stats`` and ``_reset``."""

    air: RadioModel
    sites: list[MeterSite]
    stats: dict[str, int]
    _closed: bool

    @property
    def faults(self) -> ModuleFaults:
        return self.air.faults

    @faults.setter
    def faults(self, value: ModuleFaults) -> None:
        self.air.faults = value

    @property
    def radio(self) -> RadioMeter:
        """The first meter's radio identity (the only one without ``--meters``)."""
        return self.sites[0].radio

    @property
    def channel(self) -> int:
        """The first meter's current channel, SKSTACK numbering (the channel-change fault moves
        it)."""
        return self.sites[0].channel

    def start(self) -> None:
        """Start the background faults: the module's own resets, the meters' channel change."""
        if self.faults.reset_every:
            self.air.every(self.faults.reset_every, self._spontaneous_reset)
        self.air.start()

    def close(self) -> None:
        self._closed = True
        self.air.close()

    def _reset(self) -> None:
        """The module restarts: the face forgets what its protocol says a reset forgets."""
        raise NotImplementedError

    def _spontaneous_reset(self) -> None:
        self.air.count("spontaneous_reset")
        self._reset()

    def inject(self, name: str) -> None:
        """Trigger a fault now (tests, the --fault interface): event26, event29, reset."""
        if name == "event26":
            self.air.meter_ends_session()
        elif name == "event29":
            self.air.expire_lifetime()
        elif name == "reset":
            self._spontaneous_reset()
