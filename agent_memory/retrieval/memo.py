"""What a retriever keeps between reads of one user: question-independent searches, and who speaks."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

__all__ = ["TYPED_TTL", "ReadMemo"]

TYPED_TTL = 60.0  # seconds a user's turns naming things of a kind are kept
_KEEP = 512  # (user, kinds) pairs kept, and users whose speakers are known
_SPEAKERS_KEEP = 1000  # speaker names kept per user


class ReadMemo:
    """Thread-safe and bounded; ``forget`` drops a user's entries (after a delete through this memory).

    Holds ids and names only, never text: the turns naming things of a kind (a BM25 over dozens of
    names that does not depend on the question, kept ``TYPED_TTL`` seconds), and the names heard
    speaking in a user's turns (to guess which people a question names are speakers).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._typed: OrderedDict[tuple[str, frozenset[str], int], tuple[float, dict[str, float]]] = OrderedDict()
        self._speakers: OrderedDict[str, frozenset[str]] = OrderedDict()

    def typed(self, user_id: str, types: frozenset[str], pool: int) -> dict[str, float] | None:
        """The kept turns naming things of these types, or None (never searched, or expired)."""
        key = (user_id, types, pool)
        with self._lock:
            kept = self._typed.get(key)
            if kept is None or kept[0] <= time.monotonic():
                return None
            self._typed.move_to_end(key)
            return kept[1]

    def keep_typed(self, user_id: str, types: frozenset[str], pool: int, hits: dict[str, float]) -> None:
        with self._lock:
            self._typed[(user_id, types, pool)] = (time.monotonic() + TYPED_TTL, hits)
            while len(self._typed) > _KEEP:
                self._typed.popitem(last=False)

    def heard(self, user_id: str, names: set[str]) -> None:
        """Remember these names as speakers of the user's turns."""
        with self._lock:
            known = self._speakers.pop(user_id, frozenset())
            if not names <= known:
                known = frozenset(list(known | names)[-_SPEAKERS_KEEP:])
            self._speakers[user_id] = known
            while len(self._speakers) > _KEEP:
                self._speakers.popitem(last=False)

    def speakers(self, user_id: str) -> frozenset[str]:
        with self._lock:
            return self._speakers.get(user_id, frozenset())

    def forget(self, user_id: str) -> None:
        with self._lock:
            for key in [k for k in self._typed if k[0] == user_id]:
                del self._typed[key]
            self._speakers.pop(user_id, None)
