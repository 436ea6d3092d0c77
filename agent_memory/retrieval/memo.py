"""What a retriever keeps between reads of one user: question-independent searches, and who speaks."""

from __future__ import annotations

import threading

from .._expiring import Expiring
from ..storage.base import EpisodeHead

__all__ = ["TYPED_TTL", "ReadMemo"]

TYPED_TTL = 60.0  # seconds an entry is kept after it was last written
_KEEP = 512  # (user, kinds) pairs kept, and users whose speakers are known
_SPEAKERS_KEEP = 1000  # speaker names kept per user
_HEAD_USERS = 8  # users whose episode heads are kept (the ones read most recently)
_HEADS_KEEP = 20_000  # episode heads kept per user (~7 MB)


class ReadMemo:
    """Thread-safe and bounded; ``forget`` drops a user's entries (after a delete through this memory),
    and every entry expires ``TYPED_TTL`` seconds after it was last written (a delete elsewhere).

    Holds ids and names only, never text: the turns mentioning things of a kind (every mention of
    entities of that kind: it does not depend on the question), the names heard speaking in a
    user's turns (to guess which people a question names are speakers), and the heads of the
    episodes ranked (who spoke, when, how long: what ranking reads of hundreds of turns a read;
    they never change, and are kept ``TYPED_TTL`` seconds from the first read, then read again).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._typed: Expiring[tuple[str, frozenset[str], int], dict[str, float]] = Expiring(TYPED_TTL, _KEEP)
        self._speakers: Expiring[str, frozenset[str]] = Expiring(TYPED_TTL, _KEEP)
        self._heads: Expiring[str, dict[str, EpisodeHead]] = Expiring(TYPED_TTL, _HEAD_USERS)

    def typed(self, user_id: str, types: frozenset[str], pool: int) -> dict[str, float] | None:
        """The kept turns naming things of these types, or None (never searched, or expired)."""
        with self._lock:
            return self._typed.get((user_id, types, pool))

    def keep_typed(self, user_id: str, types: frozenset[str], pool: int, hits: dict[str, float]) -> None:
        with self._lock:
            self._typed.put((user_id, types, pool), hits)

    def heard(self, user_id: str, names: set[str]) -> None:
        """Remember these names as speakers of the user's turns."""
        with self._lock:
            known = self._speakers.get(user_id) or frozenset()
            if not names <= known:
                known = frozenset(list(known | names)[-_SPEAKERS_KEEP:])
            self._speakers.put(user_id, known)

    def speakers(self, user_id: str) -> frozenset[str]:
        with self._lock:
            return self._speakers.get(user_id) or frozenset()

    def heads(self, user_id: str) -> dict[str, EpisodeHead]:
        """The user's kept episode heads, by id."""
        with self._lock:
            return self._heads.get(user_id) or {}

    def keep_heads(self, user_id: str, heads: dict[str, EpisodeHead]) -> None:
        """Keep these heads too (up to ``_HEADS_KEEP`` a user; they expire with the user's first ones)."""
        with self._lock:
            kept = self._heads.get(user_id)
            if kept is None:
                self._heads.put(user_id, dict(list(heads.items())[:_HEADS_KEEP]))
            elif len(kept) < _HEADS_KEEP:
                kept.update(heads)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._typed.drop(lambda key: key[0] == user_id)
            self._speakers.drop(lambda key: key == user_id)
            self._heads.drop(lambda key: key == user_id)
