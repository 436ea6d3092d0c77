"""A cached memory's reads made repeatable and cheap for sweeping knobs (``benchmarks.cv``).

The cached graph does not change while knobs are swept, so store reads are memoised; the question's
vector is the one a memory computes (``_BatchKeyed``); and, if asked, vector queries are answered exactly
from the stored vectors instead of by Chroma's HNSW graph, which each process rebuilds a little
differently (``exact_vectors``).
"""

from __future__ import annotations

from typing import Any

from agent_memory import Memory

__all__ = ["exact_query_vectors", "exact_vectors", "memoise_reads", "prepare_reads"]


_READS = ("get_episodes", "episode_heads", "adjacent_episodes", "adjacent_with_heads", "thread_openers",
          "list_episodes", "search_text", "search_episode_text", "search_vectors",
          "facts_touching", "facts_of_episodes", "get_facts", "entities_by_names", "get_entities",
          "get_observations", "list_entities", "list_observations", "get_user", "thread_messages")


def _frozen(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if hasattr(value, "tobytes"):
        return value.tobytes()
    return value


def memoise_reads(memory: Memory) -> None:
    """The cached graph does not change while knobs are swept: remember every store and vector read
    by its arguments, so a setting pays only for the ranking and rendering it changes."""
    core = memory._core
    for owner, names in ((core.store, _READS),):
        for name in names:
            original = getattr(owner, name, None)
            if original is None:
                continue
            memo: dict[Any, Any] = {}

            def read(*args: Any, _f: Any = original, _m: dict[Any, Any] = memo, **kw: Any) -> Any:
                key = (_frozen(args), _frozen(kw))
                if key not in _m:
                    _m[key] = _f(*args, **kw)
                return _m[key]

            setattr(owner, name, read)


class _BatchKeyed:
    """The retriever's embedder for a sweep: each batch embedded once, kept by all its texts.

    The quantized model's vector of a text depends on the other texts of its batch (activations are
    quantized per batch: up to 0.015 a coordinate), so a cache by text (``CachingEmbedder``) makes a
    question's vector depend on which call embedded it first, i.e. on the settings run before. A read
    embeds the same batch for the same question every time, so keeping whole batches gives every
    setting the vectors a memory computes, whatever ran before.
    """

    def __init__(self, inner: Any) -> None:
        self.inner, self.name, self.dimensions = inner, inner.name, inner.dimensions
        self._kept: dict[tuple[str, ...], Any] = {}

    def embed_batch(self, texts: Any) -> Any:
        key = tuple(texts)
        if key not in self._kept:
            self._kept[key] = self.inner.embed_batch(list(key))
        return self._kept[key].copy()


def exact_query_vectors(memory: Memory) -> None:
    """Read-time embeddings as a memory computes them, whatever the order of settings (``_BatchKeyed``)."""
    retriever = memory._core.retriever
    retriever.embedder = _BatchKeyed(getattr(retriever.embedder, "inner", retriever.embedder))  # type: ignore[assignment]


def exact_vectors(memory: Memory) -> None:
    """Vector queries answered exactly (numpy over the index's stored vectors, read once per user and kind)
    instead of by Chroma's HNSW graph, which each new process rebuilds a little differently: repeatable
    figures, so two versions of the code can be compared run against run."""
    import numpy as np

    index: Any = memory._core.store.index  # type: ignore[attr-defined]  # the embedded store's VectorIndex
    kept: dict[tuple[str, str], tuple[list[str], Any]] = {}

    def stored(user_id: str, kind: str) -> tuple[list[str], Any]:
        if (user_id, kind) not in kept:
            _, handle = index._collection(user_id, kind, False)  # ChromaIndex only: the stored vectors
            got = handle.get(include=["embeddings"]) if handle is not None else {"ids": [], "embeddings": []}
            order = sorted(range(len(got["ids"])), key=lambda i: got["ids"][i])
            kept[(user_id, kind)] = ([got["ids"][i] for i in order],
                                     np.asarray([got["embeddings"][i] for i in order], dtype=np.float32))
        return kept[(user_id, kind)]

    def query_many(user_id: str, kind: Any, vectors: Any, k: int) -> list[list[tuple[str, float]]]:
        ids, matrix = stored(user_id, kind)
        out: list[list[tuple[str, float]]] = []
        for row in np.atleast_2d(np.asarray(vectors, dtype=np.float32)):
            if not ids or k <= 0:
                out.append([])
                continue
            sims = matrix @ (row / max(float(np.linalg.norm(row)), 1e-12))
            best = np.argsort(-sims, kind="stable")[:k]
            out.append([(ids[i], float(sims[i])) for i in best])
        return out

    index.query_many = query_many
    index.query = lambda user_id, kind, vector, k: query_many(user_id, kind, vector, k)[0]


def prepare_reads(memory: Memory, *, exact: bool, sentence_vectors: str | None = None) -> None:
    """A cached memory made ready for a sweep: exact vector search if asked (and the sentence-vector
    experiment of ``benchmarks.sentences``), memoised reads, batch-kept queries."""
    if exact or sentence_vectors:
        exact_vectors(memory)
    if sentence_vectors:
        from .sentences import patch_index

        patch_index(memory, sentence_vectors)
    memoise_reads(memory)
    exact_query_vectors(memory)
