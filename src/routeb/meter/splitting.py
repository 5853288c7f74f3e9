"""Split a multi-property Get that keeps failing (issue 16 §5), sans-IO.

A longer answer is more frames on the air at the edge of range (6LoWPAN fragments) and a
multi-EPC Get takes the meter longer (protocol.md §E: "~4000 ms" for several EPCs): when one
batch goes unanswered ``limit`` times in a row, it is asked as two halves from then on (and a
half that keeps failing is halved again). After ``rejoin`` answered requests of its pieces the
whole batch is tried again.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DEFAULT_REJOIN", "DEFAULT_SPLIT_LIMIT", "SplitPolicy"]

DEFAULT_SPLIT_LIMIT: Final = 2
# About ten minutes of 10-s polls before the whole batch is tried again.
DEFAULT_REJOIN: Final = 60

Batch = tuple[int, ...]


class SplitPolicy:
    """Which pieces to ask a batch of EPCs in."""

    __slots__ = ("_failures", "_parent", "_split", "_successes", "limit", "rejoin")

    def __init__(self, limit: int = DEFAULT_SPLIT_LIMIT, rejoin: int = DEFAULT_REJOIN) -> None:
        self.limit = limit
        self.rejoin = rejoin
        self._failures: dict[Batch, int] = {}
        self._split: set[Batch] = set()
        self._successes: dict[Batch, int] = {}
        self._parent: dict[Batch, Batch] = {}

    def plan(self, batch: Batch) -> list[Batch]:
        """The pieces, in order, that together are exactly ``batch``."""
        if len(batch) < 2 or batch not in self._split:
            return [batch]
        middle = len(batch) // 2
        left, right = batch[:middle], batch[middle:]
        self._parent[left] = self._parent[right] = batch
        return [*self.plan(left), *self.plan(right)]

    def is_split(self, batch: Batch) -> bool:
        return batch in self._split

    def failed(self, batch: Batch) -> bool:
        """The request for ``batch`` went unanswered; True when it is split from now on."""
        self._successes.pop(self._parent.get(batch, batch), None)
        if len(batch) < 2:
            return False
        count = self._failures.get(batch, 0) + 1
        self._failures[batch] = count
        if count >= self.limit and batch not in self._split:
            self._split.add(batch)
            return True
        return False

    def answered(self, batch: Batch) -> None:
        """The request for ``batch`` was answered."""
        self._failures.pop(batch, None)
        parent = self._parent.get(batch)
        while parent is not None:
            count = self._successes.get(parent, 0) + 1
            self._successes[parent] = count
            if count >= self.rejoin:
                self._split.discard(parent)
                self._failures.pop(parent, None)
                self._successes.pop(parent, None)
            parent = self._parent.get(parent)
