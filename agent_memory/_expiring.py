"""A small bounded map whose entries expire a fixed time after they were written (pure, no I/O)."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["Expiring"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """Entries live ``ttl`` seconds after they were last written; past ``size`` the oldest written go.

    Entries are kept in the order written, so the expired ones are always the first: dropping them
    costs nothing per read. Not thread-safe: its owner holds its own lock.
    """

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self._clock = ttl, size, clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def _expire(self, now: float) -> None:
        while self._items and next(iter(self._items.values()))[0] <= now:
            self._items.popitem(last=False)

    def get(self, key: K) -> V | None:
        """The value written under ``key`` less than ``ttl`` seconds ago, else None."""
        return self.get_many((key,))[0]

    def get_many(self, keys: Iterable[K]) -> list[V | None]:
        """``get`` of each key, reading the clock once."""
        self._expire(self._clock())
        items = self._items
        return [None if (kept := items.get(key)) is None else kept[1] for key in keys]

    def put_many(self, pairs: Iterable[tuple[K, V]]) -> None:
        """``put`` of each (key, value), reading the clock once."""
        now = self._clock()
        for key, value in pairs:
            self._items.pop(key, None)
            self._items[key] = (now + self.ttl, value)
        self._expire(now)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def put(self, key: K, value: V) -> None:
        self.put_many(((key, value),))

    def drop(self, where: Callable[[K], bool]) -> None:
        """Remove every entry whose key ``where`` accepts."""
        for key in [k for k in self._items if where(k)]:
            del self._items[key]
