"""Embed each text once: a bounded LRU of vectors keyed by the sha256 of the text, around an embedder.

Ingestion embeds the same short texts again and again: a name looked up for merging and then
indexed, a fact re-saved when a later message repeats it, an observation refreshed when its entity
comes back, the previous message embedded as context for the next batch. The cache hands those back
without running the model; only distinct, unseen texts reach the wrapped embedder, in one call.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from agent_memory.embedding.base import Embedder, check_texts
from agent_memory.errors import InvalidInputError

__all__ = ["CachedEmbedder", "cached"]


class CachedEmbedder:
    """An Embedder that remembers the last ``max_items`` vectors it produced (thread-safe).

    ``name`` and ``dimensions`` are the wrapped embedder's: the vectors are the same. ``hits`` and
    ``misses`` count texts served from the cache and texts sent to the model.
    """

    def __init__(self, inner: Embedder, max_items: int = 8192) -> None:
        """Wrap ``inner``; ``max_items`` vectors (1.5 KB each at 384 dimensions) are kept at most."""
        if max_items < 1:
            raise InvalidInputError("max_items must be >= 1")
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.max_items = max_items
        self.hits = self.misses = 0
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.inner!r}, items={len(self._vectors)}/{self.max_items})"

    def __getattr__(self, attr: str) -> object:
        """Anything else (``load``, ``intra_op_num_threads`` ...) is the wrapped embedder's."""
        if attr == "inner":  # not set yet (e.g. during unpickling): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of ``texts``, in order; texts not seen recently are embedded in one call."""
        items = check_texts(texts)
        keys = [self._key(t) for t in items]
        out = np.empty((len(items), self.dimensions), dtype=np.float32)
        todo: dict[bytes, list[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._vectors.get(key)
                if vector is None:
                    todo.setdefault(key, []).append(i)
                else:
                    self._vectors.move_to_end(key)
                    out[i] = vector
            self.hits += len(items) - len(todo)
            self.misses += len(todo)
        if not todo:
            return out
        fresh = np.asarray(self.inner.embed_batch([items[rows[0]] for rows in todo.values()]), dtype=np.float32)
        with self._lock:
            for (key, rows), vector in zip(todo.items(), fresh):
                vector = vector.copy()
                vector.flags.writeable = False  # shared between callers: nobody may change it in place
                out[rows] = vector
                self._vectors[key] = vector
                self._vectors.move_to_end(key)
            while len(self._vectors) > self.max_items:
                self._vectors.popitem(last=False)
        return out

    def clear(self) -> None:
        """Forget every vector (e.g. after the wrapped embedder was reconfigured)."""
        with self._lock:
            self._vectors.clear()


def cached(embedder: Embedder, max_items: int = 8192) -> Embedder:
    """``embedder`` behind a content-hash cache; an embedder already cached is returned as is."""
    return embedder if isinstance(embedder, CachedEmbedder) else CachedEmbedder(embedder, max_items)
