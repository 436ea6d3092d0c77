"""An exact, in-process cosine index: one growable numpy matrix per (user, kind).

Brute force is exact and fast enough for one user's memories (a 10k x 384 matrix product takes
well under a millisecond); it backs ``Memory.ephemeral()`` and the tests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence

import numpy as np

from agent_memory.errors import DimensionMismatchError, InvalidInputError
from agent_memory.storage.vectors import KINDS, Kind

__all__ = ["ExactIndex"]


def check_kind(kind: str) -> None:
    """Refuse kinds outside KINDS (``delete_user`` only knows those)."""
    if kind not in KINDS:
        raise InvalidInputError(f"Unknown kind {kind!r}; expected one of {', '.join(KINDS)}")


def prepare_ids(ids: Sequence[str]) -> list[str]:
    """Validate a sequence of ids (a bare string is refused: it would iterate characters)."""
    if isinstance(ids, str):
        raise InvalidInputError("ids must be a sequence of strings, not a single string")
    ids = list(ids)
    if any(not isinstance(i, str) or not i for i in ids):
        raise InvalidInputError("ids must be non-empty strings")
    return ids


def prepare_upsert(ids: Sequence[str], vectors: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Validate ids and rows; keep the last row of a repeated id. Returns (ids, float32 matrix)."""
    ids = prepare_ids(ids)
    matrix = np.asarray(vectors, dtype=np.float32)
    if not ids and matrix.size == 0:
        return [], np.zeros((0, 0), dtype=np.float32)
    if matrix.ndim == 1 and len(ids) == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.shape[0] != len(ids) or matrix.shape[1] == 0:
        raise InvalidInputError(f"Expected {len(ids)} vectors as a 2-D array, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise InvalidInputError("Vectors contain NaN or infinity")
    last = {vid: row for row, vid in enumerate(ids)}
    if len(last) != len(ids):
        rows = sorted(last.values())
        return [ids[r] for r in rows], matrix[rows]
    return ids, matrix


def prepare_query(vector: np.ndarray) -> np.ndarray:
    """Validate a query vector; accepts shape (d,) or (1, d). Returns a float32 (d,) array."""
    query = np.asarray(vector, dtype=np.float32)
    if query.ndim == 2 and query.shape[0] == 1:
        query = query[0]
    if query.ndim != 1 or query.size == 0:
        raise InvalidInputError(f"Expected one query vector, got shape {query.shape}")
    if not np.isfinite(query).all():
        raise InvalidInputError("Query vector contains NaN or infinity")
    return query


def prepare_queries(vectors: np.ndarray) -> np.ndarray:
    """Validate query vectors; accepts shape (n, d). Returns a float32 (n, d) array."""
    queries = np.asarray(vectors, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] == 0:
        raise InvalidInputError(f"Expected a matrix of query vectors, got shape {queries.shape}")
    if not np.isfinite(queries).all():
        raise InvalidInputError("Query vectors contain NaN or infinity")
    return queries


def dimension_error(expected: int, got: int, where: str) -> DimensionMismatchError:
    """A DimensionMismatchError naming both dimensions."""
    return DimensionMismatchError(
        f"{where}: vectors have {got} dimensions but the index expects {expected} "
        "(was the embedder changed? re-embed or use a new index)",
        expected=expected,
        got=got,
    )


def _normalise(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


class _Partition:
    """The vectors of one (user, kind): a matrix with spare capacity and an id -> row map."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self.matrix = np.zeros((16, dimensions), dtype=np.float32)
        self.ids: list[str] = []
        self.rows: dict[str, int] = {}

    def upsert(self, ids: list[str], matrix: np.ndarray) -> None:
        """Overwrite known ids in place, append new ones (doubling capacity as needed)."""
        new = [vid for vid in ids if vid not in self.rows]
        needed = len(self.ids) + len(new)
        if needed > self.matrix.shape[0]:
            grown = np.zeros((max(needed, 2 * self.matrix.shape[0]), self.dimensions), dtype=np.float32)
            grown[: len(self.ids)] = self.matrix[: len(self.ids)]
            self.matrix = grown
        for vid in new:
            self.rows[vid] = len(self.ids)
            self.ids.append(vid)
        self.matrix[[self.rows[vid] for vid in ids]] = _normalise(matrix)

    def delete(self, ids: Sequence[str]) -> None:
        """Remove ids by moving the last row into each freed slot."""
        for vid in ids:
            row = self.rows.pop(vid, None)
            if row is None:
                continue
            last = len(self.ids) - 1
            if row != last:
                moved = self.ids[last]
                self.matrix[row] = self.matrix[last]
                self.ids[row] = moved
                self.rows[moved] = row
            self.ids.pop()

    def query(self, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """Top-k (id, cosine) pairs, best first."""
        n = len(self.ids)
        k = min(k, n)
        if k <= 0:
            return []
        scores = self.matrix[:n] @ _normalise(vector)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top]


class ExactIndex:
    """Exact cosine search in process memory; thread-safe; nothing is persisted.

    ``dimensions``, if given, is enforced on every call; otherwise each (user, kind) takes the
    dimension of its first upsert.
    """

    def __init__(self, dimensions: int | None = None) -> None:
        """Create an empty index."""
        self.dimensions = dimensions
        self._parts: dict[tuple[str, str], _Partition] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"ExactIndex(partitions={len(self._parts)})"

    def _expect(self, part: _Partition | None, got: int) -> None:
        """Raise DimensionMismatchError if ``got`` disagrees with the configured or stored dimension."""
        if self.dimensions is not None and got != self.dimensions:
            raise dimension_error(self.dimensions, got, "ExactIndex")
        if part is not None and got != part.dimensions:
            raise dimension_error(part.dimensions, got, "ExactIndex")

    def upsert(self, user_id: str, kind: Kind, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Insert or replace vectors (rows of ``vectors``) under ``ids``."""
        check_kind(kind)
        ids, matrix = prepare_upsert(ids, vectors)
        if not ids:
            return
        with self._lock:
            part = self._parts.get((user_id, kind))
            self._expect(part, matrix.shape[1])
            if part is None:
                part = self._parts[(user_id, kind)] = _Partition(matrix.shape[1])
            part.upsert(ids, matrix)

    def query(self, user_id: str, kind: Kind, vector: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest ids with cosine similarity, best first; [] when there is nothing."""
        return self.query_many(user_id, kind, prepare_query(vector)[None, :], k)[0]

    def query_many(self, user_id: str, kind: Kind, vectors: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """``query`` for each row of ``vectors``, in row order."""
        check_kind(kind)
        queries = prepare_queries(vectors)
        with self._lock:
            part = self._parts.get((user_id, kind))
            self._expect(part, queries.shape[1])
            if part is None or k <= 0:
                return [[] for _ in queries]
            return [part.query(q, int(k)) for q in queries]

    def delete(self, user_id: str, kind: Kind, ids: Sequence[str]) -> None:
        """Remove these ids (missing ones are ignored)."""
        check_kind(kind)
        ids = prepare_ids(ids)
        with self._lock:
            part = self._parts.get((user_id, kind))
            if part is not None:
                part.delete(ids)

    def delete_user(self, user_id: str) -> None:
        """Remove every vector of this user."""
        with self._lock:
            for kind in KINDS:
                self._parts.pop((user_id, kind), None)

    def count(self, user_id: str, kind: Kind) -> int:
        """How many vectors this user has of this kind."""
        check_kind(kind)
        with self._lock:
            part = self._parts.get((user_id, kind))
            return 0 if part is None else len(part.ids)

    def ids(self, user_id: str, kind: Kind) -> list[str]:
        """Every id this user has vectors for, of this kind."""
        check_kind(kind)
        with self._lock:
            part = self._parts.get((user_id, kind))
            return [] if part is None else list(part.ids)

    def drop_users_except(self, user_ids: Callable[[], Collection[str]]) -> int:
        """Delete the vectors of every user not in ``user_ids()``; returns how many users were dropped."""
        with self._lock:
            keep = set(user_ids())
            gone = {u for u, _ in self._parts if u not in keep}
            for key in [k for k in self._parts if k[0] in gone]:
                del self._parts[key]
        return len(gone)

    def close(self) -> None:
        """Drop all vectors (there is nothing else to release)."""
        with self._lock:
            self._parts.clear()
