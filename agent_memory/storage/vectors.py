"""The VectorIndex protocol: per-user, per-kind nearest-neighbour search over our own vectors.

Implementations keep only ids and vectors: never a user's text, never the user id in clear
(collection names derive from a hash), so deleting the records leaves nothing readable behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["KINDS", "Kind", "VectorIndex", "collection_name"]

Kind = Literal["fact", "entity", "episode", "observation"]
KINDS: tuple[Kind, ...] = ("fact", "entity", "episode", "observation")


def collection_name(user_id: str, kind: str, prefix: str = "am") -> str:
    """A Chroma-safe collection name for one user's vectors of one kind (3-63 chars, alnum ends)."""
    digest = hashlib.sha256(user_id.encode("utf-8")).hexdigest()[:32]
    return f"{prefix}_{digest}_{kind}"


@runtime_checkable
class VectorIndex(Protocol):
    """Nearest-neighbour search, partitioned by user and by kind of record."""

    def upsert(self, user_id: str, kind: Kind, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace vectors (rows of ``vectors``) under ``ids``."""
        ...

    def query(self, user_id: str, kind: Kind, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest ids with cosine similarity, best first; [] when there is nothing."""
        ...

    def query_many(self, user_id: str, kind: Kind, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """``query`` for each row of ``vectors`` in one call, in row order."""
        ...

    def delete(self, user_id: str, kind: Kind, ids: Sequence[str]) -> None:
        """Remove these ids (missing ones are ignored)."""
        ...

    def delete_user(self, user_id: str) -> None:
        """Remove every vector of this user, leaving no collection or file behind."""
        ...

    def count(self, user_id: str, kind: Kind) -> int:
        """How many vectors this user has of this kind."""
        ...

    def ids(self, user_id: str, kind: Kind) -> list[str]:
        """Every id this user has vectors for, of this kind (for reconcile)."""
        ...

    def drop_users_except(self, user_ids: Callable[[], Collection[str]]) -> int:
        """Delete the vectors of every user not in ``user_ids()`` (left by a crash mid-delete); returns
        how many users. ``user_ids`` is called after the index listed its own users, so a user that
        another process creates meanwhile is kept."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...
