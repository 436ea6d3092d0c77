"""What a retriever keeps between reads of one user: question-independent searches, and who speaks."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

__all__ = ["TYPED_TTL", "ReadMemo"]

TYPED_TTL = 60.0  # seconds an entry is kept after it was last written
_KEEP = 512  # (user, kinds) pairs kept, and users whose speakers are known
_SPEAKERS_KEEP = 1000  # speaker names kept per user


class ReadMemo:
    """Thread-safe and bounded; ``forget`` drops a user's entries (after a delete through this memory),
    and every entry expires ``TYPED_TTL`` seconds after it was last written (a delete elsewhere).

    Holds ids and names only, never text: the turns naming things of a kind (a BM25 over dozens of
    names that does not depend on the question), and the names heard speaking in a user's turns (to
    guess which people a question names are speakers).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._typed: OrderedDict[tuple[str, frozenset[str], int], tuple[float, dict[str, float]]] = OrderedDict()
        self._speakers: OrderedDict[str, tuple[float, frozenset[str]]] = OrderedDict()
        self._swept = 0.0

    def _sweep(self, now: float) -> None:
        """(Holding the lock) drop expired entries, at most once a second."""
        if now - self._swept < 1.0:
            return
        self._swept = now
        for key in [k for k, (until, _) in self._typed.items() if until <= now]:
            del self._typed[key]
        for user in [u for u, (until, _) in self._speakers.items() if until <= now]:
            del self._speakers[user]

    def typed(self, user_id: str, types: frozenset[str], pool: int) -> dict[str, float] | None:
        """The kept turns naming things of these types, or None (never searched, or expired)."""
        key = (user_id, types, pool)
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            kept = self._typed.get(key)
            return kept[1] if kept is not None and kept[0] > now else None

    def keep_typed(self, user_id: str, types: frozenset[str], pool: int, hits: dict[str, float]) -> None:
        with self._lock:
            self._typed[(user_id, types, pool)] = (time.monotonic() + TYPED_TTL, hits)
            self._typed.move_to_end((user_id, types, pool))
            while len(self._typed) > _KEEP:
                self._typed.popitem(last=False)

    def heard(self, user_id: str, names: set[str]) -> None:
        """Remember these names as speakers of the user's turns."""
        with self._lock:
            _, known = self._speakers.pop(user_id, (0.0, frozenset()))
            if not names <= known:
                known = frozenset(list(known | names)[-_SPEAKERS_KEEP:])
            self._speakers[user_id] = (time.monotonic() + TYPED_TTL, known)
            while len(self._speakers) > _KEEP:
                self._speakers.popitem(last=False)

    def speakers(self, user_id: str) -> frozenset[str]:
        now = time.monotonic()
        with self._lock:
            self._sweep(now)
            kept = self._speakers.get(user_id)
            return kept[1] if kept is not None and kept[0] > now else frozenset()

    def forget(self, user_id: str) -> None:
        with self._lock:
            for key in [k for k in self._typed if k[0] == user_id]:
                del self._typed[key]
            self._speakers.pop(user_id, None)
